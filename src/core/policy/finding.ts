/**
 * One rule of the release policy, judged: every refusal names the rule, what was measured, the
 * limit and how to proceed, so nobody has to read the code at 3 a.m. to learn why nothing moved.
 */
export interface PolicyFinding {
  /** The plan field the rule comes from, e.g. `policy.windows`, `policy.errorBudget.burnRateAlerts[0]`. */
  rule: string;
  outcome: 'allow' | 'refuse';
  measured: string;
  limit: string;
  /** What to do to go ahead; empty when the rule allows. */
  proceed: string;
  /** Whether the run's `reason` input may override a refusal (windows, freezes, error budget; never the risk class). */
  overridable: boolean;
}

/** Who overrode which refusals, and why: recorded on the deployment and in the notification. */
export interface PolicyOverride {
  by: string;
  reason: string;
  rules: string[];
}
