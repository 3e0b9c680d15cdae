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
  return {
    status: result.status,
    out: `${result.stdout}${result.stderr}`,
    output: readFileSync(join(work, 'output'), 'utf8'),
    summary: readFileSync(join(work, 'summary'), 'utf8'),
  };
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
    const r = run(
      [join(ROOT, 'bin/rollgate.js'), 'metrics-gate', '--prometheus-url', 'http://127.0.0.1:1', '--error-rate-threshold', '1', '--interval', '200ms', '--bake', '1s'],
      {},
    );
    expect(r.status).toBe(1);
    expect(r.output).toMatch(/verdict<<.*\nerror\n/);
  });

  it('prints its usage and exits 2 without a command, and names an unknown one', () => {
    const none = run([join(ROOT, 'bin/rollgate.js')], {});
    expect(none.status).toBe(2);
    expect(none.out).toMatch(/^usage: rollgate <command>/);
    const unknown = run([join(ROOT, 'bin/rollgate.js'), 'deploy'], {});
    expect(unknown.status).toBe(2);
    expect(unknown.out).toContain('rollgate: unknown command "deploy"');
  });

  it("refuses a mistyped flag before doing anything, instead of baking for the plan's default", () => {
    const r = run([join(ROOT, 'bin/rollgate.js'), 'metrics-gate', '--prometheus-url', 'http://127.0.0.1:1', '--error-rate-threshold', '1', '--bak', '4s'], {});
    expect(r.status).toBe(2);
    expect(r.out).toContain('rollgate metrics-gate: unknown flag --bak; did you mean --bake?');
    expect(r.output).toBe('');
  });

  it('prints outputs whole without GITHUB_OUTPUT, or into --output-file', () => {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
    const args = [join(ROOT, 'bin/rollgate.js'), 'metrics-gate', '--prometheus-url', 'http://127.0.0.1:1', '--error-rate-threshold', '1', '--interval', '200ms', '--bake', '1s'];
    const printed = spawnSync(process.execPath, args, { cwd: work, env, encoding: 'utf8', timeout: 60_000 });
    expect(printed.status).toBe(1);
    const report = /^output report=(.*)$/m.exec(printed.stdout)?.[1] ?? '';
    // The JSON report is longer than the 200 characters the CLI once cut it to, and complete.
    expect(report.length).toBeGreaterThan(200);
    expect(JSON.parse(report)).toMatchObject({ verdict: 'error' });
    const file = join(work, 'outputs.txt');
    const filed = spawnSync(process.execPath, [...args, '--output-file', file], { cwd: work, env, encoding: 'utf8', timeout: 60_000 });
    expect(filed.stdout).not.toMatch(/^output /m);
    expect(readFileSync(file, 'utf8')).toMatch(/verdict<<.*\nerror\n/);
  });

  it('names the flag, not a workflow input, in an error', () => {
    const r = run([join(ROOT, 'bin/rollgate.js'), 'metrics-gate', '--prometheus-url', 'http://127.0.0.1:1', '--error-rate-threshold', '1', '--bake', 'soon'], {});
    expect(r.out).toContain('--bake: expected a duration');
    expect(r.out).not.toContain('input bake');
  });

  it("shows an action's flags from its action.yml, and its version", () => {
    const help = run([join(ROOT, 'bin/rollgate.js'), 'ramp', '--help'], {});
    expect(help.status).toBe(0);
    expect(help.out).toContain('--gate <value>');
    expect(help.out).toContain('(default: true)');
    const version = run([join(ROOT, 'bin/rollgate.js'), '--version'], {});
    expect(version.out.trim()).toBe((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version);
  });

  it('names a malformed input without a stack trace', () => {
    const r = run([join(ROOT, 'bin/rollgate.js'), 'metrics-gate', '--prometheus-url', 'http://127.0.0.1:1', '--error-rate-threshold', '1', '--bake', 'soon'], {});
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/bake.*expected a duration/);
    expect(r.out).not.toMatch(/\n\s+at /);
  });
});
