import type { MetricsProvider } from '../metrics/provider.js';
import type { Plan } from '../plan/schema.js';
import { describeBudget, judgeErrorBudget, measureErrorBudget, type BudgetSummary } from './error-budget.js';
import type { PolicyFinding, PolicyOverride } from './finding.js';
import { checkRequirements, classifyRelease, type ChangeSet, type RiskAssessment } from './risk.js';
import { evaluateWindows } from './windows.js';

export type { PolicyFinding, PolicyOverride } from './finding.js';

/** Everything the release policy looks at for one rollout. */
export interface ReleasePolicyRequest {
  plan: Plan;
  /** Unix ms: the instant the windows and the error budget are judged at. */
  time: number;
  /** The metrics backend; needed when the plan has policy.errorBudget. */
  provider?: MetricsProvider;
  /** What the release changes; needed when the plan has policy.risk. */
  changes?: ChangeSet;
  /** The first slice of traffic this run sends. */
  firstWeight?: number;
  /** The run's `reason` input and who ran it. */
  override?: { by: string; reason: string };
  /** Which parts to judge (the PR check leaves the error budget to deploy time). */
  parts?: { errorBudget?: boolean; windows?: boolean; risk?: boolean };
}

/** What the policy decided: allowed or not, every rule's finding, and any override used. */
export interface PolicyDecision {
  allowed: boolean;
  findings: PolicyFinding[];
  /** Refusals still standing (not overridable, or no reason given). */
  refused: PolicyFinding[];
  override?: PolicyOverride;
  budget?: BudgetSummary;
  risk?: RiskAssessment;
  changes?: ChangeSet;
}

/** Judges the plan's release policy before traffic moves: error budget, windows and freezes, risk class. */
export async function checkReleasePolicy(request: ReleasePolicyRequest): Promise<PolicyDecision> {
  const policy = request.plan.policy;
  const parts = { errorBudget: true, windows: true, risk: true, ...request.parts };
  const decision: PolicyDecision = { allowed: true, findings: [], refused: [] };
  if (!policy) return decision;
  if (parts.windows) decision.findings.push(...evaluateWindows(policy, request.time));
  if (parts.errorBudget && policy.errorBudget) {
    if (!request.provider) {
      decision.findings.push({
        rule: 'policy.errorBudget',
        outcome: 'refuse',
        measured: 'no metrics backend to measure the error budget with',
        limit: 'the error budget is measured before every rollout',
        proceed: 'add a metrics section to the plan (or set the environment variables it uses)',
        overridable: true,
      });
    } else {
      decision.budget = await measureErrorBudget(policy.errorBudget, request.provider, request.time, { service: request.plan.service, environment: request.plan.environment });
      decision.findings.push(...judgeErrorBudget(policy.errorBudget, decision.budget));
    }
  }
  if (parts.risk && policy.risk) {
    const changes = request.changes ?? { source: 'no changes were given', migrations: 'none' };
    decision.changes = changes;
    decision.risk = classifyRelease(policy.risk, changes);
    decision.findings.push(...checkRequirements(decision.risk, policy.risk.require[decision.risk.class], { plan: request.plan, firstWeight: request.firstWeight }));
  }
  const refusals = decision.findings.filter((f) => f.outcome === 'refuse');
  const reason = request.override?.reason.trim();
  const overridable = refusals.filter((f) => f.overridable);
  if (reason && overridable.length > 0) decision.override = { by: request.override?.by ?? 'unknown', reason, rules: overridable.map((f) => f.rule) };
  decision.refused = reason ? refusals.filter((f) => !f.overridable) : refusals;
  decision.allowed = decision.refused.length === 0;
  return decision;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/** The decision as Markdown: one row per rule with the measured value, the limit and how to proceed. */
export function renderPolicySummary(decision: PolicyDecision, title = 'release policy'): string {
  const state = decision.allowed ? (decision.override ? '⚠️ allowed by override' : '✅ allowed') : '🛑 refused';
  const lines = [`### ${title}: ${state}`, ''];
  if (decision.override) lines.push(`**Override** by \`${decision.override.by}\`: ${cell(decision.override.reason)} (rules: ${decision.override.rules.join(', ')})`, '');
  if (decision.budget) lines.push(`Error budget: ${describeBudget(decision.budget)}.`, '');
  if (decision.risk)
    lines.push(
      `Risk class: **${decision.risk.class}** — ${decision.risk.because.map(cell).join('; ')}${decision.changes ? ` (changes from ${cell(decision.changes.source)})` : ''}.`,
      '',
    );
  if (decision.findings.length > 0) {
    lines.push('| Rule | Outcome | Measured | Limit | How to proceed |', '| --- | --- | --- | --- | --- |');
    for (const f of decision.findings) {
      const outcome = f.outcome === 'allow' ? '✅ allow' : decision.override?.rules.includes(f.rule) ? '⚠️ overridden' : '🛑 refuse';
      lines.push(`| ${cell(f.rule)} | ${outcome} | ${cell(f.measured)} | ${cell(f.limit)} | ${cell(f.proceed) || '–'} |`);
    }
  }
  return lines.join('\n');
}

/** The refusals in one message, each with its rule, value and way forward. */
export function describeRefusals(refused: readonly PolicyFinding[]): string {
  return refused.map((f) => `${f.rule}: ${f.measured} (limit: ${f.limit}); to proceed: ${f.proceed}`).join('\n');
}
