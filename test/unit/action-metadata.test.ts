import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ACTION_NAMES } from '../../src/core/dispatch.js';

interface ActionMeta {
  name?: string;
  description?: string;
  inputs?: Record<string, { description?: string; required?: boolean; default?: unknown }>;
  outputs?: Record<string, { description?: string }>;
  runs?: { using?: string; main?: string; post?: string };
}

const root = process.cwd();
const read = (file: string): ActionMeta => parse(readFileSync(join(root, file), 'utf8'), { uniqueKeys: true }) as ActionMeta;

describe('action metadata', () => {
  it('has one action folder per action and nothing else', () => {
    expect(readdirSync(join(root, 'actions')).sort()).toEqual([...ACTION_NAMES].sort());
  });

  it.each(ACTION_NAMES)('%s: valid YAML, runs on node24, points at its bundle, describes every input', (name) => {
    const meta = read(`actions/${name}/action.yml`);
    expect(meta.name).toBeTruthy();
    expect(meta.description).toBeTruthy();
    expect(meta.runs?.using).toBe('node24');
    expect(meta.runs?.main).toBe(`../../dist/${name}/index.js`);
    expect(existsSync(join(root, 'actions', name, meta.runs!.main!))).toBe(true);
    if (meta.runs?.post) expect(existsSync(join(root, 'actions', name, meta.runs.post))).toBe(true);
    for (const [input, spec] of Object.entries(meta.inputs ?? {})) {
      expect([input, typeof spec.description]).toEqual([input, 'string']);
      expect(input).toMatch(/^[a-z][a-z0-9-]*$/);
    }
  });

  it('the umbrella action declares every input and output of the six, and runs the dispatcher', () => {
    const umbrella = read('action.yml');
    expect(umbrella.runs?.using).toBe('node24');
    expect(umbrella.runs?.main).toBe('dist/main/index.js');
    expect(umbrella.inputs?.action?.required).toBe(true);
    for (const name of ACTION_NAMES) {
      const meta = read(`actions/${name}/action.yml`);
      for (const input of Object.keys(meta.inputs ?? {})) expect([name, input, Boolean(umbrella.inputs?.[input])]).toEqual([name, input, true]);
      for (const output of Object.keys(meta.outputs ?? {})) expect([name, output, Boolean(umbrella.outputs?.[output])]).toEqual([name, output, true]);
    }
  });
});
