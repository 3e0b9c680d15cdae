// strategy: rolling through the real action cores (deploy-canary, ramp, rollback) against the fake
// kubectl, which numbers revisions and undoes them the way the Deployment controller does: a plain
// `rollout undo` toggles between the last two revisions, so a careless second rollback would bring
// the bad image back. Every Deployment left behind is checked against the published schema.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from '@jest/globals';
import { FakeClock } from '../../src/core/clock.js';
import { InputError, PlanError, ProviderError, UserError } from '../../src/core/errors.js';
import { ROLLING_ANNOTATION, rollingRecord } from '../../src/core/deploy/rolling.js';
import { validatePlanObject } from '../../src/core/plan/load.js';
import { runDeployCanaryAction } from '../../src/core/rollout/deploy-canary.js';
import { noRolloutHooks, type RolloutEvent, type RolloutHooks } from '../../src/core/rollout/hooks.js';
import { runRampAction } from '../../src/core/rollout/ramp.js';
import { runRollbackAction } from '../../src/core/rollout/rollback.js';
import { MemoryRuntime } from '../../src/core/runtime.js';
import { tempDir } from '../../harness/process.js';
import { FakeCluster, schemaProblems } from './kubernetes-fake.js';

const cluster = new FakeCluster();
const work = tempDir('rollgate-rolling-work-');
afterAll(() => {
  cluster.remove();
  work.remove();
});
beforeEach(() => cluster.clearCalls());

const at = { context: 'kind-ci', namespace: 'shop' };
const flags = ['--context', 'kind-ci', '--namespace', 'shop'];
type Deployment = { metadata: { name: string; annotations?: Record<string, string> }; spec: { template: { spec: { containers: { name: string; image: string }[] } } } };

function seedOrders(image: string, annotations: Record<string, string> = {}): void {
  cluster.seed(
    'deployments',
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'orders', annotations: { 'deployment.kubernetes.io/revision': '4', ...annotations } },
      spec: {
        replicas: 3,
        selector: { matchLabels: { app: 'orders' } },
        template: {
          metadata: { labels: { app: 'orders' } },
          spec: {
            containers: [
              { name: 'app', image },
              { name: 'sidecar', image: 'envoy:1.30' },
            ],
          },
        },
      },
    },
    at,
  );
}
const stored = () => cluster.stored<Deployment>('deployments', 'orders', at);
const imageOf = () => stored().spec.template.spec.containers[0]!.image;

const plan = join(work.path, 'rolling.yml');
writeFileSync(
  plan,
  [
    'service: orders',
    'environment: production',
    'strategy: rolling',
    'deploy: { kubernetes: { context: kind-ci, namespace: shop, deployment: orders, container: app }, timeout: 45s }',
  ].join('\n'),
);

/** Hooks that keep what bookkeeping was told, beside the Deployment's real state. */
function recordingHooks(): RolloutHooks & { events: string[] } {
  const events: string[] = [];
  const note = (what: string) => async (e: RolloutEvent) => void events.push(`${what} ${e.strategy} ${e.version ?? '?'} ${e.weight}`);
  return {
    ...noRolloutHooks,
    events,
    deploymentStarted: note('started'),
    promoted: note('promoted'),
    rolledBack: note('rolled-back'),
    notify: async (kind, e) => void events.push(`notify ${kind} ${e.version ?? '?'}`),
  };
}

function run(inputs: Record<string, string>, state: string, owner = 'test-run') {
  return new MemoryRuntime({ plan, ...inputs }, { PATH: cluster.env.PATH, FAKE_KUBE_DIR: cluster.env.FAKE_KUBE_DIR, ROLLGATE_STATE_DIR: state, ROLLGATE_RUN_ID: owner });
}

describe('the plan with strategy: rolling', () => {
  const base = { service: 'orders', environment: 'production', strategy: 'rolling' };

  it('needs deploy.kubernetes.deployment and refuses traffic and steps, naming each field', () => {
    const err = (() => {
      try {
        validatePlanObject(
          {
            ...base,
            traffic: { provider: 'command', setWeight: './w.sh {{weight}}' },
            steps: [10, 100],
            deploy: { kubernetes: { canaryDeployment: 'orders-canary', container: 'app' } },
          },
          'rollout.yml',
        );
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(PlanError);
    const text = (err as Error).message;
    expect(text).toMatch(/rollout\.yml/);
    expect(text).toMatch(/deploy\.kubernetes\.deployment: is required with strategy: rolling/);
    expect(text).toMatch(/traffic: is not used with strategy: rolling/);
    expect(text).toMatch(/steps: is not used with strategy: rolling/);
    expect(validatePlanObject({ ...base, deploy: { kubernetes: { deployment: 'orders', container: 'app' } } }, 'rollout.yml').plan.strategy).toBe('rolling');
  });

  it('deploy-canary names the missing Deployment for rolling, and the missing traffic section for canary', async () => {
    const bare = join(work.path, 'bare.yml');
    writeFileSync(bare, 'service: orders\nenvironment: production\nstrategy: rolling\n');
    const state = tempDir('rollgate-rolling-state-');
    await expect(runDeployCanaryAction(run({ plan: bare, version: 'x:2' }, state.path))).rejects.toThrow(
      /bare\.yml: deploy\.kubernetes\.deployment: is required with strategy: rolling/,
    );
    writeFileSync(bare, 'service: orders\nenvironment: production\nstrategy: canary\n');
    await expect(runDeployCanaryAction(run({ plan: bare, version: 'x:2' }, state.path))).rejects.toThrow(/traffic: is required by this action/);
    state.remove();
  });
});

describe('deploy-canary, ramp and rollback with strategy: rolling', () => {
  it('deploy → rollback restores the previous image; a second rollback changes nothing', async () => {
    const state = tempDir('rollgate-rolling-state-');
    seedOrders('orders:1.0');
    const clock = new FakeClock();
    const hooks = recordingHooks();

    const deploy = run({ version: 'orders:1.1' }, state.path);
    expect(await runDeployCanaryAction(deploy, { clock, cwd: work.path, hooks })).toEqual({ ok: true });
    expect([deploy.outputs.weight, deploy.outputs.version]).toEqual(['100', 'orders:1.1']);
    expect(imageOf()).toBe('orders:1.1');
    expect(rollingRecord(stored())).toEqual({ from: { image: 'orders:1.0', revision: '4' }, to: 'orders:1.1', phase: 'deployed' });
    expect(cluster.calls()).toContainEqual([...flags, 'set', 'image', 'deployment/orders', 'app=orders:1.1']);
    expect(cluster.calls()).toContainEqual([...flags, 'rollout', 'status', 'deployment/orders', '--timeout=45s']);

    const first = run({ reason: 'error rate' }, state.path);
    expect(await runRollbackAction(first, { clock, cwd: work.path, hooks })).toEqual({ ok: true });
    expect(first.outputs['rolled-back']).toBe('true');
    expect(imageOf()).toBe('orders:1.0');
    expect(cluster.calls()).toContainEqual([...flags, 'rollout', 'undo', 'deployment/orders', '--to-revision=4']);
    expect(first.summary).toMatch(/orders \(orders:1\.1\)[\s\S]*orders \(orders:1\.0\)/);

    // What a plain `kubectl rollout undo` would do now: bring the bad image straight back.
    expect(spawnSync('kubectl', [...flags, 'rollout', 'undo', 'deployment/orders'], { env: cluster.env }).status).toBe(0);
    expect(imageOf()).toBe('orders:1.1');
    spawnSync('kubectl', [...flags, 'rollout', 'undo', 'deployment/orders'], { env: cluster.env });
    expect(imageOf()).toBe('orders:1.0');

    cluster.clearCalls();
    const second = run({ reason: 'again' }, state.path);
    expect(await runRollbackAction(second, { clock, cwd: work.path, hooks })).toEqual({ ok: true });
    expect(second.outputs['rolled-back']).toBe('false');
    expect(imageOf()).toBe('orders:1.0');
    expect(cluster.calls().filter((c) => c[4] === 'rollout' || c[4] === 'set')).toEqual([]);
    expect(schemaProblems('apps-deployment.json', stored())).toEqual([]);
    // Bookkeeping heard of the deploy and both rollbacks; only the one that changed something notified.
    expect(hooks.events).toEqual(['started rolling orders:1.1 100', 'rolled-back rolling orders:1.1 0', 'notify rollback orders:1.1', 'rolled-back rolling orders:1.1 0']);
    state.remove();
  });

  it('a failed rollout status fails deploy-canary, keeps the lock, and rollback undoes it', async () => {
    const state = tempDir('rollgate-rolling-state-');
    seedOrders('orders:2.0', { 'fake/never-ready': 'true' });
    const clock = new FakeClock();
    const deploy = run({ version: 'orders:2.1' }, state.path);
    const err = await runDeployCanaryAction(deploy, { clock, cwd: work.path, hooks: noRolloutHooks }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as Error).message).toMatch(/deployments\.apps\/orders in namespace shop \(context kind-ci\) did not become ready within 45s with orders:2\.1/);
    expect(deploy.summary).toMatch(/Failed after traffic started to move[\s\S]*Run rollback/);
    // The lock stays: another run's deploy must not start over a half-rolled Deployment.
    await expect(runDeployCanaryAction(run({ version: 'orders:2.2' }, state.path, 'other-run'), { clock, cwd: work.path, hooks: noRolloutHooks })).rejects.toThrow(/test-run/);
    expect(imageOf()).toBe('orders:2.1');

    const rollback = run({ reason: 'rollout timed out' }, state.path);
    // The undone revision's pods are the ones that were ready before: let them be ready again.
    const d = stored() as Deployment & Record<string, unknown>;
    delete d.metadata.annotations!['fake/never-ready'];
    cluster.seed('deployments', d as Deployment & { metadata: { name: string } } & Record<string, unknown>, at);
    expect(await runRollbackAction(rollback, { clock, cwd: work.path, hooks: noRolloutHooks })).toEqual({ ok: true });
    expect(imageOf()).toBe('orders:2.0');
    expect(rollingRecord(stored())?.phase).toBe('rolled-back');
    state.remove();
  });

  it('ramp has nothing to ramp: it confirms the rollout, promotes, and a later rollback leaves the release alone', async () => {
    const state = tempDir('rollgate-rolling-state-');
    seedOrders('orders:3.0');
    const clock = new FakeClock();
    const hooks = recordingHooks();
    await expect(runRampAction(run({}, state.path), { clock, cwd: work.path, hooks })).rejects.toThrow(
      /orders\/production: no rollout to ramp \(nothing on record in the file store .*\)\. Next safe step: run deploy-canary/,
    );
    expect(await runDeployCanaryAction(run({ version: 'orders:3.1' }, state.path), { clock, cwd: work.path, hooks })).toEqual({ ok: true });
    await expect(runRampAction(run({ to: '50' }, state.path), { clock, cwd: work.path, hooks })).rejects.toThrow(InputError);
    await expect(runRampAction(run({ version: 'orders:9.9' }, state.path), { clock, cwd: work.path, hooks })).rejects.toThrow(
      /input version: the canary runs orders:3\.1, deployed and judged in this rollout; refusing to promote orders:9\.9/,
    );

    const ramp = run({}, state.path);
    expect(await runRampAction(ramp, { clock, cwd: work.path, hooks })).toEqual({ ok: true });
    expect([ramp.outputs.promoted, ramp.outputs.weight, ramp.outputs.verdict]).toEqual(['true', '100', 'none']);
    expect(ramp.summary).toMatch(/nothing to ramp/);
    expect(rollingRecord(stored())?.phase).toBe('promoted');
    const again = run({}, state.path);
    expect(await runRampAction(again, { clock, cwd: work.path, hooks })).toEqual({ ok: true });
    expect(again.outputs.promoted).toBe('false');

    const rollback = run({ reason: 'late alarm' }, state.path);
    expect(await runRollbackAction(rollback, { clock, cwd: work.path, hooks })).toEqual({ ok: true });
    expect(rollback.outputs['rolled-back']).toBe('false');
    expect(imageOf()).toBe('orders:3.1');
    expect(hooks.events.filter((e) => e.startsWith('promoted') || e.startsWith('notify promotion'))).toEqual(['promoted rolling orders:3.1 100', 'notify promotion orders:3.1']);
    state.remove();
  });

  it('rollback refuses to guess when the Deployment was changed outside rollgate', async () => {
    const state = tempDir('rollgate-rolling-state-');
    seedOrders('orders:4.0');
    const clock = new FakeClock();
    expect(await runDeployCanaryAction(run({ version: 'orders:4.1' }, state.path), { clock, cwd: work.path, hooks: noRolloutHooks })).toEqual({ ok: true });
    spawnSync('kubectl', [...flags, 'set', 'image', 'deployment/orders', 'app=orders:hotfix'], { env: cluster.env });
    const err = await runRollbackAction(run({}, state.path), { clock, cwd: work.path, hooks: noRolloutHooks }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(/runs orders:hotfix, neither the image rollgate rolled out \(orders:4\.1\) nor the one before it \(orders:4\.0\)/);
    expect(imageOf()).toBe('orders:hotfix');
    state.remove();
  });

  it('rollback sets the image back when the old revision was pruned from the history', async () => {
    const state = tempDir('rollgate-rolling-state-');
    seedOrders('orders:5.0', { 'fake/revision-history-limit': '0' });
    const clock = new FakeClock();
    expect(await runDeployCanaryAction(run({ version: 'orders:5.1' }, state.path), { clock, cwd: work.path, hooks: noRolloutHooks })).toEqual({ ok: true });
    expect(await runRollbackAction(run({}, state.path), { clock, cwd: work.path, hooks: noRolloutHooks })).toEqual({ ok: true });
    expect(imageOf()).toBe('orders:5.0');
    expect(
      cluster
        .calls()
        .slice(-8)
        .map((c) => c.slice(4, 6).join(' ')),
    ).toEqual(expect.arrayContaining(['rollout undo', 'set image']));
    expect(JSON.parse(stored().metadata.annotations![ROLLING_ANNOTATION]!)).toMatchObject({ phase: 'rolled-back' });
    state.remove();
  });
});

describe('the bundled actions with strategy: rolling (node dist/<name>/index.js, as the runner starts them)', () => {
  /** One bundled action in another working directory, with INPUT_* variables and a GITHUB_OUTPUT file. */
  function bundle(name: string, inputs: Record<string, string>, state: string): { status: number | null; outputs: string; stdout: string } {
    const outputs = join(state, `${name}-${Date.now()}.out`);
    writeFileSync(outputs, '');
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(cluster.env)) if (!k.startsWith('GITHUB_') && !k.startsWith('INPUT_')) env[k] = v;
    Object.assign(env, { GITHUB_OUTPUT: outputs, GITHUB_STEP_SUMMARY: join(state, 'summary.md'), ROLLGATE_STATE_DIR: state, ROLLGATE_RUN_ID: 'bundle-run', INPUT_PLAN: plan });
    for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.toUpperCase()}`] = v;
    const run = spawnSync(process.execPath, [join(process.cwd(), 'dist', name, 'index.js')], { cwd: state, env, encoding: 'utf8', timeout: 60_000 });
    return { status: run.status, outputs: readFileSync(outputs, 'utf8'), stdout: `${run.stdout}${run.stderr}` };
  }

  it('deploy-canary exits non-zero when rollout status fails, and the rollback bundle restores the image, twice safely', () => {
    const state = tempDir('rollgate-rolling-bundle-');
    seedOrders('orders:6.0', { 'fake/never-ready': 'true' });
    const deploy = bundle('deploy-canary', { version: 'orders:6.1' }, state.path);
    expect(deploy.status).not.toBe(0);
    expect(deploy.stdout).toMatch(/error.*did not become ready within 45s with orders:6\.1/);
    expect(deploy.stdout).not.toMatch(/\n\s+at /);
    expect(deploy.outputs).toMatch(/version[\s\S]*orders:6\.1/);
    expect(imageOf()).toBe('orders:6.1');
    // The old revision's pods were ready before: the undo brings them back ready.
    const d = stored() as Deployment & { metadata: { name: string } } & Record<string, unknown>;
    delete d.metadata.annotations!['fake/never-ready'];
    cluster.seed('deployments', d, at);
    for (const expected of ['true', 'false']) {
      const rollback = bundle('rollback', { reason: 'rollout timed out' }, state.path);
      expect(rollback.status).toBe(0);
      expect(rollback.outputs).toMatch(new RegExp(`rolled-back<<[^\\n]*\\n${expected}\\n`));
      expect(imageOf()).toBe('orders:6.0');
    }
    state.remove();
  });
});
