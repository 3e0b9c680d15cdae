import { describeError, UserError } from '../errors.js';
import { getNumberInput, getRequiredInput } from '../inputs.js';
import { deployToSlot } from '../deploy/deploy.js';
import { verifyKillSwitchesExist } from '../flags/index.js';
import { waitForReadiness } from '../deploy/readiness.js';
import { runSmokeChecks, smokeTable, type SmokeResult } from '../deploy/smoke.js';
import type { ActionResult, ActionRuntime } from '../runtime.js';
import { describeTrafficState, formatPercent, otherColour, trafficStateTable, type Colour, type TrafficState } from '../traffic/provider.js';
import { openRollout, rolloutEvent, templateVars, type RolloutContext, type RolloutDeps } from './context.js';
import { runBookkeeping } from './hooks.js';
import { loadRolloutPlan } from './plan-input.js';
import type { RollingDeployment } from '../deploy/rolling.js';
import { enforceReleasePolicy } from '../policy/enforce.js';

/**
 * deploy-canary: deploy the version to the canary slot (blue-green: the idle colour), wait for
 * readiness, run smoke checks, and only then move traffic. Any failure before traffic moves
 * leaves stable serving everything and fails the step with the reason.
 */
export async function runDeployCanaryAction(runtime: ActionRuntime, deps: RolloutDeps = {}): Promise<ActionResult> {
  const loaded = loadRolloutPlan(runtime, { require: (strategy) => (strategy === 'rolling' ? ['deploy'] : ['traffic', 'deploy']), reads: ['readiness', 'smoke', 'steps', 'flags', 'policy'] });
  const version = getRequiredInput(runtime, 'version');
  const ctx = openRollout(runtime, loaded, deps);
  const blueGreen = ctx.plan.strategy === 'blue-green';
  // A rolling update has no slice: every request reaches the new version once its pods are ready.
  const weight = blueGreen || ctx.rolling ? 100 : (getNumberInput(runtime, 'weight', { min: 0, max: 100 }) ?? ctx.plan.steps?.[0]);
  if (weight === undefined) throw new UserError('input weight: is required when the plan has no `steps` (the first slice of traffic, 0–100)');
  runtime.setOutput('version', version);

  // Release policy (error budget, deploy windows, risk class) decides before anything moves.
  const policy = await enforceReleasePolicy(runtime, { plan: ctx.plan, clock: ctx.clock, cwd: ctx.cwd, firstWeight: weight });
  if (policy.override) await ctx.hooks.notify('policy-override', { ...rolloutEvent(ctx, 0, version), reason: `${policy.override.by}: ${policy.override.reason} (overrode ${policy.override.rules.join(', ')})` });

  // A kill switch that does not exist would only be found during an incident: refuse before anything moves.
  await verifyKillSwitchesExist(ctx.plan, { runtime, clock: ctx.clock, file: ctx.file, cwd: ctx.cwd });

  // Read the traffic layer before anything else: an unreachable one fails here, with nothing changed.
  const before = await ctx.traffic.getState();
  ctx.log(`traffic now (${ctx.traffic.target}): ${describeTrafficState(before)}`);
  ctx.store.acquire(ctx.owner, { version, strategy: ctx.plan.strategy, weight: before.canaryPercent }, (w) => runtime.warning(w));

  const report: string[] = [`## rollgate deploy-canary: \`${version}\` → ${ctx.plan.service}/${ctx.plan.environment}`, ''];
  let trafficMoved = false;
  try {
    const moved = () => (trafficMoved = true);
    const after = ctx.rolling ? await deployRolling(ctx, ctx.rolling, version, report, moved) : blueGreen ? await deployBlueGreen(ctx, version, before, report, moved) : await deployCanary(ctx, version, weight, before, report, moved);
    const share = blueGreen || ctx.rolling ? 100 : after.canaryPercent;
    runtime.setOutput('weight', String(Math.round(share * 100) / 100));
    ctx.store.update({ weight: share });
    report.push('', '### Traffic', '', trafficStateTable(after));
    runtime.appendSummary(report.join('\n'));
    const problem = await runBookkeeping('recording the deployment', () => ctx.hooks.deploymentStarted({ ...rolloutEvent(ctx, share, version), policyOverride: policy.override }), { clock: ctx.clock });
    // Traffic moved as asked: a missing record must not fail the step (that would roll back a
    // healthy canary), so it is a warning in the log and in the summary, with what to do.
    if (problem) {
      runtime.warning(problem);
      runtime.appendSummary(`> ⚠️ ${problem}`);
    }
    return { ok: true };
  } catch (err) {
    runtime.setOutput('weight', trafficMoved ? '' : String(Math.round(before.canaryPercent * 100) / 100));
    // Nothing moved: no traffic to protect, so the next attempt need not wait for a rollback.
    if (!trafficMoved) ctx.store.release();
    if (trafficMoved) report.push('', `**Failed after traffic started to move:** ${describeError(err)}`, '', 'Run rollback.');
    else report.push('', `**Failed before traffic moved:** ${describeError(err)}`, '', 'Stable still serves all traffic.');
    runtime.appendSummary(report.join('\n'));
    throw err;
  }
}

async function deployCanary(ctx: RolloutContext, version: string, weight: number, before: TrafficState, report: string[], moved: () => void): Promise<TrafficState> {
  if (before.canaryPercent > 0) {
    // A canary slot that still serves traffic (an abandoned rollout) must be emptied before it is redeployed.
    ctx.runtime.warning(`the canary slot still serves ${formatPercent(before.canaryPercent)} from an earlier rollout: moving it to 0% before deploying`);
    await ctx.traffic.rollback();
  }
  await prepareSlot(ctx, 'canary', version, report);
  moved();
  const after = await ctx.traffic.setWeight(weight);
  ctx.log(`traffic: ${describeTrafficState(after)}`);
  report.push(`- traffic: canary ${formatPercent(after.canaryPercent)} (read back from ${ctx.traffic.kind})`);
  return after;
}

async function deployBlueGreen(ctx: RolloutContext, version: string, before: TrafficState, report: string[], moved: () => void): Promise<TrafficState> {
  const live: Colour = before.live ?? (await ctx.traffic.liveColour());
  const idle = otherColour(live);
  ctx.log(`blue-green: ${live} is live, deploying ${version} to ${idle}`);
  await prepareSlot(ctx, idle, version, report);
  moved();
  const after = await ctx.traffic.switchTo(idle);
  ctx.store.update({ previousColour: live });
  ctx.store.recordSwitch({ live: idle, previous: live, liveVersion: version });
  ctx.log(`traffic: ${describeTrafficState(after)} (${live} stays up, serving nothing, for a one-switch rollback)`);
  report.push(`- switched: ${live} → ${idle} in one change; ${live} stays ready at 0% for rollback`);
  return after;
}

/**
 * strategy: rolling: the Deployment's pods are replaced in place, so traffic moves as soon as the
 * image is set; readiness and smoke run after, and a failure there leaves the rollout for rollback.
 */
async function deployRolling(ctx: RolloutContext, rolling: RollingDeployment, version: string, report: string[], moved: () => void): Promise<TrafficState> {
  moved();
  const after = await ctx.group(`rolling update of ${rolling.target} to ${version}`, () => rolling.deploy(version));
  report.push(`- rolled out \`${version}\` to ${rolling.target} (kubectl rollout status: ready)`);
  await verifySlot(ctx, 'stable', version, report);
  ctx.log(`traffic: all of it reaches ${version} (rolling update)`);
  return after;
}

/** Deploy, readiness, smoke: everything that must succeed before a slot gets traffic. */
async function prepareSlot(ctx: RolloutContext, slot: string, version: string, report: string[]): Promise<void> {
  const deploy = ctx.plan.deploy;
  if (deploy) {
    await deployToSlot(deploy, { slot, version, service: ctx.plan.service, environment: ctx.plan.environment }, { log: ctx.log, group: ctx.group, env: { ...process.env, ...ctx.runtime.env }, cwd: ctx.cwd });
    report.push(`- deployed \`${version}\` to slot ${slot}`);
  }
  await verifySlot(ctx, slot, version, report);
}

/** Readiness and smoke checks against a slot that runs `version`. */
async function verifySlot(ctx: RolloutContext, slot: string, version: string, report: string[]): Promise<void> {
  const vars = templateVars(ctx, slot, version);
  if (ctx.plan.readiness) {
    const ready = await waitForReadiness(ctx.plan.readiness, { clock: ctx.clock, vars, log: ctx.log });
    ctx.log(`ready: ${ready.url} after ${ready.attempts} probe(s)`);
    report.push(`- ready after ${ready.attempts} probe(s), ${Math.round(ready.elapsedMs / 100) / 10}s`);
  }
  if (ctx.plan.smoke?.length) {
    const results: SmokeResult[] = await runSmokeChecks(ctx.plan.smoke, { clock: ctx.clock, vars });
    for (const r of results) ctx.log(`smoke ${r.name}: ${r.ok ? 'ok' : 'FAILED'} (${r.detail})`);
    report.push('', smokeTable(results), '');
    const failed = results.filter((r) => !r.ok);
    if (failed.length > 0) throw new UserError(`smoke checks failed against ${slot}: ${failed.map((r) => `${r.name} (${r.detail})`).join('; ')}`);
  }
}
