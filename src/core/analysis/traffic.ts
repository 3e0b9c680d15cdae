// What every judge needs to know about the two tracks' traffic: the queries filled in for each
// track, the requests each served in a window, and whether the canary still serves now.
import { describeError, isUserError } from '../errors.js';
import type { MetricsProvider, QueryOutcome } from '../metrics/provider.js';
import { renderTemplate } from '../template.js';
import { formatValue } from './report.js';

export type Track = 'canary' | 'stable';

/** Where a user reads how to write a ratio query whose numerator may have no series yet. */
export const NO_SERIES_HELP = 'docs/metrics-gate.md#a-numerator-with-no-series-yet';

/** The canary's weight from the gate's options or the `weight` placeholder, if either says. */
export function canaryWeight(options: { weight?: number; vars?: Record<string, string> }): number | undefined {
  if (options.weight !== undefined) return options.weight;
  const fromVars = options.vars?.weight !== undefined ? Number(options.vars.weight) : Number.NaN;
  return Number.isFinite(fromVars) ? fromVars : undefined;
}

/** Whether a query template names the track, so canary and stable get different series. */
export function namesTrack(template: string): boolean {
  return /\{\{\s*track\s*\}\}/.test(template);
}

/** A query filled in for both tracks. */
export function fillForTracks(template: string, vars: Record<string, string>, field: string): Record<Track, string> {
  return { canary: renderTemplate(template, { ...vars, track: 'canary' }, field), stable: renderTemplate(template, { ...vars, track: 'stable' }, field) };
}

/** Why a check's filled-in queries cannot tell canary from stable, if they cannot. */
export function identicalQueries(name: string, queries: Record<Track, string>): string | undefined {
  if (queries.canary !== queries.stable) return undefined;
  return `check ${name}: its canary and stable queries are identical (${queries.canary.slice(0, 120)}); put {{track}} in the query's track label, or every comparison is the stable release against itself`;
}

/** Requests each track served in one window, or why they cannot be counted. */
export interface RequestCounts {
  canary?: number;
  stable?: number;
  /** Counting failed (backend down, several series): no check can be judged this round. */
  error?: string;
  /** The count is not a number (NaN): this round's measurements are inconclusive. */
  problem?: string;
}

/** Counts the requests each track served in the window ending at `time`. No series is zero requests. */
export async function countRequests(provider: MetricsProvider, queries: Record<Track, string>, time: number, signal?: AbortSignal): Promise<RequestCounts> {
  try {
    const [canary, stable] = await Promise.all([provider.query(queries.canary, { time, signal }), provider.query(queries.stable, { time, signal })]);
    const counts: RequestCounts = {};
    for (const [track, outcome] of [
      ['canary', canary],
      ['stable', stable],
    ] as const) {
      switch (outcome.kind) {
        case 'no-data':
          counts[track] = 0;
          break;
        case 'value':
          counts[track] = outcome.value;
          break;
        case 'many-series':
          // A request count split over series is a query that is wrong; guessing a sum could pass a canary unseen.
          counts.error ??= `requests query: ${track}: ${outcome.count} series where one was expected (aggregate it with sum())`;
          break;
        case 'nan':
        case 'infinite':
          counts.problem ??= `requests query: ${track}: ${describeQueryOutcome(outcome)}`;
          break;
      }
    }
    return counts;
  } catch (err) {
    if (!isUserError(err)) throw err;
    return { error: `requests query: ${describeError(err)}` };
  }
}

function describeQueryOutcome(outcome: QueryOutcome): string {
  switch (outcome.kind) {
    case 'nan':
      return 'NaN';
    case 'infinite':
      return outcome.sign > 0 ? '+Inf' : '-Inf';
    case 'value':
      return formatValue(outcome.value);
    case 'no-data':
      return 'no data';
    case 'many-series':
      return `${outcome.count} series`;
  }
}

/** One window's request counts, both known. */
export interface TrafficSample {
  canary: number;
  stable: number;
}

/** A canary share this far below what is expected is traffic lost, not noise. */
const LOST_FRACTION = 0.25;
/** Below this many expected canary requests in a window, a low count can be chance (P(X ≤ 5 | 20) ≈ 2e-5). */
const MIN_EXPECTED = 20;
/** Requests the earlier windows must hold before their share sets an expectation. */
const MIN_EARLIER = 200;

/**
 * Why the canary no longer serves, judged on the latest window: no requests at all, or far fewer
 * than its weight (when known) or its own share earlier in the bake predicts relative to stable.
 * `undefined` when it still serves.
 */
export function canaryTrafficLoss(history: readonly TrafficSample[], weight?: number): string | undefined {
  const latest = history.at(-1);
  if (!latest) return undefined;
  // Neither track counted: the metrics pipeline missed the window (a failed scrape), not the canary.
  if (latest.canary <= 0 && latest.stable <= 0 && history.slice(0, -1).some((s) => s.stable > 0)) return undefined;
  if (latest.canary <= 0) return `the canary served 0 requests in the latest window (stable ${formatValue(latest.stable)})`;
  const expectedShare = (() => {
    if (weight !== undefined && weight > 0 && weight < 100) return weight / 100;
    // Pooled over the earlier windows, so one window's chance counts cannot set the expectation.
    const earlier = history.slice(0, -1);
    const canary = earlier.reduce((a, s) => a + s.canary, 0);
    const total = earlier.reduce((a, s) => a + s.canary + s.stable, 0);
    return earlier.length >= 2 && total >= MIN_EARLIER ? canary / total : undefined;
  })();
  if (expectedShare === undefined || expectedShare <= 0 || expectedShare >= 1) return undefined;
  const expected = (latest.stable * expectedShare) / (1 - expectedShare);
  if (expected < MIN_EXPECTED || latest.canary >= expected * LOST_FRACTION) return undefined;
  // And beyond chance: windows are many, so a split this low must be a one-in-a-million event.
  if (binomialLowerTail(latest.canary, latest.canary + latest.stable, expectedShare) > 1e-6) return undefined;
  const basis = weight !== undefined ? `its weight ${formatValue(weight)}%` : 'its share earlier in the bake';
  return `the canary served ${formatValue(latest.canary)} requests in the latest window where ${basis} predicts about ${formatValue(Math.round(expected))} beside stable's ${formatValue(latest.stable)}`;
}

/**
 * Windows in a row a loss must show before it counts: a window without canary requests is as
 * often missed scrapes as a dead canary, and a dead canary stays dead. Short windows hold only a
 * few scrapes (two failed scrapes can empty a 2 s window on a busy Prometheus), so they need three.
 */
export function lossConfirmations(intervalMs: number): number {
  return intervalMs < 10_000 ? 3 : 2;
}

/**
 * Traffic loss seen in each of the latest `windows` windows. With fewer windows than that there
 * is nothing to confirm it with, and a loss in every one of them counts.
 */
export function sustainedTrafficLoss(history: readonly TrafficSample[], weight: number | undefined, windows: number): string | undefined {
  const now = canaryTrafficLoss(history, weight);
  if (!now) return undefined;
  const needed = Math.min(windows, history.length);
  for (let k = 1; k < needed; k++) if (!canaryTrafficLoss(history.slice(0, history.length - k), weight)) return undefined;
  return needed > 1 ? `${now}, and in the ${needed - 1} window(s) before` : now;
}

/**
 * Why the gate ends now, as a fail, because the canary lost its traffic: a loss confirmed over the
 * latest windows after the canary had served (a canary that never served yet is judged at the
 * end of the bake: its first windows may predate its first scrape). A canary that served far
 * below its weight in every window is named as such: it was starved from the start.
 */
export function lostTrafficNow(history: readonly TrafficSample[], weight: number | undefined, windows: number): string | undefined {
  const gone = sustainedTrafficLoss(history, weight, windows);
  if (!gone || !history.slice(0, -windows).some((t) => t.canary > 0)) return undefined;
  const always = history.every((_, i) => canaryTrafficLoss(history.slice(0, i + 1), weight) !== undefined);
  return always
    ? `the canary lost its traffic: far fewer requests than its weight predicts in every window since the bake began: ${gone}`
    : `the canary lost its traffic mid-bake: ${gone}`;
}

/** P(X ≤ k) for X ~ Binomial(n, p), summed term by term from 0 (k is small where it is asked). */
export function binomialLowerTail(k: number, n: number, p: number): number {
  const count = Math.round(n);
  let term = Math.exp(count * Math.log1p(-p));
  let sum = term;
  for (let i = 0; i < Math.floor(k); i++) {
    term *= ((count - i) / (i + 1)) * (p / (1 - p));
    sum += term;
  }
  return Math.min(1, sum);
}

/** The explanation for a check with no series while the requests query shows the canary served. */
export function noSeriesWithTraffic(track: Track, requests: number): string {
  return `the query returned no series while ${track} served ${formatValue(requests)} requests — a numerator with no series yet (no 5xx so far?); see ${NO_SERIES_HELP}`;
}
