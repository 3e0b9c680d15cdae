import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatDuration, parseDuration } from '../../src/core/duration.js';
import { commandFromTemplate, renderTemplate } from '../../src/core/template.js';
import { parseActionFlags } from '../../src/core/cli.js';
import { loadActionMetadata } from '../../src/core/action-metadata.js';
import { MemoryRuntime, runAction } from '../../src/core/runtime.js';
import { InputError } from '../../src/core/errors.js';
import { getDurationInput, getNumberInput } from '../../src/core/inputs.js';

describe('durations', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['1.5s', 1500],
  ])('parses %s', (text, ms) => expect(parseDuration(text)).toBe(ms));
  it.each(['', '30', 's', '5 m', '-1s', '1d', 'fast'])('rejects %j', (text) => expect(parseDuration(text)).toBeUndefined());
  it('formats back', () => expect([formatDuration(90_000), formatDuration(500), formatDuration(3_600_000)]).toEqual(['1m30s', '500ms', '1h']));
});

describe('command templates', () => {
  it('splits words before filling placeholders, so values stay one argument', () => {
    expect(commandFromTemplate('./deploy.sh {{slot}} "{{version}}" --note \'a b\'', { slot: 'canary', version: 'v1; rm -rf / $(id)' })).toEqual([
      './deploy.sh',
      'canary',
      'v1; rm -rf / $(id)',
      '--note',
      'a b',
    ]);
  });
  it('names an unknown placeholder', () => {
    expect(() => renderTemplate('x {{wieght}}', { weight: 5 }, 'traffic.setWeight')).toThrow('traffic.setWeight: unknown placeholder {{wieght}} (known here: {{weight}})');
  });
  it('rejects an unclosed quote', () => expect(() => commandFromTemplate('a "b', {})).toThrow(/unclosed " quote/));
});

describe('CLI arguments', () => {
  const gate = loadActionMetadata(process.cwd(), 'metrics-gate');
  it('maps --flag value and --flag=value to the inputs of the same name', () => {
    expect(parseActionFlags(gate, ['--plan', 'p.yml', '--error-rate-threshold=1']).inputs).toEqual({ plan: 'p.yml', 'error-rate-threshold': '1' });
  });
  it('rejects a bare word', () => expect(() => parseActionFlags(gate, ['plan'])).toThrow(/flags are given as --name value/));
});

describe('action runtime', () => {
  it('reports a user error without a stack trace and sets a failing exit code', async () => {
    const runtime = new MemoryRuntime({ bake: 'soon' });
    const previous = process.exitCode;
    const result = await runAction(
      'metrics-gate',
      async (rt) => {
        getDurationInput(rt, 'bake');
        return { ok: true };
      },
      runtime,
    );
    expect(result).toEqual({ ok: false, failure: 'input bake: expected a duration such as 500ms, 30s, 5m or 1h, got "soon"' });
    expect(runtime.text()).not.toMatch(/\n\s+at /);
    expect(process.exitCode).toBe(1);
    process.exitCode = previous;
  });
  it('keeps the stack trace of a bug', async () => {
    const runtime = new MemoryRuntime();
    const previous = process.exitCode;
    const result = await runAction(
      'ramp',
      async () => {
        throw new TypeError('boom');
      },
      runtime,
    );
    expect(result.failure).toMatch(/internal error[\s\S]*TypeError: boom\n\s+at /);
    process.exitCode = previous;
  });
  it('redacts registered secrets from logs, outputs and the summary', () => {
    const runtime = new MemoryRuntime();
    runtime.setSecret('hunter22');
    runtime.info('token=hunter22');
    runtime.setOutput('report', '{"t":"hunter22"}');
    runtime.appendSummary('| hunter22 |');
    expect(runtime.text()).toBe('token=***');
    expect(runtime.outputs.report).toBe('{"t":"***"}');
    expect(runtime.summary).toBe('| *** |\n');
  });
  it('bounds number inputs and names the input', () => {
    const runtime = new MemoryRuntime({ weight: '150' });
    expect(() => getNumberInput(runtime, 'weight', { min: 0, max: 100 })).toThrow(new InputError('weight', 'expected a number from 0 to 100, got "150"'));
  });
});

describe('commands that cannot start', () => {
  it('names a missing working directory instead of calling the program missing', async () => {
    const { runCommand } = await import('../../src/core/exec.js');
    const gone = join(tmpdir(), `rollgate-no-such-dir-${process.pid}`);
    await expect(runCommand(['sh', '-c', 'true'], { cwd: gone })).rejects.toThrow(`the working directory ${gone} does not exist (the command sh was not run)`);
    await expect(runCommand(['rollgate-no-such-program'], {})).rejects.toThrow('rollgate-no-such-program: no such program');
  });
});
