import { formatDuration } from '../duration.js';
import { globToRegExp } from '../migrations/layouts.js';
import type { Plan, PolicyConfig, RiskRequirement } from '../plan/schema.js';
import type { PolicyFinding } from './finding.js';

export type RiskClass = 'low' | 'medium' | 'high';
const ORDER: readonly RiskClass[] = ['low', 'medium', 'high'];

/** What a release changes, as far as rollgate could find out. */
export interface ChangeSet {
  /** Changed paths; undefined when they could not be found (then the release is treated as high risk). */
  paths?: string[];
  /** Where the paths came from, for the summary (`input changed-files`, `git diff a..b`). */
  source: string;
  /** `contract`: an irreversible (contract-phase) migration ships; `any`: some migration changed. */
  migrations: 'contract' | 'any' | 'none';
}

/** The class a release falls in, and which rules put it there. */
export interface RiskAssessment {
  class: RiskClass;
  because: string[];
}

/** Classifies a release: the highest class any rule matches; unknown changes are high risk (fail closed). */
export function classifyRelease(risk: NonNullable<PolicyConfig['risk']>, changes: ChangeSet): RiskAssessment {
  if (changes.paths === undefined) return { class: 'high', because: [`the changed paths are unknown (${changes.source}): treated as high risk`] };
  let found: RiskClass = risk.default;
  const because: string[] = [];
  risk.rules.forEach((rule, i) => {
    const hits: string[] = [];
    if (rule.paths) {
      const patterns = rule.paths.map(globToRegExp);
      const matched = (changes.paths ?? []).filter((p) => patterns.some((re) => re.test(p)));
      if (matched.length > 0) hits.push(`${matched.length} changed path(s) match ${rule.paths.join(', ')} (e.g. ${matched[0]})`);
    }
    if (rule.migrations === 'contract' && changes.migrations === 'contract') hits.push('a contract-phase migration ships');
    if (rule.migrations === 'any' && changes.migrations !== 'none') hits.push('a migration changed');
    if (hits.length === 0) return;
    because.push(`policy.risk.rules[${i}] (${rule.class}): ${hits.join('; ')}`);
    if (ORDER.indexOf(rule.class) > ORDER.indexOf(found)) found = rule.class;
  });
  if (because.length === 0) because.push(`no rule matched the ${changes.paths.length} changed path(s): policy.risk.default (${risk.default})`);
  return { class: found, because };
}

/** What the rollout about to start does, as far as the class requirements look at it. */
export interface RolloutShape {
  plan: Plan;
  /** The first slice of traffic this run sends. */
  firstWeight?: number;
}

/** Every requirement of the class the plan does not meet, as a refusal saying what is missing. */
export function checkRequirements(assessment: RiskAssessment, requirement: RiskRequirement | undefined, shape: RolloutShape): PolicyFinding[] {
  const rule = (field: string) => `policy.risk.require.${assessment.class}.${field}`;
  const cls = `${assessment.class}-risk release`;
  if (!requirement) return [];
  const { plan } = shape;
  const findings: PolicyFinding[] = [];
  const add = (field: string, ok: boolean, measured: string, limit: string, proceed: string) =>
    findings.push({ rule: rule(field), outcome: ok ? 'allow' : 'refuse', measured, limit, proceed: ok ? '' : proceed, overridable: false });
  if (requirement.strategies)
    add(
      'strategies',
      requirement.strategies.includes(plan.strategy),
      `strategy: ${plan.strategy}`,
      `a ${cls} needs strategy ${requirement.strategies.join(' or ')}`,
      `set strategy: ${requirement.strategies[0]} in the plan`,
    );
  if (requirement.judge) {
    const judge = plan.analysis?.judge;
    const needed = requirement.judge;
    const ok = judge !== undefined && (needed === 'threshold' || (needed === 'statistical' ? judge !== 'threshold' : judge === needed));
    const wanted = needed === 'statistical' ? 'mann-whitney or paired' : needed;
    add(
      'judge',
      ok,
      judge ? `analysis.judge: ${judge}` : 'no analysis section',
      `a ${cls} needs analysis.judge: ${wanted}`,
      `set analysis.judge: ${needed === 'statistical' ? 'paired' : needed} (with its checks) in the plan`,
    );
  }
  if (requirement.minBake !== undefined) {
    const bake = plan.analysis?.bake;
    add(
      'minBake',
      bake !== undefined && bake >= requirement.minBake,
      bake !== undefined ? `analysis.bake: ${formatDuration(bake)}` : 'no analysis section',
      `a ${cls} needs a bake of at least ${formatDuration(requirement.minBake)} at the first step`,
      `set analysis.bake: ${formatDuration(requirement.minBake)} or longer in the plan`,
    );
  }
  if (requirement.maxFirstStep !== undefined) {
    const first = shape.firstWeight ?? plan.steps?.[0];
    add(
      'maxFirstStep',
      first !== undefined && first <= requirement.maxFirstStep,
      first !== undefined ? `first step ${first}%` : 'no first step',
      `a ${cls} may send at most ${requirement.maxFirstStep}% at first`,
      `start at ${requirement.maxFirstStep}% or less (the weight input, or the plan's first step)`,
    );
  }
  if (requirement.approvalAbove !== undefined) {
    const stop = requirement.approvalAbove;
    const steps = plan.steps ?? [];
    add(
      'approvalAbove',
      plan.strategy === 'canary' && steps.includes(stop),
      steps.length ? `steps: [${steps.join(', ')}]` : `no steps (strategy: ${plan.strategy})`,
      `a ${cls} is not promoted past ${stop}% without an approval`,
      `use strategy: canary with a step at ${stop} and ramp to: ${stop}; run the ramp past it in a job whose GitHub environment requires reviewers`,
    );
  }
  return findings;
}
