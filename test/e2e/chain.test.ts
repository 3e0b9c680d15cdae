import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startCanaryStack, type CanaryStack } from '../../harness/canary-stack.js';
import { sendRequests } from '../../harness/load.js';
import { requireBinary } from '../../harness/process.js';

const ready = requireBinary('haproxy', 'haproxy') && requireBinary('prometheus', 'prometheus');
const describeIf = ready ? describe : describe.skip;

interface StepRun {
  code: number;
  stdout: string;
  outputs: Record<string, string>;
  summary: string;
}

/** Runs a bundle the way the runner does: INPUT_* variables (hyphens kept), GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files, another working directory. */
function runBundle(stack: CanaryStack, name: string, inputs: Record<string, string>, n: number): Promise<StepRun> {
  const outputFile = join(stack.dir, `output-${name}-${n}`);
  const summaryFile = join(stack.dir, `summary-${name}-${n}`);
  writeFileSync(outputFile, '');
  writeFileSync(summaryFile, '');
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('GITHUB_') && !k.startsWith('INPUT_')) env[k] = v;
  Object.assign(env, {
    GITHUB_ACTIONS: 'true',
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    GITHUB_RUN_ID: '7001',
    GITHUB_REPOSITORY: 'acme/orders',
    ROLLGATE_STATE_DIR: join(stack.dir, 'state'),
    ROLLGATE_LEDGER: join(stack.dir, 'ledger.json'),
  });
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.toUpperCase()}`] = v;
  return new Promise((done) => {
    const child = spawn(process.execPath, [resolve(`dist/${name}/index.js`)], { cwd: stack.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stdout += c.toString()));
    child.on('close', (code) => {
      const outputs: Record<string, string> = {};
      // The runner's heredoc format: name<<delimiter, value lines, delimiter.
      const text = readFileSync(outputFile, 'utf8');
      for (const m of text.matchAll(/^([\w-]+)<<(\S+)\n([\s\S]*?)\n\2$/gm)) outputs[m[1] as string] = m[3] as string;
      done({ code: code ?? 1, stdout, outputs, summary: readFileSync(summaryFile, 'utf8') });
    });
  });
}

describeIf('the bundled actions chained as a workflow runs them (node dist/<name>/index.js)', () => {
  let stack: CanaryStack;
  let plan: string;
  let n = 0;
  const step = (name: string, inputs: Record<string, string>) => runBundle(stack, name, inputs, ++n);

  beforeAll(async () => {
    stack = await startCanaryStack({ versions: { v1: {}, v2: {}, v3: { errorRate: 0.1 } }, rps: 60 });
    plan = stack.writePlan();
  }, 60_000);
  afterAll(async () => stack?.stop());

  it('deploy-canary → ramp promotes a healthy version; outputs and job summaries land in the runner files', async () => {
    const deploy = await step('deploy-canary', { plan, version: 'v2', weight: '25' });
    expect(deploy.code).toBe(0);
    expect(deploy.outputs).toMatchObject({ version: 'v2', weight: '25' });
    expect(deploy.summary).toContain('## rollgate deploy-canary: `v2` → orders/local');
    const ramp = await step('ramp', { plan, steps: '50,100', bake: '4s' });
    expect(ramp.code).toBe(0);
    expect(ramp.outputs).toMatchObject({ promoted: 'true', verdict: 'pass' });
    expect(ramp.summary).toMatch(/### gate at 50%: ✅ pass/);
    expect(await stack.versionIn('stable')).toBe('v2');
    expect((await sendRequests(stack.haproxy.url, 300)).byTrack).toEqual({ stable: 300 });
  });

  it('deploy-canary → metrics-gate fails on 10% 5xx → rollback (if: failure()) leaves the bad version serving nothing', async () => {
    expect((await step('deploy-canary', { plan, version: 'v3' })).code).toBe(0);
    const gate = await step('metrics-gate', { plan });
    expect(gate.code).toBe(1);
    expect(gate.outputs.verdict).toBe('fail');
    const rollback = await step('rollback', { plan, reason: 'gate failed in e2e' });
    expect(rollback.code).toBe(0);
    expect(rollback.outputs['rolled-back']).toBe('true');
    expect(rollback.summary).toMatch(/Reason: gate failed in e2e[\s\S]*### Found[\s\S]*### Did/);
    expect((await sendRequests(stack.haproxy.url, 1000)).byTrack).toEqual({ stable: 1000 });
    const again = await step('rollback', { plan });
    expect(again.outputs['rolled-back']).toBe('false');
  });

  it('reports bad input as an annotation naming the input, without a stack trace, and moves nothing', async () => {
    const bad = await step('deploy-canary', { plan, version: 'v2', weight: 'lots' });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('::error::input weight: expected a number from 0 to 100, got "lots"');
    expect(bad.stdout).not.toMatch(/\n\s+at /);
    const badRamp = await step('ramp', { plan, to: '50', steps: '50,100' });
    expect(badRamp.stdout).toContain('::error::input to: set either `to` or `steps`, not both');
    expect((await sendRequests(stack.haproxy.url, 200)).byTrack).toEqual({ stable: 200 });
  });
});
