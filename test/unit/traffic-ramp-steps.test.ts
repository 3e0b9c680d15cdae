import { getTrafficWeightInput } from '../../src/core/inputs.js';
import { planSchema } from '../../src/core/plan/schema.js';
import { rampSteps } from '../../src/core/rollout/ramp.js';
import { MemoryRuntime } from '../../src/core/runtime.js';

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
    [{ steps: ['50', '25'] }, [10], 'input steps: expected steps in increasing order (after 50), got 50,25'],
    [{ steps: ['fifty'] }, [10], 'input steps: expected a number from 0 to 100, got "fifty"'],
    [{}, undefined, 'input steps: is required when the plan has no `steps` (e.g. 25,50,100)'],
  ])('rejects %j with a message naming the input', (input, plan, message) => {
    expect(() => rampSteps(input, plan, 0)).toThrow(message);
  });
});

describe('one rule for traffic steps, in the plan and in every input', () => {
  const planWith = (steps: number[]) => ({ service: 'orders', environment: 'production', steps });
  it.each([
    [[0, 50], 'expected a traffic weight greater than 0 and at most 100'],
    [[10, 10], 'expected steps in increasing order (after 10)'],
    [[50, 25], 'expected steps in increasing order (after 50)'],
  ])('refuses %j both as plan steps and as the steps input', (steps, message) => {
    const plan = planSchema.safeParse(planWith(steps));
    expect(plan.success).toBe(false);
    expect(JSON.stringify(plan.error?.issues)).toContain(message);
    expect(() => rampSteps({ steps: steps.map(String) }, undefined, 0)).toThrow(`input steps: ${message}`);
  });
  it('refuses to=0 and weight=0: sending the canary nothing is rollback, not a step', () => {
    expect(() => rampSteps({ to: '0' }, [10, 100], 0)).toThrow('input to: expected a traffic weight greater than 0');
    expect(() => getTrafficWeightInput(new MemoryRuntime({ weight: '0' }), 'weight')).toThrow('input weight: expected a traffic weight greater than 0');
    expect(getTrafficWeightInput(new MemoryRuntime({ weight: '5' }), 'weight')).toBe(5);
  });
  it('refuses steps that start below the share the canary already has (that would lower it)', () => {
    expect(() => rampSteps({ steps: ['10', '50'] }, undefined, 25)).toThrow("input steps: expected steps that rise from the canary's current 25%");
    expect(rampSteps({ steps: ['25', '50'] }, undefined, 25)).toEqual([25, 50]);
  });
});
