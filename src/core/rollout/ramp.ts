import { runGate } from '../analysis/gate.js';
import type { GateReport } from '../analysis/report.js';
import { renderGateSummary } from '../analysis/summary.js';
import { verdictAllowsPromotion, type Verdict } from '../analysis/verdict.js';
import { describeError, InputError, UserError } from '../errors.js';
import { getBooleanInput, getListInput, getOptionalInput, parseTrafficSteps } from '../inputs.js';
import { createMetricsProvider } from '../metrics/index.js';
import type { MetricsProvider } from '../metrics/provider.js';
import type { PlanOverride } from '../plan/load.js';
import type { ActionResult, ActionRuntime } from '../runtime.js';
import { describeTrafficState, formatPercent, trafficStateTable, type TrafficState } from '../traffic/provider.js';
import { openRollout, openSession, rolloutEvent, type RolloutContext, type RolloutDeps } from './context.js';
import { runBookkeeping } from './hooks.js';
import { loadRolloutPlan } from './plan-input.js';
import { actorOf } from '../policy/enforce.js';
import type { RolloutChangedError, RolloutSession } from './session.js';
import { currentStep, describePhase, nextSafeStep, type RolloutRecord } from './state-machine.js';
import type { StrategyRun } from './strategy.js';
import { phaseSummary } from './summary.js';

export interface RampDeps extends RolloutDeps {
  metrics?: MetricsProvider;
  signal?: AbortSignal;
}

/** How often a bake checks that the rollout was not rolled back under it. */
const WATCH_INTERVAL_MS = 1000;
/** How often a bake proves the lock holder alive. */
const HEARTBEAT_INTERVAL_MS = 60_000;

/** The steps this run moves through: `to`, else `steps`, else the plan's steps above the current share. */
export function rampSteps(input: { to?: string; steps?: string[] }, planSteps: readonly number[] | undefined, current: number): number[] {
  if (input.to !== undefined && input.steps !== undefined) throw new InputError('to', 'set either `to` or `steps`, not both');
  if (input.to === undefined && input.steps === undefined && !planSteps) throw new InputError('steps', 'is required when the plan has no `steps` (e.g. 25,50,100)');
  return input.to !== undefined
    ? parseTrafficSteps('to', [input.to], current)
    : input.steps !== undefined
      ? parseTrafficSteps('steps', input.steps, current)
      : (planSteps ?? []).filter((w) => w > current);
}

/** Why this run may skip gates: an explicit input with a reason, recorded in the rollout. */
function skipReason(runtime: ActionRuntime): string | undefined {
  const skip = getBooleanInput(runtime, 'skip-gate', false);
  const gate = getBooleanInput(runtime, 'gate', true);
  const reason = getOptionalInput(runtime, 'reason');
  if (skip && !reason) throw new InputError('reason', 'is required with skip-gate: true (it is recorded in the rollout, beside who skipped the gate)');
  if (skip) return reason;
  return gate ? undefined : (reason ?? 'input gate: false');
}

/**
 * ramp: judges the canary where it stands, moves it through its steps with a gate after each,
 * and promotes at 100 — only after a gate passed at the current weight for the version the
 * canary runs, with nothing changed since (the state machine enforces it). A gate that does not
 * pass stops the ramp where it is and fails the step, so an `if: failure()` rollback follows. A
 * re-run resumes by judging the current step again.
 */
export async function runRampAction(runtime: ActionRuntime, deps: RampDeps = {}): Promise<ActionResult> {
  const overrides: PlanOverride[] = [];
  const bake = getOptionalInput(runtime, 'bake');
  if (bake !== undefined) overrides.push({ path: ['analysis', 'bake'], value: bake, input: 'bake' });
  const skip = skipReason(runtime);
  const loaded = loadRolloutPlan(runtime, {
    require: (strategy) => (strategy === 'rolling' ? ['deploy'] : skip === undefined ? ['traffic', 'metrics', 'analysis'] : ['traffic']),
    reads: ['steps', 'deploy', 'readiness', 'analysis', 'metrics'],
    overrides,
  });
  const ctx = openRollout(runtime, loaded, deps);
  const { strategy } = ctx;
  // Inputs first: a typo is reported as such, before anything is read or locked.
  const stepInputs = { to: getOptionalInput(runtime, 'to'), steps: getListInput(runtime, 'steps') };
  if (strategy.name === 'rolling') rejectSteps(runtime);
  else if (strategy.name === 'canary') rampSteps(stepInputs, ctx.plan.steps, 0);
  const session = await openSession(ctx, 'ramp');
  const held = session.record;
  const summary: string[] = [`## rollgate ramp: ${ctx.plan.service}/${ctx.plan.environment}${held ? ` → \`${held.version}\`` : ''}`, ''];
  runtime.setOutput('promoted', 'false');
  runtime.setOutput('verdict', 'none');

  if (held?.phase === 'promoted') {
    const version = getOptionalInput(runtime, 'version');
    if (version !== undefined && version !== held.version)
      throw new InputError('version', `the last rollout promoted ${held.version}, not ${version}: run deploy-canary with ${version} first`);
    runtime.setOutput('weight', String(held.weight));
    summary.push(`- nothing to do: \`${held.version}\` was promoted already`, '', phaseSummary(held));
    runtime.appendSummary(summary.join('\n'));
    return { ok: true };
  }
  if (!held || (held.phase !== 'canary' && held.phase !== 'promoting'))
    throw new UserError(
      `${ctx.plan.service}/${ctx.plan.environment}: no rollout to ramp (${held ? describePhase(held) : `nothing on record in the ${session.location}`}). Next safe step: ${nextSafeStep(held)}`,
    );
  const version = getOptionalInput(runtime, 'version');
  if (version !== undefined && version !== held.version)
    throw new InputError(
      'version',
      `the canary runs ${held.version}, deployed and judged in this rollout; refusing to promote ${version}, which no gate judged. Run deploy-canary with ${version} to roll it out`,
    );
  const steps = strategy.name === 'canary' ? rampSteps(stepInputs, ctx.plan.steps, held.weight) : [];
  const approval = getOptionalInput(runtime, 'approval');
  await session.acquire();
  if (approval !== undefined) {
    // Recorded before any step: the state machine lets the canary past the risk class's stop only with it on record.
    await session.apply({ kind: 'approve', by: actorOf(runtime.env), reason: approval });
    ctx.log(`approval on record: ${actorOf(runtime.env)}: ${approval}`);
  }

  const run: StrategyRun = { ctx, session, report: summary, signal: deps.signal };
  let state: TrafficState | undefined;
  let lastVerdict: Verdict | undefined;
  let promoted = false;
  const finish = async (result: ActionResult): Promise<ActionResult> => {
    const record = session.record;
    // A rolling update's new version has all traffic; otherwise the canary's share as read back (or as recorded, when unreadable).
    const weight = strategy.name === 'rolling' ? 100 : (state?.canaryPercent ?? record?.weight);
    if (weight !== undefined) runtime.setOutput('weight', String(Math.round(weight * 100) / 100));
    runtime.setOutput('promoted', String(promoted));
    runtime.setOutput('verdict', lastVerdict ?? 'none');
    if (state) summary.push('', '### Traffic', '', trafficStateTable(state));
    if (!result.ok) summary.push('', `**Stopped:** ${result.failure ?? ''}`);
    // An interrupted ramp did not finish: it keeps the rollout, so no other run starts one before rollback.
    // It says where it stopped, so the next run's summary and refusal name the interruption.
    if (runtime.signal.aborted) await noteInterruption(ctx, session);
    const unreleased = runtime.signal.aborted ? undefined : await session.release();
    if (unreleased) runtime.warning(unreleased);
    summary.push('', phaseSummary(await latestRecord(ctx, session)));
    runtime.appendSummary(summary.join('\n'));
    return result;
  };

  try {
    state = await strategy.observe(ctx, deps.signal);
    if (state) {
      ctx.log(`traffic now (${ctx.traffic.target}): ${describeTrafficState(state)}`);
      assertTrafficAsRecorded(ctx, held, state);
    } else ctx.log(`traffic now: cannot be read (no getWeight); the record says ${describePhase(held)}`);

    if (held.phase === 'canary') {
      // Promotion needs a verdict at the weight the canary has now: a re-run judges it again.
      const verdict = await judgeCurrentStep(ctx, run, deps, skip);
      if (verdict) lastVerdict = verdict.verdict;
      if (verdict && !verdict.allowed) return await finish(await gateFailure(ctx, verdict.report, session.record as RolloutRecord));
      ctx.log(
        `ramp: ${formatPercent(held.weight)} → ${steps.map((s) => `${s}%`).join(' → ') || 'promotion'}${skip === undefined ? ', gating after each step' : ` (gates skipped: ${skip})`}`,
      );
      for (const step of steps.filter((s) => s < 100)) {
        state = (await strategy.advance(run, step)) ?? state;
        const judged = await judgeCurrentStep(ctx, run, deps, skip);
        if (judged) lastVerdict = judged.verdict;
        if (judged && !judged.allowed) return await finish(await gateFailure(ctx, judged.report, session.record as RolloutRecord));
      }
      if (strategy.name === 'canary' && !steps.includes(100)) return await finish({ ok: true });
    }
    state = await strategy.promote(run, session.record as RolloutRecord);
    promoted = true;
    await bookkeeping(ctx, 'recording the promotion', () => ctx.hooks.promoted({ ...rolloutEvent(ctx, 100, held.version), ...approvalOf(session.record) }));
    await bookkeeping(ctx, 'notifying the promotion', () => ctx.hooks.notify('promotion', { ...rolloutEvent(ctx, 100, held.version), verdict: lastVerdict }));
    return await finish({ ok: true });
  } catch (err) {
    // Stopped by an error (a rollback under it, a traffic layer that failed): the summary still says where things stand.
    await finish({ ok: false, failure: describeError(err) });
    throw err;
  }
}

/** The approval on record, as bookkeeping reports it. */
function approvalOf(record: RolloutRecord | undefined): { approval?: { by: string; reason: string } } {
  return record?.approval ? { approval: { by: record.approval.by, reason: record.approval.reason } } : {};
}

/** Records in the rollout where an interrupted ramp stopped; a store that cannot be written is a warning, never a second failure. */
async function noteInterruption(ctx: RolloutContext, session: RolloutSession): Promise<void> {
  const record = session.record;
  if (!record) return;
  // At a canary step ramp is judging it (a bake cut short is recorded as a failed gate, so never promoted from).
  const during =
    record.phase === 'canary' ? `the gate at ${formatPercent(record.weight)}` : record.phase === 'promoting' ? `the promotion of ${record.version}` : describePhase(record);
  try {
    await session.apply({ kind: 'interrupted', during });
  } catch (err) {
    ctx.runtime.warning(`ramp was interrupted during ${during}, and the rollout record could not say so: ${describeError(err)}`);
  }
}

/** The record as it is now, for the summary (another run may have changed it). */
async function latestRecord(ctx: RolloutContext, session: RolloutSession): Promise<RolloutRecord | undefined> {
  try {
    return (await openSession(ctx, 'ramp')).record;
  } catch {
    return session.record;
  }
}

/** Traffic moved by someone else since the record was written is not ramped from: the gate judged another shape. */
function assertTrafficAsRecorded(ctx: RolloutContext, record: RolloutRecord, state: TrafficState): void {
  const where = `${ctx.traffic.target}: ${describeTrafficState(state)}`;
  if (ctx.strategy.name === 'canary' && record.phase === 'canary' && Math.abs(state.canaryPercent - record.weight) >= 0.5)
    throw new UserError(
      `${where}, but the rollout record says the canary has ${record.weight}%: traffic was changed outside this rollout, so no gate judged what serves now. Run rollback, or set the traffic back to ${record.weight}%`,
    );
  if (ctx.strategy.name === 'blue-green' && record.live && state.live !== record.live)
    throw new UserError(`${where}, but the rollout record says ${record.live} is live with ${record.version}: the colours were switched outside this rollout. Run rollback`);
}

interface Judgement {
  allowed: boolean;
  verdict: Verdict;
  report: GateReport;
}

/**
 * Judges the step the canary is at now, unless its gate already passed; records the verdict (or
 * the explicit skip). Returns undefined when nothing was judged.
 */
async function judgeCurrentStep(ctx: RolloutContext, run: StrategyRun, deps: RampDeps, skip: string | undefined): Promise<Judgement | undefined> {
  const { session } = run;
  const record = session.record as RolloutRecord;
  const step = currentStep(record);
  if (step && step.version === record.version && (step.gate === 'passed' || step.gate === 'skipped')) return undefined;
  if (skip !== undefined) {
    await session.apply({ kind: 'skip-gate', reason: skip });
    run.report.push(`- gate at ${record.weight}% skipped: ${skip} (recorded)`);
    await bookkeeping(ctx, 'recording the step', () => ctx.hooks.stepReached({ ...rolloutEvent(ctx, record.weight, record.version), gate: 'skipped' }));
    return undefined;
  }
  if (ctx.strategy.name === 'rolling') {
    // A rolling update has no stable to compare against: metrics-gate judges it before ramp.
    await session.apply({ kind: 'skip-gate', reason: 'strategy rolling: no canary beside stable to compare; judged by metrics-gate before ramp' });
    return undefined;
  }
  const report = await bakeWatching(ctx, session, deps, record.weight, record.version, run.report);
  const allowed = verdictAllowsPromotion(report.verdict, ctx.plan.analysis?.onInconclusive ?? 'fail');
  await session.apply({ kind: 'gate', standing: allowed ? 'passed' : 'failed', verdict: report.verdict, reason: report.reason });
  if (allowed)
    await bookkeeping(ctx, 'recording the step', () =>
      ctx.hooks.stepReached({ ...rolloutEvent(ctx, record.weight, record.version), gate: 'passed', ...approvalOf(session.record) }),
    );
  return { allowed, verdict: report.verdict, report };
}

/** The bake, stopped early when the rollout changes under it (a rollback), with the lock's heartbeat kept. */
async function bakeWatching(ctx: RolloutContext, session: RolloutSession, deps: RampDeps, step: number, version: string, summary: string[]): Promise<GateReport> {
  const stop = new AbortController();
  const signal = deps.signal ? AbortSignal.any([deps.signal, stop.signal]) : stop.signal;
  let changed: RolloutChangedError | undefined;
  let lastBeat = ctx.clock.now();
  const timer = setInterval(() => {
    // Each tick handles its own failures; the promise is deliberately not awaited by the timer.
    (async () => {
      try {
        changed = await session.changed();
        if (changed) return stop.abort(changed);
        if (ctx.clock.now() - lastBeat >= HEARTBEAT_INTERVAL_MS) {
          lastBeat = ctx.clock.now();
          await session.checkpoint();
        }
      } catch {
        /* the store is unreachable for a moment: the next write decides */
      }
    })().catch(() => undefined);
  }, WATCH_INTERVAL_MS);
  timer.unref();
  try {
    return await bakeAndJudge(ctx, deps, step, version, summary, signal);
  } catch (err) {
    if (changed) throw changed;
    throw err;
  } finally {
    clearInterval(timer);
  }
}

async function bakeAndJudge(ctx: RolloutContext, deps: RampDeps, step: number, version: string, summary: string[], signal: AbortSignal): Promise<GateReport> {
  const { analysis, metrics } = ctx.plan;
  if (!analysis || !metrics) throw new UserError('ramp: the plan needs `metrics` and `analysis` to gate (or set skip-gate: true with a reason)');
  const provider = deps.metrics ?? createMetricsProvider(metrics, { clock: ctx.clock });
  const report = await ctx.group(`gate at ${step}%: bake ${Math.round(analysis.bake / 1000)}s`, () =>
    runGate({
      analysis,
      provider,
      clock: ctx.clock,
      vars: { service: ctx.plan.service, environment: ctx.plan.environment, version },
      log: ctx.log,
      signal,
      // The canary's share through the weighted router sets how many requests it must serve; a
      // blue-green colour's 100% is not a share beside stable, so there the rule uses the bake's own history.
      ...(ctx.strategy.name === 'canary' ? { weight: step } : {}),
    }),
  );
  ctx.log(`gate at ${step}%: ${report.verdict}: ${report.reason}`);
  summary.push('', renderGateSummary(report, `gate at ${step}%`), '');
  return report;
}

async function gateFailure(ctx: RolloutContext, report: GateReport, record: RolloutRecord): Promise<ActionResult> {
  // Who is told: the people watching. What they get: which checks failed and by how much, not just that the gate did.
  const failingChecks = report.checks.filter((c) => c.outcome !== 'pass').map((c) => ({ name: c.name, canary: c.canary, stable: c.stable, limit: c.limit, detail: c.reason }));
  const event = { ...rolloutEvent(ctx, record.weight, record.version), reason: report.reason, verdict: report.verdict, failingChecks };
  // Awaited: a process that exits before the webhook answers never tells anyone the gate failed.
  const problem = await runBookkeeping('notifying the gate failure', () => ctx.hooks.notify('gate-failure', event), { clock: ctx.clock });
  if (problem) ctx.runtime.warning(problem);
  const where = ctx.strategy.name === 'canary' ? `the canary keeps ${record.weight}%` : `${record.live ?? 'the new colour'} stays live`;
  return { ok: false, failure: `ramp stopped at ${record.weight}%: gate ${report.verdict}: ${report.reason} (${where} until rollback runs; nothing was promoted)` };
}

async function bookkeeping(ctx: RolloutContext, what: string, call: () => Promise<void>): Promise<void> {
  const problem = await runBookkeeping(what, call, { clock: ctx.clock });
  if (problem) {
    ctx.runtime.warning(problem);
    ctx.runtime.appendSummary(`> ⚠️ ${problem}`);
  }
}

/** strategy: rolling has no traffic steps: a `to` or `steps` other than 100 is a mistake, not a wish. */
function rejectSteps(runtime: ActionRuntime): void {
  for (const input of ['to', 'steps'] as const) {
    const given = input === 'to' ? getOptionalInput(runtime, 'to') : getListInput(runtime, 'steps')?.join(',');
    if (given !== undefined && given !== '100') throw new InputError(input, `strategy: rolling has no traffic steps (got ${given}); leave it unset`);
  }
}
