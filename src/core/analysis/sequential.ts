// Anytime-valid confidence sequences for the mean of paired differences: an interval that may
// be looked at after every window and still covers the true mean at every look at once with
// probability ≥ 1 − α. Method: the Gaussian-mixture boundary of Robbins (1970) in the form of
// Howard, Ramdas, McAuliffe & Sekhon (2021, "Time-uniform, nonparametric, nonasymptotic
// confidence sequences", Ann. Statist. 49(2), eq. (14)), used with an estimated variance as the
// asymptotic confidence sequence of Waudby-Smith, Arbour, Sinha, Kennedy & Ramdas (2024,
// "Time-uniform central limit theory and asymptotic confidence sequences", Ann. Statist.).

import { normalUpperTail } from './mann-whitney.js';

/** Mean, and the half-width of the interval around it, after n differences. */
export interface ConfidenceSequencePoint {
  n: number;
  mean: number;
  /** Sample standard deviation, inflated for positive lag-1 autocorrelation. */
  sd: number;
  lower: number;
  upper: number;
  /** Lag-1 autocorrelation estimated from the differences (0 below 4 of them). */
  autocorrelation: number;
}

/**
 * The mixture precision ρ² that makes the boundary tightest after `n` observations
 * (Howard et al. 2021, eq. (15) approximately): tune it for the largest number of windows the bake allows.
 */
export function mixtureFor(n: number, alpha: number): number {
  const l = -2 * Math.log(alpha);
  return (l + Math.log(l + 1)) / Math.max(1, n);
}

/** Half-width of the two-sided normal-mixture boundary for the mean of n unit-variance observations. */
export function mixtureRadius(n: number, alpha: number, rho2: number): number {
  const a = n * rho2 + 1;
  return Math.sqrt(((2 * a) / (n * n * rho2)) * Math.log(Math.sqrt(a) / alpha));
}

/**
 * Half-width of the one-sided normal-mixture boundary (a half-normal mixture over effects in one
 * direction, Howard et al. 2021, Prop. 6) for the mean of n unit-variance observations: the
 * smallest s with 2·√(r/(n+r))·exp(s²/(2(n+r)))·Φ(s/√(n+r)) ≥ 1/α for the sum s, r = 1/ρ².
 */
export function oneSidedMixtureRadius(n: number, alpha: number, rho2: number): number {
  const key = `${n} ${alpha} ${rho2}`;
  const known = radii.get(key);
  if (known !== undefined) return known;
  const r = 1 / rho2;
  const v = n + r;
  const logMartingale = (sum: number) => Math.log(2) + 0.5 * Math.log(r / v) + (sum * sum) / (2 * v) + Math.log(1 - normalUpperTail(sum / Math.sqrt(v)));
  const target = -Math.log(alpha);
  let lo = 0;
  let hi = Math.sqrt(2 * v * (target + Math.log(v / r))) + 10;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (logMartingale(mid) >= target) hi = mid;
    else lo = mid;
  }
  if (radii.size > 10_000) radii.clear();
  radii.set(key, hi / n);
  return hi / n;
}

/** Boundaries already solved: a gate asks for the same few many times. */
const radii = new Map<string, number>();

/** The standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9). */
export function normalQuantile(p: number): number {
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const poly = (k: number[], x: number) => k.reduce((acc, v) => acc * x + v, 0);
  if (p < 0.02425) {
    const q = Math.sqrt(-2 * Math.log(p));
    return poly(c, q) / (poly(d, q) * q + 1);
  }
  if (p > 1 - 0.02425) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return (poly(a, r) * q) / (poly(b, r) * r + 1);
}

/** Student's t quantile by the Cornish-Fisher expansion (Abramowitz & Stegun 26.7.5); good to ~1e-3 for ν ≥ 3. */
export function studentQuantile(p: number, nu: number): number {
  const z = normalQuantile(p);
  const z3 = z ** 3;
  const z5 = z ** 5;
  const z7 = z ** 7;
  return z + (z3 + z) / (4 * nu) + (5 * z5 + 16 * z3 + 3 * z) / (96 * nu ** 2) + (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * nu ** 3);
}

/**
 * Small samples estimate the spread too low more often than not; the judge never trusts a
 * spread estimated from fewer than this many differences.
 */
export const MIN_DIFFERENCES = 5;

/** Lag-1 autocorrelation of the differences, bias-corrected and clipped to [0, 0.95]. */
function lagOneAutocorrelation(centred: readonly number[], ss: number): number {
  const n = centred.length;
  if (n < MIN_DIFFERENCES || ss <= 0) return 0;
  let lag = 0;
  for (let i = 1; i < n; i++) lag += (centred[i] as number) * (centred[i - 1] as number);
  // The lag-1 estimate is biased low by about (1 + 3r)/n in short series (Kendall 1954);
  // add it back, or a slow drift would pass for independent noise.
  const raw = lag / ss;
  return Math.max(0, Math.min(0.95, raw + (1 + 3 * raw) / n));
}

/**
 * A fixed-sample one-sided interval at level α for the mean of the differences (Student's t,
 * with the same autocorrelation allowance): valid for one look only, the last one of the bake.
 */
export function finalInterval(differences: readonly number[], alpha: number): ConfidenceSequencePoint {
  const n = differences.length;
  const mean = differences.reduce((a, b) => a + b, 0) / n;
  const centred = differences.map((d) => d - mean);
  const ss = centred.reduce((a, c) => a + c * c, 0);
  const autocorrelation = lagOneAutocorrelation(centred, ss);
  const sd = Math.sqrt(ss / Math.max(1, n - 1)) * Math.sqrt((1 + autocorrelation) / (1 - autocorrelation));
  const radius = n >= 2 ? (studentQuantile(1 - alpha, n - 1) * sd) / Math.sqrt(n) : Number.POSITIVE_INFINITY;
  return { n, mean, sd, lower: mean - radius, upper: mean + radius, autocorrelation };
}

/**
 * The confidence sequence after the differences seen so far. The spread is the sample standard
 * deviation times √((1 + r) / (1 − r)) for a positive lag-1 autocorrelation r (the long-run
 * variance of an AR(1) series), so slowly drifting differences do not narrow the interval.
 */
export function confidenceSequence(differences: readonly number[], alpha: number, rho2: number): ConfidenceSequencePoint {
  const n = differences.length;
  const mean = n === 0 ? Number.NaN : differences.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { n, mean, sd: Number.NaN, lower: Number.NEGATIVE_INFINITY, upper: Number.POSITIVE_INFINITY, autocorrelation: 0 };
  const centred = differences.map((d) => d - mean);
  const ss = centred.reduce((a, c) => a + c * c, 0);
  const autocorrelation = lagOneAutocorrelation(centred, ss);
  const sd = Math.sqrt(ss / (n - 1)) * Math.sqrt((1 + autocorrelation) / (1 - autocorrelation));
  // Each bound is one-sided at α: a regression is judged on the lower bound, safety on the upper.
  // The boundary assumes the spread is known; estimated from a few windows it is too often too
  // small. Widening by Student's t over the normal quantile at the same level pays for that.
  const estimated = n >= 3 ? studentQuantile(1 - alpha, n - 1) / normalQuantile(1 - alpha) : Number.POSITIVE_INFINITY;
  const radius = sd * oneSidedMixtureRadius(n, alpha, rho2) * estimated;
  return { n, mean, sd, lower: mean - radius, upper: mean + radius, autocorrelation };
}
