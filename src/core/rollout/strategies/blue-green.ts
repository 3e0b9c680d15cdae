import { UserError } from '../../errors.js';
import { describeTrafficState, otherColour, type Colour, type ColourSwitch, type TrafficState } from '../../traffic/provider.js';
import type { RolloutContext } from '../context.js';
import { SETTLED_PHASES, type RolloutRecord } from '../state-machine.js';
import { prepareSlot, withRetries, type RolloutStrategy } from '../strategy.js';
import { beginPromotion } from '../strategy.js';
import { trafficReadable } from './canary.js';

/** Blue-green: two colours behind a switch; the idle one gets the new version, then all traffic in one change. */
export const blueGreenStrategy: RolloutStrategy = {
  name: 'blue-green',

  async observe(ctx, signal) {
    return trafficReadable(ctx.plan) ? ctx.traffic.getState({ signal }) : undefined;
  },

  async deploy(run, version) {
    const { ctx, session } = run;
    const colours: ColourSwitch = ctx.traffic;
    const before = await this.observe(ctx, run.signal);
    const live = liveColourOf(ctx, before);
    const idle = otherColour(live);
    ctx.log(`blue-green: ${live} is live, deploying ${version} to ${idle}`);
    await prepareSlot(run, idle, version);
    await session.checkpoint();
    const after = await colours.switchTo(idle, { signal: run.signal });
    await session.apply({ kind: 'traffic-given', weight: 100, live: idle, previous: live });
    ctx.log(`traffic: ${describeTrafficState(after)} (${live} stays up, serving nothing, for a one-switch rollback)`);
    run.report.push(`- switched: ${live} → ${idle} in one change (read back); ${live} stays ready at 0% for rollback`);
    return after;
  },

  stepsAhead() {
    return [];
  },

  async advance() {
    throw new UserError('blue-green has no traffic steps: one switch moves all traffic');
  },

  async promote(run, record) {
    // The switch happened in deploy-canary; promotion only settles the record: the old colour stays up for `to:` rollbacks.
    await beginPromotion(run.session);
    await run.session.apply({ kind: 'promoted' });
    run.report.push(`- promoted: ${record.live ?? '?'} is live with \`${record.version}\``);
    return this.observe(run.ctx, run.signal);
  },

  async rollback(run, record, attempts) {
    const { ctx } = run;
    const before = await this.observe(ctx, run.signal);
    const target = rollbackColour(ctx, record, before);
    if (!target) {
      const state = before ?? colourOnly(record?.live ?? 'blue');
      return { changed: false, before: state, after: state };
    }
    if (before?.live === target) return { changed: false, before, after: before };
    const after = await withRetries(ctx, attempts, 'rollback', () => ctx.traffic.switchTo(target, { signal: run.signal }));
    return { changed: true, before: before ?? colourOnly(otherColour(target)), after };
  },

  async undoLostRace(ctx, record) {
    if (record.previous) await ctx.traffic.switchTo(record.previous);
  },
};

/** The live colour as read; refuses when it cannot be read or both colours carry traffic. */
function liveColourOf(ctx: RolloutContext, state: TrafficState | undefined): Colour {
  if (!state)
    throw new UserError(
      `${ctx.traffic.kind}: blue-green needs to read which colour is live before deploying to the other one, and this traffic provider cannot (add traffic.getWeight printing the live colour)`,
    );
  const carrying = state.slots.filter((s) => s.percent > 0);
  if (carrying.length !== 1 || !state.live)
    throw new UserError(
      `${ctx.traffic.target}: ${describeTrafficState(state)}: blue-green needs exactly one colour carrying traffic before it deploys to the other; fix the traffic layer or run rollback`,
    );
  return state.live;
}

/**
 * The colour rollback goes back to: the one this rollout took over from (the record), or, with no
 * record at all, the colour the traffic layer shows ready at 0% (the one a switch left up). A
 * settled rollout (promoted, rolled back) has nothing to go back to.
 */
function rollbackColour(ctx: RolloutContext, record: RolloutRecord | undefined, state: TrafficState | undefined): Colour | undefined {
  if (record && record.strategy === 'blue-green') {
    // After promotion the old colour still runs the version before: one switch back, as long as it is on record.
    if (record.phase === 'promoted') return record.previous;
    if (SETTLED_PHASES.includes(record.phase)) return undefined;
    if (record.previous) return record.previous;
    // Deploying: nothing switched yet; the colour that was live when it started stays live.
    return record.live;
  }
  if (!state?.live)
    throw new UserError(`${ctx.traffic.kind}: no rollout is on record and the traffic layer cannot say which colour is live: run rollback with to: <version>, or switch by hand`);
  const idle = state.slots.find((s) => s.role === otherColour(state.live as Colour));
  const ready = idle && idle.percent === 0 && (idle.health === undefined ? idle.admin === undefined || idle.admin === 'ready' : /^UP/i.test(idle.health));
  if (!idle || !ready)
    throw new UserError(
      `${ctx.traffic.target}: no rollout is on record and the idle colour ${idle?.name ?? otherColour(state.live)} is not ready to serve (${idle ? `${idle.admin ?? '?'} / ${idle.health ?? '?'}` : 'not found'}): run rollback with to: <version>`,
    );
  ctx.runtime.warning(`no rollout is on record: going back to ${idle.role}, the colour the traffic layer shows ready at 0%`);
  return idle.role as Colour;
}

function colourOnly(live: Colour): TrafficState {
  return { canaryPercent: 0, live, slots: [] };
}
