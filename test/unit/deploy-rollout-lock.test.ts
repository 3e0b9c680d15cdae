import { writeFileSync } from 'node:fs';
import { tempDir } from '../../harness/process.js';
import { FakeClock } from '../../src/core/clock.js';
import { rolloutOwner, RolloutStateStore } from '../../src/core/rollout/rollout-state.js';

describe('the rollout lock: one rollout of a service and environment at a time', () => {
  const dir = tempDir('rollgate-lock-');
  afterAll(() => dir.remove());
  let n = 0;
  const store = (clock: FakeClock, env: NodeJS.ProcessEnv = {}) => new RolloutStateStore(`${dir.path}/${++n}`, 'orders', 'production', clock, env);
  const fields = { version: 'v2', strategy: 'canary' as const, weight: 0 };

  it('refuses a second owner while the first holds it, naming the holder, the version and the way out', () => {
    const clock = new FakeClock(Date.parse('2026-01-01T10:00:00Z'));
    const s = store(clock);
    s.acquire('acme/orders run 1', fields, () => undefined);
    expect(() => s.acquire('acme/orders run 2', { ...fields, version: 'v3' }, () => undefined)).toThrow(
      /orders\/production: another rollout is in progress \(version v2 by acme\/orders run 1, started 2026-01-01T10:00:00.000Z.*run rollback to abandon it.*concurrency:/,
    );
  });

  it('lets the same run take it again (the next step of one rollout, or a re-run) and keeps when it started', () => {
    const clock = new FakeClock(Date.parse('2026-01-01T10:00:00Z'));
    const s = store(clock);
    s.acquire('run 1', fields, () => undefined);
    clock.advance(60_000);
    const again = s.acquire('run 1', { ...fields, weight: 25 }, () => undefined);
    expect(again).toMatchObject({ startedAt: '2026-01-01T10:00:00.000Z', updatedAt: '2026-01-01T10:01:00.000Z', weight: 25 });
  });

  it('breaks a lock idle for longer than the stale limit (a runner that died), with a warning', () => {
    const clock = new FakeClock(Date.parse('2026-01-01T10:00:00Z'));
    const s = store(clock);
    s.acquire('run 1', fields, () => undefined);
    clock.advance(2 * 60 * 60 * 1000 - 1000);
    expect(() => s.acquire('run 2', fields, () => undefined)).toThrow(/another rollout is in progress/);
    clock.advance(2000);
    const warnings: string[] = [];
    expect(s.acquire('run 2', fields, (w) => warnings.push(w)).owner).toBe('run 2');
    expect(warnings).toEqual(['breaking a stale rollout lock of orders/production: held by run 1 for version v2, idle for 120 min']);
  });

  it('counts idleness from the last step, not the start: a long ramp that keeps stepping keeps its lock', () => {
    const clock = new FakeClock(Date.parse('2026-01-01T10:00:00Z'));
    const s = store(clock, { ROLLGATE_LOCK_STALE_AFTER: '10m' });
    s.acquire('run 1', fields, () => undefined);
    for (let i = 0; i < 5; i++) {
      clock.advance(9 * 60_000);
      s.update({ weight: i * 10 });
    }
    expect(() => s.acquire('run 2', fields, () => undefined)).toThrow(/lock idle for 10 min is taken as abandoned/);
  });

  it('treats an unreadable lock file (a half-written one) as stale', () => {
    const s = store(new FakeClock(0));
    s.acquire('run 1', fields, () => undefined);
    writeFileSync(s.lockFile, '{"owner": "ru');
    expect(s.acquire('run 2', fields, () => undefined).owner).toBe('run 2');
  });

  it('release ends the rollout and says who held it; a second release is a no-op', () => {
    const s = store(new FakeClock(0));
    s.acquire('run 1', fields, () => undefined);
    expect(s.release()?.owner).toBe('run 1');
    expect(s.release()).toBeUndefined();
    expect(s.acquire('run 2', fields, () => undefined).owner).toBe('run 2');
  });

  it('names the owner after the workflow run on GitHub, and lets a CLI user name it', () => {
    expect(rolloutOwner({ GITHUB_RUN_ID: '42', GITHUB_REPOSITORY: 'acme/orders', GITHUB_RUN_ATTEMPT: '2' })).toBe('acme/orders run 42');
    expect(rolloutOwner({ ROLLGATE_RUN_ID: 'release-7' })).toBe('release-7');
    expect(rolloutOwner({})).toMatch(/.+@.+/);
  });
});
