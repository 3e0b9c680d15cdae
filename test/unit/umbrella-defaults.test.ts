import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { applyInputDefaults, isExpressionDefault, loadActionMetadata } from '../../src/core/action-metadata.js';
import { ACTION_NAMES } from '../../src/core/dispatch.js';

// `uses: OWNER/rollgate@v1` with `action: ramp` must behave exactly like `actions/ramp`: the same
// inputs with the same defaults. The runner applies the umbrella's declared defaults; dist/main
// applies the chosen action's other literal defaults (applyInputDefaults).
const ROOT = process.cwd();
const umbrella = parse(readFileSync('action.yml', 'utf8')) as { inputs: Record<string, { default?: string }> };

/** The INPUT_* values an action sees when started through the umbrella with no `with:` but `action`. */
function throughUmbrella(name: string): Record<string, string> {
  const env: NodeJS.ProcessEnv = { INPUT_ACTION: name };
  for (const [input, spec] of Object.entries(umbrella.inputs)) if (spec.default !== undefined) env[`INPUT_${input.toUpperCase()}`] = String(spec.default);
  applyInputDefaults(loadActionMetadata(ROOT, name), env);
  const seen: Record<string, string> = {};
  for (const input of Object.keys(loadActionMetadata(ROOT, name).inputs)) {
    const value = env[`INPUT_${input.toUpperCase()}`];
    if (value !== undefined) seen[input] = value;
  }
  return seen;
}

describe('the umbrella action', () => {
  it.each(ACTION_NAMES)('gives %s the defaults its own action.yml declares, and no others', (name) => {
    const own = loadActionMetadata(ROOT, name);
    const expected = Object.fromEntries(Object.entries(own.inputs).flatMap(([input, spec]) => (spec.default === undefined ? [] : [[input, spec.default]])));
    expect(throughUmbrella(name)).toEqual(expected);
  });

  it('declares every input of the six, with github-token defaulting to the workflow token', () => {
    for (const name of ACTION_NAMES) for (const input of Object.keys(loadActionMetadata(ROOT, name).inputs)) expect(Object.keys(umbrella.inputs)).toContain(input);
    expect(umbrella.inputs['github-token']?.default).toBe('${{ github.token }}');
    expect(umbrella.inputs.records?.default).toBe('auto');
  });

  it('an explicit value wins over a default applied at run time', () => {
    const env: NodeJS.ProcessEnv = { INPUT_ENVIRONMENT: 'staging' };
    applyInputDefaults(loadActionMetadata(ROOT, 'metrics-gate'), env);
    expect(env.INPUT_ENVIRONMENT).toBe('staging');
    expect(isExpressionDefault('${{ github.token }}')).toBe(true);
  });
});
