import { describeError, isUserError, ProviderError, UserError } from '../errors.js';
import { UnservedTrafficError } from '../traffic/health.js';
import { deployToSlot } from '../deploy/deploy.js';
import { waitForReadiness } from '../deploy/readiness.js';
import { runSmokeChecks, smokeTable, type SmokeResult } from '../deploy/smoke.js';
import type { RollbackOutcome, TrafficState } from '../traffic/provider.js';
import { templateVars, type RolloutContext } from './context.js';
import type { RolloutSession } from './session.js';
import type { RolloutRecord } from './state-machine.js';

/** What a strategy works with: the rollout's context and this action's hold on the record. */
export interface StrategyRun {
  ctx: RolloutContext;
  session: RolloutSession;
  /** Lines for the job summary. */
  report: string[];
  signal?: AbortSignal;
}

/**
 * How one strategy moves a version into service. Chosen once, when the rollout is opened
 * (`chooseStrategy`); the actions keep only inputs, outputs, summaries and gate policy. Every
 * traffic write inside follows the session's order: checkpoint → traffic → record the result.
 */
export interface RolloutStrategy {
  readonly name: RolloutRecord['strategy'];
  /**
   * Where traffic goes now, as read from the traffic layer; undefined when this plan gives no way
   * to read it (`command` without getWeight): never a default posing as a read state.
   */
  observe(ctx: RolloutContext, signal?: AbortSignal): Promise<TrafficState | undefined>;
  /** Puts `version` where it gets no traffic yet, checks it, then gives it its first share. */
  deploy(run: StrategyRun, version: string, weight: number): Promise<TrafficState | undefined>;
  /** The traffic steps still ahead of `record` (blue-green and rolling have none). */
  stepsAhead(record: RolloutRecord, planned: readonly number[]): number[];
  /** Moves the canary to `weight` (canary only). */
  advance(run: StrategyRun, weight: number): Promise<TrafficState | undefined>;
  /** Makes the judged version the one that serves for good. The state machine has allowed it already. */
  promote(run: StrategyRun, record: RolloutRecord): Promise<TrafficState | undefined>;
  /** Restores the last known-good traffic from whatever state it finds, using the record when there is one. */
  rollback(run: StrategyRun, record: RolloutRecord | undefined, attempts: number): Promise<RollbackOutcome>;
  /**
   * After this action's traffic write raced a rollback and may have landed after it: puts the
   * rollback's traffic back. Best effort, reported by the caller.
   */
  undoLostRace(ctx: RolloutContext, record: RolloutRecord): Promise<void>;
}

/** Deploy, readiness, smoke: everything that must succeed before a slot gets traffic. */
export async function prepareSlot(run: StrategyRun, slot: string, version: string): Promise<void> {
  const { ctx } = run;
  const deploy = ctx.plan.deploy;
  if (deploy) {
    await deployToSlot(
      deploy,
      { slot, version, service: ctx.plan.service, environment: ctx.plan.environment },
      { log: ctx.log, group: ctx.group, env: { ...process.env, ...ctx.runtime.env }, cwd: ctx.cwd, signal: run.signal },
    );
    run.report.push(`- deployed \`${version}\` to slot ${slot}`);
  }
  await verifySlot(run, slot, version);
}

/** Readiness and smoke checks against a slot that runs `version`. */
export async function verifySlot(run: StrategyRun, slot: string, version: string): Promise<void> {
  const { ctx } = run;
  const vars = templateVars(ctx, slot, version);
  if (ctx.plan.readiness) {
    const ready = await waitForReadiness(ctx.plan.readiness, { clock: ctx.clock, vars, log: ctx.log, signal: run.signal });
    ctx.log(`ready: ${ready.url} after ${ready.attempts} probe(s)`);
    run.report.push(`- ${slot} ready after ${ready.attempts} probe(s), ${Math.round(ready.elapsedMs / 100) / 10}s`);
  }
  if (ctx.plan.smoke?.length) {
    const results: SmokeResult[] = await runSmokeChecks(ctx.plan.smoke, { clock: ctx.clock, vars });
    for (const r of results) ctx.log(`smoke ${r.name}: ${r.ok ? 'ok' : 'FAILED'} (${r.detail})`);
    run.report.push('', smokeTable(results), '');
    const failed = results.filter((r) => !r.ok);
    if (failed.length > 0) throw new UserError(`smoke checks failed against ${slot}: ${failed.map((r) => `${r.name} (${r.detail})`).join('; ')}`);
  }
}

/** Readiness of a slot after a redeploy, where the plan's readiness URL can name that slot. */
export async function waitForSlotReadiness(run: StrategyRun, slot: string, version: string): Promise<void> {
  const { readiness } = run.ctx.plan;
  // A readiness URL that names the slot can check any slot; one that does not is the canary's.
  if (readiness && /\{\{\s*(slot|track)\s*\}\}/.test(readiness.url))
    await waitForReadiness(readiness, { clock: run.ctx.clock, vars: templateVars(run.ctx, slot, version), log: run.ctx.log, signal: run.signal });
}

/** A traffic change retried with backoff; only an unreachable or misbehaving traffic layer is retried. */
export async function withRetries<T>(ctx: RolloutContext, attempts: number, what: string, change: () => Promise<T>): Promise<T> {
  let delay = ROLLBACK_BACKOFF_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      return await change();
    } catch (err) {
      // A plan mistake will not fix itself: only transport and provider failures are retried.
      if ((isUserError(err) && !(err instanceof ProviderError)) || err instanceof UnservedTrafficError) throw err;
      if (attempt >= attempts) throw new ProviderError(ctx.traffic.kind, `${what} failed after ${attempts} attempts; last error: ${describeError(err)}`);
      ctx.runtime.warning(`${what} attempt ${attempt}/${attempts} failed (${describeError(err)}); retrying in ${delay} ms`);
      await ctx.clock.sleep(delay);
      delay = Math.min(delay * 2, 8000);
    }
  }
}

/** The first backoff between rollback attempts. */
export const ROLLBACK_BACKOFF_MS = 500;

/** Enters `promoting`, unless a promotion that stopped half-way is being resumed. */
export async function beginPromotion(session: RolloutSession): Promise<void> {
  if (session.record?.phase !== 'promoting') await session.apply({ kind: 'promote' });
}
