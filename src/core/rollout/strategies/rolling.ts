import { UserError } from '../../errors.js';
import { RollingDeployment } from '../../deploy/rolling.js';
import type { RolloutContext } from '../context.js';
import { verifySlot, withRetries, type RolloutStrategy } from '../strategy.js';
import { beginPromotion } from '../strategy.js';

/**
 * Rolling: one Kubernetes Deployment updated in place. Traffic reaches the new pods as they become
 * ready, so there are no steps; the Deployment's own annotation keeps the revision to undo to.
 */
export const rollingStrategy: RolloutStrategy = {
  name: 'rolling',

  async observe(ctx, signal) {
    return rollingOf(ctx).getState({ signal });
  },

  async deploy(run, version) {
    const { ctx, session } = run;
    const rolling = rollingOf(ctx);
    // Pods are replaced as soon as the image is set, so the record says the new version may serve before it does.
    await session.apply({ kind: 'traffic-given', weight: 100 });
    const after = await ctx.group(`rolling update of ${rolling.target} to ${version}`, () => rolling.deploy(version, { signal: run.signal }));
    run.report.push(`- rolled out \`${version}\` to ${rolling.target} (kubectl rollout status: ready)`);
    await verifySlot(run, 'stable', version);
    ctx.log(`traffic: all of it reaches ${version} (rolling update)`);
    return after;
  },

  stepsAhead() {
    return [];
  },

  async advance() {
    throw new UserError('strategy: rolling has no traffic steps: Kubernetes moves all traffic as the new pods become ready');
  },

  async promote(run, record) {
    const { ctx, session } = run;
    const rolling = rollingOf(ctx);
    const state = await rolling.confirmRolledOut(record.version, { signal: run.signal });
    await beginPromotion(session);
    await session.checkpoint();
    await rolling.promote({ signal: run.signal });
    await session.apply({ kind: 'promoted' });
    run.report.push(
      '- nothing to ramp: strategy rolling sends all traffic to the new pods as they become ready',
      `- promoted: ${rolling.target} is rolled out with \`${record.version}\``,
    );
    return state;
  },

  async rollback(run, _record, attempts) {
    const rolling = rollingOf(run.ctx);
    return withRetries(run.ctx, attempts, 'rollback', () => rolling.rollback({ signal: run.signal }));
  },

  async undoLostRace(ctx) {
    await rollingOf(ctx).rollback();
  },
};

function rollingOf(ctx: RolloutContext): RollingDeployment {
  if (!ctx.rolling) throw new UserError('deploy: is required with strategy: rolling (deploy.kubernetes.deployment names the Deployment)');
  return ctx.rolling;
}
