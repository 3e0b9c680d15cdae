import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { deploySlot, startCanaryStack, type CanaryStack } from '../../harness/canary-stack.js';
import { sendRequests, startLoad } from '../../harness/load.js';
import { requireBinary, waitFor } from '../../harness/process.js';
import { FileRolloutStore } from '../../src/core/rollout/file-store.js';
import { parseRecord, type RolloutRecord } from '../../src/core/rollout/state-machine.js';
import { canaryShare, FaultTable, SeparateJobs, type BundleRun } from './support.js';

const ready = requireBinary('haproxy', 'haproxy') && requireBinary('prometheus', 'prometheus');
const describeIf = ready ? describe : describe.skip;
const table = new FaultTable('Fault table: a canary without traffic is never passed (every step a separate job, traffic counted through HAProxy)');

/** What the gate says when it ends for lost canary traffic, mid-bake, from the start, or at the end of the bake. */
const LOST = /the canary lost its traffic|the canary has no traffic now/;

/**
 * A gate never passes a canary that has no traffic now, whatever came before. Every step runs
 * as its own job (the bundled action, its own GITHUB_RUN_ID, an empty ROLLGATE_STATE_DIR, a fresh
 * working directory); the jobs share only the file store. The canary loses its traffic the ways
 * it does in production: someone puts its server in maintenance at the router, its process dies,
 * the router's weight is changed under the rollout, or stable takes traffic that bypasses the
 * router. Each ends with the gate failing, nothing promoted, and v1 serving every request
 * counted through HAProxy.
 */
describeIf('a canary that has no traffic never passes the gate, each step its own job', () => {
  let stack: CanaryStack;
  let threshold: string;
  let paired: string;
  const jobs = new SeparateJobs(() => stack.dir, 9100);
  const start = jobs.start.bind(jobs);
  const step = jobs.step.bind(jobs);
  const freshStore = jobs.freshStore.bind(jobs);
  /** The rollout record as the shared store holds it. */
  const record = async (): Promise<RolloutRecord | undefined> =>
    parseRecord((await new FileRolloutStore(jobs.store, { service: 'orders', environment: 'local' }).read())?.document);
  const said = (run: BundleRun) => `${run.output.replace(/%25/g, '%')}\n${run.summary}`;
  /** A gate job that ended non-zero with verdict fail, naming the lost traffic. */
  const expectLostTraffic = (run: BundleRun) => {
    expect(run.code).not.toBe(0);
    expect(run.outputs.verdict).toBe('fail');
    expect(said(run)).toMatch(LOST);
  };
  /** Nothing promoted: the record still holds a canary step whose gate failed, stable runs v1, and no user got v2 from stable. */
  const expectNothingPromoted = async () => {
    const now = await record();
    expect(now?.phase).toBe('canary');
    expect(now?.steps.at(-1)).toMatchObject({ weight: 20, gate: 'failed' });
    expect(await stack.versionIn('stable')).toBe('v1');
  };
  /**
   * A following `ramp to=100` refuses (non-zero) instead of promoting; counted through HAProxy,
   * every request stable answers is v1, and v2 answers only from the canary slot (if at all).
   */
  const expectRampRefuses = async () => {
    const to100 = await step('ramp', { plan: threshold, to: '100' });
    expect(to100.code).not.toBe(0);
    expect(to100.outputs.promoted).toBe('false');
    await expectNothingPromoted();
    const served = await sendRequests(stack.haproxy.url, 200);
    expect(served.byTrack.stable).toBeGreaterThanOrEqual(150);
    expect(served.byVersion.v1).toBe(served.byTrack.stable);
    expect(served.byVersion.v2 ?? 0).toBe(served.byTrack.canary ?? 0);
    return to100;
  };
  /** Waits until a gate job has taken its second measurement: the canary served, and the bake is under way. */
  const bakingSince = (output: () => string) => waitFor('the gate to take its second measurement', async () => /(measurement|window) 2\//.test(output()), 60_000, 100);

  beforeAll(async () => {
    stack = await startCanaryStack({ versions: { v1: {}, v2: {} }, stableVersion: 'v1', rps: 20 });
    const defaults = (parse(readFileSync(stack.writePlan({}, 'defaults.yml'), 'utf8')) as { analysis: Record<string, unknown> }).analysis;
    // Short bakes, 2 s apart: three windows in a row confirm a loss, and a bake that ends early on it is not waited out.
    const analysis = { ...defaults, interval: '2s', window: '3s', bake: '14s' };
    threshold = stack.writePlan({ analysis, steps: [20, 50, 100] }, 'threshold.yml');
    // minBake = bake: the paired judge may not pass early, before the traffic goes away.
    paired = stack.writePlan({ analysis: { ...analysis, judge: 'paired', minBake: '14s' }, steps: [20, 50, 100] }, 'paired.yml');
  }, 90_000);
  let cleanups = 0;
  afterEach(async () => {
    freshStore(`cleanup-${++cleanups}`);
    await step('rollback', { plan: threshold, reason: 'scenario over' });
    if ((await stack.versionIn('stable')) !== 'v1') await deploySlot(stack.dir, 'stable', 'v1');
    expect(await canaryShare(stack.haproxy.adminPort)).toBe(0);
  }, 60_000);
  afterAll(async () => {
    table.print();
    await stack?.stop();
  });

  it('ramp (default judge): the canary put in maintenance at the router mid-bake fails the gate; ramp to=100 then refuses', async () => {
    freshStore('maint');
    expect((await step('deploy-canary', { plan: threshold, version: 'v2', weight: '20' })).code).toBe(0);
    const ramp = start('ramp', { plan: threshold, to: '50' });
    await bakingSince(ramp.output);
    // Someone else, at HAProxy's runtime API: the canary takes no more requests.
    await stack.haproxy.command('set server orders/canary state maint');
    const gated = await ramp.done;
    expectLostTraffic(gated);
    expect(said(gated)).toMatch(/ramp stopped at 20%: gate fail/);
    expect(gated.outputs.promoted).toBe('false');
    await expectNothingPromoted();
    const to100 = await expectRampRefuses();
    expect(said(to100)).toMatch(/traffic was changed outside this rollout/);
    table.add({
      fault: 'canary server set to MAINT at HAProxy mid-bake',
      phase: 'ramp (threshold judge)',
      outcome: 'gate fail (lost traffic), non-zero; ramp to=100 refuses; stable still v1',
      canary: '0% (MAINT) until rollback',
    });
  }, 120_000);

  it('metrics-gate (paired judge): the canary process killed mid-bake fails the gate; ramp to=100 judges again and refuses', async () => {
    freshStore('killed');
    expect((await step('deploy-canary', { plan: paired, version: 'v2', weight: '20' })).code).toBe(0);
    const gate = start('metrics-gate', { plan: paired });
    await bakingSince(gate.output);
    process.kill(Number(readFileSync(join(stack.dir, `${stack.slots.canary}.pid`), 'utf8')), 'SIGKILL');
    const gated = await gate.done;
    expectLostTraffic(gated);
    await expectNothingPromoted();
    const to100 = await expectRampRefuses();
    expect(said(to100)).toMatch(/ramp stopped at 20%: gate fail/);
    table.add({
      fault: 'canary process killed mid-bake',
      phase: 'metrics-gate (paired judge)',
      outcome: 'gate fail (lost traffic), non-zero; ramp to=100 bakes again, fails, refuses; stable still v1',
      canary: '20% of requests fail at HAProxy until rollback',
    });
  }, 120_000);

  it('metrics-gate (default judge): a canary starved from the start (weight 1 at HAProxy, 20% on record) fails as lost traffic; ramp refuses', async () => {
    freshStore('starved');
    expect((await step('deploy-canary', { plan: threshold, version: 'v2', weight: '20' })).code).toBe(0);
    // Someone else turns the canary down at the router; the record still says 20%.
    await stack.haproxy.command('set server orders/canary weight 1');
    expect(await canaryShare(stack.haproxy.adminPort)).toBeLessThan(2);
    // Busier hours through the router: enough requests per window that a canary share of about 1% is visibly not 20%.
    const busier = startLoad(stack.haproxy.url, 40);
    let gated: BundleRun;
    try {
      gated = await step('metrics-gate', { plan: threshold });
    } finally {
      await busier.stop();
    }
    expectLostTraffic(gated);
    expect(said(gated)).toMatch(/its weight 20% predicts/);
    // The expectation came from the rollout record, not from the canary's own (starved) share.
    expect(gated.output).toMatch(/the rollout record gives the canary 20%/);
    await expectNothingPromoted();
    const to100 = await expectRampRefuses();
    expect(said(to100)).toMatch(/traffic was changed outside this rollout/);
    table.add({
      fault: 'canary weight set to 1 at HAProxy while the record says 20%',
      phase: 'metrics-gate (threshold judge)',
      outcome: 'gate fail (lost traffic against the recorded 20%), non-zero; ramp refuses; stable still v1',
      canary: '≈1% until rollback',
    });
  }, 120_000);

  it('ramp (paired judge): stable taking traffic that bypasses the router starves the canary’s share; the gate fails safe as lost traffic', async () => {
    freshStore('bypass');
    expect((await step('deploy-canary', { plan: paired, version: 'v2', weight: '20' })).code).toBe(0);
    // 120 requests/s straight to the stable server: the canary serves 20% of the router's requests, about 3% of stable's count.
    const direct = startLoad(`http://127.0.0.1:${stack.slots.stable}/`, 120);
    let gated: BundleRun;
    try {
      gated = await step('ramp', { plan: paired, to: '50' });
    } finally {
      await direct.stop();
    }
    expectLostTraffic(gated);
    expect(said(gated)).toMatch(/its weight 20% predicts/);
    expect(gated.outputs.promoted).toBe('false');
    await expectNothingPromoted();
    // The router still gives the canary its 20%: counted through HAProxy, v2 serves only from the canary slot.
    expect(await canaryShare(stack.haproxy.adminPort)).toBe(20);
    const served = await sendRequests(stack.haproxy.url, 200);
    expect(served.byTrack.stable).toBeGreaterThanOrEqual(140);
    expect(await stack.versionIn('stable')).toBe('v1');
    table.add({
      fault: 'stable takes direct traffic that bypasses the router (requests query counts it)',
      phase: 'ramp (paired judge)',
      outcome: 'gate fail (canary far below its 20% share), non-zero; nothing promoted',
      canary: '20% of the router’s requests until rollback',
    });
  }, 120_000);
});
