import { rampSteps } from '../../src/core/rollout/ramp.js';

describe('which steps ramp moves through', () => {
  it('defaults to the plan steps above the share the canary has now', () => {
    expect(rampSteps({}, [5, 25, 50, 100], 5)).toEqual([25, 50, 100]);
    expect(rampSteps({}, [5, 25, 50, 100], 30)).toEqual([50, 100]);
    expect(rampSteps({}, [5, 25, 50, 100], 100)).toEqual([]);
  });
  it('takes one step from `to`, like ramp.sh 50', () => expect(rampSteps({ to: '50' }, [5, 25, 50, 100], 5)).toEqual([50]));
  it('takes an explicit list from `steps`', () => expect(rampSteps({ steps: ['25', '50', '100'] }, undefined, 0)).toEqual([25, 50, 100]));
  it.each([
    [{ to: '50', steps: ['60'] }, [10], 'input to: set either `to` or `steps`, not both'],
    [{ to: '150' }, [10], 'input to: expected a number from 0 to 100, got "150"'],
    [{ steps: ['50', '25'] }, [10], 'input steps: expected increasing weights, got 50,25'],
    [{ steps: ['fifty'] }, [10], 'input steps: expected a number from 0 to 100, got "fifty"'],
    [{}, undefined, 'input steps: is required when the plan has no `steps` (e.g. 25,50,100)'],
  ])('rejects %j with a message naming the input', (input, plan, message) => {
    expect(() => rampSteps(input, plan, 0)).toThrow(message);
  });
});
