import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { startCanaryStack, type CanaryStack } from '../../harness/canary-stack.js';
import { requireBinary, waitFor } from '../../harness/process.js';
import { sendRequests } from '../../harness/load.js';
import { canaryShare, FaultTable, startBundle } from './support.js';

const ready = requireBinary('haproxy', 'haproxy') && requireBinary('prometheus', 'prometheus');
const describeIf = ready ? describe : describe.skip;
const table = new FaultTable('Fault table: the runner itself (bundled actions run as the runner starts them)');

describeIf('the runner killed mid-ramp, and two rollouts at once, through the bundled actions', () => {
  let stack: CanaryStack;
  let plan: string;
  let n = 0;
  // Every step is a job of its own: a fresh working directory and an empty state directory; the
  // jobs share only the rollout store (a file store on a shared path) and the deployment ledger.
  const bundle = (name: string, inputs: Record<string, string>, runId: string) => {
    const dir = join(stack.dir, 'jobs', String(++n));
    mkdirSync(dir, { recursive: true });
    const env = { GITHUB_RUN_ID: runId, GITHUB_REPOSITORY: 'acme/orders', ROLLGATE_STATE_DIR: join(dir, 'state'), ROLLGATE_LEDGER: join(stack.dir, 'ledger.json') };
    return startBundle(name, { store: `file:${join(stack.dir, 'store')}`, ...inputs }, { dir, env, tag: `${name}-${n}` });
  };
  const record = () =>
    JSON.parse(readFileSync(join(stack.dir, 'store', 'orders', 'local.json'), 'utf8')).document as { phase: string; stalled?: string; lock?: { owner: string; action: string } };
  const share = () => canaryShare(stack.haproxy.adminPort);

  beforeAll(async () => {
    stack = await startCanaryStack({ versions: { v1: {}, v2: {}, v3: {} }, stableVersion: 'v1', rps: 40 });
    // A bake long enough that the kill lands inside it.
    plan = stack.writePlan({ analysis: { ...analysisOf(stack), bake: '60s' } });
  }, 90_000);
  afterAll(async () => {
    table.print();
    await stack?.stop();
  });

  it('SIGTERM to ramp during its gate at 50%: nothing is promoted, the record keeps the killed run as lock holder, and the next rollback (a fresh run) restores stable and frees it', async () => {
    const deploy = await bundle('deploy-canary', { plan, version: 'v2' }, '9001').done;
    expect(deploy.code).toBe(0);
    expect(await share()).toBe(10);
    // The first slice judged (a short bake): its pass is recorded, so the ramp bakes at 50% next.
    expect((await bundle('metrics-gate', { plan, bake: '4s', interval: '2s' }, '9001').done).code).toBe(0);

    const ramp = bundle('ramp', { plan, steps: '50,100' }, '9001');
    // Killed while baking at 50%, as a cancelled workflow or a lost runner does.
    await waitFor('the ramp to reach 50% and start its gate', async () => /gate at 50%/.test(ramp.output()) && (await share()) === 50, 60_000, 100);
    ramp.child.kill('SIGTERM');
    const killed = await ramp.done;
    expect(killed.code === 0).toBe(false);
    expect(killed.outputs.promoted).not.toBe('true');
    expect(await stack.versionIn('stable')).toBe('v1');
    const left = await share();
    expect(left).toBe(50);
    // The killed run still holds the rollout: a new rollout is refused until rollback runs.
    // ...and the record says where it was interrupted, for the next run's summary and refusal.
    expect(record()).toMatchObject({ phase: 'canary', stalled: 'ramp was interrupted during the gate at 50%', lock: { owner: 'acme/orders run 9001', action: 'ramp' } });
    expect(killed.summary).toMatch(/next safe step: ramp was interrupted during the gate at 50%; run /);
    const refused = await bundle('deploy-canary', { plan, version: 'v3' }, '9003').done;
    expect(refused.code).not.toBe(0);
    // The runner's workflow commands escape % as %25.
    expect(refused.output.replace(/%25/g, '%')).toMatch(
      /another rollout is in progress \(version v2 by acme\/orders run 9001: ramp was interrupted during the gate at 50%, holding the lock since/,
    );

    // The recovery path: `if: failure()` / `if: cancelled()` rollback, or a manual one, in a fresh process that knows nothing of the ramp.
    const rollback = await bundle('rollback', { plan, reason: 'ramp was cancelled' }, '9002').done;
    expect(rollback.code).toBe(0);
    expect(rollback.outputs['rolled-back']).toBe('true');
    expect(await share()).toBe(0);
    expect(record()).toMatchObject({ phase: 'rolled-back' });
    expect(record().lock).toBeUndefined();
    expect(await stack.versionIn('stable')).toBe('v1');
    table.add({
      fault: 'runner killed mid-ramp (SIGTERM during the gate at 50%)',
      phase: 'ramp',
      outcome: `ramp dies (${killed.signal ?? `exit ${killed.code}`}); not promoted; the record keeps it as lock holder; the next rollback restores stable and frees the lock`,
      canary: `${left}% until rollback, then 0%`,
    });
  });

  it('two rollouts started at once: exactly one moves traffic, the other is refused naming the holder', async () => {
    const [a, b] = await Promise.all([
      bundle('deploy-canary', { plan, version: 'v2', weight: '20' }, '9101').done,
      bundle('deploy-canary', { plan, version: 'v3', weight: '30' }, '9102').done,
    ]);
    const winners = [a, b].filter((r) => r.code === 0);
    const losers = [a, b].filter((r) => r.code !== 0);
    expect(winners).toHaveLength(1);
    expect(losers).toHaveLength(1);
    expect(losers[0]!.output).toMatch(/another rollout is in progress \(version v[23] by acme\/orders run 91\d\d/);
    // The loser changed nothing: it wrote no traffic, and the record is the winner's.
    const winner = winners[0] === a ? { version: 'v2', weight: 20 } : { version: 'v3', weight: 30 };
    expect(await stack.versionIn('canary')).toBe(winner.version);
    expect(await share()).toBe(winner.weight);
    const rollback = await bundle('rollback', { plan, reason: 'test over' }, '9103').done;
    expect(rollback.code).toBe(0);
    expect(await share()).toBe(0);
    // Nobody's traffic write lands after the rollback.
    await new Promise((r) => setTimeout(r, 1500));
    expect((await sendRequests(stack.haproxy.url, 200)).byVersion).toEqual({ v1: 200 });
    table.add({
      fault: 'two rollouts started at once from different runs',
      phase: 'deploy-canary',
      outcome: 'one wins the compare-and-swap of the shared record and deploys; the other fails before any change, naming the holder',
      canary: `${winner.weight}% (the winner's slice only); 0% after rollback`,
    });
  });
});

/** The stack's default analysis section, so a test can change one field of it. */
function analysisOf(stack: CanaryStack): Record<string, unknown> {
  const file = stack.writePlan({}, 'defaults.yml');
  return (JSON.parse(JSON.stringify(loadYaml(file))) as { analysis: Record<string, unknown> }).analysis;
}

function loadYaml(file: string): unknown {
  return parse(readFileSync(file, 'utf8'));
}
