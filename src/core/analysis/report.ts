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
  /** The value the canary may not cross at this round (absolute, or relative to stable), for charts. */
  limit?: number;
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

/**
 * The tightest bound on the canary a check sets at one round, for drawing: upper limits (max,
 * stable + maxIncrease, stable × maxRatio, stable × (1 + allowedIncrease)) when it has any, else lower ones.
 */
export function chartLimit(
  check: {
    max?: number;
    min?: number;
    maxIncrease?: number;
    maxDecrease?: number;
    maxRatio?: number;
    minRatio?: number;
    allowedIncrease?: number;
    allowedDecrease?: number;
    direction?: string;
  },
  stable: number | undefined,
): number | undefined {
  const s = stable !== undefined && Number.isFinite(stable) ? stable : undefined;
  const relative = (f: (v: number) => number, on: number | undefined) => (on !== undefined && s !== undefined ? f(s) : undefined);
  const up = [
    check.max,
    relative((v) => v + (check.maxIncrease ?? 0), check.maxIncrease),
    relative((v) => v * (check.maxRatio ?? 1), check.maxRatio),
    check.direction === 'decrease' ? undefined : relative((v) => v * (1 + (check.allowedIncrease ?? 0)), check.allowedIncrease),
  ].filter((v): v is number => v !== undefined);
  if (up.length > 0) return Math.min(...up);
  const down = [
    check.min,
    relative((v) => v - (check.maxDecrease ?? 0), check.maxDecrease),
    relative((v) => v * (check.minRatio ?? 1), check.minRatio),
    check.direction === 'increase' ? undefined : relative((v) => v * (1 - (check.allowedDecrease ?? 0)), check.allowedDecrease),
  ].filter((v): v is number => v !== undefined);
  return down.length > 0 ? Math.max(...down) : undefined;
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
