// The Wilcoxon signed-rank test on paired differences, as R's wilcox.test(x, paired = TRUE)
// computes it: zeros are dropped, the exact distribution is used below EXACT_LIMIT differences
// without ties, the normal approximation with tie and continuity corrections otherwise.
import { EXACT_LIMIT, midRanks, normalUpperTail, type Alternative, type PValueMethod } from './mann-whitney.js';

export interface SignedRankResult {
  /** Sum of the ranks of the positive differences (R's V). */
  v: number;
  /** Differences that were not zero: the ones ranked. */
  n: number;
  /** Differences equal to zero, left out as R does. */
  zeros: number;
  p: number;
  method: PValueMethod;
  alternative: Alternative;
  z?: number;
}

/** Counts of subsets of {1..n} by rank sum: the exact null distribution of V for n untied differences. */
function signedRankCounts(n: number): number[] {
  const max = (n * (n + 1)) / 2;
  const counts = new Array<number>(max + 1).fill(0);
  counts[0] = 1;
  for (let k = 1; k <= n; k++) for (let s = max; s >= k; s--) counts[s] = (counts[s] as number) + (counts[s - k] as number);
  return counts;
}

/** Wilcoxon signed-rank test of whether the differences are centred on 0; `greater` asks whether they tend to be positive. */
export function wilcoxonSignedRank(differences: readonly number[], alternative: Alternative = 'two-sided', method: PValueMethod | 'auto' = 'auto'): SignedRankResult {
  if (differences.some((d) => !Number.isFinite(d))) throw new RangeError('wilcoxonSignedRank needs finite differences; remove NaN and ±Inf first');
  const nonZero = differences.filter((d) => d !== 0);
  const zeros = differences.length - nonZero.length;
  const n = nonZero.length;
  if (n === 0) return { v: 0, n: 0, zeros, p: 1, method: 'exact', alternative };
  const { ranks, tieGroups } = midRanks(nonZero.map(Math.abs));
  let v = 0;
  nonZero.forEach((d, i) => {
    if (d > 0) v += ranks[i] as number;
  });
  const ties = tieGroups.length > 0;
  if (method === 'exact' && (ties || zeros > 0)) throw new RangeError('the exact distribution of V here assumes no ties and no zeros');
  if (method === 'exact' || (method === 'auto' && !ties && zeros === 0 && n < EXACT_LIMIT)) {
    const counts = signedRankCounts(n);
    const total = 2 ** n;
    const atMost = (x: number) => counts.slice(0, Math.floor(x) + 1).reduce((a, b) => a + b, 0) / total;
    const atLeast = (x: number) => 1 - atMost(Math.ceil(x) - 1);
    const p = alternative === 'greater' ? atLeast(v) : alternative === 'less' ? atMost(v) : Math.min(1, 2 * Math.min(atMost(v), atLeast(v)));
    return { v, n, zeros, p, method: 'exact', alternative };
  }
  const mean = (n * (n + 1)) / 4;
  const variance = (n * (n + 1) * (2 * n + 1)) / 24 - tieGroups.reduce((a, t) => a + t ** 3 - t, 0) / 48;
  const centred = v - mean;
  const correction = alternative === 'two-sided' ? Math.sign(centred) * 0.5 : alternative === 'greater' ? 0.5 : -0.5;
  const z = variance > 0 ? (centred - correction) / Math.sqrt(variance) : 0;
  const p = alternative === 'greater' ? normalUpperTail(z) : alternative === 'less' ? normalUpperTail(-z) : Math.min(1, 2 * normalUpperTail(Math.abs(z)));
  return { v, n, zeros, p, method: 'normal', alternative, z };
}
