import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startHaproxy } from '../../harness/haproxy.js';
import { sendRequests } from '../../harness/load.js';
import { freePort } from '../../harness/ports.js';
import { requireBinary, tempDir } from '../../harness/process.js';
import { startSampleService, type SampleService } from '../../harness/sample-service.js';
import { systemClock } from '../../src/core/clock.js';
import { runRollbackAction } from '../../src/core/rollout/rollback.js';
import { FileRolloutStore } from '../../src/core/rollout/file-store.js';
import { RolloutSession } from '../../src/core/rollout/session.js';
import { MemoryRuntime, runAction } from '../../src/core/runtime.js';

const describeIf = requireBinary('haproxy', 'haproxy') ? describe : describe.skip;

describeIf('rollback against a real HAProxy: traffic first, whatever it finds, retried, loud when it cannot', () => {
  const dir = tempDir('rollgate-rollback-');
  let stable: SampleService;
  let canary: SampleService;

  beforeAll(async () => {
    stable = await startSampleService({ track: 'stable', version: 'v1' });
    canary = await startSampleService({ track: 'canary', version: 'v2' });
  });
  afterAll(async () => {
    await Promise.all([stable?.close(), canary?.close()]);
    dir.remove();
  });

  function writePlan(admin: string, name: string): string {
    const file = join(dir.path, name);
    writeFileSync(file, stringify({ service: 'orders', environment: 'prod', traffic: { provider: 'haproxy', admin, backend: 'orders', timeout: '1s' } }));
    return file;
  }

  async function rollback(plan: string, env: NodeJS.ProcessEnv, inputs: Record<string, string> = {}) {
    const rt = new MemoryRuntime({ plan, reason: 'canary failed', ...inputs }, env);
    const exitCode = process.exitCode;
    const result = await runAction('rollback', (r) => runRollbackAction(r), rt);
    process.exitCode = exitCode;
    return { result, rt };
  }

  it('retries while the runtime API is unreachable, then fails loudly, leaving the rollout in phase rolling-back', async () => {
    const state = join(dir.path, 'state-unreachable');
    const env = { ROLLGATE_STATE_DIR: state, ROLLGATE_STORE: `file:${join(state, 'shared')}`, ROLLGATE_RUN_ID: 'rb-1', ROLLGATE_LEDGER: join(dir.path, 'ledger.json') };
    const store = new FileRolloutStore(join(state, 'shared'), { service: 'orders', environment: 'prod' });
    const deploy = await RolloutSession.open({ store, service: 'orders', environment: 'prod', owner: 'run 0', action: 'deploy-canary', clock: systemClock, warn: () => undefined });
    await deploy.acquire({ kind: 'start', version: 'v2', strategy: 'canary', weight: 0 });
    await deploy.apply({ kind: 'traffic-given', weight: 25 });
    const port = await freePort();
    const { result, rt } = await rollback(writePlan(`127.0.0.1:${port}`, 'unreachable.yml'), env, { attempts: '3' });
    expect(result.ok).toBe(false);
    expect(result.failure).toBe(`haproxy: rollback failed after 3 attempts; last error: haproxy: runtime API at 127.0.0.1:${port}: connection refused`);
    const retries = rt.logs.filter((l) => l.level === 'warning' && /rollback attempt \d\/3 failed/.test(l.message));
    expect(retries).toHaveLength(2);
    expect(rt.outputs['rolled-back']).toBe('false');
    expect(rt.summary).toMatch(/\*\*Traffic could NOT be restored:\*\* haproxy: rollback failed after 3 attempts/);
    expect(rt.summary).toMatch(/phase: \*\*rolling-back\*\*.*next safe step: rollback did not finish: run rollback again/s);
    const after = await RolloutSession.open({ store, service: 'orders', environment: 'prod', owner: 'x', action: 'x', clock: systemClock, warn: () => undefined });
    expect(after.record).toMatchObject({ phase: 'rolling-back', lock: { owner: 'rb-1', action: 'rollback' } });
  });

  it('keeps retrying until HAProxy answers again, then restores stable', async () => {
    const [port, adminPort] = [await freePort(), await freePort()];
    const env = { ROLLGATE_STATE_DIR: join(dir.path, 'state-late'), ROLLGATE_RUN_ID: 'rb-2', ROLLGATE_LEDGER: join(dir.path, 'ledger.json') };
    const logDir = join(dir.path, 'late');
    mkdirSync(logDir);
    // HAProxy comes up (with the canary at 40%) while rollback is already retrying.
    const late = new Promise<Awaited<ReturnType<typeof startHaproxy>>>((resolve, reject) =>
      setTimeout(() => {
        startHaproxy({
          dir: logDir,
          port,
          adminPort,
          servers: [
            { name: 'stable', port: stable.port, weight: 60 },
            { name: 'canary', port: canary.port, weight: 40 },
          ],
        }).then(resolve, reject);
      }, 600),
    );
    const { result, rt } = await rollback(writePlan(`127.0.0.1:${adminPort}`, 'late.yml'), env, { attempts: '6' });
    const haproxy = await late;
    try {
      expect(result).toEqual({ ok: true });
      expect(rt.outputs['rolled-back']).toBe('true');
      expect(rt.logs.some((l) => l.level === 'warning' && /rollback attempt 1\/6 failed .*connection refused/.test(l.message))).toBe(true);
      const after = await sendRequests(haproxy.url, 1000);
      expect(after.byTrack).toEqual({ stable: 1000 });
    } finally {
      await haproxy.stop();
    }
  });

  it('needs nothing from earlier steps: with no rollout on record it still finds the canary and restores stable, and a second run is a no-op that says so', async () => {
    const haproxy = await startHaproxy({
      dir: dir.path,
      name: 'cold',
      servers: [
        { name: 'stable', port: stable.port, weight: 70 },
        { name: 'canary', port: canary.port, weight: 30 },
      ],
    });
    try {
      const env = { ROLLGATE_STATE_DIR: join(dir.path, 'state-cold'), ROLLGATE_LEDGER: join(dir.path, 'ledger.json') };
      const plan = writePlan(haproxy.admin, 'cold.yml');
      const first = await rollback(plan, env);
      expect(first.result).toEqual({ ok: true });
      expect(first.rt.outputs['rolled-back']).toBe('true');
      expect(first.rt.summary).toMatch(/### Found[\s\S]*\| canary \| `canary` \| 30% \| 30 \|[\s\S]*### Did[\s\S]*\| canary \| `canary` \| 0% \| 0 \|/);
      expect((await sendRequests(haproxy.url, 1000)).byTrack).toEqual({ stable: 1000 });
      const second = await rollback(plan, env);
      expect(second.rt.outputs['rolled-back']).toBe('false');
      expect(second.rt.summary).toMatch(/Nothing: stable already serves 100%, no change made/);
    } finally {
      await haproxy.stop();
    }
  });

  it('after a half-done promotion with no last good version on record, fails loudly saying what to run, and moves no traffic onto a slot that runs the bad version too', async () => {
    const haproxy = await startHaproxy({
      dir: dir.path,
      name: 'half',
      servers: [
        { name: 'stable', port: stable.port, weight: 0 },
        { name: 'canary', port: canary.port, weight: 100 },
      ],
    });
    try {
      const state = join(dir.path, 'state-half');
      const env = { ROLLGATE_STATE_DIR: state, ROLLGATE_STORE: `file:${join(state, 'shared')}`, ROLLGATE_RUN_ID: 'rb-3', ROLLGATE_LEDGER: join(dir.path, 'ledger-half.json') };
      const store = new FileRolloutStore(join(state, 'shared'), { service: 'orders', environment: 'prod' });
      const ramp = await RolloutSession.open({ store, service: 'orders', environment: 'prod', owner: 'run 0', action: 'ramp', clock: systemClock, warn: () => undefined });
      await ramp.acquire({ kind: 'start', version: 'v2', strategy: 'canary', weight: 0 });
      await ramp.apply({ kind: 'traffic-given', weight: 10 });
      await ramp.apply({ kind: 'skip-gate', reason: 'test' });
      await ramp.apply({ kind: 'promote' });
      await ramp.apply({ kind: 'redeploy-stable' });
      const { result, rt } = await rollback(writePlan(haproxy.admin, 'half.yml'), env);
      expect(result.ok).toBe(false);
      expect(result.failure).toMatch(
        /a promotion of v2 stopped after redeploying the stable slot, and no last good version is on record: both slots run v2, so moving traffic restores nothing\. run rollback with to: <the last good version>/,
      );
      expect(rt.summary).toMatch(/phase: \*\*rolling-back\*\*/);
      // Nothing was moved: the canary slot still carries what the half-done promotion gave it.
      expect((await sendRequests(haproxy.url, 100)).byTrack).toEqual({ canary: 100 });
    } finally {
      await haproxy.stop();
    }
  });
});
