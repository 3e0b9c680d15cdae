import { FakeClock } from '../../src/core/clock.js';
import { rolloutOwner } from '../../src/core/rollout/rollout-state.js';
import { RolloutChangedError, RolloutSession } from '../../src/core/rollout/session.js';
import { describePhase, nextSafeStep, promotionBlocker, RolloutStateError, transition, type RolloutRecord } from '../../src/core/rollout/state-machine.js';
import { MemoryRolloutStore } from '../../src/core/rollout/store.js';

const T0 = Date.parse('2026-01-01T10:00:00Z');

function session(store: MemoryRolloutStore, owner: string, action: string, clock: FakeClock, warnings: string[] = [], staleAfterMs?: number) {
  return RolloutSession.open({ store, service: 'orders', environment: 'production', owner, action, clock, staleAfterMs, warn: (w) => warnings.push(w) });
}

/** A rollout of v2 at a 10% canary whose gate is pending, as deploy-canary leaves it. */
async function canaryAt10(store: MemoryRolloutStore, clock: FakeClock): Promise<RolloutSession> {
  const deploy = await session(store, 'run 1', 'deploy-canary', clock);
  await deploy.acquire({ kind: 'start', version: 'v2', strategy: 'canary', weight: 0 });
  await deploy.apply({ kind: 'traffic-given', weight: 10 });
  await deploy.release();
  return deploy;
}

describe('the rollout state machine: which change each phase allows', () => {
  const ctx = { by: 'run 1', action: 'test', now: '2026-01-01T10:00:00.000Z', service: 'orders', environment: 'production' };
  const canary = (): RolloutRecord => {
    const started = transition(undefined, { kind: 'start', version: 'v2', strategy: 'canary', weight: 0 }, ctx);
    return transition(started, { kind: 'traffic-given', weight: 10 }, ctx);
  };

  it('refuses promotion while the gate at the current weight is pending or failed, naming the next safe step', () => {
    const pending = canary();
    expect(promotionBlocker(pending)).toBe('the gate at 10% is pending');
    expect(() => transition(pending, { kind: 'promote' }, ctx)).toThrow(RolloutStateError);
    const failed = transition(pending, { kind: 'gate', standing: 'failed', verdict: 'fail', reason: 'error-rate 0.1 > 0.05' }, ctx);
    expect(() => transition(failed, { kind: 'promote' }, ctx)).toThrow(
      /ramp cannot promote|test cannot promote: the gate at 10% is failed\. Next safe step: run rollback \(the gate failed at 10%\)/,
    );
  });

  it('refuses promotion when the canary moved after its gate passed: the verdict was about another weight', () => {
    const passed = transition(canary(), { kind: 'gate', standing: 'passed', verdict: 'pass', reason: 'ok' }, ctx);
    expect(promotionBlocker(passed)).toBeUndefined();
    const moved = transition(passed, { kind: 'step', weight: 50 }, ctx);
    expect(promotionBlocker(moved)).toBe('the gate at 50% is pending');
    const tampered: RolloutRecord = { ...passed, weight: 30 };
    expect(promotionBlocker(tampered)).toBe('the gate judged the canary at 10%, but it has 30% now');
  });

  it('refuses promotion when the gate judged another version than the rollout brings', () => {
    const passed = transition(canary(), { kind: 'gate', standing: 'passed', verdict: 'pass', reason: 'ok' }, ctx);
    expect(promotionBlocker({ ...passed, version: 'v3' })).toBe('the gate judged v2, but the rollout is of v3');
  });

  it('allows promotion after an explicit, recorded skip, with its reason and who skipped', () => {
    const skipped = transition(canary(), { kind: 'skip-gate', reason: 'hotfix approved by on-call' }, { ...ctx, by: 'run 2' });
    expect(skipped.steps.at(-1)).toMatchObject({ gate: 'skipped', reason: 'hotfix approved by on-call', by: 'run 2' });
    expect(transition(skipped, { kind: 'promote' }, ctx).phase).toBe('promoting');
  });

  it('records that the stable slot was overwritten before it is, and forgets it only when the promotion finishes', () => {
    const passed = transition(canary(), { kind: 'gate', standing: 'passed', verdict: 'pass', reason: 'ok' }, ctx);
    const overwriting = transition(transition(passed, { kind: 'promote' }, ctx), { kind: 'redeploy-stable' }, ctx);
    expect(overwriting).toMatchObject({ phase: 'promoting', stableOverwritten: true });
    expect(nextSafeStep(overwriting)).toMatch(/re-run ramp to finish promoting v2, or run rollback \(it redeploys the stable slot/);
    const done = transition(overwriting, { kind: 'promoted' }, ctx);
    expect(done).toMatchObject({ phase: 'promoted', stableOverwritten: false, lastGood: 'v2', slots: { stable: 'v2' } });
  });

  it('lets rollback start from every phase and bumps the generation each time', () => {
    const record = canary();
    const rolling = transition(record, { kind: 'rollback', reason: 'gate failed' }, ctx);
    expect(rolling.generation).toBe(record.generation + 1);
    expect(transition(rolling, { kind: 'rolled-back' }, ctx).phase).toBe('rolled-back');
  });

  it('a rollback onto a stable that cannot serve stays rolling-back, says why, and blocks a new rollout until a rollback finishes', () => {
    const rolling = transition(canary(), { kind: 'rollback', reason: 'gate failed' }, ctx);
    const stuck = transition(rolling, { kind: 'rollback-unserved', weight: 0, detail: 'stable (server s1) is DOWN (L7STS 503): every request fails' }, ctx);
    expect(stuck).toMatchObject({ phase: 'rolling-back', weight: 0, stalled: 'stable (server s1) is DOWN (L7STS 503): every request fails' });
    expect(describePhase(stuck)).toBe('rolling back, not finished: stable (server s1) is DOWN (L7STS 503): every request fails');
    expect(nextSafeStep(stuck)).toMatch(/^bring the stable server back .*then run rollback again/);
    expect(stuck.history.at(-1)?.change).toBe('traffic moved off the canary, but stable (server s1) is DOWN (L7STS 503): every request fails');
    expect(() => transition(stuck, { kind: 'start', version: 'v3', strategy: 'canary', weight: 0 }, { ...ctx, by: 'run 2' })).toThrow(/is rolling back, not finished/);
    // Only a rolling-back rollout can be left so: elsewhere it would hide a phase's real state.
    expect(() => transition(canary(), { kind: 'rollback-unserved', weight: 0, detail: 'x' }, ctx)).toThrow(RolloutStateError);
    // The next rollback that finds stable serving finishes it, and the note goes.
    const done = transition(transition(stuck, { kind: 'rollback', reason: 'again' }, ctx), { kind: 'rolled-back' }, ctx);
    expect(done.phase).toBe('rolled-back');
    expect(done.stalled).toBeUndefined();
  });

  it('an interruption is noted with where it happened, keeps the phase, and heads the next safe step until the rollout moves on', () => {
    const stopped = transition(canary(), { kind: 'interrupted', during: 'the gate at 10%' }, { ...ctx, action: 'ramp' });
    expect(stopped).toMatchObject({ phase: 'canary', weight: 10, stalled: 'ramp was interrupted during the gate at 10%' });
    expect(nextSafeStep(stopped)).toMatch(/^ramp was interrupted during the gate at 10%; run ramp \(it judges the canary at 10% first\), or rollback/);
    expect(stopped.history.at(-1)).toMatchObject({ action: 'ramp', change: 'interrupted during the gate at 10%' });
    const judged = transition(stopped, { kind: 'gate', standing: 'passed', verdict: 'pass', reason: 'ok' }, ctx);
    expect(judged.stalled).toBeUndefined();
  });

  it('a release whose risk class stops at 50% goes no further, nor is promoted, until an approval is on record', () => {
    const started = transition(undefined, { kind: 'start', version: 'v2', strategy: 'canary', weight: 0, approvalAbove: 50, riskClass: 'high' }, ctx);
    const at50 = transition(
      transition(transition(transition(started, { kind: 'traffic-given', weight: 10 }, ctx), { kind: 'skip-gate', reason: 't' }, ctx), { kind: 'step', weight: 50 }, ctx),
      { kind: 'skip-gate', reason: 't' },
      ctx,
    );
    expect(at50.weight).toBe(50);
    expect(() => transition(at50, { kind: 'step', weight: 75 }, ctx)).toThrow(/cannot move the canary to 75%: this high-risk release goes no further than 50% without an approval/);
    expect(() => transition(at50, { kind: 'promote' }, ctx)).toThrow(/cannot promote: this high-risk release goes no further than 50% without an approval/);
    expect(nextSafeStep(at50)).toMatch(/^run ramp with the input approval \(who approved and why\) to go past 50%/);
    const approved = transition(at50, { kind: 'approve', by: 'alice', reason: 'reviewed in environment production-approval' }, { ...ctx, action: 'ramp' });
    expect(approved.approval).toEqual({ by: 'alice', reason: 'reviewed in environment production-approval', at: ctx.now });
    expect(approved.history.at(-1)?.change).toBe('approved past 50% by alice: reviewed in environment production-approval');
    expect(transition(approved, { kind: 'promote' }, ctx).phase).toBe('promoting');
    // The stop belongs to that release: the next rollout starts without the approval.
    const promoted = transition(transition(transition(approved, { kind: 'promote' }, ctx), { kind: 'redeploy-stable' }, ctx), { kind: 'promoted' }, ctx);
    const next = transition(promoted, { kind: 'start', version: 'v3', strategy: 'canary', weight: 0 }, ctx);
    expect(next.approval).toBeUndefined();
    expect(next.approvalAbove).toBeUndefined();
  });

  it('refuses a new rollout over one in progress by another run, and remembers the good version from a promoted one', () => {
    expect(() => transition(canary(), { kind: 'start', version: 'v3', strategy: 'canary', weight: 0 }, { ...ctx, by: 'run 2' })).toThrow(
      /a rollout of v2 by run 1 is canary at 10% with v2, gate pending/,
    );
    let promoted = transition(canary(), { kind: 'skip-gate', reason: 'test' }, ctx);
    promoted = transition(transition(transition(promoted, { kind: 'promote' }, ctx), { kind: 'redeploy-stable' }, ctx), { kind: 'promoted' }, ctx);
    const next = transition(promoted, { kind: 'start', version: 'v3', strategy: 'canary', weight: 0 }, { ...ctx, by: 'run 2' });
    expect(next).toMatchObject({ phase: 'deploying', version: 'v3', lastGood: 'v2', generation: promoted.generation + 1, steps: [] });
  });
});

describe('the rollout session: the lock and the generation live in the shared record', () => {
  it('refuses a second run while the first holds the lock, naming the holder, the version and the way out', async () => {
    const store = new MemoryRolloutStore();
    const clock = new FakeClock(T0);
    const first = await session(store, 'acme/orders run 1', 'deploy-canary', clock);
    await first.acquire({ kind: 'start', version: 'v2', strategy: 'canary', weight: 0 });
    const second = await session(store, 'acme/orders run 2', 'deploy-canary', clock);
    await expect(second.acquire({ kind: 'start', version: 'v3', strategy: 'canary', weight: 0 })).rejects.toThrow(
      /orders\/production: another rollout is in progress \(version v2 by acme\/orders run 1: deploy-canary running since 2026-01-01T10:00:00.000Z.*run rollback to abandon it.*concurrency:/,
    );
  });

  it('breaks a lock idle for longer than the stale limit (a runner that died), with a warning, and not a moment before', async () => {
    const store = new MemoryRolloutStore();
    const clock = new FakeClock(T0);
    await (await session(store, 'run 1', 'ramp', clock)).acquire({ kind: 'start', version: 'v2', strategy: 'canary', weight: 0 });
    clock.advance(10 * 60_000 - 1000);
    await expect((await session(store, 'run 2', 'ramp', clock, [], 10 * 60_000)).acquire()).rejects.toThrow(/another rollout is in progress/);
    clock.advance(2000);
    const warnings: string[] = [];
    const taken = await (await session(store, 'run 2', 'ramp', clock, warnings, 10 * 60_000)).acquire();
    expect(taken.lock?.owner).toBe('run 2');
    expect(warnings).toEqual(['breaking a stale rollout lock of orders/production: held by run 1 for version v2, idle for 10 min']);
  });

  it('a rollback during a bake bumps the generation: the ramp next change is refused, naming who changed it', async () => {
    const store = new MemoryRolloutStore();
    const clock = new FakeClock(T0);
    await canaryAt10(store, clock);
    const ramp = await session(store, 'run 2', 'ramp', clock);
    await ramp.acquire();
    expect(await ramp.changed()).toBeUndefined();
    const rollback = await session(store, 'run 3', 'rollback', clock);
    await rollback.acquire({ kind: 'rollback', reason: 'pager' }, { takeOver: true });
    expect(await ramp.changed()).toBeInstanceOf(RolloutChangedError);
    await expect(ramp.apply({ kind: 'gate', standing: 'passed', verdict: 'pass', reason: 'ok' })).rejects.toThrow(
      /the rollout changed since ramp took it \(generation 1 → 2, now rolling back\): rollback by run 3 .*rollback started \(pager\); took over from ramp by run 2.*ramp stops without moving traffic/,
    );
    await expect(ramp.checkpoint()).rejects.toThrow(RolloutChangedError);
    // Nothing the ramp tried was written: the record still says what the rollback did.
    expect((await session(store, 'x', 'x', clock)).record?.steps.at(-1)?.gate).toBe('pending');
  });

  it('retries a compare-and-swap lost to a write that changed nothing it cares about (a heartbeat of its own)', async () => {
    const store = new MemoryRolloutStore();
    const clock = new FakeClock(T0);
    await canaryAt10(store, clock);
    const a = await session(store, 'run 2', 'ramp', clock);
    await a.acquire();
    // Another handle of the same action writes in between (the bake watcher's heartbeat).
    const b = await session(store, 'run 2', 'ramp', clock);
    (b as unknown as { held: number }).held = 1;
    await b.checkpoint();
    const record = await a.apply({ kind: 'gate', standing: 'passed', verdict: 'pass', reason: 'ok' });
    expect(record.steps.at(-1)?.gate).toBe('passed');
  });

  it('between actions nobody holds the lock, yet a new rollout is refused until the one in progress is idle for the stale limit', async () => {
    const store = new MemoryRolloutStore();
    const clock = new FakeClock(T0);
    await canaryAt10(store, clock);
    const start = { kind: 'start', version: 'v3', strategy: 'canary', weight: 10 } as const;
    await expect((await session(store, 'run 9', 'deploy-canary', clock, [], 60_000)).acquire(start)).rejects.toThrow(
      /another rollout is in progress \(version v2 by run 1: canary at 10% with v2, gate pending/,
    );
    clock.advance(61_000);
    const warnings: string[] = [];
    const taken = await (await session(store, 'run 9', 'deploy-canary', clock, warnings, 60_000)).acquire(start);
    expect(taken).toMatchObject({ phase: 'deploying', version: 'v3', startedBy: 'run 9', generation: 2 });
    expect(warnings).toEqual(['breaking a stale rollout lock of orders/production: held by run 1 for version v2, idle for 1 min']);
  });

  it('names the owner after the workflow run on GitHub, and lets a CLI user name it', () => {
    expect(rolloutOwner({ GITHUB_RUN_ID: '42', GITHUB_REPOSITORY: 'acme/orders', GITHUB_RUN_ATTEMPT: '2' })).toBe('acme/orders run 42');
    expect(rolloutOwner({ ROLLGATE_RUN_ID: 'release-7' })).toBe('release-7');
    expect(rolloutOwner({})).toMatch(/.+@.+/);
  });
});
