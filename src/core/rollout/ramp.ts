import { runGate } from '../analysis/gate.js';
import type { GateReport } from '../analysis/report.js';
import { renderGateSummary } from '../analysis/summary.js';
import { verdictAllowsPromotion } from '../analysis/verdict.js';
import { deployToSlot } from '../deploy/deploy.js';
import { scaleDownCanary } from '../deploy/kubernetes.js';
import { waitForReadiness } from '../deploy/readiness.js';
import { describeError, InputError, UserError } from '../errors.js';
import { getBooleanInput, getListInput, getOptionalInput, parseNumberInput } from '../inputs.js';
import { createMetricsProvider } from '../metrics/index.js';
import type { MetricsProvider } from '../metrics/provider.js';
import type { PlanOverride } from '../plan/load.js';
import type { ActionResult, ActionRuntime } from '../runtime.js';
import { describeTrafficState, formatPercent, trafficStateTable, type TrafficState } from '../traffic/provider.js';
import { openRollout, rolloutEvent, templateVars, type RolloutContext, type RolloutDeps } from './context.js';
import { runBookkeeping } from './hooks.js';
import { loadRolloutPlan } from './plan-input.js';
import type { RollingDeployment } from '../deploy/rolling.js';

export interface RampDeps extends RolloutDeps {
  metrics?: MetricsProvider;
  signal?: AbortSignal;
}

/** The steps this run moves through: `to`, else `steps`, else the plan's steps above the current share. */
export function rampSteps(input: { to?: string; steps?: string[] }, planSteps: readonly number[] | undefined, current: number): number[] {
  if (input.to !== undefined && input.steps !== undefined) throw new InputError('to', 'set either `to` or `steps`, not both');
  const parsed =
    input.to !== undefined
      ? [parseNumberInput('to', input.to, { min: 0, max: 100 })]
      : input.steps !== undefined
        ? input.steps.map((s) => parseNumberInput('steps', s, { min: 0, max: 100 }))
        : (planSteps ?? []).filter((w) => w > current);
  if (input.to === undefined && input.steps === undefined && !planSteps) throw new InputError('steps', 'is required when the plan has no `steps` (e.g. 25,50,100)');
  parsed.forEach((w, i) => {
    const prev = parsed[i - 1];
    if (prev !== undefined && w <= prev) throw new InputError('steps', `expected increasing weights, got ${parsed.join(',')}`);
  });
  return parsed;
}

/**
 * ramp: moves the canary through its steps, running the plan's analysis for `bake` after each
 * step below 100, and promotes at 100. A gate that does not allow promotion stops the ramp where
 * it is and fails the step, naming the step, so an `if: failure()` rollback follows.
 */
export async function runRampAction(runtime: ActionRuntime, deps: RampDeps = {}): Promise<ActionResult> {
  const overrides: PlanOverride[] = [];
  const bake = getOptionalInput(runtime, 'bake');
  if (bake !== undefined) overrides.push({ path: ['analysis', 'bake'], value: bake, input: 'bake' });
  const gate = getBooleanInput(runtime, 'gate', true);
  const loaded = loadRolloutPlan(runtime, {
    require: (strategy) => (strategy === 'rolling' ? ['deploy'] : gate ? ['traffic', 'metrics', 'analysis'] : ['traffic']),
    reads: ['steps', 'deploy', 'readiness', 'analysis', 'metrics'],
    overrides,
  });
  const ctx = openRollout(runtime, loaded, deps);
  if (ctx.rolling) return confirmRollingUpdate(ctx, ctx.rolling, deps.signal);
  const before = await ctx.traffic.getState({ signal: deps.signal });
  ctx.log(`traffic now (${ctx.traffic.target}): ${describeTrafficState(before)}`);
  const held = ctx.store.read();
  const version = getOptionalInput(runtime, 'version') ?? held?.version;
  // Inputs are checked before the lock is taken: a typo must not leave a lock behind.
  const steps = ctx.plan.strategy === 'blue-green' ? [] : rampSteps({ to: getOptionalInput(runtime, 'to'), steps: getListInput(runtime, 'steps') }, ctx.plan.steps, before.canaryPercent);
  // With no rollout on record and an empty canary, there is nothing to ramp: the slot may hold anything.
  if (!held && before.canaryPercent === 0 && ctx.plan.strategy !== 'blue-green')
    throw new UserError(`${ctx.plan.service}/${ctx.plan.environment}: no rollout is in progress and the canary has 0%: run deploy-canary first`);
  ctx.store.acquire(ctx.owner, { version: version ?? 'unknown', strategy: ctx.plan.strategy, weight: before.canaryPercent }, (w) => runtime.warning(w));

  const summary: string[] = [`## rollgate ramp: ${ctx.plan.service}/${ctx.plan.environment}${version ? ` → \`${version}\`` : ''}`, ''];
  const finish = (result: ActionResult, state: TrafficState | undefined, verdict: string | undefined, promoted: boolean): ActionResult => {
    if (state) runtime.setOutput('weight', String(Math.round(state.canaryPercent * 100) / 100));
    runtime.setOutput('promoted', String(promoted));
    runtime.setOutput('verdict', verdict ?? 'none');
    if (state) summary.push('', '### Traffic', '', trafficStateTable(state));
    if (!result.ok) summary.push('', `**Stopped:** ${result.failure ?? ''}`);
    runtime.appendSummary(summary.join('\n'));
    return result;
  };

  if (ctx.plan.strategy === 'blue-green') {
    // The switch happened in deploy-canary: ramping a blue-green pair is one more gate, then done.
    const report = gate ? await bakeAndJudge(ctx, deps, 100, version, summary) : undefined;
    if (report && !allows(ctx, report)) return finish(await gateFailure(ctx, report, 100, version), before, report.verdict, false);
    ctx.store.release();
    await bookkeeping(ctx, 'recording the promotion', () => ctx.hooks.promoted(rolloutEvent(ctx, 100, version)));
    await bookkeeping(ctx, 'notifying the promotion', () => ctx.hooks.notify('promotion', { ...rolloutEvent(ctx, 100, version), verdict: report?.verdict }));
    summary.push(`- promoted: ${before.live ?? '?'} is live with \`${version ?? 'the new version'}\``);
    return finish({ ok: true }, before, report?.verdict, true);
  }

  if (steps.length === 0) {
    summary.push(`- nothing to do: the canary already has ${formatPercent(before.canaryPercent)} and the plan has no later step`);
    return finish({ ok: true }, before, undefined, false);
  }
  ctx.log(`ramp: ${formatPercent(before.canaryPercent)} → ${steps.map((s) => `${s}%`).join(' → ')}${gate ? ', gating after each step' : ' (no gate)'}`);
  let state = before;
  let lastVerdict: string | undefined;
  for (const step of steps) {
    if (step === 100) {
      state = await promote(ctx, version, summary, deps.signal);
      return finish({ ok: true }, state, lastVerdict, true);
    }
    state = await ctx.traffic.setWeight(step, { signal: deps.signal });
    ctx.store.update({ weight: state.canaryPercent });
    ctx.log(`step ${step}%: ${describeTrafficState(state)}`);
    summary.push(`- step ${step}%: canary ${formatPercent(state.canaryPercent)} (read back)`);
    await bookkeeping(ctx, 'recording the step', () => ctx.hooks.stepReached(rolloutEvent(ctx, step, version)));
    if (!gate) continue;
    const report = await bakeAndJudge(ctx, deps, step, version, summary);
    lastVerdict = report.verdict;
    if (!allows(ctx, report)) return finish(await gateFailure(ctx, report, step, version), state, report.verdict, false);
  }
  return finish({ ok: true }, state, lastVerdict, false);
}

async function bakeAndJudge(ctx: RolloutContext, deps: RampDeps, step: number, version: string | undefined, summary: string[]): Promise<GateReport> {
  const { analysis, metrics } = ctx.plan;
  if (!analysis || !metrics) throw new UserError('ramp: the plan needs `metrics` and `analysis` to gate (or set gate: false)');
  const provider = deps.metrics ?? createMetricsProvider(metrics, { clock: ctx.clock });
  const report = await ctx.group(`gate at ${step}%: bake ${Math.round(analysis.bake / 1000)}s`, () =>
    runGate({
      analysis,
      provider,
      clock: ctx.clock,
      vars: { service: ctx.plan.service, environment: ctx.plan.environment, ...(version ? { version } : {}) },
      log: ctx.log,
      signal: deps.signal,
    }),
  );
  ctx.log(`gate at ${step}%: ${report.verdict}: ${report.reason}`);
  summary.push('', renderGateSummary(report, `gate at ${step}%`), '');
  return report;
}

function allows(ctx: RolloutContext, report: GateReport): boolean {
  const ok = verdictAllowsPromotion(report.verdict, ctx.plan.analysis?.onInconclusive ?? 'fail');
  if (ok && report.verdict !== 'pass') ctx.runtime.warning(`gate ${report.verdict}, allowed by onInconclusive: pass: ${report.reason}`);
  return ok;
}

async function gateFailure(ctx: RolloutContext, report: GateReport, step: number, version?: string): Promise<ActionResult> {
  // People are told which checks failed and by how much, not just that the gate did.
  const failingChecks = report.checks
    .filter((c) => c.outcome !== 'pass')
    .map((c) => ({ name: c.name, canary: c.canary, stable: c.stable, limit: c.limit, detail: c.reason }));
  const event = { ...rolloutEvent(ctx, step, version), reason: report.reason, verdict: report.verdict, failingChecks };
  // Awaited: a process that exits before the webhook answers never tells anyone the gate failed.
  await bookkeeping(ctx, 'notifying the gate failure', () => ctx.hooks.notify('gate-failure', event));
  return { ok: false, failure: `ramp stopped at ${step}%: gate ${report.verdict}: ${report.reason} (the canary keeps ${step}% until rollback runs)` };
}

/**
 * Promotion: with the canary carrying everything, the stable slot gets the new version, waits
 * for readiness, then takes all traffic back; the canary slot is drained for the next rollout.
 */
async function promote(ctx: RolloutContext, version: string | undefined, summary: string[], signal?: AbortSignal): Promise<TrafficState> {
  const { deploy, readiness } = ctx.plan;
  if (deploy) {
    if (!version) throw new InputError('version', 'is required to promote: no deploy-canary on record says which version the canary runs');
    const full = await ctx.traffic.setWeight(100, { signal });
    ctx.log(`step 100%: ${describeTrafficState(full)}; deploying ${version} to the stable slot`);
    await deployToSlot(deploy, { slot: 'stable', version, service: ctx.plan.service, environment: ctx.plan.environment }, { log: ctx.log, group: ctx.group, env: { ...process.env, ...ctx.runtime.env }, cwd: ctx.cwd, signal });
    // A readiness URL that names the slot can check the stable slot too; one that does not is the canary's.
    if (readiness && /\{\{\s*(slot|track)\s*\}\}/.test(readiness.url)) await waitForReadiness(readiness, { clock: ctx.clock, vars: templateVars(ctx, 'stable', version), log: ctx.log, signal });
    summary.push(`- deployed \`${version}\` to the stable slot`);
  }
  const state = await ctx.traffic.promote({ signal });
  if (deploy?.kubernetes) await scaleDownCanaryAfterPromotion(ctx, signal);
  ctx.store.release();
  ctx.log(`promoted: ${describeTrafficState(state)}`);
  summary.push(`- promoted: stable runs \`${version ?? 'the new version'}\` with ${formatPercent(100 - state.canaryPercent)}; canary drained`);
  await bookkeeping(ctx, 'recording the promotion', () => ctx.hooks.promoted(rolloutEvent(ctx, 100, version)));
  await bookkeeping(ctx, 'notifying the promotion', () => ctx.hooks.notify('promotion', rolloutEvent(ctx, 100, version)));
  return state;
}

async function bookkeeping(ctx: RolloutContext, what: string, call: () => Promise<void>): Promise<void> {
  const problem = await runBookkeeping(what, call, { clock: ctx.clock });
  if (problem) {
    ctx.runtime.warning(problem);
    ctx.runtime.appendSummary(`> ⚠️ ${problem}`);
  }
}

/** Kubernetes: the drained canary Deployment is scaled to 0; traffic is already safe, so a failure here only warns. */
async function scaleDownCanaryAfterPromotion(ctx: RolloutContext, signal?: AbortSignal): Promise<void> {
  if (!ctx.plan.deploy) return;
  try {
    const scaled = await scaleDownCanary(ctx.plan.deploy, { log: ctx.log, env: { ...process.env, ...ctx.runtime.env }, cwd: ctx.cwd, signal });
    if (scaled) ctx.log(`canary Deployment ${scaled.deployment} scaled to 0 (was ${scaled.replicas}; restored by the next deploy)`);
  } catch (err) {
    ctx.runtime.warning(`promotion done, but the canary Deployment could not be scaled down: ${describeError(err)}`);
  }
}

/**
 * ramp with strategy: rolling. There is nothing to ramp: Kubernetes sent all traffic to the new
 * version as its pods became ready. What is left is the promotion: confirm the Deployment is
 * rolled out with the version deploy-canary set, then settle the update so a later rollback does
 * not undo a release that was judged good (gate it with metrics-gate before this step). Anything
 * else fails the step, so an `if: failure()` rollback follows.
 */
async function confirmRollingUpdate(ctx: RolloutContext, rolling: RollingDeployment, signal?: AbortSignal): Promise<ActionResult> {
  const { runtime } = ctx;
  for (const input of ['to', 'steps'] as const) {
    const given = input === 'to' ? getOptionalInput(runtime, 'to') : getListInput(runtime, 'steps')?.join(',');
    if (given !== undefined && given !== '100') throw new InputError(input, `strategy: rolling has no traffic steps (got ${given}); leave it unset`);
  }
  const now = await rolling.read(signal);
  const record = now.record;
  const version = getOptionalInput(runtime, 'version');
  runtime.setOutput('verdict', 'none');
  runtime.setOutput('promoted', 'false');
  if (!record || record.phase === 'rolled-back')
    throw new UserError(`${rolling.target}: no rolling update is in progress${record ? ` (the last one, ${record.to}, was rolled back)` : ''}: run deploy-canary first`);
  if (version !== undefined && version !== record.to)
    throw new UserError(`${rolling.target}: the rolling update on record is ${record.to}, not ${version}: run deploy-canary with ${version} first`);
  ctx.log(`rolling: nothing to ramp (all traffic reaches the new pods as they become ready); checking ${rolling.target} is rolled out with ${record.to}`);
  if (record.phase === 'deployed') ctx.store.acquire(ctx.owner, { version: record.to, strategy: 'rolling', weight: 100 }, (w) => runtime.warning(w));
  const state = await rolling.confirmRolledOut(record.to, { signal });
  const summary = [`## rollgate ramp: ${ctx.plan.service}/${ctx.plan.environment} → \`${record.to}\``, ''];
  runtime.setOutput('weight', '100');
  if (record.phase === 'promoted') {
    summary.push(`- nothing to do: the rolling update to \`${record.to}\` was promoted already`);
    runtime.appendSummary(summary.join('\n'));
    return { ok: true };
  }
  await rolling.promote({ signal });
  ctx.store.release();
  runtime.setOutput('promoted', 'true');
  summary.push(`- nothing to ramp: strategy rolling sends all traffic to the new pods as they become ready`, `- promoted: ${rolling.target} is rolled out with \`${record.to}\``, '', '### Traffic', '', trafficStateTable(state));
  runtime.appendSummary(summary.join('\n'));
  await bookkeeping(ctx, 'recording the promotion', () => ctx.hooks.promoted(rolloutEvent(ctx, 100, record.to)));
  await bookkeeping(ctx, 'notifying the promotion', () => ctx.hooks.notify('promotion', rolloutEvent(ctx, 100, record.to)));
  return { ok: true };
}
