import type { Clock } from '../clock.js';
import { UserError } from '../errors.js';
import { getOptionalInput } from '../inputs.js';
import { createMetricsProvider } from '../metrics/index.js';
import type { Plan } from '../plan/schema.js';
import type { ActionRuntime } from '../runtime.js';
import { findReleaseChanges } from './changes.js';
import { checkReleasePolicy, describeRefusals, renderPolicySummary, type PolicyDecision } from './check.js';

/** The release policy refused the rollout: the message names each rule, its value and how to proceed. */
export class PolicyRefusedError extends UserError {
  override readonly name = 'PolicyRefusedError';
  constructor(readonly decision: PolicyDecision) {
    super(`release policy refused the rollout before any traffic moved:\n${describeRefusals(decision.refused)}`);
  }
}

/** Who runs this: the GitHub actor on a runner, the login at a terminal. */
export function actorOf(env: NodeJS.ProcessEnv): string {
  return env.GITHUB_ACTOR || env.USER || env.USERNAME || 'unknown';
}

/**
 * deploy-canary's policy step, before anything moves: judges the plan's `policy` section, writes
 * the summary and the `policy` output, and throws PolicyRefusedError when the rollout may not
 * start. Returns the decision (with the override to record, if one was used).
 */
export async function enforceReleasePolicy(runtime: ActionRuntime, options: { plan: Plan; clock: Clock; cwd: string; firstWeight?: number }): Promise<PolicyDecision> {
  const { plan } = options;
  if (!plan.policy) return { allowed: true, findings: [], refused: [] };
  const irreversible = Boolean(plan.irreversible) || /^(?!false$|no$|0$|off$).+/i.test(getOptionalInput(runtime, 'irreversible') ?? '');
  const reason = getOptionalInput(runtime, 'reason');
  const decision = await checkReleasePolicy({
    plan,
    time: options.clock.now(),
    provider: plan.policy.errorBudget && plan.metrics ? createMetricsProvider(plan.metrics, { clock: options.clock }) : undefined,
    changes: plan.policy.risk ? await findReleaseChanges(runtime, { environment: plan.environment, cwd: options.cwd, irreversible }) : undefined,
    firstWeight: options.firstWeight,
    override: reason ? { by: actorOf(runtime.env), reason } : undefined,
  });
  runtime.appendSummary(renderPolicySummary(decision));
  runtime.setOutput('policy', decision.allowed ? (decision.override ? 'overridden' : 'allowed') : 'refused');
  if (decision.risk) runtime.setOutput('risk-class', decision.risk.class);
  for (const f of decision.findings) if (f.outcome === 'refuse') runtime.info(`policy ${f.rule}: ${f.measured} (limit: ${f.limit})`);
  if (!decision.allowed) throw new PolicyRefusedError(decision);
  if (decision.override) runtime.warning(`release policy overridden by ${decision.override.by} (${decision.override.rules.join(', ')}): ${decision.override.reason}`);
  return decision;
}
