import { deployToSlot } from '../../deploy/deploy.js';
import { scaleDownCanary } from '../../deploy/kubernetes.js';
import { describeError, UserError } from '../../errors.js';
import { refuseOthersWithWeight } from '../../traffic/health.js';
import type { Plan } from '../../plan/schema.js';
import { describeTrafficState, formatPercent, type RollbackOutcome, type WeightedRouter } from '../../traffic/provider.js';
import type { RolloutContext } from '../context.js';
import type { RolloutRecord } from '../state-machine.js';
import { prepareSlot, waitForSlotReadiness, withRetries, type RolloutStrategy, type StrategyRun } from '../strategy.js';
import { beginPromotion } from '../strategy.js';

/** Whether the plan's traffic layer can say where traffic goes now (a `command` provider needs getWeight). */
export function trafficReadable(plan: Plan): boolean {
  return plan.traffic?.provider !== 'command' || plan.traffic.getWeight !== undefined;
}

/**
 * Whether promotion without a deploy step still leaves the judged version serving: only where
 * the traffic layer's promotion itself switches versions (an Argo Rollout, a user's promote command).
 */
function promotionSwitchesVersions(plan: Plan): boolean {
  return plan.traffic?.provider === 'argo-rollouts' || (plan.traffic?.provider === 'command' && plan.traffic.promote !== undefined);
}

/** Canary: a stable and a canary slot behind a weighted router; the canary goes through steps, then stable is redeployed. */
export const canaryStrategy: RolloutStrategy = {
  name: 'canary',

  async observe(ctx, signal) {
    return trafficReadable(ctx.plan) ? ctx.traffic.getState({ signal }) : undefined;
  },

  async deploy(run, version, weight) {
    const { ctx, session } = run;
    const router: WeightedRouter = ctx.traffic;
    const before = await this.observe(ctx, run.signal);
    // The traffic layer would refuse this layout at setWeight: refuse it before the deploy command runs, so nothing is deployed for nothing.
    if (before) refuseOthersWithWeight(router.kind, router.target, before, `give the canary ${weight}% (nothing was deployed)`);
    if (!before || before.canaryPercent > 0) {
      // A canary slot that may serve users (an abandoned rollout, or a share nobody can read) is emptied before it is redeployed.
      ctx.runtime.warning(
        before
          ? `the canary slot still serves ${formatPercent(before.canaryPercent)} from an earlier rollout: moving it to 0% before deploying`
          : `${router.kind}: no getWeight, so the canary's share cannot be read: setting it to 0% before deploying`,
      );
      await session.checkpoint();
      await router.rollback({ signal: run.signal });
    }
    await prepareSlot(run, 'canary', version);
    await session.checkpoint();
    const after = await router.setWeight(weight, { signal: run.signal });
    await session.apply({ kind: 'traffic-given', weight: readable(ctx) ? after.canaryPercent : weight });
    ctx.log(`traffic: ${describeTrafficState(after)}`);
    run.report.push(
      readable(ctx)
        ? `- traffic: canary ${formatPercent(after.canaryPercent)} (read back from ${router.kind})`
        : `- traffic: canary set to ${formatPercent(weight)} (${router.kind} has no getWeight: the exit status is the only confirmation)`,
    );
    return readable(ctx) ? after : undefined;
  },

  stepsAhead(record, planned) {
    return planned.filter((w) => w > record.weight);
  },

  async advance(run, weight) {
    const { ctx, session } = run;
    await session.apply({ kind: 'step', weight });
    const state = await ctx.traffic.setWeight(weight, { signal: run.signal });
    ctx.log(`step ${weight}%: ${describeTrafficState(state)}`);
    run.report.push(readable(ctx) ? `- step ${weight}%: canary ${formatPercent(state.canaryPercent)} (read back)` : `- step ${weight}%: set (no getWeight: not read back)`);
    return readable(ctx) ? state : undefined;
  },

  async promote(run, record) {
    const { ctx, session } = run;
    const { deploy } = ctx.plan;
    if (!deploy && !promotionSwitchesVersions(ctx.plan))
      throw new UserError(
        `${ctx.plan.service}/${ctx.plan.environment}: the plan has no deploy: section, so promotion cannot put ${record.version} into the stable slot; promoting would send every request back to ${record.lastGood ?? 'the old version'} while reporting ${record.version} as stable. Add deploy: to the plan (or a traffic.promote command that switches versions).`,
      );
    await beginPromotion(session);
    if (deploy) {
      await session.checkpoint();
      const full = await ctx.traffic.setWeight(100, { signal: run.signal });
      ctx.log(`step 100%: ${describeTrafficState(full)}; deploying ${record.version} to the stable slot`);
      // Recorded before the stable slot is touched: a rollback from here on must redeploy it.
      await session.apply({ kind: 'redeploy-stable' });
      await deployToSlot(
        deploy,
        { slot: 'stable', version: record.version, service: ctx.plan.service, environment: ctx.plan.environment },
        { log: ctx.log, group: ctx.group, env: { ...process.env, ...ctx.runtime.env }, cwd: ctx.cwd, signal: run.signal },
      );
      await waitForSlotReadiness(run, 'stable', record.version);
      run.report.push(`- deployed \`${record.version}\` to the stable slot`);
    }
    await session.checkpoint();
    const state = await ctx.traffic.promote({ signal: run.signal });
    await session.apply({ kind: 'promoted' });
    if (deploy?.kubernetes) await scaleDownCanaryAfterPromotion(ctx, run.signal);
    ctx.log(`promoted: ${describeTrafficState(state)}`);
    run.report.push(`- promoted: stable runs \`${record.version}\`${readable(ctx) ? ` with ${formatPercent(100 - state.canaryPercent)} (read back)` : ''}; canary drained`);
    return readable(ctx) ? state : undefined;
  },

  async rollback(run, record, attempts) {
    const { ctx } = run;
    if (record?.stableOverwritten) await restoreStableSlot(run, record);
    return withRetries(ctx, attempts, 'rollback', async (): Promise<RollbackOutcome> => {
      const outcome = await ctx.traffic.rollback({ signal: run.signal });
      // Without getWeight nothing was read: say it was set, not that it was found at 0%.
      return readable(ctx) ? outcome : { ...outcome, changed: true };
    });
  },

  async undoLostRace(ctx) {
    await ctx.traffic.rollback();
  },
};

function readable(ctx: RolloutContext): boolean {
  return trafficReadable(ctx.plan);
}

/**
 * After a promotion that stopped half-way the stable slot runs the new version: moving traffic to
 * it restores nothing. It is redeployed with the last good version first, or rollback fails
 * saying exactly what to run.
 */
async function restoreStableSlot(run: StrategyRun, record: RolloutRecord): Promise<void> {
  const { ctx } = run;
  const deploy = ctx.plan.deploy;
  const manual = `run rollback with to: <the last good version> (it redeploys the stable slot through the plan's deploy step), or redeploy the stable slot by hand`;
  if (!record.lastGood)
    throw new UserError(
      `${ctx.plan.service}/${ctx.plan.environment}: a promotion of ${record.version} stopped after redeploying the stable slot, and no last good version is on record: both slots run ${record.version}, so moving traffic restores nothing. ${manual}.`,
    );
  if (!deploy)
    throw new UserError(
      `${ctx.plan.service}/${ctx.plan.environment}: a promotion of ${record.version} stopped after redeploying the stable slot (it ran ${record.lastGood}); the plan has no deploy: section to put ${record.lastGood} back. ${manual}.`,
    );
  ctx.runtime.warning(`the stable slot was redeployed with ${record.version} by a promotion that did not finish: redeploying ${record.lastGood} to it before moving traffic`);
  await deployToSlot(
    deploy,
    { slot: 'stable', version: record.lastGood, service: ctx.plan.service, environment: ctx.plan.environment },
    { log: ctx.log, group: ctx.group, env: { ...process.env, ...ctx.runtime.env }, cwd: ctx.cwd, signal: run.signal },
  );
  await waitForSlotReadiness(run, 'stable', record.lastGood);
  run.report.push(`- redeployed the last good version \`${record.lastGood}\` to the stable slot (a promotion had overwritten it with \`${record.version}\`)`);
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
