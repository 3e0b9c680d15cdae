// Pure statistics for the statistical judge: the Mann-Whitney U (Wilcoxon rank-sum) test and
// the summaries reported beside it. No I/O, no clock; every function is deterministic.

/** Which way the alternative hypothesis points, from the first sample's side. */
export type Alternative = 'greater' | 'less' | 'two-sided';

/** How the p-value was obtained. */
export type PValueMethod = 'exact' | 'normal';

export interface MannWhitneyResult {
  /** U of the first sample: pairs (x, y) with x > y, plus half the ties. */
  u: number;
  /** U of the second sample; u + uOther = n1 · n2. */
  uOther: number;
  n1: number;
  n2: number;
  /** Standardised statistic of the normal approximation (with continuity correction); absent for exact. */
  z?: number;
  p: number;
  alternative: Alternative;
  method: PValueMethod;
  /** Whether tied values were present (the exact distribution is then not used). */
  ties: boolean;
  /** U / (n1 · n2): the probability that a value from the first sample beats one from the second. */
  probabilityOfSuperiority: number;
}

/** Samples this large (each) or tied values switch to the normal approximation, as R's wilcox.test does. */
export const EXACT_LIMIT = 50;

/** Ranks with ties given their average (mid) rank, 1-based, in the input order. */
export function midRanks(values: readonly number[]): { ranks: number[]; tieGroups: number[] } {
  const order = values.map((v, i) => i).sort((a, b) => compare(values[a]!, values[b]!));
  const ranks = new Array<number>(values.length);
  const tieGroups: number[] = [];
  for (let i = 0; i < order.length;) {
    let j = i + 1;
    while (j < order.length && compare(values[order[j]!]!, values[order[i]!]!) === 0) j++;
    const rank = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) ranks[order[k]!] = rank;
    if (j - i > 1) tieGroups.push(j - i);
    i = j;
  }
  return { ranks, tieGroups };
}

// Infinities are ordinary extreme values for ranking; NaN must be handled by the caller.
function compare(a: number, b: number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Mann-Whitney U test of `x` against `y`. `greater` asks whether x tends to be larger.
 * By default (`auto`) the p-value is exact (the permutation distribution of U) when both
 * samples are under EXACT_LIMIT and there are no ties; otherwise it is the normal
 * approximation with tie and continuity corrections.
 */
export function mannWhitneyU(x: readonly number[], y: readonly number[], alternative: Alternative = 'two-sided', method: PValueMethod | 'auto' = 'auto'): MannWhitneyResult {
  const n1 = x.length;
  const n2 = y.length;
  if (n1 === 0 || n2 === 0) throw new RangeError('mannWhitneyU needs at least one value in each sample');
  if ([...x, ...y].some((v) => Number.isNaN(v))) throw new RangeError('mannWhitneyU cannot rank NaN; remove or replace it first');
  const { ranks, tieGroups } = midRanks([...x, ...y]);
  let r1 = 0;
  for (let i = 0; i < n1; i++) r1 += ranks[i]!;
  const u = r1 - (n1 * (n1 + 1)) / 2;
  const uOther = n1 * n2 - u;
  const ties = tieGroups.length > 0;
  const base = { u, uOther, n1, n2, alternative, ties, probabilityOfSuperiority: u / (n1 * n2) };
  if (method === 'exact' && ties) throw new RangeError('the exact distribution of U here assumes no ties');
  if (method === 'exact' || (method === 'auto' && !ties && n1 < EXACT_LIMIT && n2 < EXACT_LIMIT)) {
    return { ...base, p: exactP(u, n1, n2, alternative), method: 'exact' };
  }
  const { z, p } = normalP(u, n1, n2, tieGroups, alternative);
  return { ...base, z, p, method: 'normal' };
}

/**
 * Number of arrangements giving each U = 0 … n1·n2, for two untied samples of sizes n1 and n2
 * (the coefficients of the Gaussian binomial). Counts are doubles: exact up to 2^53, and
 * within rounding beyond, which is all a p-value needs.
 */
export function uDistribution(n1: number, n2: number): number[] {
  // counts[k][s]: ways to choose k of the first i ranks whose rank positions sum to s + k(k−1)/2,
  // i.e. whose "U contribution" is s. Adding the next position i either skips it or takes it.
  const max = n1 * n2;
  const counts: Float64Array[] = Array.from({ length: n1 + 1 }, () => new Float64Array(max + 1));
  counts[0]![0] = 1;
  for (let i = 0; i < n1 + n2; i++) {
    // Downwards in k, so row k still holds the counts before position i when row k+1 reads it.
    for (let k = Math.min(i, n1 - 1); k >= 0; k--) {
      // Taking position i as the (k+1)-th chosen value beats i − k values of the other sample.
      const gain = i - k;
      if (gain > n2) continue;
      const row = counts[k]!;
      const target = counts[k + 1]!;
      for (let s = max - gain; s >= 0; s--) if (row[s] !== 0) target[s + gain]! += row[s]!;
    }
  }
  return Array.from(counts[n1]!);
}

function exactP(u: number, n1: number, n2: number, alternative: Alternative): number {
  const dist = uDistribution(n1, n2);
  const total = dist.reduce((a, b) => a + b, 0);
  let upper = 0; // P(U ≥ u)
  let lower = 0; // P(U ≤ u)
  dist.forEach((c, s) => {
    if (s >= u) upper += c;
    if (s <= u) lower += c;
  });
  upper /= total;
  lower /= total;
  switch (alternative) {
    case 'greater':
      return upper;
    case 'less':
      return lower;
    case 'two-sided':
      return Math.min(1, 2 * Math.min(upper, lower));
  }
}

function normalP(u: number, n1: number, n2: number, tieGroups: readonly number[], alternative: Alternative): { z: number; p: number } {
  const n = n1 + n2;
  const mean = (n1 * n2) / 2;
  const tieSum = tieGroups.reduce((acc, t) => acc + (t * t * t - t), 0);
  const variance = ((n1 * n2) / 12) * (n + 1 - tieSum / (n * (n - 1)));
  // Every value tied: the samples cannot be told apart at all.
  if (!(variance > 0)) return { z: 0, p: 1 };
  const sd = Math.sqrt(variance);
  const d = u - mean;
  switch (alternative) {
    case 'greater': {
      const z = (d - 0.5) / sd;
      return { z, p: normalUpperTail(z) };
    }
    case 'less': {
      const z = (d + 0.5) / sd;
      return { z, p: normalUpperTail(-z) };
    }
    case 'two-sided': {
      const z = (d - Math.sign(d) * 0.5) / sd;
      return { z, p: Math.min(1, 2 * normalUpperTail(Math.abs(z))) };
    }
  }
}

/** P(Z > z) for a standard normal Z, accurate to ~1e-14 absolute and good relative accuracy in the tail. */
export function normalUpperTail(z: number): number {
  if (Number.isNaN(z)) return Number.NaN;
  return z >= 0 ? 0.5 * erfc(z / Math.SQRT2) : 1 - 0.5 * erfc(-z / Math.SQRT2);
}

/** Complementary error function for x ≥ 0. */
export function erfc(x: number): number {
  if (x < 0) return 2 - erfc(-x);
  if (x < 2.5) {
    // Maclaurin series of erf: alternating, and its terms stay small enough below 2.5 that the
    // cancellation costs only a few digits.
    let term = x;
    let sum = x;
    for (let k = 1; k < 200; k++) {
      term *= (-x * x) / k;
      const add = term / (2 * k + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * sum;
  }
  // Continued fraction erfc(x) = e^{−x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))),
  // evaluated bottom-up with enough terms for full precision at x ≥ 2.5.
  let f = x;
  for (let k = 60; k >= 1; k--) f = x + k / 2 / f;
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
}

/** n, mean, median, p90, min and max of a sample. */
export interface SampleSummary {
  n: number;
  mean: number;
  median: number;
  p90: number;
  min: number;
  max: number;
}

/** Linear-interpolated quantile (the "type 7" definition used by R and NumPy by default). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  return lo === hi ? a : a + (h - lo) * (b - a);
}

/** Summary of a sample for reports. An empty sample gives n 0 and NaN elsewhere. */
export function summarize(values: readonly number[]): SampleSummary {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  const mean = n === 0 ? Number.NaN : sorted.reduce((a, b) => a + b, 0) / n;
  return { n, mean, median: quantile(sorted, 0.5), p90: quantile(sorted, 0.9), min: sorted[0] ?? Number.NaN, max: sorted[n - 1] ?? Number.NaN };
}

/**
 * canary / stable of a location statistic. Both zero means "no change" (1); a zero stable
 * with a positive canary is an unbounded increase (Infinity).
 */
export function ratio(canary: number, stable: number): number {
  if (stable === 0) return canary === 0 ? 1 : canary > 0 ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
  return canary / stable;
}

/**
 * The smallest equal sample size per side for which the test can reach p < alpha at all,
 * given the alternative (with n per side, the most extreme exact one-sided p is 1 / C(2n, n)).
 */
export function smallestDecisiveSampleSize(alpha: number, alternative: Alternative): number {
  const factor = alternative === 'two-sided' ? 2 : 1;
  let combinations = 2; // C(2, 1)
  for (let n = 1; n < 1000; n++) {
    if (factor / combinations < alpha) return n;
    // C(2n+2, n+1) = C(2n, n) · (2n+1)(2n+2) / (n+1)²
    combinations = (combinations * (2 * n + 1) * (2 * n + 2)) / ((n + 1) * (n + 1));
  }
  return 1000;
}
