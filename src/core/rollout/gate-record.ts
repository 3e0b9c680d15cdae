import type { Clock } from '../clock.js';
import { describeError } from '../errors.js';
import type { Plan } from '../plan/schema.js';
import type { ActionRuntime } from '../runtime.js';
import { rolloutOwner } from './rollout-state.js';
import { RolloutSession } from './session.js';
import { parseRecord } from './state-machine.js';
import { phaseSummary } from './summary.js';
import type { RolloutStore } from './store.js';
import { chooseRolloutStore, openRolloutStore } from './stores.js';

/**
 * metrics-gate's verdict joins the rollout record when a canary step is waiting for one, so ramp
 * promotes on it instead of baking the same step again. Best effort: the verdict and the step's
 * exit status never depend on the record; a problem is returned for a warning.
 */
export async function recordGateVerdict(
  runtime: ActionRuntime,
  plan: Plan,
  verdict: { standing: 'passed' | 'failed'; verdict: string; reason: string },
  deps: { clock: Clock; cwd: string; store?: RolloutStore },
): Promise<string | undefined> {
  try {
    if (!deps.store && !sharedStoreChosen(runtime, deps.cwd)) return undefined;
    const store = deps.store ?? openRolloutStore(runtime, { service: plan.service, environment: plan.environment }, { cwd: deps.cwd });
    const session = await RolloutSession.open({
      store,
      service: plan.service,
      environment: plan.environment,
      owner: rolloutOwner(runtime.env),
      action: 'metrics-gate',
      clock: deps.clock,
      warn: (w) => runtime.warning(w),
    });
    const record = session.record;
    if (record?.phase !== 'canary') return undefined;
    await session.acquire();
    const after = await session.apply({ kind: 'gate', ...verdict });
    await session.release();
    runtime.info(`gate ${verdict.standing} recorded in the rollout of ${after.version} at ${after.weight}% (${session.location})`);
    runtime.appendSummary(phaseSummary(session.record ?? after));
    return undefined;
  } catch (err) {
    return `the gate's verdict could not be recorded in the rollout record (${describeError(err)}); ramp will judge this step again`;
  }
}

/**
 * The canary's share as the rollout record holds it, when the gate judges a canary step: what the
 * traffic-loss rule expects the canary to serve. Best effort, like recording the verdict: a store
 * that cannot be read leaves the weight unknown (the rule then judges the canary against its own
 * share earlier in the bake) and never fails the gate.
 */
export async function recordedCanaryWeight(runtime: ActionRuntime, plan: Plan, deps: { cwd: string; store?: RolloutStore }): Promise<{ weight?: number; problem?: string }> {
  try {
    if (!deps.store && !sharedStoreChosen(runtime, deps.cwd)) return {};
    const store = deps.store ?? openRolloutStore(runtime, { service: plan.service, environment: plan.environment }, { cwd: deps.cwd });
    const record = parseRecord((await store.read())?.document);
    // Only a canary behind a weighted router has a share of requests; a blue-green colour has all or none.
    if (record?.strategy !== 'canary' || record.phase !== 'canary' || !(record.weight > 0 && record.weight < 100)) return {};
    return { weight: record.weight };
  } catch (err) {
    return {
      problem: `the canary's weight could not be read from the rollout record (${describeError(err)}); traffic loss is judged against the canary's own share earlier in the bake`,
    };
  }
}

/**
 * Whether the store the inputs choose can hold a record other jobs wrote: one named on purpose,
 * the GitHub store, or a file store off GitHub-hosted runners. The default file store on a
 * hosted runner cannot (its disk is new every job): a gate there records nothing, and says
 * nothing — ramp judges the step again, which is the safe side.
 */
function sharedStoreChosen(runtime: ActionRuntime, cwd: string): boolean {
  const choice = chooseRolloutStore(runtime, { cwd });
  if (choice.explicit) return true;
  if (choice.kind === 'github') return true;
  return !(runtime.env.GITHUB_ACTIONS === 'true' && runtime.env.RUNNER_ENVIRONMENT !== 'self-hosted');
}
