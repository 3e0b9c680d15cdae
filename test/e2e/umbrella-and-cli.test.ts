import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// The umbrella action and the CLI dispatch to the same bundles the six actions run; these run
// them as the runner (and a person at a terminal) would, from a directory outside the project.
const ROOT = process.cwd();
let work: string;

beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'rollgate-umbrella-'));
  writeFileSync(join(work, 'output'), '');
  writeFileSync(join(work, 'summary'), '');
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

function run(args: string[], inputs: Record<string, string>) {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, GITHUB_OUTPUT: join(work, 'output'), GITHUB_STEP_SUMMARY: join(work, 'summary') };
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.toUpperCase()}`] = value;
  const result = spawnSync(process.execPath, args, { cwd: work, env, encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, out: `${result.stdout}${result.stderr}`, output: readFileSync(join(work, 'output'), 'utf8'), summary: readFileSync(join(work, 'summary'), 'utf8') };
}

describe('the umbrella action', () => {
  it('runs the action its `action` input names, with that action inputs, and fails closed on an unreachable backend', () => {
    const r = run([join(ROOT, 'dist/main/index.js')], {
      action: 'metrics-gate',
      'prometheus-url': 'http://127.0.0.1:1',
      'error-rate-threshold': '1',
      interval: '200ms',
      bake: '1s',
    });
    expect(r.status).toBe(1);
    expect(r.output).toMatch(/verdict<<.*\nerror\n/);
    expect(r.summary).toMatch(/metrics-gate/);
    expect(r.out).not.toMatch(/\n\s+at /);
  });

  it('refuses an unknown action, naming the input and the six it knows', () => {
    const r = run([join(ROOT, 'dist/main/index.js')], { action: 'deploy' });
    expect(r.status).toBe(1);
    expect(r.out).toContain('::error::input action: expected one of build-and-tag, deploy-canary, metrics-gate, ramp, rollback, pre-deploy-checklist, got "deploy"');
  });
});

describe('the CLI', () => {
  it('maps --flags to the action inputs and prints the outcome', () => {
    const r = run([join(ROOT, 'bin/rollgate.js'), 'metrics-gate', '--prometheus-url', 'http://127.0.0.1:1', '--error-rate-threshold', '1', '--interval', '200ms', '--bake', '1s'], {});
    expect(r.status).toBe(1);
    expect(r.output).toMatch(/verdict<<.*\nerror\n/);
  });

  it('prints its usage and exits 2 without an action, and names an unknown one', () => {
    const none = run([join(ROOT, 'bin/rollgate.js')], {});
    expect(none.status).toBe(2);
    expect(none.out).toMatch(/^usage: rollgate <action>/);
    const unknown = run([join(ROOT, 'bin/rollgate.js'), 'deploy'], {});
    expect(unknown.status).toBe(2);
    expect(unknown.out).toContain('rollgate: unknown action "deploy"');
  });

  it('names a malformed input without a stack trace', () => {
    const r = run([join(ROOT, 'bin/rollgate.js'), 'metrics-gate', '--prometheus-url', 'http://127.0.0.1:1', '--error-rate-threshold', '1', '--bake', 'soon'], {});
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/bake.*expected a duration/);
    expect(r.out).not.toMatch(/\n\s+at /);
  });
});
