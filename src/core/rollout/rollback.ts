import { describeError, isUserError, ProviderError } from '../errors.js';
import { disableKillSwitches, formatFlagResults, killSwitchFailure, type FlagResult } from '../flags/index.js';
import { getListInput, getNumberInput, getOptionalInput } from '../inputs.js';
import type { ActionResult, ActionRuntime } from '../runtime.js';
import { UnservedTrafficError } from '../traffic/health.js';
import { describeTrafficState, trafficStateTable, type Colour, type RollbackOutcome } from '../traffic/provider.js';
import { openRollout, rolloutEvent, type RolloutContext, type RolloutDeps } from './context.js';
import { runBookkeeping } from './hooks.js';
import { runManualRollback } from './manual-rollback.js';
import { loadRolloutPlan } from './plan-input.js';
import type { RolloutRecord } from './rollout-state.js';

/** Attempts at the traffic change before rollback gives up, and the first backoff. */
export const ROLLBACK_ATTEMPTS = 5;
export const ROLLBACK_BACKOFF_MS = 500;

/**
 * rollback: restores all traffic to stable from whatever state it finds, needing nothing from
 * earlier steps. Traffic comes first, retried with backoff; bookkeeping (kill switches, records,
 * notifications) follows, each retried on its own, and never undoes the traffic change.
 * Idempotent: a second run finds stable at 100% and says so.
 */
export async function runRollbackAction(runtime: ActionRuntime, deps: RolloutDeps = {}): Promise<ActionResult> {
  // `to: previous | <version>`: a manual rollback redeploys a known-good version (see manual-rollback.ts).
  // Only then is the deploy step read: an unset variable in it must not stop an ordinary rollback.
  const to = getOptionalInput(runtime, 'to');
  // strategy: rolling undoes the Deployment update itself, so its deploy section stands in for traffic.
  const loaded = loadRolloutPlan(runtime, { require: (strategy) => (strategy === 'rolling' ? ['deploy'] : ['traffic']), reads: ['flags', 'notify', 'analysis', 'metrics', ...(to ? (['deploy', 'readiness'] as const) : [])] });
  const reason = getOptionalInput(runtime, 'reason') ?? 'rollback requested';
  const attempts = getNumberInput(runtime, 'attempts', { min: 1, max: 20, integer: true }) ?? ROLLBACK_ATTEMPTS;
  const ctx = openRollout(runtime, loaded, deps);
  if (to) {
    const result = await runManualRollback(ctx, to, reason);
    // Kill switches follow a redeploy that put a known-good version back; a refused one changed nothing.
    if (!result.ok) return result;
    const flags = await turnKillSwitchesOff(ctx, reason);
    if (flags.length) runtime.appendSummary(formatFlagResults(flags));
    const failure = killSwitchFailure(flags);
    return failure ? { ok: false, failure: `version restored, but ${failure}` } : result;
  }
  const record = ctx.store.read();
  ctx.log(`rollback of ${ctx.plan.service}/${ctx.plan.environment} (${ctx.traffic.target}): ${reason}`);
  if (record) ctx.log(`rollout on record: version ${record.version} by ${record.owner}, canary last set to ${record.weight}%`);

  const summary: string[] = [`## rollgate rollback: ${ctx.plan.service}/${ctx.plan.environment}`, '', `Reason: ${reason}`, ''];
  let outcome: RollbackOutcome;
  try {
    outcome = await restoreTraffic(ctx, record, attempts);
  } catch (err) {
    runtime.setOutput('rolled-back', 'false');
    summary.push(`**Traffic could NOT be restored** after ${attempts} attempts: ${describeError(err)}`, '', 'The lock is kept: the rollout is not over. Fix access to the traffic layer and run rollback again.');
    runtime.appendSummary(summary.join('\n'));
    throw err;
  }

  runtime.setOutput('rolled-back', String(outcome.changed));
  summary.push('### Found', '', trafficStateTable(outcome.before), '');
  if (outcome.changed) summary.push('### Did', '', `Moved all traffic to ${outcome.after.live ?? 'stable'} (read back):`, '', trafficStateTable(outcome.after), '');
  else summary.push('### Did', '', `Nothing: ${outcome.before.live ? `${outcome.before.live} is live` : 'stable already serves 100%'}, no change made.`, '');
  ctx.log(outcome.changed ? `traffic restored: ${describeTrafficState(outcome.after)}` : `no-op: ${describeTrafficState(outcome.before)} already; nothing to roll back`);

  // Kill switches first once traffic is safe: the fastest mitigation after the traffic itself.
  const flags = await turnKillSwitchesOff(ctx, reason);
  if (flags.length) summary.push(formatFlagResults(flags));

  // Bookkeeping, strictly after traffic is safe. Each part is retried on its own; none can fail the rollback.
  const warnings = await recordRollback(ctx, record, reason, outcome, flags);
  for (const w of warnings) runtime.warning(w);
  if (warnings.length) summary.push('### Bookkeeping problems', '', ...warnings.map((w) => `- ${w}`), '');
  const released = ctx.store.release();
  if (released) summary.push(`Rollout lock released (was held by ${released.owner} for \`${released.version}\`).`);
  runtime.appendSummary(summary.join('\n'));
  // Traffic is safe by now; a missing record or a kill switch still on must not pass silently.
  const failures = [killSwitchFailure(flags), warnings.length ? `${warnings.length} bookkeeping step(s) failed (see the summary): ${warnings.join('; ')}` : undefined];
  const failure = failures.filter((f): f is string => f !== undefined).join('; ');
  if (failure) return { ok: false, failure: `traffic was restored, but ${failure}` };
  return { ok: true };
}

/** The traffic change, retried with backoff; only an unreachable or misbehaving traffic layer fails it. */
async function restoreTraffic(ctx: RolloutContext, record: RolloutRecord | undefined, attempts: number): Promise<RollbackOutcome> {
  const toColour = ctx.plan.strategy === 'blue-green' ? rollbackColour(ctx, record) : undefined;
  let delay = ROLLBACK_BACKOFF_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      if (ctx.plan.strategy === 'blue-green' && !toColour) {
        const state = await ctx.traffic.getState();
        return { changed: false, before: state, after: state };
      }
      const outcome = await ctx.traffic.rollback({ toColour });
      if (toColour && outcome.changed) {
        const from = outcome.before.live;
        ctx.store.recordSwitch({ live: toColour, previous: from ?? toColour, rolledBack: true });
      }
      return outcome;
    } catch (err) {
      // A plan mistake will not fix itself, and an unserved destination was already waited for: only transport and provider failures are retried.
      if ((isUserError(err) && !(err instanceof ProviderError)) || err instanceof UnservedTrafficError) throw err;
      if (attempt >= attempts) throw new ProviderError(ctx.traffic.kind, `rollback failed after ${attempts} attempts; last error: ${describeError(err)}`);
      ctx.runtime.warning(`rollback attempt ${attempt}/${attempts} failed (${describeError(err)}); retrying in ${delay} ms`);
      await ctx.clock.sleep(delay);
      delay = Math.min(delay * 2, 8000);
    }
  }
}

/** Blue-green: the colour to go back to, from the rollout on record or the last switch; undefined when nothing was switched. */
function rollbackColour(ctx: RolloutContext, record: RolloutRecord | undefined): Colour | undefined {
  if (record?.previousColour) return record.previousColour;
  const colours = ctx.store.colours();
  if (!colours || colours.rolledBack) return undefined;
  return colours.previous;
}

/** Kill switches, the deployment record and notifications: named places, each retried on its own. */
async function recordRollback(ctx: RolloutContext, record: RolloutRecord | undefined, reason: string, outcome: RollbackOutcome, flags: FlagResult[]): Promise<string[]> {
  const event = { ...rolloutEvent(ctx, 0, record?.version), reason };
  const deps = { clock: ctx.clock };
  const problems = [
    await runBookkeeping('marking the deployment failed', () => ctx.hooks.rolledBack({ ...event, cause: record ? 'failure' : 'error' }), deps),
    outcome.changed ? await runBookkeeping('notifying the rollback', () => ctx.hooks.notify('rollback', { ...event, killSwitches: flags }), deps) : undefined,
  ];
  return problems.filter((p): p is string => p !== undefined);
}

/** The plan's kill switches plus any the `flags` input names (manual rollback); each reported, never thrown. */
async function turnKillSwitchesOff(ctx: RolloutContext, reason: string): Promise<FlagResult[]> {
  const names = [...(ctx.plan.flags?.killSwitches ?? []), ...(getListInput(ctx.runtime, 'flags') ?? [])];
  if (names.length === 0) return [];
  return ctx.group('kill switches', () => disableKillSwitches(ctx.plan, { runtime: ctx.runtime, names, reason, clock: ctx.clock, cwd: ctx.cwd }));
}
