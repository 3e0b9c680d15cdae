import type { Clock } from '../clock.js';
import { UserError } from '../errors.js';
import { getOptionalInput } from '../inputs.js';
import { createMetricsProvider } from '../metrics/index.js';
import type { Plan } from '../plan/schema.js';
import type { ActionRuntime } from '../runtime.js';
import { findReleaseChanges, gitChangedPaths, migrationsOf } from './changes.js';
import { checkReleasePolicy, describeRefusals, renderPolicySummary, type PolicyDecision, type PolicyFinding } from './check.js';
import type { ChangeSet } from './risk.js';

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

/**
 * The release policy as a pull request sees it, so the author learns early: the risk class of
 * the PR's changes and what the plan lacks for it (refusals), and the deploy windows now (for
 * information). The error budget is left to deploy time, when it matters.
 */
export async function reviewReleasePolicy(
  plan: Plan,
  options: { cwd: string; baseRef?: string; irreversible: boolean; now: number },
): Promise<{ markdown: string; refused: PolicyFinding[] } | undefined> {
  if (!plan.policy) return undefined;
  let changes: ChangeSet | undefined;
  if (plan.policy.risk) {
    const diff = options.baseRef ? await gitChangedPaths([`${options.baseRef}...HEAD`], options.cwd) : { problem: 'no base-ref and no pull request' };
    changes = diff.paths
      ? { paths: diff.paths, source: `the pull request (${options.baseRef}...HEAD)`, migrations: migrationsOf(diff.paths, options.irreversible) }
      : { source: diff.problem ?? 'unknown', migrations: options.irreversible ? 'contract' : 'none' };
  }
  const decision = await checkReleasePolicy({ plan, time: options.now, changes, parts: { errorBudget: false, windows: true, risk: true } });
  // On a PR only the plan's strength can be fixed; the windows say when a deploy could start.
  const refused = decision.findings.filter((f) => f.outcome === 'refuse' && f.rule.startsWith('policy.risk.'));
  return { markdown: renderPolicySummary({ ...decision, allowed: refused.length === 0, refused }, 'release policy (checked again by deploy-canary)'), refused };
}
