// Deployment records inside the real rollout: a real HAProxy moves the traffic, the deploy step
// is a real command, and the records go to the ledger file (no token) or to a GitHub API that
// cannot be reached. Traffic always comes first; records follow and never block it.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { stringify } from 'yaml';
import { startHaproxy, type RunningHaproxy } from '../../harness/haproxy.js';
import { freePort } from '../../harness/ports.js';
import { requireBinary, tempDir } from '../../harness/process.js';
import { systemClock } from '../../src/core/clock.js';
import { LedgerDeploymentRecords } from '../../src/core/github/ledger.js';
import { DeploymentRecordHooks, recordHooks } from '../../src/core/github/record-hooks.js';
import { runDeployCanaryAction } from '../../src/core/rollout/deploy-canary.js';
import { noRolloutHooks, type RolloutHooks } from '../../src/core/rollout/hooks.js';
import { runRollbackAction } from '../../src/core/rollout/rollback.js';
import { MemoryRuntime, runAction, type ActionResult } from '../../src/core/runtime.js';
import { createTrafficProvider } from '../../src/core/traffic/index.js';

const ready = requireBinary('haproxy', 'haproxy');
const maybe = ready ? describe : describe.skip;

maybe('deployment records in the rollout', () => {
  let haproxy: RunningHaproxy;
  let dir: { path: string; remove: () => void };
  let n = 0;
  let work: string;

  beforeAll(async () => {
    dir = tempDir('rollgate-records-');
    haproxy = await startHaproxy({
      dir: dir.path,
      servers: [
        { name: 'stable', port: await freePort(), weight: 100 },
        { name: 'canary', port: await freePort(), weight: 0 },
      ],
    });
  }, 60_000);
  afterAll(async () => {
    await haproxy?.stop();
    dir?.remove();
  });
  beforeEach(async () => {
    work = join(dir.path, `case-${++n}`);
    await traffic().setWeight(0);
  });

  const traffic = () =>
    createTrafficProvider({
      service: 'orders',
      environment: 'production',
      strategy: 'canary',
      traffic: { provider: 'haproxy', admin: haproxy.admin, backend: haproxy.backend, stable: 'stable', canary: 'canary', maxWeight: 100, timeout: 5000 },
    });

  /** A plan whose deploy step appends "<slot> <version>" to a log, so redeploys can be observed. */
  function writePlan(extra: Record<string, unknown> = {}): string {
    const file = join(dir.path, `plan-${n}.yml`);
    writeFileSync(
      file,
      stringify({
        service: 'orders',
        environment: 'production',
        traffic: { provider: 'haproxy', admin: haproxy.admin, backend: haproxy.backend },
        deploy: { command: `sh -c "echo $0 $1 >> ${join(dir.path, `deploys-${n}.log`)}" {{slot}} {{version}}` },
        steps: [10, 50, 100],
        runbook: 'https://wiki.example.com/orders/runbook',
        ...extra,
      }),
    );
    return file;
  }
  const deploys = (): string[] => {
    try {
      return readFileSync(join(dir.path, `deploys-${n}.log`), 'utf8')
        .trim()
        .split('\n');
    } catch {
      return [];
    }
  };
  const ledgerFile = () => join(work, 'ledger.json');

  /** Runs an action the way its entry does, with the record hooks the plan's environment gets. */
  async function run(
    action: typeof runRollbackAction,
    inputs: Record<string, string>,
    env: Record<string, string> = {},
  ): Promise<{ result: ActionResult; runtime: MemoryRuntime }> {
    const runtime = new MemoryRuntime({ ledger: ledgerFile(), ...inputs }, { ROLLGATE_STATE_DIR: join(work, 'state'), ...env });
    const hooks: RolloutHooks = {
      ...noRolloutHooks,
      ...recordHooks(DeploymentRecordHooks.forRun(runtime, { service: 'orders', environment: 'production' }, inputs.plan, { retries: 1, retryBaseMs: 10 })),
    };
    const saved = process.exitCode;
    const result = await runAction('test', (rt) => action(rt, { clock: systemClock, cwd: work, hooks }), runtime);
    process.exitCode = saved;
    return { result, runtime };
  }

  it('deploy-canary records the deployment in the ledger, rollback marks it failed after restoring traffic', async () => {
    const plan = writePlan();
    const deployed = await run(runDeployCanaryAction, { plan, version: 'v2' });
    expect(deployed.result).toEqual({ ok: true });
    expect((await traffic().getState()).canaryPercent).toBe(10);
    const ledger = new LedgerDeploymentRecords(ledgerFile());
    const [record] = await ledger.list('production');
    expect(deployed.runtime.outputs['deployment-id']).toBe(String(record!.id));
    expect(record!.payload).toMatchObject({ version: 'v2', strategy: 'canary', plan });
    expect((await ledger.statuses(record!.id))[0]).toMatchObject({ state: 'in_progress', description: 'canary 10%' });

    const rolledBack = await run(runRollbackAction, { plan, reason: 'error rate 7% over 5%' });
    expect(rolledBack.result.ok).toBe(true);
    expect((await traffic().getState()).canaryPercent).toBe(0);
    expect((await ledger.statuses(record!.id))[0]).toMatchObject({ state: 'failure', description: 'rolled back: error rate 7% over 5%' });
  });

  it('with the GitHub API unreachable, rollback still restores traffic and exits non-zero naming the missing record', async () => {
    const plan = writePlan();
    await traffic().setWeight(50);
    const closed = await freePort();
    const { result, runtime } = await run(
      runRollbackAction,
      { plan, reason: 'gate failed', 'github-token': 'ghs_unreachable', 'deployment-id': '41' },
      { GITHUB_API_URL: `http://127.0.0.1:${closed}`, GITHUB_REPOSITORY: 'acme/orders' },
    );
    expect((await traffic().getState()).canaryPercent).toBe(0);
    expect(runtime.outputs['rolled-back']).toBe('true');
    expect(result.ok).toBe(false);
    expect(`${result.failure}\n${runtime.summary}`).toMatch(/deployment #41/);
    expect(runtime.summary).toMatch(/gh api repos\/\{owner\}\/\{repo\}\/deployments\/41\/statuses/);
    expect(runtime.text()).not.toContain('ghs_unreachable');
  });

  it('with the GitHub API unreachable and the rollout record in a file store, deploy-canary still sends the first slice and warns in the summary what to do', async () => {
    const plan = writePlan();
    const closed = await freePort();
    const store = `file:${join(work, 'store')}`;
    const { result, runtime } = await run(
      runDeployCanaryAction,
      { plan, version: 'v3', 'github-token': 'ghs_unreachable', store },
      { GITHUB_API_URL: `http://127.0.0.1:${closed}`, GITHUB_REPOSITORY: 'acme/orders' },
    );
    expect(result).toEqual({ ok: true });
    expect((await traffic().getState()).canaryPercent).toBe(10);
    expect(runtime.outputs['deployment-id']).toBeUndefined();
    expect(runtime.summary).toMatch(/⚠️ recording the deployment failed .*could not record the deployment of v3 to production in acme\/orders on GitHub.*What to do: /);
  });

  it('with the GitHub API unreachable and the rollout record on GitHub, deploy-canary refuses before anything moves', async () => {
    const plan = writePlan();
    const closed = await freePort();
    const { result } = await run(
      runDeployCanaryAction,
      { plan, version: 'v3', 'github-token': 'ghs_unreachable' },
      { GITHUB_API_URL: `http://127.0.0.1:${closed}`, GITHUB_REPOSITORY: 'acme/orders' },
    );
    expect(result.ok).toBe(false);
    expect(result.failure).toMatch(/matching-refs\/rollgate%2Forders%2Fproduction/);
    expect((await traffic().getState()).canaryPercent).toBe(0);
  });

  it('manual rollback to previous redeploys the last good version without gates and records rollbackOf', async () => {
    const plan = writePlan();
    const ledger = new LedgerDeploymentRecords(ledgerFile());
    for (const version of ['v1', 'v2']) {
      const d = await ledger.create({ environment: 'production', ref: `ref-${version}`, payload: { version, strategy: 'canary' } });
      await ledger.setStatus(d.id, { state: 'success' });
    }
    await traffic().setWeight(10);
    const { result, runtime } = await run(runRollbackAction, { plan, to: 'previous', reason: 'checkout errors' });
    expect(result).toEqual({ ok: true });
    expect(deploys()).toEqual(['stable v1']);
    expect((await traffic().getState()).canaryPercent).toBe(0);
    const [newest, left] = await ledger.list('production');
    expect(newest!.payload).toMatchObject({ version: 'v1', rollbackOf: left!.id, previousVersion: 'v2' });
    expect(newest!.ref).toBe('ref-v1');
    expect((await ledger.statuses(newest!.id))[0]!.state).toBe('success');
    expect((await ledger.statuses(left!.id))[0]!.state).toBe('failure');
    expect(runtime.outputs.version).toBe('v1');
    expect(runtime.summary).toContain('Gates were skipped');
  });

  it('manual rollback with no earlier good deployment says so and changes nothing', async () => {
    const plan = writePlan();
    const ledger = new LedgerDeploymentRecords(ledgerFile());
    const d = await ledger.create({ environment: 'production', ref: 'r', payload: { version: 'v1', strategy: 'canary' } });
    await ledger.setStatus(d.id, { state: 'success' });
    await traffic().setWeight(10);
    const { result, runtime } = await run(runRollbackAction, { plan, to: 'previous' });
    expect(result.ok).toBe(false);
    expect(result.failure).toMatch(/nothing to roll back to: no successful deployment .* older than #1 \(v1\)/);
    expect(runtime.summary).toContain('Nothing was changed');
    expect(deploys()).toEqual([]);
    expect((await traffic().getState()).canaryPercent).toBe(10);
    expect(await ledger.list('production')).toHaveLength(1);
  });

  it('refuses to roll back an irreversible release and links the runbook, changing nothing', async () => {
    const plan = writePlan({ irreversible: 'contract migration dropped orders.legacy_total' });
    await traffic().setWeight(10);
    const { result } = await run(runRollbackAction, { plan, to: 'previous' });
    expect(result.ok).toBe(false);
    expect(result.failure).toMatch(/irreversible \(contract migration dropped orders\.legacy_total\).*https:\/\/wiki\.example\.com\/orders\/runbook/);
    expect(deploys()).toEqual([]);
    expect((await traffic().getState()).canaryPercent).toBe(10);
  });
});
