import { join } from 'node:path';
import { runStep } from '../../harness/action-step.js';
import { startCanaryStack, type CanaryStack } from '../../harness/canary-stack.js';
import { startHaproxy, type RunningHaproxy } from '../../harness/haproxy.js';
import { sendRequests } from '../../harness/load.js';
import { requireBinary, tempDir } from '../../harness/process.js';
import { startSampleService, type SampleService } from '../../harness/sample-service.js';
import { haproxyTrafficSchema } from '../../src/core/plan/schema.js';
import { runDeployCanaryAction } from '../../src/core/rollout/deploy-canary.js';
import { runRampAction } from '../../src/core/rollout/ramp.js';
import { runRollbackAction } from '../../src/core/rollout/rollback.js';
import { HaproxyTrafficProvider } from '../../src/core/traffic/haproxy.js';
import { UnservedTrafficError } from '../../src/core/traffic/health.js';

const haveHaproxy = requireBinary('haproxy', 'haproxy');
const describeIf = haveHaproxy ? describe : describe.skip;

// Every case measures what users get by sending requests through HAProxy and counting which
// server answered: what the provider reports must agree with that count.
describeIf('HAProxy with health checks and a third server: read-back is the truth', () => {
  const dir = tempDir('rollgate-haproxy-health-');
  let stable: SampleService;
  let canary: SampleService;
  let third: SampleService;
  let haproxy: RunningHaproxy;
  let warnings: string[];

  beforeAll(async () => {
    stable = await startSampleService({ track: 'stable', version: 'v1' });
    canary = await startSampleService({ track: 'canary', version: 'v2' });
    third = await startSampleService({ track: 'third', version: 'v1' });
    haproxy = await startHaproxy({
      dir: dir.path,
      backend: 'orders',
      servers: [
        { name: 'stable', port: stable.port, weight: 100 },
        { name: 'canary', port: canary.port, weight: 0 },
        { name: 'third', port: third.port, weight: 0 },
      ],
      healthCheck: { path: '/health/ready', interMs: 200, fall: 2, rise: 2 },
    });
  }, 30_000);

  afterAll(async () => {
    await haproxy?.stop();
    await Promise.all([stable, canary, third].map((s) => s?.close()));
    dir.remove();
  });

  // Back to the shape every case starts from: stable 100 UP, canary 0 UP, third 0.
  beforeEach(async () => {
    warnings = [];
    for (const s of [stable, canary, third]) s.behaviour.ready = true;
    await haproxy.command(
      'set server orders/stable state ready; set server orders/stable weight 100; set server orders/canary state ready; set server orders/canary weight 0; set server orders/third weight 0',
    );
    for (const name of ['stable', 'canary', 'third']) await haproxy.waitForStatus(name, 'UP');
  });

  const provider = (extra: Record<string, unknown> = {}) =>
    new HaproxyTrafficProvider(haproxyTrafficSchema.parse({ provider: 'haproxy', admin: haproxy.admin, backend: 'orders', healthTimeout: '1s', healthSettle: '1s', ...extra }), {
      warn: (w) => warnings.push(w),
    });
  const measure = () => sendRequests(haproxy.url, 200);

  it('counts a third server in every share, and refuses to move traffic while it carries weight', async () => {
    await haproxy.command('set server orders/third weight 100');
    const traffic = provider();
    const state = await traffic.getState();
    expect(state.slots.map((s) => [s.role, s.percent])).toEqual([
      ['stable', 50],
      ['canary', 0],
    ]);
    expect(state.others).toEqual([expect.objectContaining({ name: 'third', percent: 50, weight: 100, serving: true })]);
    await expect(traffic.setWeight(10)).rejects.toThrow(/also holds third \(weight 100, 50% of traffic now, UP\): refusing to give the canary 10%/);
    await expect(traffic.promote()).rejects.toThrow(/also holds third .*refusing to promote/);
    const users = await measure();
    expect(users.byTrack.canary ?? 0).toBe(0);
    expect(users.byTrack.third).toBe(100);
    expect(users.byTrack.stable).toBe(100);
  });

  it('refuses to give a DOWN canary any traffic, and nothing moves', async () => {
    canary.behaviour.ready = false;
    await haproxy.waitForStatus('canary', 'DOWN');
    const traffic = provider();
    const err = await traffic.setWeight(10).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnservedTrafficError);
    expect((err as UnservedTrafficError).changed).toBe(false);
    expect((err as Error).message).toMatch(/refusing to give the canary 10%: canary DOWN: health check L7STS 503.*Nothing was changed: users now get stable 100%/);
    const users = await measure();
    expect(users.byTrack).toEqual({ stable: 200 });
    expect((await traffic.getState()).slots.map((s) => s.weight)).toEqual([100, 0]);
  });

  it('waits for a freshly deployed canary to pass its health check before giving it traffic', async () => {
    canary.behaviour.ready = false;
    await haproxy.waitForStatus('canary', 'DOWN');
    setTimeout(() => (canary.behaviour.ready = true), 300);
    const state = await provider({ healthTimeout: '15s' }).setWeight(50);
    expect(state.canaryPercent).toBe(50);
    const users = await measure();
    expect(users.byStatus[200]).toBe(200);
    expect(users.byTrack.canary).toBe(100);
  });

  it('rollback onto a DOWN stable still takes traffic off the canary, then fails saying every request fails', async () => {
    await provider().setWeight(50);
    stable.behaviour.ready = false;
    await haproxy.waitForStatus('stable', 'DOWN');
    const err = await provider()
      .rollback()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnservedTrafficError);
    expect((err as UnservedTrafficError).changed).toBe(true);
    expect((err as Error).message).toMatch(/rollback gave stable all traffic and the canary none, but stable DOWN: health check L7STS 503.*every request fails/);
    const users = await measure();
    expect(users.byStatus[503]).toBe(200);
  });

  it('rollback fails when stable turns DOWN while the rollback runs', async () => {
    await provider().setWeight(50);
    stable.behaviour.ready = false;
    // HAProxy still says UP here: the checks notice within two intervals, inside the settle window.
    const err = await provider({ healthSettle: '3s' })
      .rollback()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnservedTrafficError);
    expect((err as Error).message).toMatch(/stable DOWN/);
    const users = await measure();
    expect(users.byStatus[503]).toBe(200);
  });

  it('promotion keeps the canary serving while the redeployed stable is DOWN, and completes once it is UP', async () => {
    await provider().setWeight(100);
    stable.behaviour.ready = false;
    await haproxy.waitForStatus('stable', 'DOWN');
    await expect(provider().promote()).rejects.toThrow(/refusing to promote .*stable DOWN.*Nothing was changed: users now get canary 100%/);
    expect((await measure()).byTrack).toEqual({ canary: 200 });
    setTimeout(() => (stable.behaviour.ready = true), 300);
    const state = await provider({ healthTimeout: '15s' }).promote();
    expect(state.slots.map((s) => [s.role, s.percent, s.admin])).toEqual([
      ['stable', 100, 'ready'],
      ['canary', 0, 'drain'],
    ]);
    expect((await measure()).byTrack).toEqual({ stable: 200 });
  });

  it('names a stable server a person put in MAINT before making it ready', async () => {
    await haproxy.command('set server orders/stable state maint');
    const before = await provider().getState();
    expect(before.slots[0]).toMatchObject({ status: 'MAINT', serving: false, percent: 0 });
    const state = await provider({ healthTimeout: '10s' }).setWeight(10);
    expect(warnings.join('\n')).toMatch(/server stable \(stable\) is in MAINT, which rollgate did not set/);
    expect(state.slots[0]).toMatchObject({ admin: 'ready', serving: true });
    const users = await measure();
    expect(users.byTrack.stable).toBe(180);
    expect(users.byTrack.canary).toBe(20);
  });

  it('reads a canary a person drained as getting nothing, and names it before giving it traffic again', async () => {
    await provider().setWeight(50);
    await haproxy.command('set server orders/canary state drain');
    const drained = await provider().getState();
    expect(drained.slots[1]).toMatchObject({ status: 'DRAIN', percent: 0, serving: false });
    expect((await measure()).byTrack).toEqual({ stable: 200 });
    await provider().setWeight(50);
    expect(warnings.join('\n')).toMatch(/server canary \(canary\) is in DRAIN, which rollgate did not set/);
    expect((await measure()).byTrack).toEqual({ stable: 100, canary: 100 });
  });

  it('reports a DOWN canary as getting nothing, whatever its weight', async () => {
    await provider().setWeight(50);
    canary.behaviour.ready = false;
    await haproxy.waitForStatus('canary', 'DOWN');
    const state = await provider().getState();
    expect(state.canaryPercent).toBe(0);
    expect(state.slots[1]).toMatchObject({ weight: 50, status: 'DOWN', serving: false, detail: expect.stringContaining('L7STS 503') });
    expect((await measure()).byTrack).toEqual({ stable: 200 });
  });
});

describeIf('HAProxy blue-green with health checks: a switch lands only on a colour that can serve', () => {
  const dir = tempDir('rollgate-haproxy-bg-');
  let blue: SampleService;
  let green: SampleService;
  let haproxy: RunningHaproxy;

  beforeAll(async () => {
    blue = await startSampleService({ track: 'blue', version: 'v1' });
    green = await startSampleService({ track: 'green', version: 'v2' });
    haproxy = await startHaproxy({
      dir: dir.path,
      backend: 'web',
      servers: [
        { name: 'web_blue', port: blue.port, weight: 100 },
        { name: 'web_green', port: green.port, weight: 0 },
      ],
      healthCheck: { path: '/health/ready', interMs: 200 },
    });
    for (const name of ['web_blue', 'web_green']) await haproxy.waitForStatus(name, 'UP');
  }, 30_000);

  afterAll(async () => {
    await haproxy?.stop();
    await Promise.all([blue, green].map((s) => s?.close()));
    dir.remove();
  });

  const provider = () =>
    new HaproxyTrafficProvider(
      haproxyTrafficSchema.parse({ provider: 'haproxy', admin: haproxy.admin, backend: 'web', blue: 'web_blue', green: 'web_green', healthTimeout: '1s', healthSettle: '500ms' }),
      { mode: 'blue-green' },
    );

  it('refuses to switch to a DOWN colour, and users stay on the live one', async () => {
    green.behaviour.ready = false;
    await haproxy.waitForStatus('web_green', 'DOWN');
    await expect(provider().switchTo('green')).rejects.toThrow(
      /refusing to switch all traffic to green: green \(web_green\) DOWN: health check L7STS 503.*Nothing was changed: users now get blue 100%/,
    );
    expect((await sendRequests(haproxy.url, 100)).byTrack).toEqual({ blue: 100 });
    green.behaviour.ready = true;
    await haproxy.waitForStatus('web_green', 'UP');
  });

  it('a rollback switch back onto a DOWN colour still switches, then fails saying every request fails', async () => {
    expect((await provider().switchTo('green')).live).toBe('green');
    blue.behaviour.ready = false;
    await haproxy.waitForStatus('web_blue', 'DOWN');
    const err = await provider()
      .rollback({ toColour: 'blue' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnservedTrafficError);
    expect((err as Error).message).toMatch(/rollback switched all traffic back to blue, but blue \(web_blue\) DOWN.*every request fails/);
    expect((await sendRequests(haproxy.url, 100)).byStatus).toEqual({ 503: 100 });
    blue.behaviour.ready = true;
  });
});

describeIf('ramp with the rollout on record: never onto a DOWN canary, counted through HAProxy', () => {
  let stack: CanaryStack;
  let plan: string;
  const env = () => ({ ROLLGATE_STATE_DIR: join(stack.dir, 'state'), ROLLGATE_RUN_ID: 'health-ramp', ROLLGATE_LEDGER: join(stack.dir, 'ledger.json') });

  beforeAll(async () => {
    stack = await startCanaryStack({ versions: { v1: {}, v2: {} }, metrics: false, healthCheck: { path: '/health/ready', interMs: 200 } });
    plan = stack.writePlan({ traffic: { provider: 'haproxy', admin: stack.haproxy.admin, backend: stack.service, healthTimeout: '1s', healthSettle: '500ms' } });
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it('ramp gate=false refuses to move a DOWN canary from 10% to 50%, and is not promoted', async () => {
    const deploy = await runStep('deploy-canary', (rt) => runDeployCanaryAction(rt), { plan, version: 'v2', weight: '10' }, env());
    expect(deploy.result.ok).toBe(true);
    await stack.setBehaviour('canary', { ready: false });
    await stack.haproxy.waitForStatus('canary', 'DOWN');
    const ramp = await runStep('ramp', (rt) => runRampAction(rt), { plan, gate: 'false', steps: '50,100' }, env());
    expect(ramp.result.ok).toBe(false);
    // Refused either by the traffic layer (the canary cannot serve) or, first, by the rollout
    // record (a DOWN canary serves 0%, not the 10% on record): both name the DOWN canary.
    expect(ramp.result.failure).toMatch(/refusing to give the canary 50%: canary DOWN: health check L7STS 503|canary 0% \[DOWN\], but the rollout record says the canary has 10%/);
    expect(ramp.rt.outputs.promoted).not.toBe('true');
    const users = await sendRequests(stack.haproxy.url, 100);
    expect(users.byTrack).toEqual({ stable: 100 });
    expect((await stack.haproxy.command(`get weight ${stack.service}/canary`)).trim()).toMatch(/^10 /);
    await stack.setBehaviour('canary', { ready: true });
    expect((await runStep('rollback', (rt) => runRollbackAction(rt), { plan, reason: 'test over' }, env())).result.ok).toBe(true);
  }, 60_000);
});
