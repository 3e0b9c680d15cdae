import { describeError } from '../errors.js';
import { disableKillSwitches, formatFlagResults, killSwitchFailure, type FlagResult } from '../flags/index.js';
import { getListInput, getNumberInput, getOptionalInput } from '../inputs.js';
import type { ActionResult, ActionRuntime } from '../runtime.js';
import { UnservedTrafficError, whatUsersGet } from '../traffic/health.js';
import { describeTrafficState, trafficStateTable, type RollbackOutcome, type TrafficState } from '../traffic/provider.js';
import { openRollout, openSession, rolloutEvent, type RolloutContext, type RolloutDeps } from './context.js';
import { runBookkeeping } from './hooks.js';
import { runManualRollback } from './manual-rollback.js';
import { loadRolloutPlan } from './plan-input.js';
import type { RolloutSession } from './session.js';
import { describePhase, SETTLED_PHASES, type RolloutRecord } from './state-machine.js';
import { ROLLBACK_BACKOFF_MS } from './strategy.js';
import { phaseSummary } from './summary.js';
import { trafficReadable } from './strategies/canary.js';

/** Attempts at the traffic change before rollback gives up, and the first backoff. */
export const ROLLBACK_ATTEMPTS = 5;
export { ROLLBACK_BACKOFF_MS };

/**
 * rollback: restores the last known-good traffic from whatever state it finds, from any job,
 * needing only the plan's traffic section and the rollout store. It bumps the rollout's
 * generation first, so any other action's next traffic change is refused; then traffic, retried
 * with backoff; then kill switches, records and notifications, each on its own. Problems in
 * sections it does not need are reported after traffic is safe, with a non-zero exit.
 * Idempotent: a second run finds nothing to change and says so.
 */
export async function runRollbackAction(runtime: ActionRuntime, deps: RolloutDeps = {}): Promise<ActionResult> {
  // `to: previous | <version>`: a manual rollback redeploys a known-good version (see manual-rollback.ts).
  const to = getOptionalInput(runtime, 'to');
  // strategy: rolling undoes the Deployment update itself, so its deploy section stands in for traffic.
  const loaded = loadRolloutPlan(runtime, {
    require: (strategy) => (strategy === 'rolling' ? ['deploy'] : to ? ['traffic', 'deploy'] : ['traffic']),
    reads: ['flags', 'notify', 'analysis', 'metrics', 'deploy', 'readiness'],
    lenient: true,
  });
  const planProblems = loaded.problems ?? [];
  const reason = getOptionalInput(runtime, 'reason') ?? 'rollback requested';
  const attempts = getNumberInput(runtime, 'attempts', { min: 1, max: 20, integer: true }) ?? ROLLBACK_ATTEMPTS;
  const ctx = openRollout(runtime, loaded, deps);
  for (const p of planProblems) runtime.warning(`${loaded.file}: ${p}; rollback goes on without it`);
  if (to) {
    const result = await runManualRollback(ctx, to, reason, () => takeOver(ctx, reason, { always: true }));
    // Kill switches follow a redeploy that put a known-good version back; a refused one changed nothing.
    if (!result.ok) return result;
    const flags = await turnKillSwitchesOff(ctx, reason, loaded.leftOut);
    if (flags.length) runtime.appendSummary(formatFlagResults(flags));
    const failure = [killSwitchFailure(flags), planFailure(planProblems)].filter(Boolean).join('; ');
    return failure ? { ok: false, failure: `version restored, but ${failure}` } : result;
  }

  ctx.log(`rollback of ${ctx.plan.service}/${ctx.plan.environment} (${ctx.plan.strategy === 'rolling' ? 'rolling Deployment' : ctx.traffic.target}): ${reason}`);
  const summary: string[] = [`## rollgate rollback: ${ctx.plan.service}/${ctx.plan.environment}`, '', `Reason: ${reason}`, ''];
  // The record first: bumping its generation stops every other action's next traffic change. A
  // store that cannot be reached must not stop the rollback: traffic goes first, the record after.
  const { session, found, storeProblem } = await takeOver(ctx, reason);
  if (found) ctx.log(`rollout on record: ${describePhase(found)}, started by ${found.startedBy}`);
  else if (!storeProblem) ctx.log('no rollout on record');

  let outcome: RollbackOutcome;
  // Rollback onto a stable that cannot serve still moves the weights: then it says what users get, finishes the rest, and fails.
  let unserved: string | undefined;
  try {
    outcome = await ctx.strategy.rollback({ ctx, session: session as RolloutSession, report: summary }, found, attempts);
  } catch (err) {
    if (!(err instanceof UnservedTrafficError && err.changed)) {
      runtime.setOutput('rolled-back', 'false');
      summary.push(`**Traffic could NOT be restored:** ${describeError(err)}`, '', 'The rollout stays in phase rolling-back: run rollback again once the cause is fixed.');
      summary.push('', phaseSummary(session?.record ?? found));
      runtime.appendSummary(summary.join('\n'));
      throw err;
    }
    unserved = unservedRollback(err.state);
    outcome = { changed: true, before: err.state, after: err.state };
  }

  const readable = ctx.plan.strategy === 'rolling' || trafficReadable(ctx.plan);
  runtime.setOutput('rolled-back', String(outcome.changed));
  runtime.setOutput('stable-serving', String(unserved === undefined));
  if (unserved) {
    // The step's failure prints it as an error at the end; the log says it when it happens.
    ctx.log(unserved);
    summary.push('### Did', '', `**${unserved}**`, '', trafficStateTable(outcome.after), '');
  } else {
    if (readable) summary.push('### Found', '', trafficStateTable(outcome.before), '');
    if (outcome.changed)
      summary.push(
        '### Did',
        '',
        readable ? `Moved all traffic to ${outcome.after.live ?? 'stable'} (read back):` : 'Set the canary to 0% (no getWeight: the exit status is the only confirmation).',
        '',
        ...(readable ? [trafficStateTable(outcome.after), ''] : []),
      );
    else
      summary.push(
        '### Did',
        '',
        `Nothing: ${outcome.before.live ? `${outcome.before.live} is live` : 'stable already serves 100%'}${found && ['promoted', 'rolled-back', 'aborted'].includes(found.phase) ? ` (the last rollout is ${describePhase(found)})` : ''}, no change made.`,
        '',
      );
    ctx.log(
      outcome.changed
        ? `traffic restored: ${readable ? describeTrafficState(outcome.after) : 'canary set to 0%'}`
        : `no-op: ${describeTrafficState(outcome.before)} already; nothing to roll back`,
    );
  }

  const recordProblems: string[] = storeProblem ? [storeProblem] : [];
  if (session) {
    try {
      // Not rolled back while users get errors: the phase stays rolling-back, with why, until a run finds stable serving.
      if (unserved) await session.apply({ kind: 'rollback-unserved', weight: outcome.after.canaryPercent, detail: unservedDetail(outcome.after) });
      else {
        await session.apply({ kind: 'rolled-back' });
        await reapplyIfRaced(ctx, outcome);
      }
    } catch (err) {
      recordProblems.push(`traffic ${unserved ? 'was moved' : 'is restored'}, but the rollout record could not be updated: ${describeError(err)}`);
    }
    const unreleased = await session.release();
    if (unreleased) recordProblems.push(unreleased);
    else if (found)
      summary.push(
        `Rollout lock released (was held by ${found.lock?.owner ?? found.startedBy} for \`${found.version}\`); the rollout's generation is now ${session.record?.generation ?? '?'}, so no earlier run can move its traffic again.`,
        '',
      );
  }

  // Kill switches first once traffic is safe: the fastest mitigation after the traffic itself.
  const flags = await turnKillSwitchesOff(ctx, reason, loaded.leftOut);
  if (flags.length) summary.push(formatFlagResults(flags));

  // Bookkeeping, strictly after traffic is safe. Each part is retried on its own; none can fail the rollback.
  const warnings = [...recordProblems, ...(await recordRollback(ctx, found, reason, outcome, flags))];
  for (const w of warnings) runtime.warning(w);
  if (warnings.length) summary.push('### Bookkeeping problems', '', ...warnings.map((w) => `- ${w}`), '');
  if (planProblems.length) summary.push('### Plan problems (sections left out of this rollback)', '', ...planProblems.map((p) => `- ${p}`), '');
  summary.push(phaseSummary(session?.record ?? found));
  runtime.appendSummary(summary.join('\n'));
  // Traffic is safe by now; a missing record, a kill switch still on or a broken plan must not pass silently.
  const failures = [
    killSwitchFailure(flags),
    warnings.length ? `${warnings.length} bookkeeping step(s) failed (see the summary): ${warnings.join('; ')}` : undefined,
    planFailure(planProblems),
  ];
  const failure = failures.filter((f): f is string => f !== undefined).join('; ');
  if (unserved) return { ok: false, failure: failure ? `${unserved}; and ${failure}` : unserved };
  if (failure) return { ok: false, failure: `traffic was restored, but ${failure}` };
  return { ok: true };
}

/** What serves now after a rollback whose destination cannot serve: `stable (server s1) is DOWN (L7STS 503)`. */
function unservedDetail(state: TrafficState): string {
  const unable = state.slots.filter((s) => s.serving === false && ((s.weight ?? 0) > 0 || s.percent > 0));
  const named = (unable.length ? unable : state.slots.filter((s) => s.serving === false)).map(
    (s) => `${s.role} (server ${s.name}) is ${s.status ?? s.health ?? 'not serving'}${s.detail ? ` (${s.detail})` : ''}`,
  );
  return `${named.join('; ') || 'the destination cannot serve'}: ${whatUsersGet(state)}`;
}

/** The one sentence an unserved rollback ends with: what it did, what users get, what to do. */
function unservedRollback(state: TrafficState): string {
  const to = state.live ?? 'stable';
  const names = state.slots.filter((s) => s.role === to).map((s) => `server ${s.name}`);
  return `all traffic moved to ${to}${names.length ? ` (${names.join(', ')})` : ''}, but ${unservedDetail(state)} — bring ${to} back (check the server and its health check), then run rollback again to confirm; rollgate will not send users back to the canary on its own`;
}

function planFailure(problems: string[]): string | undefined {
  return problems.length ? `the plan has ${problems.length} problem(s) outside the traffic section: ${problems.join('; ')}` : undefined;
}

/** Takes the rollout over (generation bumped, lock taken whoever held it), or says why the store could not be used. */
export async function takeOver(
  ctx: RolloutContext,
  reason: string,
  opts: { always?: boolean } = {},
): Promise<{ session?: RolloutSession; found?: RolloutRecord; storeProblem?: string }> {
  try {
    const session = await openSession(ctx, 'rollback');
    const found = session.record;
    // A settled rollout (promoted, rolled back, aborted) has nothing in progress to stop: the record stays as it is.
    // Blue-green keeps the old colour up after promotion: rolling a promoted pair back is one switch, and is recorded.
    const switchBack = found?.strategy === 'blue-green' && found.phase === 'promoted' && found.previous !== undefined;
    if (found && SETTLED_PHASES.includes(found.phase) && !switchBack && !opts.always) return { found };
    // No rollout on record (none ever ran through this store): the traffic layer alone says what to restore.
    if (!found && !opts.always) return {};
    await session.acquire({ kind: 'rollback', reason, strategy: ctx.strategy.name }, { takeOver: true });
    return { session, found };
  } catch (err) {
    const problem = `the rollout record could not be read or updated (${describeError(err)}); rolling back traffic from what the traffic layer shows`;
    ctx.runtime.warning(problem);
    return { storeProblem: problem };
  }
}

/**
 * The race window: an action that passed its checkpoint just before this rollback bumped the
 * generation may still land one traffic write after ours. One look after the record is written
 * puts the rollback's traffic back if that happened.
 */
async function reapplyIfRaced(ctx: RolloutContext, outcome: RollbackOutcome): Promise<void> {
  if (ctx.strategy.name !== 'canary' || !trafficReadable(ctx.plan)) return;
  const now = await ctx.traffic.getState();
  if (now.canaryPercent === outcome.after.canaryPercent) return;
  ctx.runtime.warning(`traffic changed right after the rollback (${describeTrafficState(now)}): another action's write landed late; restoring again`);
  await ctx.traffic.rollback();
}

/** Kill switches, the deployment record and notifications: named places, each retried on its own. */
async function recordRollback(ctx: RolloutContext, record: RolloutRecord | undefined, reason: string, outcome: RollbackOutcome, flags: FlagResult[]): Promise<string[]> {
  const inProgress = record !== undefined && !['promoted', 'rolled-back', 'aborted'].includes(record.phase);
  const event = { ...rolloutEvent(ctx, 0, record?.version), reason };
  const deps = { clock: ctx.clock };
  const cause = inProgress ? 'failure' : 'error';
  const problems = [
    await runBookkeeping('marking the deployment failed', () => ctx.hooks.rolledBack({ ...event, cause }), deps),
    outcome.changed ? await runBookkeeping('notifying the rollback', () => ctx.hooks.notify('rollback', { ...event, killSwitches: flags }), deps) : undefined,
  ];
  return problems.filter((p): p is string => p !== undefined);
}

/** The plan's kill switches plus any the `flags` input names (manual rollback); each reported, never thrown. */
async function turnKillSwitchesOff(ctx: RolloutContext, reason: string, leftOut: Record<string, unknown> = {}): Promise<FlagResult[]> {
  const names = [...(ctx.plan.flags?.killSwitches ?? killSwitchesIn(leftOut.flags)), ...(getListInput(ctx.runtime, 'flags') ?? [])];
  if (names.length === 0) return [];
  if (!ctx.plan.flags && leftOut.flags !== undefined) {
    // The flags section was left out (an unset token, a typo): each switch is reported, none silently forgotten.
    const results = names.map<FlagResult>((flag) => ({
      flag,
      provider: 'none',
      outcome: 'failed',
      detail: "the plan's flags section could not be used (see the plan problems): turn it off by hand",
    }));
    for (const r of results) ctx.runtime.error(`kill switch ${r.flag}: ${r.detail}`);
    return results;
  }
  return ctx.group('kill switches', () => disableKillSwitches(ctx.plan, { runtime: ctx.runtime, names, reason, clock: ctx.clock, cwd: ctx.cwd }));
}

/** The kill switch names a left-out flags section lists, as far as they can be read. */
function killSwitchesIn(section: unknown): string[] {
  const list = section && typeof section === 'object' ? (section as { killSwitches?: unknown }).killSwitches : undefined;
  return Array.isArray(list) ? list.filter((n): n is string => typeof n === 'string' && n.length > 0) : [];
}
