import { describeError, UserError } from '../errors.js';
import { getRequiredInput, getTrafficWeightInput } from '../inputs.js';
import { verifyKillSwitchesExist } from '../flags/index.js';
import { deploymentRecordsFor } from '../github/factory.js';
import { RecordsLastGood } from './build-and-tag.js';
import type { ActionResult, ActionRuntime } from '../runtime.js';
import { UnservedTrafficError } from '../traffic/health.js';
import { describeTrafficState, trafficStateTable } from '../traffic/provider.js';
import { openRollout, openSession, rolloutEvent, type RolloutDeps } from './context.js';
import { runBookkeeping } from './hooks.js';
import { loadRolloutPlan } from './plan-input.js';
import { RolloutChangedError } from './session.js';
import { phaseSummary } from './summary.js';
import { enforceReleasePolicy } from '../policy/enforce.js';

/**
 * deploy-canary: deploy the version to the canary slot (blue-green: the idle colour), wait for
 * readiness, run smoke checks, and only then move traffic. Any failure before traffic moves
 * leaves stable serving everything and fails the step with the reason; a rollback that lands
 * meanwhile wins: the first slice is never given after it.
 */
export async function runDeployCanaryAction(runtime: ActionRuntime, deps: RolloutDeps = {}): Promise<ActionResult> {
  const loaded = loadRolloutPlan(runtime, {
    require: (strategy) => (strategy === 'rolling' ? ['deploy'] : ['traffic', 'deploy']),
    reads: ['readiness', 'smoke', 'steps', 'flags', 'policy'],
  });
  const version = getRequiredInput(runtime, 'version');
  const ctx = openRollout(runtime, loaded, deps);
  const { strategy } = ctx;
  // A rolling update or a blue-green switch has no slice: every request reaches the new version.
  const weight = strategy.name !== 'canary' ? 100 : (getTrafficWeightInput(runtime, 'weight') ?? ctx.plan.steps?.[0]);
  if (weight === undefined) throw new UserError('input weight: is required when the plan has no `steps` (the first slice of traffic, 0–100)');
  runtime.setOutput('version', version);

  // Release policy (error budget, deploy windows, risk class) decides before anything moves.
  const policy = await enforceReleasePolicy(runtime, { plan: ctx.plan, clock: ctx.clock, cwd: ctx.cwd, firstWeight: weight });
  if (policy.override)
    await ctx.hooks.notify('policy-override', {
      ...rolloutEvent(ctx, 0, version),
      reason: `${policy.override.by}: ${policy.override.reason} (overrode ${policy.override.rules.join(', ')})`,
    });

  // A kill switch that does not exist would only be found during an incident: refuse before anything moves.
  await verifyKillSwitchesExist(ctx.plan, { runtime, clock: ctx.clock, file: ctx.file, cwd: ctx.cwd });

  // Read the traffic layer before anything else: an unreachable one fails here, with nothing changed.
  const before = await strategy.observe(ctx);
  ctx.log(before ? `traffic now (${ctx.traffic.target}): ${describeTrafficState(before)}` : `traffic now (${ctx.traffic.target}): cannot be read (no getWeight)`);
  const session = await openSession(ctx, 'deploy-canary');
  const knownGood = session.record?.lastGood ? undefined : await lastGoodFromRecords(runtime, ctx.plan.environment, ctx.cwd);
  // The risk class's approval stop travels with the rollout: ramp cannot pass it without an approval on record.
  const approvalAbove = policy.risk ? ctx.plan.policy?.risk?.require[policy.risk.class]?.approvalAbove : undefined;
  await session.acquire({
    kind: 'start',
    version,
    strategy: strategy.name,
    live: before?.live,
    weight: before?.canaryPercent ?? 0,
    knownGood,
    ...(approvalAbove !== undefined ? { approvalAbove, riskClass: policy.risk?.class } : {}),
  });

  const report: string[] = [`## rollgate deploy-canary: \`${version}\` → ${ctx.plan.service}/${ctx.plan.environment}`, ''];
  const run = { ctx, session, report };
  try {
    const after = await strategy.deploy(run, version, weight);
    const share = strategy.name === 'canary' ? (after?.canaryPercent ?? weight) : 100;
    runtime.setOutput('weight', String(Math.round(share * 100) / 100));
    const unreleased = await session.release();
    if (unreleased) runtime.warning(unreleased);
    if (after) report.push('', '### Traffic', '', trafficStateTable(after));
    report.push('', phaseSummary(session.record));
    runtime.appendSummary(report.join('\n'));
    const problem = await runBookkeeping('recording the deployment', () => ctx.hooks.deploymentStarted({ ...rolloutEvent(ctx, share, version), policyOverride: policy.override }), {
      clock: ctx.clock,
    });
    // Traffic moved as asked: a missing record must not fail the step (that would roll back a
    // healthy canary), so it is a warning in the log and in the summary, with what to do.
    if (problem) {
      runtime.warning(problem);
      runtime.appendSummary(`> ⚠️ ${problem}`);
    }
    return { ok: true };
  } catch (err) {
    const record = session.record;
    // Still deploying on record, but a traffic write may have failed half-way: ask the traffic layer.
    const now = record?.phase === 'deploying' && strategy.name === 'canary' ? await strategy.observe(ctx).catch(() => undefined) : undefined;
    // The provider knows whether its own change moved traffic: its word beats a guess from the share.
    const trafficMoved = record?.phase !== 'deploying' || (err instanceof UnservedTrafficError ? err.changed : now !== undefined && now.canaryPercent > 0);
    if (err instanceof RolloutChangedError) {
      // A rollback landed while this deploy ran: if our write raced it, put its traffic back.
      const latest = (await openSession(ctx, 'deploy-canary')).record;
      if (latest && (latest.phase === 'rolling-back' || latest.phase === 'rolled-back') && record?.phase === 'deploying') await undoRace(ctx, latest);
      runtime.setOutput('weight', '');
      report.push('', `**Stopped:** ${describeError(err)}`, '', phaseSummary(latest));
      runtime.appendSummary(report.join('\n'));
      throw err;
    }
    runtime.setOutput('weight', trafficMoved ? '' : String(Math.round((before?.canaryPercent ?? 0) * 100) / 100));
    if (!trafficMoved) {
      // Nothing moved: no traffic to protect, so the next attempt need not wait for a rollback.
      await session.apply({ kind: 'abort', reason: describeError(err) }).catch(() => undefined);
      report.push('', `**Failed before traffic moved:** ${describeError(err)}`, '', 'Stable still serves all traffic.');
    } else if (err instanceof UnservedTrafficError) report.push('', `**Traffic moved, but users are not all served:** ${describeError(err)}`, '', 'Run rollback.');
    else report.push('', `**Failed after traffic started to move:** ${describeError(err)}`, '', 'Run rollback.');
    await session.release();
    report.push('', phaseSummary(session.record));
    runtime.appendSummary(report.join('\n'));
    throw err;
  }
}

/**
 * The newest version the deployment records mark good: what the stable slot runs before the first
 * rollout this store sees, so a rollback after a half-done promotion knows what to redeploy.
 * Best effort: records that cannot be read leave it unknown.
 */
async function lastGoodFromRecords(runtime: ActionRuntime, environment: string, cwd: string): Promise<string | undefined> {
  try {
    const records = deploymentRecordsFor(runtime, {}, cwd);
    return records ? await new RecordsLastGood(records).lastGoodVersion(environment) : undefined;
  } catch {
    return undefined;
  }
}

/** A traffic write that may have landed after a rollback's: the rollback's traffic is put back. */
async function undoRace(ctx: ReturnType<typeof openRollout>, latest: NonNullable<Awaited<ReturnType<typeof openSession>>['record']>): Promise<void> {
  try {
    await ctx.strategy.undoLostRace(ctx, latest);
  } catch (err) {
    ctx.runtime.warning(`could not re-apply the rollback's traffic after a lost race: ${describeError(err)}; run rollback again`);
  }
}
