import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { deploySlot, harnessScript, startCanaryStack, type CanaryStack } from '../../harness/canary-stack.js';
import { sendRequests } from '../../harness/load.js';
import { requireBinary, waitFor } from '../../harness/process.js';
import { canaryShare, FaultTable, SeparateJobs, type BundleRun } from './support.js';

const ready = requireBinary('haproxy', 'haproxy') && requireBinary('prometheus', 'prometheus');
const describeIf = ready ? describe : describe.skip;
const table = new FaultTable('Fault table: the rollout state machine, every step a separate job (own run id, empty state directory, fresh working directory, one shared store)');

/**
 * Every step here runs as GitHub runs a job: the bundled action in a fresh working directory,
 * with its own GITHUB_RUN_ID and an empty ROLLGATE_STATE_DIR. The only thing the jobs share is
 * the rollout store (a file store on a shared path, as a team shares it) and the deployment
 * ledger. What users get is measured by sending requests through HAProxy and counting which
 * version answered. A check passes when the invariant holds: the right traffic, or a loud
 * non-zero refusal; never the unsafe outcome reported as success.
 */
describeIf('the rollout state machine through the bundled actions, each step its own job', () => {
  let stack: CanaryStack;
  let plan: string;
  const jobs = new SeparateJobs(() => stack.dir, 7000);
  const start = jobs.start.bind(jobs);
  const step = jobs.step.bind(jobs);
  const freshStore = jobs.freshStore.bind(jobs);
  /** Which version answered `n` requests sent through HAProxy. */
  const served = async (n = 200) => (await sendRequests(stack.haproxy.url, n)).byVersion;
  const share = () => canaryShare(stack.haproxy.adminPort);
  /** A non-zero exit whose log or summary says `pattern` (workflow commands escape `%` as `%25` in the log). */
  const expectLoud = (run: BundleRun, pattern: RegExp) => {
    expect(run.code).not.toBe(0);
    expect(`${run.output.replace(/%25/g, '%')}\n${run.summary}`).toMatch(pattern);
  };
  /** Ends a scenario with v1 serving everything, whatever it left. */
  const reset = async () => {
    await step('rollback', { plan, reason: 'scenario over' });
    if ((await stack.versionIn('stable')) !== 'v1') await deploySlot(stack.dir, 'stable', 'v1');
    expect(await share()).toBe(0);
  };

  beforeAll(async () => {
    stack = await startCanaryStack({
      versions: { v1: {}, v2: {}, v3: {}, bad: { errorRate: 0.3 }, slow: { deployDelayMs: 6000 }, half: { deployFailsIn: 'stable' } },
      stableVersion: 'v1',
      rps: 40,
    });
    plan = stack.writePlan({ analysis: { ...analysisOf(stack), bake: '5s' } });
  }, 90_000);
  // Whatever a failed check left behind, the next one starts from v1 serving everything.
  let cleanups = 0;
  afterEach(async () => {
    freshStore(`cleanup-${++cleanups}`);
    await step('rollback', { plan, reason: 'cleanup' });
    if ((await stack.versionIn('stable')) !== 'v1') await deploySlot(stack.dir, 'stable', 'v1');
  }, 60_000);
  afterAll(async () => {
    table.print();
    await stack?.stop();
  });

  it('a re-run ramp after its gate failed judges the step again and never promotes; ramp to=100 neither', async () => {
    freshStore('rerun');
    expect((await step('deploy-canary', { plan, version: 'bad' })).code).toBe(0);
    const first = await step('ramp', { plan });
    expectLoud(first, /ramp stopped at 10%: gate fail/);
    const rerun = await step('ramp', { plan });
    expectLoud(rerun, /ramp stopped at 10%: gate fail/);
    const to100 = await step('ramp', { plan, to: '100' });
    expectLoud(to100, /ramp stopped at 10%: gate fail/);
    for (const r of [first, rerun, to100]) expect(r.outputs.promoted).toBe('false');
    expect(await stack.versionIn('stable')).toBe('v1');
    const now = await served();
    expect(now.v1).toBeGreaterThanOrEqual(170);
    expect(rerun.summary).toMatch(/phase: \*\*canary\*\*[\s\S]*next safe step: run rollback \(the gate failed at 10%\)/);
    await reset();
    expect(await served()).toEqual({ v1: 200 });
    table.add({
      fault: 'ramp re-run (twice, once with to=100) after its gate failed',
      phase: 'ramp',
      outcome: 'each run judges 10% again, fails, exits non-zero; nothing promoted',
      canary: '10% until rollback, then 0%',
    });
  }, 120_000);

  it('a ramp killed during its gate at 50% is re-run by the same workflow run: it judges 50% again, and a bad canary is never promoted', async () => {
    freshStore('killed');
    expect((await step('deploy-canary', { plan, version: 'v2' })).code).toBe(0);
    expect((await step('metrics-gate', { plan })).code).toBe(0);
    await stack.setBehaviour('canary', { errorRate: 0.4 });
    const ramp = start('ramp', { plan, steps: '50,100' }, '7500');
    await waitFor('the ramp to reach 50% and start its gate', async () => /gate at 50%/.test(ramp.output()) && (await share()) === 50, 60_000, 100);
    ramp.child.kill('SIGTERM');
    const killed = await ramp.done;
    expect(killed.code).not.toBe(0);
    const rerun = await step('ramp', { plan, to: '100' }, '7500');
    expectLoud(rerun, /ramp stopped at 50%: gate fail/);
    expect(rerun.outputs.promoted).toBe('false');
    expect(await stack.versionIn('stable')).toBe('v1');
    expect(await share()).toBe(50);
    await stack.setBehaviour('canary', { errorRate: 0 });
    await reset();
    table.add({
      fault: 'runner killed during the gate at 50%, then the job re-run with to=100',
      phase: 'ramp',
      outcome: 'the re-run judges 50% again, fails, exits non-zero; nothing promoted',
      canary: '50% until rollback, then 0%',
    });
  }, 120_000);

  it('a rollback during a ramp bake wins: the ramp stops without another traffic write, naming the rollback', async () => {
    freshStore('bake-race');
    expect((await step('deploy-canary', { plan, version: 'v2' })).code).toBe(0);
    expect((await step('metrics-gate', { plan })).code).toBe(0);
    const ramp = start('ramp', { plan, steps: '50,100' });
    await waitFor('the ramp to bake at 50%', async () => /gate at 50%/.test(ramp.output()) && (await share()) === 50, 60_000, 100);
    const rollback = await step('rollback', { plan, reason: 'pager fired' });
    expect(rollback.code).toBe(0);
    const stopped = await ramp.done;
    expectLoud(stopped, /the rollout changed since ramp took it .*rollback by acme\/orders run \d+/);
    expect(stopped.outputs.promoted).toBe('false');
    // Later than any write the ramp could still have made: traffic stays where the rollback put it.
    await new Promise((r) => setTimeout(r, 2000));
    expect(await share()).toBe(0);
    expect(await stack.versionIn('stable')).toBe('v1');
    expect(await served()).toEqual({ v1: 200 });
    table.add({ fault: 'rollback while ramp bakes at 50%', phase: 'ramp', outcome: 'rollback exits 0; ramp stops non-zero naming the rollback, writes no traffic', canary: '0%' });
  }, 120_000);

  it('a rollback during deploy-canary slow deploy wins: the canary never gets its slice', async () => {
    freshStore('deploy-race');
    const deploy = start('deploy-canary', { plan, version: 'slow' });
    await waitFor('the deploy script to start', async () => /deploying orders slow to slot canary/.test(deploy.output()), 30_000, 50);
    const rollback = await step('rollback', { plan, reason: 'abandon' });
    expect(rollback.code).toBe(0);
    const stopped = await deploy.done;
    expectLoud(stopped, /the rollout changed since deploy-canary took it .*rollback by/);
    await new Promise((r) => setTimeout(r, 1000));
    expect(await share()).toBe(0);
    expect(await served()).toEqual({ v1: 200 });
    table.add({
      fault: 'rollback while deploy-canary runs a slow deploy script',
      phase: 'deploy-canary',
      outcome: 'rollback exits 0; deploy-canary stops non-zero before giving traffic',
      canary: '0%',
    });
  }, 120_000);

  it('ramp with a version other than the one deployed and judged is refused, naming both', async () => {
    freshStore('version');
    expect((await step('deploy-canary', { plan, version: 'v2' })).code).toBe(0);
    expect((await step('metrics-gate', { plan })).code).toBe(0);
    const ramp = await step('ramp', { plan, version: 'v3', steps: '100' });
    expectLoud(ramp, /input version: the canary runs v2, deployed and judged in this rollout; refusing to promote v3/);
    expect(await share()).toBe(10);
    expect(await stack.versionIn('stable')).toBe('v1');
    await reset();
    table.add({ fault: 'ramp version=v3 after deploy-canary version=v2', phase: 'ramp', outcome: 'refused before any change, naming v2 and v3', canary: '10% (unchanged)' });
  }, 120_000);

  it('a promotion that failed after redeploying the stable slot is rolled back by redeploying the last good version', async () => {
    freshStore('half');
    // A first rollout, promoted on purpose without a gate (recorded), makes v2 the last good version.
    expect((await step('deploy-canary', { plan, version: 'v2' })).code).toBe(0);
    const baseline = await step('ramp', { plan, steps: '100', 'skip-gate': 'true', reason: 'baseline for the test' });
    expect([baseline.code, baseline.outputs.promoted]).toEqual([0, 'true']);
    expect(await served()).toEqual({ v2: 200 });
    expect((await step('deploy-canary', { plan, version: 'half' })).code).toBe(0);
    expect((await step('metrics-gate', { plan })).code).toBe(0);
    const ramp = await step('ramp', { plan, steps: '100' });
    expectLoud(ramp, /deploy\.command .*exited with status 1 for slot stable/);
    expect(await stack.versionIn('stable')).toBe('half');
    const rollback = await step('rollback', { plan, reason: 'promotion failed' });
    expect(rollback.code).toBe(0);
    expect(rollback.summary).toMatch(/redeployed the last good version `v2` to the stable slot/);
    expect(await served()).toEqual({ v2: 200 });
    expect(await stack.versionIn('stable')).toBe('v2');
    await reset();
    table.add({
      fault: 'promotion failed after the stable slot was redeployed',
      phase: 'ramp → rollback',
      outcome: 'rollback redeploys the last good version to stable, then moves traffic; every request answered by it',
      canary: '0%',
    });
  }, 120_000);

  it('a plan without deploy: cannot promote: the ramp refuses instead of reporting the old version as the new one', async () => {
    freshStore('nodeploy');
    expect((await step('deploy-canary', { plan, version: 'v2' })).code).toBe(0);
    expect((await step('metrics-gate', { plan })).code).toBe(0);
    const noDeploy = stack.writePlan({ deploy: undefined, analysis: { ...analysisOf(stack), bake: '5s' } }, 'nodeploy.yml');
    const ramp = await step('ramp', { plan: noDeploy, steps: '100' });
    expectLoud(ramp, /the plan has no deploy: section, so promotion cannot put v2 into the stable slot/);
    expect(ramp.outputs.promoted).toBe('false');
    expect(await share()).toBe(10);
    // The deployment record of this rollout is not marked good.
    const ledger = JSON.parse(ledgerText()) as { deployments: { payload: { version: string }; statuses: { state: string }[] }[] };
    expect(ledger.deployments.at(-1)?.payload.version).toBe('v2');
    expect(ledger.deployments.at(-1)?.statuses.map((st) => st.state)).not.toContain('success');
    await reset();
    table.add({ fault: 'promotion with a plan that has no deploy: section', phase: 'ramp', outcome: 'refused, nothing recorded as good', canary: '10% until rollback' });
  }, 120_000);

  it('blue-green: rollback from another job with an empty state directory switches back to the previous colour, from the record or from the traffic layer', async () => {
    const bluePlan = stack.writePlan(
      { strategy: 'blue-green', traffic: { provider: 'haproxy', admin: stack.haproxy.admin, backend: 'orders', blue: 'stable', green: 'canary' }, steps: undefined },
      'blue-green.yml',
    );
    freshStore('blue-green');
    expect((await step('deploy-canary', { plan: bluePlan, version: 'v2' })).code).toBe(0);
    expect(await served()).toEqual({ v2: 200 });
    const rollback = await step('rollback', { plan: bluePlan, reason: 'bad green' });
    expect(rollback.code).toBe(0);
    expect(rollback.outputs['rolled-back']).toBe('true');
    expect(await served()).toEqual({ v1: 200 });

    // No record at all (a store nobody shared): the traffic layer shows the ready colour at 0%.
    expect((await step('deploy-canary', { plan: bluePlan, version: 'v2' })).code).toBe(0);
    freshStore('blue-green-empty');
    const blind = await step('rollback', { plan: bluePlan, reason: 'bad green' });
    expect(blind.code).toBe(0);
    expect(blind.output).toMatch(/no rollout is on record: going back to blue, the colour the traffic layer shows ready at 0%/);
    expect(await served()).toEqual({ v1: 200 });
    table.add({
      fault: 'blue-green rollback from another job, empty state directory',
      phase: 'rollback',
      outcome: 'switches back to blue (from the shared record; without one, from the ready colour at 0%)',
      canary: 'green 0%',
    });
  }, 120_000);

  it('command provider without getWeight: canary moves are reported as set, not read; blue-green refuses before deploying onto a colour that may serve', async () => {
    const admin = stack.haproxy.admin;
    const canaryPlan = stack.writePlan(
      { traffic: { provider: 'command', setWeight: `${harnessScript('haproxy-command.ts')} set-weight ${admin} orders {{weight}}` } },
      'command.yml',
    );
    freshStore('command');
    const deploy = await step('deploy-canary', { plan: canaryPlan, version: 'v2' });
    expect(deploy.code).toBe(0);
    expect(deploy.output.replace(/%25/g, '%')).toMatch(/no getWeight, so the canary's share cannot be read: setting it to 0% before deploying/);
    expect(deploy.summary).toMatch(/canary set to 10% \(command has no getWeight: the exit status is the only confirmation\)/);
    expect(deploy.summary).not.toMatch(/read back/);
    expect(await share()).toBe(10);
    const rollback = await step('rollback', { plan: canaryPlan });
    expect(rollback.code).toBe(0);
    expect(await served()).toEqual({ v1: 200 });

    const bluePlan = stack.writePlan(
      {
        strategy: 'blue-green',
        steps: undefined,
        traffic: { provider: 'command', setWeight: `${harnessScript('haproxy-command.ts')} set-colour ${admin} orders stable canary {{colour}}` },
      },
      'command-blue-green.yml',
    );
    freshStore('command-blue-green');
    const before = { stable: await stack.versionIn('stable'), canary: await stack.versionIn('canary') };
    const refused = await step('deploy-canary', { plan: bluePlan, version: 'v3' });
    expectLoud(refused, /getWeight/);
    expect({ stable: await stack.versionIn('stable'), canary: await stack.versionIn('canary') }).toEqual(before);
    expect(await served()).toEqual({ v1: 200 });
    table.add({
      fault: 'command traffic provider without getWeight',
      phase: 'deploy-canary',
      outcome: 'canary: drains first, reports the share as set (not read); blue-green: refused before any deploy',
      canary: '10% then 0% / unchanged',
    });
  }, 120_000);

  it('rollback with every optional section broken still restores traffic, then exits non-zero listing each problem', async () => {
    freshStore('broken');
    expect((await step('deploy-canary', { plan, version: 'v2' })).code).toBe(0);
    const raw = parse(readFileSync(plan, 'utf8')) as Record<string, unknown>;
    const broken = stack.writePlan(
      {
        smoke: [{ name: 'live', url: 'http://127.0.0.1:9/health', timout: '5s' }],
        notify: { slack: '${UNSET_SLACK_WEBHOOK}' },
        flags: { provider: 'unleash', url: 'http://127.0.0.1:9', token: '${UNSET_UNLEASH_TOKEN}', killSwitches: ['new-checkout'] },
        analysis: { ...(raw.analysis as Record<string, unknown>), bake: 'soon' },
        extra: true,
      },
      'broken.yml',
    );
    const rollback = await step('rollback', { plan: broken, reason: 'pager' });
    expect(await served()).toEqual({ v1: 200 });
    expect(rollback.code).not.toBe(0);
    for (const problem of [
      /smoke\[0\]\.timout.*unknown key/,
      /notify\.slack.*UNSET_SLACK_WEBHOOK is not set/,
      /flags\.token.*UNSET_UNLEASH_TOKEN is not set/,
      /analysis\.bake/,
      /extra: unknown key/,
      /kill switch new-checkout/,
    ])
      expect(rollback.output).toMatch(problem);
    expect(rollback.outputs['rolled-back']).toBe('true');
    table.add({
      fault: 'rollback with broken smoke/notify/flags/analysis sections and an unknown key',
      phase: 'rollback',
      outcome: 'traffic restored first; then non-zero, listing each problem and the kill switch it could not turn off',
      canary: '0%',
    });
  }, 120_000);

  function ledgerText(): string {
    try {
      return readFileSync(join(stack.dir, 'ledger.json'), 'utf8');
    } catch {
      return '';
    }
  }
});

/** The stack's default analysis section, so a test can change one field of it. */
function analysisOf(stack: CanaryStack): Record<string, unknown> {
  const file = stack.writePlan({}, 'defaults.yml');
  return (parse(readFileSync(file, 'utf8')) as { analysis: Record<string, unknown> }).analysis;
}
