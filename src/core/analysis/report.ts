import type { Verdict } from './verdict.js';

/**
 * How one measurement of one check came out.
 * `breach`: a limit was crossed, but not yet for as long as the check's `for` demands.
 */
export type MeasurementOutcome = 'pass' | 'breach' | 'fail' | 'inconclusive' | 'error';

/** One check judged once: the canary's (and stable's) value at one instant of the bake. */
export interface Measurement {
  check: string;
  /** 1-based round of the bake this measurement belongs to. */
  round: number;
  /** Unix milliseconds when it was taken. */
  time: number;
  outcome: MeasurementOutcome;
  /** Numbers only when the backend returned one; otherwise see canaryOutcome/stableOutcome. */
  canary?: number;
  stable?: number;
  /** The backend's answer in words when it was not a number (`no data`, `NaN`, `+Inf`, …). */
  canaryOutcome?: string;
  stableOutcome?: string;
  canaryRequests?: number;
  stableRequests?: number;
  /** Why: the limits crossed, or what was missing. */
  reason: string;
}

/** How one check ended over the whole bake. */
export interface CheckSummary {
  name: string;
  outcome: Verdict;
  /** Latest values that were numbers. */
  stable?: number;
  canary?: number;
  /** The limits in words, e.g. `≤ 0.05; canary − stable ≤ 0.005`. */
  limit: string;
  reason: string;
  details?: Record<string, string | number>;
  /** Measured and shown, but left out of the verdict (`dryRun: true`). */
  dryRun?: boolean;
}

/** What a gate decided and everything it saw on the way. */
export interface GateReport {
  verdict: Verdict;
  reason: string;
  startedAt: number;
  endedAt: number;
  checks: CheckSummary[];
  measurements: Measurement[];
  /** 0–100, from the statistical judge. */
  score?: number;
}

/** A number as people read it in a table or log: 4 significant digits, no exponent for ordinary sizes. */
export function formatValue(value: number | undefined): string {
  if (value === undefined) return '–';
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? '+Inf' : '-Inf';
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs >= 1e6 || abs < 1e-4) return value.toExponential(3).replace(/\.?0+e/, 'e');
  return String(Number(value.toPrecision(4)));
}
