import { join } from 'node:path';
import { startCanaryStack, type CanaryStack } from '../../harness/canary-stack.js';
import { sendRequests } from '../../harness/load.js';
import { requireBinary } from '../../harness/process.js';
import { runStep } from '../../harness/action-step.js';
import { haproxyTrafficSchema } from '../../src/core/plan/schema.js';
import { runDeployCanaryAction } from '../../src/core/rollout/deploy-canary.js';
import { runRampAction } from '../../src/core/rollout/ramp.js';
import { runRollbackAction } from '../../src/core/rollout/rollback.js';
import { HaproxyTrafficProvider } from '../../src/core/traffic/haproxy.js';

const describeIf = requireBinary('haproxy', 'haproxy') ? describe : describe.skip;

describeIf('deploy-canary against HAProxy and real slot processes: nothing shifts until the canary proved itself', () => {
  let stack: CanaryStack;
  let env: NodeJS.ProcessEnv;
  const versions = { v1: {}, v2: {}, stuck: { ready: false }, broken: { deployFails: true } };

  beforeAll(async () => {
    stack = await startCanaryStack({ versions, metrics: false });
    env = { ROLLGATE_STATE_DIR: join(stack.dir, 'state'), ROLLGATE_RUN_ID: 'deploy-test', ROLLGATE_LEDGER: join(stack.dir, 'ledger.json') };
  }, 60_000);
  afterAll(async () => stack?.stop());

  const traffic = () => new HaproxyTrafficProvider(haproxyTrafficSchema.parse({ provider: 'haproxy', admin: stack.haproxy.admin, backend: 'orders' }));

  async function expectStableServesEverything(): Promise<void> {
    expect((await traffic().getState()).canaryPercent).toBe(0);
    expect((await sendRequests(stack.haproxy.url, 200)).byTrack).toEqual({ stable: 200 });
  }

  it('times out when readiness never succeeds, names the URL and the last answer, and shifts nothing', async () => {
    const plan = stack.writePlan({ readiness: { url: `http://127.0.0.1:${stack.slots.canary}/health/ready`, timeout: '2s', interval: '250ms' } }, 'stuck.yml');
    const { result, rt } = await runStep('deploy-canary', (r) => runDeployCanaryAction(r), { plan, version: 'stuck', weight: '25' }, env);
    expect(result.ok).toBe(false);
    expect(result.failure).toMatch(/readiness: http:\/\/127\.0\.0\.1:\d+\/health\/ready did not answer 200 within 2s \(\d+ probes; last: HTTP 503\)/);
    expect(await stack.versionIn('canary')).toBe('stuck');
    await expectStableServesEverything();
    expect(rt.summary).toMatch(/Failed before traffic moved[\s\S]*Stable still serves all traffic/);
    // Nothing moved, so the lock is not left behind: another run may start at once.
    const next = await runStep(
      'deploy-canary',
      (r) => runDeployCanaryAction(r),
      { plan: stack.writePlan(), version: 'v2', weight: '5' },
      { ...env, ROLLGATE_RUN_ID: 'someone-else' },
    );
    expect(next.result).toEqual({ ok: true });
    await runStep('rollback', (r) => runRollbackAction(r), { plan: stack.writePlan() }, env);
  });

  it('fails with the deploy script status and its last output line when it exits 1, and shifts nothing', async () => {
    const plan = stack.writePlan();
    const { result } = await runStep('deploy-canary', (r) => runDeployCanaryAction(r), { plan, version: 'broken' }, env);
    expect(result.ok).toBe(false);
    expect(result.failure).toMatch(/deploy: deploy\.command \(.*node\) exited with status 1 for slot canary: deploy of broken failed: image broken cannot be pulled/);
    await expectStableServesEverything();
  });

  it('runs every smoke check and fails before any traffic moves when one fails', async () => {
    const plan = stack.writePlan(
      {
        smoke: [
          { name: 'live', url: `http://127.0.0.1:${stack.slots.canary}/health/live` },
          { name: 'version', url: `http://127.0.0.1:${stack.slots.canary}/`, expectBody: '"version":"v9"' },
        ],
      },
      'smoke.yml',
    );
    const { result, rt } = await runStep('deploy-canary', (r) => runDeployCanaryAction(r), { plan, version: 'v2' }, env);
    expect(result.failure).toMatch(/smoke checks failed against canary: version \(HTTP 200, but the body lacks "\\"version\\":\\"v9\\""\)/);
    expect(rt.summary).toMatch(/\| live \| .* \| ✅ HTTP 200 \|/);
    await expectStableServesEverything();
  });

  it('names the missing input and the plan section when they are absent', async () => {
    const missing = await runStep('deploy-canary', (r) => runDeployCanaryAction(r), { plan: stack.writePlan() }, env);
    expect(missing.result.failure).toBe('input version: is required');
    const noDeploy = await runStep('deploy-canary', (r) => runDeployCanaryAction(r), { plan: stack.writePlan({ deploy: undefined }, 'nodeploy.yml'), version: 'v2' }, env);
    expect(noDeploy.result.failure).toMatch(/nodeploy\.yml: deploy: is required by this action/);
    const badWeight = await runStep('deploy-canary', (r) => runDeployCanaryAction(r), { plan: stack.writePlan(), version: 'v2', weight: '150' }, env);
    expect(badWeight.result.failure).toBe('input weight: expected a number from 0 to 100, got "150"');
    await expectStableServesEverything();
  });

  it('after a runner died mid-rollout, a new run breaks the stale lock, empties the abandoned canary and deploys', async () => {
    const plan = stack.writePlan();
    const dead = await runStep('deploy-canary', (r) => runDeployCanaryAction(r), { plan, version: 'v1', weight: '30' }, { ...env, ROLLGATE_RUN_ID: 'run-that-died' });
    expect(dead.result.ok).toBe(true);
    const next = { ...env, ROLLGATE_RUN_ID: 'next-run', ROLLGATE_LOCK_STALE_AFTER: '1s' };
    const refused = await runStep('deploy-canary', (r) => runDeployCanaryAction(r), { plan, version: 'v2', weight: '5' }, next);
    expect(refused.result.failure).toMatch(/another rollout is in progress \(version v1 by run-that-died/);
    await new Promise((r) => setTimeout(r, 1500));
    const taken = await runStep('deploy-canary', (r) => runDeployCanaryAction(r), { plan, version: 'v2', weight: '5' }, next);
    expect(taken.result).toEqual({ ok: true });
    const warnings = taken.rt.logs.filter((l) => l.level === 'warning').map((l) => l.message);
    expect(warnings).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^breaking a stale rollout lock of orders\/local: held by run-that-died for version v1/),
        'the canary slot still serves 30% from an earlier rollout: moving it to 0% before deploying',
      ]),
    );
    expect((await traffic().getState()).canaryPercent).toBe(5);
    expect(await stack.versionIn('canary')).toBe('v2');
    const rollback = await runStep('rollback', (r) => runRollbackAction(r), { plan }, next);
    expect(rollback.result).toEqual({ ok: true });
  });

  it('blue-green: deploys to the idle colour, switches 0↔100 in one change, keeps the old colour ready, and rolls back with one switch', async () => {
    const plan = stack.writePlan(
      {
        strategy: 'blue-green',
        traffic: { provider: 'haproxy', admin: stack.haproxy.admin, backend: 'orders', blue: 'stable', green: 'canary' },
        readiness: { url: `http://127.0.0.1:${stack.slots.canary}/health/ready`, timeout: '10s', interval: '250ms' },
      },
      'blue-green.yml',
    );
    const deploy = await runStep('deploy-canary', (r) => runDeployCanaryAction(r), { plan, version: 'v2' }, env);
    expect(deploy.result).toEqual({ ok: true });
    expect(deploy.rt.outputs).toMatchObject({ weight: '100', version: 'v2' });
    expect((await sendRequests(stack.haproxy.url, 200)).byTrack).toEqual({ green: 200 });
    const blue = (await traffic().getState()).slots.find((s) => s.name === 'stable');
    expect(blue).toMatchObject({ weight: 0, admin: 'ready' });

    const rollback = await runStep('rollback', (r) => runRollbackAction(r), { plan, reason: 'bad green' }, env);
    expect(rollback.rt.outputs['rolled-back']).toBe('true');
    expect((await sendRequests(stack.haproxy.url, 200)).byTrack).toEqual({ stable: 200 });
    const again = await runStep('rollback', (r) => runRollbackAction(r), { plan }, env);
    expect(again.rt.outputs['rolled-back']).toBe('false');
    expect((await sendRequests(stack.haproxy.url, 100)).byTrack).toEqual({ stable: 100 });

    // Promoting a blue-green pair without a gate: the switch stands, the rollout ends.
    const second = await runStep('deploy-canary', (r) => runDeployCanaryAction(r), { plan, version: 'v2' }, env);
    expect(second.result.ok).toBe(true);
    const ramp = await runStep('ramp', (r) => runRampAction(r), { plan, gate: 'false' }, env);
    expect(ramp.rt.outputs).toMatchObject({ promoted: 'true' });
    expect((await sendRequests(stack.haproxy.url, 100)).byTrack).toEqual({ green: 100 });
    // A manual rollback later is still one switch back to the colour that was live before.
    const manual = await runStep('rollback', (r) => runRollbackAction(r), { plan, reason: 'manual' }, env);
    expect(manual.rt.outputs['rolled-back']).toBe('true');
    expect((await sendRequests(stack.haproxy.url, 100)).byTrack).toEqual({ stable: 100 });
  });
});
