import { UserError } from '../errors.js';
import { deployToSlot } from '../deploy/deploy.js';
import { waitForReadiness } from '../deploy/readiness.js';
import { DeploymentBookkeeping } from '../github/bookkeeping.js';
import { manualRollback } from '../github/manual-rollback.js';
import type { ActionResult } from '../runtime.js';
import { describeTrafficState, otherColour, trafficStateTable, type Colour, type TrafficState } from '../traffic/provider.js';
import type { RolloutSession } from './session.js';
import { phaseSummary } from './summary.js';
import { templateVars, type RolloutContext } from './context.js';

/**
 * rollback with input `to` (`previous` or a version): puts a known-good version back in service
 * through the plan's deploy step, without gates, and records it as a new deployment whose
 * payload names `rollbackOf`. The choice of version and the refusals (irreversible releases,
 * no earlier good deployment) live in core/github/manual-rollback.ts; this file only knows how
 * to deploy and move traffic.
 */
export async function runManualRollback(
  ctx: RolloutContext,
  to: string,
  reason: string,
  takeOver: () => Promise<{ session?: RolloutSession; storeProblem?: string }>,
): Promise<ActionResult> {
  const { runtime, plan } = ctx;
  const book = DeploymentBookkeeping.forRun(runtime, plan.environment, {}, ctx.cwd);
  const summary: string[] = [`## rollgate manual rollback: ${plan.service}/${plan.environment}`, '', `Asked for: \`${to}\` · reason: ${reason}`, ''];
  let after: TrafficState | undefined;
  let session: RolloutSession | undefined;
  let restored: { version: string; live?: Colour; previous?: Colour } | undefined;

  const redeploy = async (version: string): Promise<void> => {
    if (!plan.deploy) throw new UserError(`plan: deploy is required to roll back to ${version} (manual rollback redeploys the version through the plan's deploy step)`);
    // From here the rollout is this rollback's: any other action's next traffic change is refused.
    session = (await takeOver()).session;
    const blueGreen = plan.strategy === 'blue-green';
    const rolling = ctx.rolling;
    if (rolling) {
      // Recorded and then settled at once, so a later plain rollback leaves this known-good version alone.
      await ctx.group(`rolling update of ${rolling.target} back to ${version}`, () => rolling.deploy(version));
      if (plan.readiness) await waitForReadiness(plan.readiness, { clock: ctx.clock, vars: templateVars(ctx, 'stable', version), log: ctx.log });
      after = await rolling.promote();
      restored = { version };
      ctx.log(`traffic: ${describeTrafficState(after)}`);
      return;
    }
    const slot = blueGreen ? otherColour(await ctx.traffic.liveColour()) : 'stable';
    await deployToSlot(
      plan.deploy,
      { slot, version, service: plan.service, environment: plan.environment },
      { log: ctx.log, group: ctx.group, env: { ...process.env, ...runtime.env }, cwd: ctx.cwd },
    );
    if (plan.readiness) await waitForReadiness(plan.readiness, { clock: ctx.clock, vars: templateVars(ctx, slot, version), log: ctx.log });
    if (blueGreen) {
      const live = await ctx.traffic.liveColour();
      after = await ctx.traffic.switchTo(slot as Colour);
      restored = { version, live: slot as Colour, previous: live };
    } else {
      // The stable slot now runs the old version; make sure it has all the traffic.
      after = (await ctx.traffic.rollback()).after;
      restored = { version };
    }
    ctx.log(`traffic: ${describeTrafficState(after)}`);
  };

  const outcome = await manualRollback({ to, plan, planFile: ctx.file, reason }, book, redeploy, ctx.log);
  switch (outcome.kind) {
    case 'nothing-to-roll-back':
      runtime.setOutput('rolled-back', 'false');
      summary.push(`**Nothing was changed:** ${outcome.reason}.`, '', 'Pass `to: <version>` to redeploy a version by name.');
      runtime.appendSummary(summary.join('\n'));
      return book.settle({ ok: false, failure: `nothing to roll back to: ${outcome.reason}; nothing was changed` });
    case 'rolled-back':
      runtime.setOutput('rolled-back', 'true');
      runtime.setOutput('version', outcome.version);
      summary.push(
        '| | deployment | version |',
        '| --- | --- | --- |',
        `| from | ${outcome.from ? `#${outcome.from.id}` : '—'} | ${outcome.from?.payload.version ?? '—'} |`,
        `| to | ${outcome.deploymentId ? `#${outcome.deploymentId}` : '(not recorded)'} | \`${outcome.version}\` |`,
        '',
        'Gates were skipped: the target is a version that already succeeded here.',
        '',
      );
      if (after) summary.push('### Traffic', '', trafficStateTable(after), '');
      if (session && restored) {
        const problem = await session
          .apply({ kind: 'rolled-back', restored })
          .then(() => session?.release())
          .catch((err: unknown) => `the rollout record could not be updated: ${err instanceof Error ? err.message : String(err)}`);
        if (problem) runtime.warning(problem);
      }
      summary.push(phaseSummary(session?.record));
      runtime.appendSummary(summary.join('\n'));
      return book.settle({ ok: true });
  }
}
