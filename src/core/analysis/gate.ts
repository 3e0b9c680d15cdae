import type { Clock } from '../clock.js';
import { promDuration, formatDuration } from '../duration.js';
import { describeError, isUserError } from '../errors.js';
import type { AnalysisConfig, CheckConfig } from '../plan/schema.js';
import { describeOutcome, type MetricsProvider, type QueryOutcome } from '../metrics/provider.js';
import { chartLimit, formatValue, type CheckSummary, type GateReport, type Measurement, type MeasurementOutcome } from './report.js';
import { runPairedGate } from './paired.js';
import { runStatisticalGate } from './statistical.js';
import {
  canaryTrafficLoss,
  canaryWeight,
  countRequests,
  lossConfirmations,
  lostTrafficNow,
  sustainedTrafficLoss,
  fillForTracks,
  identicalQueries,
  noSeriesWithTraffic,
  type RequestCounts,
  type TrafficSample,
  type Track,
} from './traffic.js';
import type { Verdict } from './verdict.js';

export interface GateOptions {
  /** From the plan (durations in ms). */
  analysis: AnalysisConfig;
  provider: MetricsProvider;
  clock: Clock;
  /** Extra placeholders: service, version, … */
  vars?: Record<string, string>;
  /** Progress lines ("measurement 3/10: error-rate canary 0.4% …"). */
  log?: (line: string) => void;
  signal?: AbortSignal;
  /** The canary's traffic share now (0–100), when known: losing traffic is judged against it. */
  weight?: number;
}

/** Runs the plan's judge over the bake window and returns its verdict with every measurement. */
export async function runGate(options: GateOptions): Promise<GateReport> {
  switch (options.analysis.judge) {
    case 'threshold':
      return runThresholdGate(options);
    case 'mann-whitney':
      return runStatisticalGate(options);
    case 'paired':
      return runPairedGate(options);
  }
}

/** The limits of a check in words, for tables and messages. */
export function describeLimits(check: CheckConfig): string {
  const parts: string[] = [];
  if (check.max !== undefined) parts.push(`≤ ${formatValue(check.max)}`);
  if (check.min !== undefined) parts.push(`≥ ${formatValue(check.min)}`);
  if (check.maxIncrease !== undefined) parts.push(`canary − stable ≤ ${formatValue(check.maxIncrease)}`);
  if (check.maxDecrease !== undefined) parts.push(`stable − canary ≤ ${formatValue(check.maxDecrease)}`);
  if (check.maxRatio !== undefined) parts.push(`canary / stable ≤ ${formatValue(check.maxRatio)}`);
  if (check.minRatio !== undefined) parts.push(`canary / stable ≥ ${formatValue(check.minRatio)}`);
  if (check.for !== undefined) parts.push(`for ${formatDuration(check.for)}`);
  return parts.join('; ') || '(statistical)';
}

/** Whether a check compares canary with stable (and so needs {{track}} in its query). */
export function hasRelativeLimit(check: CheckConfig): boolean {
  return check.maxIncrease !== undefined || check.maxDecrease !== undefined || check.maxRatio !== undefined || check.minRatio !== undefined;
}

/** What a measurement concluded, before `for` and the limits on failures and errors apply. */
interface Judgement {
  outcome: 'pass' | 'breach' | 'inconclusive' | 'error';
  reason: string;
  /** A stable label for counting why measurements were inconclusive or erred. */
  category: string;
  canary?: QueryOutcome;
  stable?: QueryOutcome;
}

interface CheckState {
  check: CheckConfig;
  queries: Record<Track, string>;
  failures: number;
  passes: number;
  consecutiveErrors: number;
  breachSince?: number;
  /** Whether the latest conclusive measurement was a breach still waiting out `for`. */
  pendingBreach: boolean;
  lastFailure?: string;
  lastError?: string;
  lastCanary?: number;
  lastStable?: number;
  inconclusive: Map<string, number>;
  errors: Map<string, number>;
  count: number;
  /** The latest measurement's judgement: what the check says about the canary now. */
  latest?: Judgement;
}

function valueOf(outcome: QueryOutcome | undefined): number | undefined {
  return outcome?.kind === 'value' ? outcome.value : undefined;
}

function categoryOf(track: Track, outcome: QueryOutcome): string {
  switch (outcome.kind) {
    case 'no-data':
      return `${track}: no data`;
    case 'nan':
      return `${track}: NaN (no traffic, or 0/0)`;
    case 'infinite':
      return `${track}: ${outcome.sign > 0 ? '+Inf' : '-Inf'} (division by zero, or a quantile beyond the largest bucket)`;
    case 'many-series':
      return `${track}: ${outcome.count} series where one was expected (aggregate the query with sum() or by())`;
    case 'value':
      return `${track}: ${outcome.value}`;
  }
}

/** Judges one check's canary (and stable) values against its limits. */
export function judgeCheck(check: CheckConfig, canary: QueryOutcome, stable: QueryOutcome | undefined): Judgement {
  // Several series is a query that is wrong, not a canary that is bad: an error, so it cannot pass quietly.
  if (canary.kind === 'many-series') return { outcome: 'error', reason: categoryOf('canary', canary), category: 'canary: several series', canary, stable };
  if (canary.kind !== 'value') {
    const category = categoryOf('canary', canary);
    return { outcome: 'inconclusive', reason: category, category, canary, stable };
  }
  const c = canary.value;
  const breaches: string[] = [];
  const unknown: string[] = [];
  if (check.max !== undefined && c > check.max) breaches.push(`canary ${formatValue(c)} > max ${formatValue(check.max)}`);
  if (check.min !== undefined && c < check.min) breaches.push(`canary ${formatValue(c)} < min ${formatValue(check.min)}`);
  if (hasRelativeLimit(check)) {
    if (stable === undefined || stable.kind !== 'value') {
      if (stable?.kind === 'many-series') return { outcome: 'error', reason: categoryOf('stable', stable), category: 'stable: several series', canary, stable };
      unknown.push(`${stable ? categoryOf('stable', stable) : 'stable: not measured'}, nothing to compare with`);
    } else {
      const s = stable.value;
      if (check.maxIncrease !== undefined && c - s > check.maxIncrease) breaches.push(`canary − stable = ${formatValue(c - s)} > maxIncrease ${formatValue(check.maxIncrease)}`);
      if (check.maxDecrease !== undefined && s - c > check.maxDecrease) breaches.push(`stable − canary = ${formatValue(s - c)} > maxDecrease ${formatValue(check.maxDecrease)}`);
      if (check.maxRatio !== undefined || check.minRatio !== undefined) {
        if (s <= 0) {
          unknown.push(`division by zero: stable is ${formatValue(s)}, canary / stable is undefined`);
        } else {
          const ratio = c / s;
          if (check.maxRatio !== undefined && ratio > check.maxRatio) breaches.push(`canary / stable = ${formatValue(ratio)} > maxRatio ${formatValue(check.maxRatio)}`);
          if (check.minRatio !== undefined && ratio < check.minRatio) breaches.push(`canary / stable = ${formatValue(ratio)} < minRatio ${formatValue(check.minRatio)}`);
        }
      }
    }
  }
  // A crossed limit outweighs one that could not be judged: fail closed.
  if (breaches.length > 0) return { outcome: 'breach', reason: breaches.join('; '), category: 'breach', canary, stable };
  if (unknown.length > 0) {
    const category = unknown[0]?.startsWith('division by zero') ? 'division by zero in a ratio (stable is 0)' : (unknown[0] ?? 'inconclusive');
    return { outcome: 'inconclusive', reason: unknown.join('; '), category, canary, stable };
  }
  return { outcome: 'pass', reason: 'within limits', category: 'pass', canary, stable };
}

function tally(map: Map<string, number>): string {
  return [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([what, n]) => `${n}× ${what}`)
    .join(', ');
}

async function runThresholdGate(options: GateOptions): Promise<GateReport> {
  const { analysis, provider, clock, signal } = options;
  const log = options.log ?? (() => undefined);
  const startedAt = clock.now();
  const rounds = Math.max(1, Math.floor(analysis.bake / analysis.interval));
  const window = promDuration(analysis.window ?? analysis.interval);
  const measurements: Measurement[] = [];

  // Every template is filled before the first measurement, so a typo in a placeholder stops
  // the gate at once instead of after the first interval.
  const states: CheckState[] = [];
  let requestQueries: Record<Track, string> | undefined;
  const traffic: TrafficSample[] = [];
  const weight = canaryWeight(options);
  try {
    const vars = { ...options.vars, window };
    analysis.checks.forEach((check, i) => {
      states.push({
        check,
        queries: fillForTracks(check.query, vars, `analysis.checks[${i}].query`),
        failures: 0,
        passes: 0,
        consecutiveErrors: 0,
        pendingBreach: false,
        inconclusive: new Map(),
        errors: new Map(),
        count: 0,
      });
    });
    // Counted whenever the plan says how: it is what tells a dead canary from a quiet query.
    if (analysis.requests) requestQueries = fillForTracks(analysis.requests, vars, 'analysis.requests');
  } catch (err) {
    if (!isUserError(err)) throw err;
    return finish('error', `the plan's queries cannot be filled in: ${describeError(err)}`);
  }
  // Identical queries compare stable with itself: every relative limit would pass unseen.
  const blind = states
    .filter((s) => hasRelativeLimit(s.check))
    .map((s) => identicalQueries(s.check.name, s.queries))
    .find((r) => r !== undefined);
  if (blind) return finish('fail', blind);

  // A check with only statistical settings (direction, …) has nothing the threshold judge can
  // cross: judging it would pass it unseen.
  const limitless = analysis.checks.filter((c) => !hasRelativeLimit(c) && c.max === undefined && c.min === undefined);
  if (limitless.length > 0)
    return finish(
      'error',
      `${limitless.map((c) => `check ${c.name}`).join(', ')}: no threshold limit (max, min, maxIncrease, maxDecrease, maxRatio, minRatio); add one, or set analysis.judge: mann-whitney`,
    );

  // Dry-run checks are measured and shown like any other, but never decide the verdict.
  const decisive = states.filter((s) => !s.check.dryRun);

  log(
    `judging canary against stable: ${states.length} check(s), a measurement every ${formatDuration(analysis.interval)} for ${formatDuration(analysis.bake)} (${rounds} rounds, window ${window})`,
  );

  for (let round = 1; round <= rounds; round++) {
    try {
      await clock.sleep(startedAt + round * analysis.interval - clock.now(), signal);
    } catch {
      return finish('error', 'the gate was cancelled before the bake ended');
    }
    if (signal?.aborted) return finish('error', 'the gate was cancelled before the bake ended');
    const time = clock.now();
    const requests = requestQueries ? await countRequests(provider, requestQueries, time, signal) : undefined;
    if (requests?.canary !== undefined && requests.stable !== undefined) traffic.push({ canary: requests.canary, stable: requests.stable });
    const lost = requests?.canary !== undefined && requests.stable !== undefined ? canaryTrafficLoss(traffic, weight) : undefined;
    const judged = await Promise.all(states.map((state) => measure(state, requests, lost, time)));
    if (signal?.aborted) return finish('error', 'the gate was cancelled before the bake ended');

    states.forEach((state, i) => {
      const j = judged[i] as Judgement;
      let outcome: MeasurementOutcome = j.outcome;
      let reason = j.reason;
      state.count++;
      if (j.outcome === 'breach') {
        state.breachSince ??= time;
        const lasted = time - state.breachSince;
        if (state.check.for === undefined || lasted >= state.check.for) {
          outcome = 'fail';
          state.failures++;
          state.lastFailure = reason;
          state.pendingBreach = false;
        } else {
          reason = `${reason} (breached for ${formatDuration(lasted)} of the ${formatDuration(state.check.for)} it must last)`;
          state.pendingBreach = true;
        }
      } else if (j.outcome === 'pass') {
        state.breachSince = undefined;
        state.pendingBreach = false;
        state.passes++;
      }
      // No data proves no recovery: an inconclusive measurement neither resets nor extends a breach.
      if (j.outcome === 'error') {
        state.consecutiveErrors++;
        state.lastError = j.reason;
        state.errors.set(j.category, (state.errors.get(j.category) ?? 0) + 1);
      } else {
        state.consecutiveErrors = 0;
      }
      if (j.outcome === 'inconclusive') state.inconclusive.set(j.category, (state.inconclusive.get(j.category) ?? 0) + 1);
      state.latest = j;
      const canary = valueOf(j.canary);
      const stable = valueOf(j.stable);
      if (canary !== undefined) state.lastCanary = canary;
      if (stable !== undefined) state.lastStable = stable;
      const m: Measurement = { check: state.check.name, round, time, outcome, reason };
      if (canary !== undefined) m.canary = canary;
      else if (j.canary) m.canaryOutcome = describeOutcome(j.canary);
      if (stable !== undefined) m.stable = stable;
      else if (j.stable) m.stableOutcome = describeOutcome(j.stable);
      if (requests?.canary !== undefined) m.canaryRequests = requests.canary;
      if (requests?.stable !== undefined) m.stableRequests = requests.stable;
      const limit = chartLimit(state.check, stable);
      if (limit !== undefined) m.limit = limit;
      measurements.push(m);
      const shown = (v: number | undefined, o: QueryOutcome | undefined) => (v !== undefined ? formatValue(v) : o ? describeOutcome(o) : '–');
      log(
        `measurement ${round}/${rounds}: ${state.check.name} canary ${shown(canary, j.canary)} stable ${shown(stable, j.stable)} → ${outcome}${outcome === 'pass' ? '' : `: ${reason}`}`,
      );
    });

    // A canary that served and stopped is gone now, whatever it did before: 20% of users may be
    // getting errors from it, so the gate ends at once and never as a pass.
    const gone = lost ? lostTrafficNow(traffic, weight, lossConfirmations(analysis.interval)) : undefined;
    if (gone) return finish('fail', gone);
    // Decide as soon as the outcome can no longer change.
    const failed = decisive.find((s) => s.failures > analysis.failureLimit);
    if (failed)
      return finish(
        'fail',
        `check ${failed.check.name} failed ${failed.failures} measurement(s), more than failureLimit ${analysis.failureLimit} allows: ${failed.lastFailure ?? ''}`,
      );
    const broken = decisive.find((s) => s.consecutiveErrors > analysis.consecutiveErrorLimit);
    if (broken)
      return finish(
        'error',
        `check ${broken.check.name}: ${broken.consecutiveErrors} metrics errors in a row, more than consecutiveErrorLimit ${analysis.consecutiveErrorLimit} allows: ${broken.lastError ?? ''}`,
      );
  }

  // A check whose every measurement erred never judged anything: the pipeline broke, so
  // `error` even when the bake was too short to exceed consecutiveErrorLimit.
  const absent = canaryAbsentNow();
  if (absent) return finish('fail', absent);
  const unreachable = decisive.filter(neverMeasured);
  if (unreachable.length > 0)
    return finish('error', unreachable.map((s) => `check ${s.check.name}: every one of ${s.count} measurement(s) ended in an error: ${s.lastError ?? ''}`).join('; '));
  const undecided = decisive.filter((s) => s.passes === 0 || s.pendingBreach || tooManyInconclusive(s) || latestInconclusive(s));
  if (undecided.length > 0) return finish('inconclusive', undecided.map((s) => `check ${s.check.name}: ${inconclusiveReason(s)}`).join('; '));
  return finish('pass', `all ${decisive.length} check(s) passed over ${rounds} measurement(s) in ${formatDuration(clock.now() - startedAt)}`);

  /**
   * Why the canary cannot be judged a pass now: the latest window shows it without traffic (by the
   * requests query), or, without one, its latest measurement has no number at all.
   */
  function canaryAbsentNow(): string | undefined {
    if (requestQueries) {
      const last = traffic.at(-1);
      const lost = last ? sustainedTrafficLoss(traffic, weight, lossConfirmations(analysis.interval)) : undefined;
      return lost ? `the canary has no traffic now: ${lost}; a canary without traffic is never a pass` : undefined;
    }
    // A canary that had numbers and now has none has most likely stopped serving.
    const silent = decisive.find((s) => s.lastCanary !== undefined && s.latest?.canary !== undefined && (s.latest.canary.kind === 'no-data' || s.latest.canary.kind === 'nan'));
    if (!silent) return undefined;
    return `check ${silent.check.name}: the canary had values earlier in the bake and its latest measurement is ${silent.latest?.canary?.kind === 'nan' ? 'NaN' : 'no data'}, which is what a canary that stopped serving looks like (set analysis.requests to tell it from a quiet query); never a pass`;
  }

  function latestInconclusive(state: CheckState): boolean {
    return state.latest?.outcome === 'inconclusive';
  }

  async function measure(state: CheckState, requests: RequestCounts | undefined, lost: string | undefined, time: number): Promise<Judgement> {
    if (requests?.error) return { outcome: 'error', reason: requests.error, category: 'requests query failed' };
    let canary: QueryOutcome;
    let stable: QueryOutcome;
    try {
      [canary, stable] = await Promise.all([provider.query(state.queries.canary, { time, signal }), provider.query(state.queries.stable, { time, signal })]);
    } catch (err) {
      if (!isUserError(err)) throw err;
      // The attempt count differs between rounds; the failure itself is what to count.
      return { outcome: 'error', reason: describeError(err), category: describeError(err).replace(/ \(after \d+ attempts\)/, '') };
    }
    if (requests?.problem) return { outcome: 'inconclusive', reason: requests.problem, category: requests.problem, canary, stable };
    if (lost) return { outcome: 'inconclusive', reason: lost, category: 'the canary has no traffic', canary, stable };
    if (requests && analysis.minRequests > 0) {
      const low = (['canary', 'stable'] as const).filter((t) => (requests[t] ?? 0) < analysis.minRequests);
      if (low.length > 0) {
        const reason = `too few requests: ${low.map((t) => `${t} ${formatValue(requests[t] ?? 0)}`).join(', ')} < minRequests ${analysis.minRequests}`;
        return { outcome: 'inconclusive', reason, category: `too few requests (${low.join(' and ')} < minRequests ${analysis.minRequests})`, canary, stable };
      }
    }
    const judged = judgeCheck(state.check, canary, stable);
    // No series while the track served requests is a query problem, and it should say so.
    const silent = (['canary', 'stable'] as const).find((t) => (t === 'canary' ? canary : stable).kind === 'no-data' && (requests?.[t] ?? 0) > 0);
    if (judged.outcome === 'inconclusive' && silent) {
      const reason = noSeriesWithTraffic(silent, requests?.[silent] ?? 0);
      return { ...judged, reason, category: `${silent}: ${reason.replace(/ served [\d.e+]+ requests/, ' served requests')}` };
    }
    return judged;
  }

  function inconclusiveCount(state: CheckState): number {
    return [...state.inconclusive.values()].reduce((a, b) => a + b, 0);
  }

  /** Passing once is not enough when most of the bake saw no usable data. */
  function tooManyInconclusive(state: CheckState): boolean {
    const count = inconclusiveCount(state);
    return analysis.inconclusiveLimit !== undefined ? count > analysis.inconclusiveLimit : count > state.passes;
  }

  function inconclusiveReason(state: CheckState): string {
    if (state.passes > 0 && !state.pendingBreach && !tooManyInconclusive(state) && latestInconclusive(state))
      return `its latest measurement was inconclusive (${state.latest?.reason ?? ''}); the latest measurements describe the canary now, so not a pass`;
    if (state.passes > 0 && !state.pendingBreach && tooManyInconclusive(state)) {
      const limit = analysis.inconclusiveLimit !== undefined ? `inconclusiveLimit ${analysis.inconclusiveLimit}` : `the ${state.passes} that passed`;
      return `${inconclusiveCount(state)} of ${state.count} measurement(s) were inconclusive, more than ${limit} (${tally(state.inconclusive)}); not a pass`;
    }
    if (state.pendingBreach && state.passes > 0)
      return `still breaching at the end of the bake, for less than the ${formatDuration(state.check.for ?? 0)} it must last to fail; not a pass`;
    const why = [tally(state.inconclusive), tally(state.errors)].filter(Boolean).join(', ');
    if (state.pendingBreach) return `no measurement passed; breaching for less than the ${formatDuration(state.check.for ?? 0)} it must last${why ? ` (${why})` : ''}`;
    return `no conclusive passing measurement in ${state.count} (${why || 'no measurement'})`;
  }

  function neverMeasured(state: CheckState): boolean {
    return state.count > 0 && state.passes === 0 && state.failures === 0 && state.errors.size > 0 && [...state.errors.values()].reduce((a, b) => a + b, 0) === state.count;
  }

  function checkOutcome(state: CheckState): { outcome: Verdict; reason: string } {
    if (state.failures > analysis.failureLimit)
      return { outcome: 'fail', reason: `${state.failures} failed measurement(s) > failureLimit ${analysis.failureLimit}: ${state.lastFailure ?? ''}` };
    if (state.consecutiveErrors > analysis.consecutiveErrorLimit)
      return { outcome: 'error', reason: `${state.consecutiveErrors} errors in a row > consecutiveErrorLimit ${analysis.consecutiveErrorLimit}: ${state.lastError ?? ''}` };
    if (neverMeasured(state)) return { outcome: 'error', reason: `every measurement ended in an error: ${state.lastError ?? ''}` };
    if (state.passes === 0 || state.pendingBreach || tooManyInconclusive(state) || latestInconclusive(state)) return { outcome: 'inconclusive', reason: inconclusiveReason(state) };
    const notes = [state.failures > 0 ? `${state.failures} failed (within failureLimit ${analysis.failureLimit})` : '', tally(state.inconclusive), tally(state.errors)].filter(
      Boolean,
    );
    return { outcome: 'pass', reason: `${state.passes}/${state.count} measurement(s) passed${notes.length ? `; ${notes.join(', ')}` : ''}` };
  }

  function finish(verdict: Verdict, reason: string): GateReport {
    const checks: CheckSummary[] = states.map((state) => {
      const { outcome, reason: why } = checkOutcome(state);
      const summary: CheckSummary = {
        name: state.check.name,
        outcome: state.count === 0 && verdict === 'error' ? 'error' : outcome,
        limit: describeLimits(state.check),
        reason: state.count === 0 && verdict === 'error' ? reason : why,
        details: { measurements: state.count, passed: state.passes, failed: state.failures, query: state.check.query },
      };
      if (state.check.dryRun) summary.dryRun = true;
      if (state.lastCanary !== undefined) summary.canary = state.lastCanary;
      if (state.lastStable !== undefined) summary.stable = state.lastStable;
      return summary;
    });
    log(`verdict: ${verdict}: ${reason}`);
    return { verdict, reason, startedAt, endedAt: clock.now(), checks, measurements };
  }
}
