import { join } from 'node:path';
import { startCanaryStack, type CanaryStack } from '../../harness/canary-stack.js';
import { sendRequests } from '../../harness/load.js';
import { requireBinary } from '../../harness/process.js';
import { runStep } from '../../harness/action-step.js';
import { runDeployCanaryAction } from '../../src/core/rollout/deploy-canary.js';
import { runMetricsGateAction } from '../../src/core/rollout/metrics-gate.js';
import { runRampAction } from '../../src/core/rollout/ramp.js';
import { runRollbackAction } from '../../src/core/rollout/rollback.js';
import { HaproxyTrafficProvider } from '../../src/core/traffic/haproxy.js';
import { haproxyTrafficSchema } from '../../src/core/plan/schema.js';

const ready = requireBinary('haproxy', 'haproxy') && requireBinary('prometheus', 'prometheus');
const describeIf = ready ? describe : describe.skip;

describeIf('the full chain against HAProxy + Prometheus: deploy-canary → metrics-gate → ramp → (on failure) rollback', () => {
  let stack: CanaryStack;
  let plan: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    stack = await startCanaryStack({ versions: { v1: {}, v2: {}, v3: { errorRate: 0.1 } }, stableVersion: 'v1', rps: 60 });
    plan = stack.writePlan();
    env = { ROLLGATE_STATE_DIR: join(stack.dir, 'state'), ROLLGATE_RUN_ID: 'chain-run-1', ROLLGATE_LEDGER: join(stack.dir, 'ledger.json') };
  }, 60_000);
  afterAll(async () => stack?.stop());

  const traffic = () => new HaproxyTrafficProvider(haproxyTrafficSchema.parse({ provider: 'haproxy', admin: stack.haproxy.admin, backend: 'orders' }));

  it('promotes a healthy version step by step: it ends as stable with 100% and the canary slot drained', async () => {
    const deploy = await runStep('deploy-canary', (rt) => runDeployCanaryAction(rt), { plan, version: 'v2' }, env);
    expect(deploy.result).toEqual({ ok: true });
    expect(deploy.rt.outputs).toMatchObject({ version: 'v2', weight: '10' });
    expect(await stack.versionIn('canary')).toBe('v2');

    const gate = await runStep('metrics-gate', (rt) => runMetricsGateAction(rt), { plan }, env);
    expect(gate.rt.outputs.verdict).toBe('pass');

    const ramp = await runStep('ramp', (rt) => runRampAction(rt), { plan }, env);
    expect(ramp.result).toEqual({ ok: true });
    expect(ramp.rt.outputs).toMatchObject({ promoted: 'true', weight: '0' });
    expect(ramp.rt.summary).toContain('gate at 50%');

    expect(await stack.versionIn('stable')).toBe('v2');
    const state = await traffic().getState();
    expect(state.slots.map((s) => [s.role, s.weight, s.admin])).toEqual([
      ['stable', 100, 'ready'],
      ['canary', 0, 'drain'],
    ]);
    const after = await sendRequests(stack.haproxy.url, 300);
    expect(after.byTrack).toEqual({ stable: 300 });
  });

  it('catches a version that answers 10% 5xx at its first slice, rolls it back, and it serves no request afterwards', async () => {
    const deploy = await runStep('deploy-canary', (rt) => runDeployCanaryAction(rt), { plan, version: 'v3' }, env);
    expect(deploy.result.ok).toBe(true);
    expect((await traffic().getState()).canaryPercent).toBe(10);

    const gate = await runStep('metrics-gate', (rt) => runMetricsGateAction(rt), { plan }, env);
    expect(gate.result.ok).toBe(false);
    expect(gate.rt.outputs.verdict).toBe('fail');
    expect(gate.result.failure).toMatch(/error-rate/);

    const rollback = await runStep('rollback', (rt) => runRollbackAction(rt), { plan, reason: 'gate failed' }, env);
    expect(rollback.result).toEqual({ ok: true });
    expect(rollback.rt.outputs['rolled-back']).toBe('true');
    expect(rollback.rt.summary).toMatch(/### Found[\s\S]*canary[\s\S]*10%/);

    const after = await sendRequests(stack.haproxy.url, 1000);
    expect(after.byTrack.canary ?? 0).toBe(0);
    expect(after.byTrack.stable).toBe(1000);
    expect(await stack.versionIn('stable')).toBe('v2');

    const again = await runStep('rollback', (rt) => runRollbackAction(rt), { plan, reason: 'again' }, env);
    expect(again.result).toEqual({ ok: true });
    expect(again.rt.outputs['rolled-back']).toBe('false');
    expect(again.rt.text()).toMatch(/no-op/);
  });

  it('stops a ramp whose gate fails mid-way, naming the step, and leaves the rollback to the next step', async () => {
    const deploy = await runStep('deploy-canary', (rt) => runDeployCanaryAction(rt), { plan, version: 'v1' }, env);
    expect(deploy.result.ok).toBe(true);
    // Healthy at its first slice (the gate's pass is recorded in the rollout), then it goes bad.
    const gate = await runStep('metrics-gate', (rt) => runMetricsGateAction(rt), { plan }, env);
    expect(gate.result.ok).toBe(true);
    await stack.setBehaviour('canary', { errorRate: 0.5 });
    const ramp = await runStep('ramp', (rt) => runRampAction(rt), { plan, steps: '50,100' }, env);
    expect(ramp.result.ok).toBe(false);
    expect(ramp.result.failure).toMatch(/^ramp stopped at 50%: gate fail/);
    expect(ramp.rt.outputs).toMatchObject({ promoted: 'false', verdict: 'fail', weight: '50' });
    const rollback = await runStep('rollback', (rt) => runRollbackAction(rt), { plan, reason: 'ramp failed' }, env);
    expect(rollback.rt.outputs['rolled-back']).toBe('true');
    expect((await traffic().getState()).canaryPercent).toBe(0);
  });

  it('refuses to ramp when no rollout is in progress and the canary is empty', async () => {
    const ramp = await runStep('ramp', (rt) => runRampAction(rt), { plan, gate: 'false' }, env);
    expect(ramp.result.failure).toBe('orders/local: no rollout to ramp (rolled back from v1). Next safe step: fix v1 and run deploy-canary with a new version');
    expect((await traffic().getState()).canaryPercent).toBe(0);
  });

  it('refuses a second rollout of the same service while one is in progress, naming who holds it', async () => {
    const first = await runStep('deploy-canary', (rt) => runDeployCanaryAction(rt), { plan, version: 'v2', weight: '5' }, env);
    expect(first.result.ok).toBe(true);
    const other = { ...env, ROLLGATE_RUN_ID: 'chain-run-2' };
    const second = await runStep('deploy-canary', (rt) => runDeployCanaryAction(rt), { plan, version: 'v3' }, other);
    expect(second.result.ok).toBe(false);
    expect(second.result.failure).toMatch(/orders\/local: another rollout is in progress \(version v2 by chain-run-1/);
    // The refused run changed nothing: the first rollout's canary still runs v2 at 5%.
    expect(await stack.versionIn('canary')).toBe('v2');
    expect((await traffic().getState()).canaryPercent).toBe(5);
    // Rollback always works, whoever runs it, and ends the rollout.
    const rollback = await runStep('rollback', (rt) => runRollbackAction(rt), { plan }, other);
    expect(rollback.rt.outputs['rolled-back']).toBe('true');
    expect(rollback.rt.summary).toMatch(/lock released \(was held by chain-run-1/);
  });
});
