import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runBundleJob } from '../../harness/bundle-job.js';
import { deploySlot, startCanaryStack, type CanaryStack } from '../../harness/canary-stack.js';
import { sendRequests } from '../../harness/load.js';
import { requireBinary, waitFor } from '../../harness/process.js';

const ready = requireBinary('haproxy', 'haproxy');
const describeIf = ready ? describe : describe.skip;

/** A job's output as a person reads it: the runner's workflow commands escape % as %25. */
const text = (job: { output: string }) => job.output.replace(/%25/g, '%');

/** Whether a process is still alive. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// Every step is a job of its own (own run id, empty state directory, fresh working directory),
// run from the bundles, and every case counts requests through HAProxy: an action that exits 0
// while the count contradicts what it reported fails the test.
describeIf('the traffic layer tells the truth, through the bundled actions and a health-checked HAProxy', () => {
  let stack: CanaryStack;
  const users = (n = 100) => sendRequests(stack.haproxy.url, n);
  const traffic = (extra: Record<string, unknown> = {}) => ({
    provider: 'haproxy',
    admin: stack.haproxy.admin,
    backend: stack.service,
    stable: 'stable',
    canary: 'canary',
    healthTimeout: '3s',
    healthSettle: '1s',
    ...extra,
  });
  let planFile: string;

  beforeAll(async () => {
    stack = await startCanaryStack({
      versions: { v1: {}, v2: {}, broken: { ready: false } },
      metrics: false,
      healthCheck: { path: '/health/ready', interMs: 200, rise: 2, fall: 2 },
      thirdVersion: 'v1',
    });
    planFile = stack.writePlan({ traffic: traffic() });
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
  });

  // Each case starts from stable 100% UP, canary 0, third 0.
  beforeEach(async () => {
    await stack.setBehaviour('stable', { ready: true });
    await stack.haproxy.command(
      `set server ${stack.service}/stable state ready; set server ${stack.service}/stable weight 100; set server ${stack.service}/canary weight 0; set server ${stack.service}/third weight 0`,
    );
    await stack.haproxy.waitForStatus('stable', 'UP');
  });

  it('deploy-canary fails when the canary is DOWN, and no user reaches it', async () => {
    // No readiness or smoke in this plan: HAProxy's health check is the only thing that can tell.
    const plan = stack.writePlan({ traffic: traffic(), readiness: undefined, smoke: undefined }, 'no-readiness.yml');
    const job = await runBundleJob('deploy-canary', { plan, version: 'broken', weight: '20' });
    expect(job.code).not.toBe(0);
    expect(text(job)).toMatch(/refusing to give the canary 20%: canary DOWN: health check L7STS 503/);
    // The provider reported that nothing moved: the summary says so, not that traffic started to move.
    expect(job.summary).toMatch(/Failed before traffic moved/);
    expect(job.summary).not.toMatch(/after traffic started to move/);
    expect(job.outputs.weight).not.toBe('20');
    expect((await users()).byTrack).toEqual({ stable: 100 });
  }, 60_000);

  it('ramp gate=false never moves traffic onto a canary that turned DOWN', async () => {
    const deployed = await runBundleJob('deploy-canary', { plan: planFile, version: 'v2', weight: '10' });
    expect(deployed.code).toBe(0);
    const at10 = await users(200);
    expect(at10.byStatus).toEqual({ 200: 200 });
    expect(at10.byTrack.canary).toBeGreaterThanOrEqual(15);
    expect(at10.byTrack.canary).toBeLessThanOrEqual(25);
    await stack.setBehaviour('canary', { ready: false });
    await stack.haproxy.waitForStatus('canary', 'DOWN');
    const ramp = await runBundleJob('ramp', { plan: planFile, gate: 'false', to: '100', version: 'v2' });
    expect(ramp.code).not.toBe(0);
    expect(ramp.outputs.promoted).not.toBe('true');
    const after = await users();
    expect(after.byStatus[503] ?? 0).toBe(0);
    expect(after.byTrack).toEqual({ stable: 100 });
    expect((await stack.haproxy.command(`get weight ${stack.service}/canary`)).trim()).toMatch(/^10 /);
    await stack.setBehaviour('canary', { ready: true });
  }, 90_000);

  it('rollback onto a DOWN stable takes traffic off the canary, then exits non-zero saying every request fails', async () => {
    // One store shared by the jobs: the rollout record must say what the rollback left behind.
    const store = `file:${join(stack.dir, 'unserved-store')}`;
    expect((await runBundleJob('deploy-canary', { plan: planFile, version: 'v2', weight: '50', store })).code).toBe(0);
    await stack.setBehaviour('stable', { ready: false });
    await stack.haproxy.waitForStatus('stable', 'DOWN');
    const rollback = await runBundleJob('rollback', { plan: planFile, reason: 'test', attempts: '1', store });
    expect(rollback.code).not.toBe(0);
    // It says what it did and what users get, not that traffic could not be restored.
    expect(text(rollback)).toMatch(
      /all traffic moved to stable \(server stable\), but stable \(server stable\) is DOWN \(health check L7STS 503[^)]*\).*every request fails.*bring stable back/,
    );
    expect(text(rollback)).not.toMatch(/could NOT be restored|after \d+ attempts/);
    expect(rollback.outputs).toMatchObject({ 'rolled-back': 'true', 'stable-serving': 'false' });
    expect((await users()).byStatus).toEqual({ 503: 100 });
    expect((await stack.haproxy.command(`get weight ${stack.service}/canary`)).trim()).toMatch(/^0 /);
    // Not "rolled back" while every request fails: the record stays rolling-back and says why.
    expect(rollback.summary).toMatch(/phase: \*\*rolling-back\*\* — rolling back, not finished: stable \(server stable\) is DOWN/);
    expect(rollback.summary).toMatch(/next safe step: bring the stable server back/);
    // Once stable is back, the same rollback succeeds and users get stable.
    await stack.setBehaviour('stable', { ready: true });
    await stack.haproxy.waitForStatus('stable', 'UP');
    const again = await runBundleJob('rollback', { plan: planFile, reason: 'test', store });
    expect(again.code).toBe(0);
    expect(again.summary).toMatch(/phase: \*\*rolled-back\*\*/);
    expect((await users()).byTrack).toEqual({ stable: 100 });
  }, 90_000);

  it('a high-risk release stops at its approval step: ramp refuses to go past 50% until a run carries an approval', async () => {
    const store = `file:${join(stack.dir, 'approval-store')}`;
    const plan = stack.writePlan({ traffic: traffic(), steps: [10, 50, 100], policy: { risk: { default: 'high', require: { high: { approvalAbove: 50 } } } } }, 'high-risk.yml');
    const deployed = await runBundleJob('deploy-canary', { plan, version: 'v2', store, 'changed-files': 'src/payments/charge.ts' });
    expect(deployed.code).toBe(0);
    expect(deployed.outputs['risk-class']).toBe('high');
    // Without an approval: 50% is reached, promotion is refused, and users stay split.
    const ramp = await runBundleJob('ramp', { plan, steps: '50,100', 'skip-gate': 'true', reason: 'gates judged elsewhere', store });
    expect(ramp.code).not.toBe(0);
    expect(text(ramp)).toMatch(/cannot promote: this high-risk release goes no further than 50% without an approval/);
    expect(ramp.outputs.promoted).not.toBe('true');
    expect((await stack.haproxy.command(`get weight ${stack.service}/canary`)).trim()).toMatch(/^50 /);
    expect(await stack.versionIn('stable')).not.toBe('v2');
    // With one: promoted, and the approval is in the rollout record's history.
    const approved = await runBundleJob('ramp', {
      plan,
      steps: '100',
      'skip-gate': 'true',
      reason: 'gates judged elsewhere',
      approval: 'reviewed in environment production-approval',
      store,
    });
    expect(approved.code).toBe(0);
    expect(approved.outputs.promoted).toBe('true');
    expect(text(approved)).toMatch(/approval on record: .*: reviewed in environment production-approval/);
    expect((await users()).byTrack).toEqual({ stable: 100 });
    expect(await stack.versionIn('stable')).toBe('v2');
  }, 120_000);

  it('refuses a plan naming one server for both roles, before anything moves', async () => {
    const plan = stack.writePlan({ traffic: traffic({ canary: 'stable' }) }, 'same-server.yml');
    const job = await runBundleJob('deploy-canary', { plan, version: 'v2', weight: '10' });
    expect(job.code).not.toBe(0);
    expect(text(job)).toMatch(/traffic\.canary.*names the same server or backend as stable \("stable"\)/);
    expect((await users()).byTrack).toEqual({ stable: 100 });
  }, 60_000);

  it('refuses to give the canary a share while a third server carries weight', async () => {
    await deploySlot(stack.dir, 'canary', 'v1');
    await stack.haproxy.command(`set server ${stack.service}/third weight 100`);
    const job = await runBundleJob('deploy-canary', { plan: planFile, version: 'v2', weight: '10' });
    expect(job.code).not.toBe(0);
    expect(text(job)).toMatch(/also holds third \(weight 100, 50% of traffic now, UP\): refusing to give the canary 10% \(nothing was deployed\)/);
    expect(job.summary).toMatch(/Failed before traffic moved/);
    // Refused before the deploy command ran: the canary slot still runs what it ran.
    expect(await stack.versionIn('canary')).toBe('v1');
    const split = await users(200);
    expect(split.byTrack.canary ?? 0).toBe(0);
    expect(split.byTrack.third).toBeGreaterThanOrEqual(90);
    expect(split.byTrack.third).toBeLessThanOrEqual(110);
  }, 60_000);

  it('rollgate rollback | head -1: a reader that closes stdout after one line does not stop rollback from moving traffic', async () => {
    expect((await runBundleJob('deploy-canary', { plan: planFile, version: 'v2', weight: '50' })).code).toBe(0);
    const rollback = await runBundleJob('rollback', { plan: planFile, reason: 'piped' }, { runner: false, cli: true, closeStdoutAfterFirstLine: true });
    expect(rollback.output).not.toMatch(/EPIPE/);
    expect(rollback.code).toBe(0);
    expect((await users()).byTrack).toEqual({ stable: 100 });
  }, 60_000);

  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)(
    '%s during a slow deploy stops the deploy script and its children, exits %i, and moves no traffic',
    async (signal, code) => {
      const script = join(stack.dir, `slow-deploy-${signal}.sh`);
      const pids = join(stack.dir, `slow-deploy-${signal}.pids`);
      writeFileSync(script, `#!/bin/sh\nsleep 300 &\necho "$$ $!" > ${pids}\nwait\n`);
      const plan = stack.writePlan({ traffic: traffic(), deploy: { command: `/bin/sh ${script}`, timeout: '10m' } }, `slow-${signal}.yml`);
      const job = runBundleJob(
        'deploy-canary',
        { plan, version: 'v2', weight: '10' },
        {
          started: (child) => {
            void waitFor('the deploy script to start', async () => existsSync(pids) && readFileSync(pids, 'utf8').includes(' '), 30_000, 50).then(() => child.kill(signal));
          },
        },
      );
      const result = await job;
      expect(result.code).toBe(code);
      expect(text(result)).toMatch(new RegExp(`interrupted by ${signal}`));
      const [scriptPid, sleepPid] = readFileSync(pids, 'utf8').trim().split(' ').map(Number);
      await waitFor('the deploy script and its sleep to be gone', async () => !alive(scriptPid as number) && !alive(sleepPid as number), 10_000, 50);
      expect((await users()).byTrack).toEqual({ stable: 100 });
    },
    60_000,
  );
});
