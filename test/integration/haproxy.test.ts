import { startHaproxy, type RunningHaproxy } from '../../harness/haproxy.js';
import { sendRequests } from '../../harness/load.js';
import { requireBinary, tempDir } from '../../harness/process.js';
import { startSampleService, type SampleService } from '../../harness/sample-service.js';
import { haproxyTrafficSchema } from '../../src/core/plan/schema.js';
import { HaproxyTrafficProvider } from '../../src/core/traffic/haproxy.js';

const haveHaproxy = requireBinary('haproxy', 'haproxy');
const describeIf = haveHaproxy ? describe : describe.skip;

describeIf('HAProxy traffic provider, measured through a real HAProxy', () => {
  const dir = tempDir('rollgate-haproxy-');
  let stable: SampleService;
  let canary: SampleService;
  let blue: SampleService;
  let green: SampleService;
  let haproxy: RunningHaproxy;

  beforeAll(async () => {
    stable = await startSampleService({ track: 'stable', version: 'v1' });
    canary = await startSampleService({ track: 'canary', version: 'v2' });
    blue = await startSampleService({ track: 'blue', version: 'v1' });
    green = await startSampleService({ track: 'green', version: 'v2' });
    haproxy = await startHaproxy({
      dir: dir.path,
      servers: [
        { name: 'stable', port: stable.port, weight: 100 },
        { name: 'canary', port: canary.port, weight: 0 },
        { name: 'blue', port: blue.port, weight: 100 },
        { name: 'green', port: green.port, weight: 0 },
      ],
      backend: 'orders',
      unixSocket: `${dir.path}/admin.sock`,
    });
  });

  afterAll(async () => {
    await haproxy?.stop();
    await Promise.all([stable, canary, blue, green].map((s) => s?.close()));
    dir.remove();
  });

  const provider = (extra: Record<string, unknown> = {}, mode: 'canary' | 'blue-green' = 'canary') =>
    new HaproxyTrafficProvider(haproxyTrafficSchema.parse({ provider: 'haproxy', admin: haproxy.admin, backend: 'orders', blue: 'blue', green: 'green', ...extra }), { mode });

  it('sends between 200 and 300 of 1,000 requests to the canary at weight 25, and none after rollback', async () => {
    // The blue/green pair shares this backend: keep it out of the canary measurement.
    await provider().api.change(['set server orders/blue weight 0', 'set server orders/green weight 0']);
    const traffic = provider();
    const state = await traffic.setWeight(25);
    expect(state.canaryPercent).toBe(25);
    expect(state.slots.map((s) => [s.name, s.weight])).toEqual([
      ['stable', 75],
      ['canary', 25],
    ]);
    const at25 = await sendRequests(haproxy.url, 1000);
    expect(at25.errors).toBe(0);
    expect(at25.byTrack.canary).toBeGreaterThanOrEqual(200);
    expect(at25.byTrack.canary).toBeLessThanOrEqual(300);

    const outcome = await traffic.rollback();
    expect(outcome.changed).toBe(true);
    expect(outcome.before.canaryPercent).toBe(25);
    expect(outcome.after.canaryPercent).toBe(0);
    const after = await sendRequests(haproxy.url, 1000);
    expect(after.byTrack.canary ?? 0).toBe(0);
    expect(after.byTrack.stable).toBe(1000);

    const again = await traffic.rollback();
    expect(again.changed).toBe(false);
  });

  it('uses absolute weights: maxWeight 256 means 100%, so 10% is weight 26 of 256', async () => {
    const traffic = provider({ maxWeight: 256 });
    const state = await traffic.setWeight(10);
    expect(state.slots.find((s) => s.role === 'canary')?.weight).toBe(26);
    expect(state.slots.find((s) => s.role === 'stable')?.weight).toBe(230);
    await traffic.rollback();
    expect((await traffic.getState()).slots.find((s) => s.role === 'stable')?.weight).toBe(256);
  });

  it('promotes: stable takes everything back and the canary slot is drained', async () => {
    const traffic = provider();
    await traffic.setWeight(100);
    const full = await sendRequests(haproxy.url, 200);
    expect(full.byTrack.canary).toBe(200);
    const state = await traffic.promote();
    expect(state.canaryPercent).toBe(0);
    expect(state.slots.find((s) => s.role === 'canary')?.admin).toBe('drain');
    const after = await sendRequests(haproxy.url, 300);
    expect(after.byTrack.stable).toBe(300);
    // The next rollout starts from this shape: a drained canary becomes ready when it gets weight.
    expect((await traffic.setWeight(5)).slots.find((s) => s.role === 'canary')?.admin).toBe('ready');
    await traffic.rollback();
  });

  it('rollback finds stable in maintenance and the canary at 100%, and restores stable', async () => {
    const traffic = provider();
    await traffic.api.change(['set server orders/canary weight 100', 'set server orders/stable state maint']);
    const outcome = await traffic.rollback();
    expect(outcome.changed).toBe(true);
    expect(outcome.before.slots.find((s) => s.role === 'stable')?.admin).toBe('maint');
    const after = await sendRequests(haproxy.url, 300);
    expect(after.byTrack).toEqual({ stable: 300 });
  });

  it('switches blue-green in one change and back', async () => {
    const canaryShape = provider();
    await canaryShape.api.change(['set server orders/stable weight 0', 'set server orders/blue weight 100']);
    const traffic = provider({}, 'blue-green');
    expect(await traffic.liveColour()).toBe('blue');
    const state = await traffic.switchTo('green');
    expect(state.live).toBe('green');
    const onGreen = await sendRequests(haproxy.url, 300);
    expect(onGreen.byTrack).toEqual({ green: 300 });
    // The old colour stays ready, serving nothing, so rollback is one switch.
    expect(state.slots.find((s) => s.role === 'blue')).toMatchObject({ weight: 0, admin: 'ready' });
    const back = await traffic.rollback({ toColour: 'blue' });
    expect(back.changed).toBe(true);
    expect((await traffic.rollback({ toColour: 'blue' })).changed).toBe(false);
    expect((await sendRequests(haproxy.url, 300)).byTrack).toEqual({ blue: 300 });
    await canaryShape.api.change(['set server orders/blue weight 0', 'set server orders/stable weight 100']);
  });

  it('speaks the same runtime API over a unix socket', async () => {
    const traffic = new HaproxyTrafficProvider(haproxyTrafficSchema.parse({ provider: 'haproxy', admin: `unix:${dir.path}/admin.sock`, backend: 'orders' }));
    expect((await traffic.setWeight(20)).canaryPercent).toBe(20);
    expect((await provider().getState()).canaryPercent).toBe(20);
    expect((await traffic.rollback()).changed).toBe(true);
    await expect(
      new HaproxyTrafficProvider(haproxyTrafficSchema.parse({ provider: 'haproxy', admin: `unix:${dir.path}/nope.sock`, backend: 'orders' })).getState(),
    ).rejects.toThrow(`haproxy: runtime API at unix:${dir.path}/nope.sock: no such socket`);
  });

  it('names the backend and server when the plan points at ones HAProxy does not have', async () => {
    await expect(provider({ canary: 'canry' }).setWeight(5)).rejects.toThrow(/backend orders has no server "canry" \(it has: stable, canary, blue, green\)/);
    await expect(provider({ backend: 'nope' }).getState()).rejects.toThrow(/no backend named "nope"/);
  });

  it('fails with a retryable provider error when the runtime API is unreachable', async () => {
    const traffic = new HaproxyTrafficProvider(haproxyTrafficSchema.parse({ provider: 'haproxy', admin: '127.0.0.1:1', backend: 'orders', timeout: '1s' }));
    await expect(traffic.getState()).rejects.toMatchObject({
      name: 'ProviderError',
      retryable: true,
      message: expect.stringMatching(/runtime API at 127\.0\.0\.1:1: connection refused/),
    });
  });
});
