// The paired, sequential judge. Canary and stable serve at the same time and see the same load,
// so most of what varies between windows (a burst, a slow dependency, the time of day) moves both
// tracks alike. Comparing them window by window cancels that shared variation; an anytime-valid
// confidence sequence on the mean paired difference lets the gate look after every window and
// stop as soon as the answer is clear, with the false-alarm rate held at alpha however often it looks.
import { formatDuration, promDuration } from '../duration.js';
import { describeError, isUserError } from '../errors.js';
import type { CheckConfig } from '../plan/schema.js';
import type { QueryOutcome } from '../metrics/provider.js';
import type { GateOptions } from './gate.js';
import { chartLimit, formatValue, type CheckSummary, type GateReport, type Measurement, type MeasurementOutcome } from './report.js';
import { confidenceSequence, finalInterval, MIN_DIFFERENCES, mixtureFor, type ConfidenceSequencePoint } from './sequential.js';
import { wilcoxonSignedRank } from './signed-rank.js';
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

/** How a window's pair of values becomes one difference. */
export type PairedScale = 'log-ratio' | 'difference';

/** One scale's tolerances: the difference may rise to `up` and fall to `down` (undefined: that side is not judged). */
export interface PairedTest {
  scale: PairedScale;
  up?: number;
  down?: number;
}

/** The paired tests a check asks for: log-ratio for relative tolerances, difference for absolute ones. */
export function pairedTests(check: CheckConfig): PairedTest[] {
  const direction = check.direction;
  const keepUp = direction !== 'decrease';
  const keepDown = direction !== 'increase';
  const tests: PairedTest[] = [];
  const ups = [check.allowedIncrease !== undefined ? Math.log1p(check.allowedIncrease) : undefined, check.maxRatio !== undefined ? Math.log(check.maxRatio) : undefined].filter(
    (v): v is number => v !== undefined,
  );
  const downs = [
    check.allowedDecrease !== undefined ? (check.allowedDecrease >= 1 ? Number.NEGATIVE_INFINITY : Math.log1p(-check.allowedDecrease)) : undefined,
    check.minRatio !== undefined ? Math.log(check.minRatio) : undefined,
  ].filter((v): v is number => v !== undefined);
  const ratio: PairedTest = { scale: 'log-ratio' };
  if (keepUp && ups.length > 0) ratio.up = Math.min(...ups);
  if (keepDown && downs.length > 0) ratio.down = Math.max(...downs);
  if (ratio.up !== undefined || ratio.down !== undefined) tests.push(ratio);
  const difference: PairedTest = { scale: 'difference' };
  if (keepUp && check.maxIncrease !== undefined) difference.up = check.maxIncrease;
  if (keepDown && check.maxDecrease !== undefined) difference.down = -check.maxDecrease;
  if (difference.up !== undefined || difference.down !== undefined) tests.push(difference);
  return tests;
}

/** The paired difference of one window on a scale, or why there is none. */
export function pairedDifference(scale: PairedScale, canary: number, stable: number): number | string {
  switch (scale) {
    case 'log-ratio':
      if (canary <= 0 || stable <= 0) return `canary / stable undefined (canary ${formatValue(canary)}, stable ${formatValue(stable)})`;
      return Math.log(canary / stable);
    case 'difference':
      return canary - stable;
  }
}

/** Where one test stands after the windows so far. */
export type TestStanding = 'fail' | 'within' | 'open';

/** What the interval must show before a check fails (`analysis.failOn`). */
export type FailOn = 'significant' | 'beyond-tolerance';

/**
 * Fail when the interval excludes "no change" on a judged side and the estimate is beyond the
 * tolerance (a real regression that matters) — or, with `beyond-tolerance`, when the interval
 * excludes the tolerance itself; within when the whole interval is inside the tolerances.
 */
export function standing(test: PairedTest, cs: ConfidenceSequencePoint, failOn: FailOn = 'significant'): TestStanding {
  if (cs.n < MIN_DIFFERENCES) return 'open';
  const beyond = failOn === 'beyond-tolerance';
  if (test.up !== undefined && cs.lower > (beyond ? test.up : 0) && cs.mean > test.up) return 'fail';
  if (test.down !== undefined && cs.upper < (beyond ? test.down : 0) && cs.mean < test.down) return 'fail';
  const upOk = test.up === undefined || cs.upper <= test.up;
  const downOk = test.down === undefined || cs.lower >= test.down;
  return upOk && downOk ? 'within' : 'open';
}

function describeChange(scale: PairedScale, value: number): string {
  switch (scale) {
    case 'log-ratio': {
      const pct = (Math.exp(value) - 1) * 100;
      return `${pct >= 0 ? '+' : ''}${formatValue(pct)}%`;
    }
    case 'difference':
      return `${value >= 0 ? '+' : ''}${formatValue(value)}`;
  }
}

/** A test's interval and tolerance in words, e.g. `canary/stable +12% [+6%, +18%], tolerance ≤ +5%`. */
export function describeStanding(test: PairedTest, cs: ConfidenceSequencePoint): string {
  const what = test.scale === 'log-ratio' ? 'canary/stable' : 'canary − stable';
  const tolerance = [test.up !== undefined ? `≤ ${describeChange(test.scale, test.up)}` : '', test.down !== undefined ? `≥ ${describeChange(test.scale, test.down)}` : '']
    .filter(Boolean)
    .join(' and ');
  if (cs.n < 2) return `${what}: ${cs.n} window(s), no interval yet; tolerance ${tolerance}`;
  return `${what} ${describeChange(test.scale, cs.mean)} [${describeChange(test.scale, cs.lower)}, ${describeChange(test.scale, cs.upper)}] over ${cs.n} windows; tolerance ${tolerance}`;
}

/** The paired judge's limit column: tolerances and the method. */
export function describePairedLimit(check: CheckConfig, alpha: number, failOn: FailOn = 'significant'): string {
  const tests = pairedTests(check);
  const parts = tests.map((t) => {
    const what = t.scale === 'log-ratio' ? 'canary/stable' : 'canary − stable';
    return [t.up !== undefined ? `${what} ≤ ${describeChange(t.scale, t.up)}` : '', t.down !== undefined ? `${what} ≥ ${describeChange(t.scale, t.down)}` : '']
      .filter(Boolean)
      .join(', ');
  });
  if (check.max !== undefined) parts.push(`mean ≤ ${formatValue(check.max)}`);
  if (check.min !== undefined) parts.push(`mean ≥ ${formatValue(check.min)}`);
  return `paired, sequential (α ${formatValue(alpha)}${failOn === 'beyond-tolerance' ? ', fails only beyond tolerance' : ''}): ${parts.join('; ')}`;
}

/** Lag-1 autocorrelation of the differences above which a failure mentions drift. */
const DRIFT_AUTOCORRELATION = 0.5;

interface TestState {
  test: PairedTest;
  differences: number[];
  /** Windows whose difference was undefined on this scale. */
  undefinedWindows: number;
  cs?: ConfidenceSequencePoint;
  standing: TestStanding;
}

interface PairedCheckState {
  check: CheckConfig;
  queries: Record<Track, string>;
  tests: TestState[];
  canaryValues: number[];
  stableValues: number[];
  /** Windows left out, by why. */
  skipped: Map<string, number>;
  consecutiveErrors: number;
  lastError?: string;
  /** Whether the latest window gave the canary a number. */
  latestMeasured: boolean;
  latestReason?: string;
  failure?: string;
  /** Passed at the end of the bake on its estimate, the interval not yet inside the tolerance. */
  endPass?: boolean;
}

function estimateWithin(t: TestState): boolean {
  if (!t.cs) return false;
  return (t.test.up === undefined || t.cs.mean <= t.test.up) && (t.test.down === undefined || t.cs.mean >= t.test.down);
}

function numberOf(o: QueryOutcome): number | undefined {
  return o.kind === 'value' ? o.value : undefined;
}

function describe(o: QueryOutcome): string {
  switch (o.kind) {
    case 'value':
      return formatValue(o.value);
    case 'no-data':
      return 'no data';
    case 'nan':
      return 'NaN';
    case 'infinite':
      return o.sign > 0 ? '+Inf' : '-Inf';
    case 'many-series':
      return `${o.count} series`;
  }
}

/** The paired judge: one canary/stable pair per window, judged after every window until decided or the bake ends. */
export async function runPairedGate(options: GateOptions): Promise<GateReport> {
  const { analysis, provider, clock, signal } = options;
  const log = options.log ?? (() => undefined);
  const startedAt = clock.now();
  const rounds = Math.max(1, Math.floor(analysis.bake / analysis.interval));
  const minRounds = Math.min(rounds, Math.max(MIN_DIFFERENCES, Math.ceil((analysis.minBake ?? 0) / analysis.interval)));
  const rho2 = mixtureFor(rounds, analysis.alpha);
  // Half of α for the looks during the bake, half for the last look (a union bound: together ≤ α);
  // a check judged on both sides splits each half again.
  const sequentialAlpha = (test: PairedTest) => (test.up !== undefined && test.down !== undefined ? analysis.alpha / 4 : analysis.alpha / 2);
  const window = promDuration(analysis.window ?? analysis.interval);
  const weight = canaryWeight(options);
  const failOn: FailOn = analysis.failOn ?? 'significant';
  const measurements: Measurement[] = [];
  const traffic: TrafficSample[] = [];
  const states: PairedCheckState[] = [];
  let requestQueries: Record<Track, string> | undefined;
  try {
    const vars = { ...options.vars, window };
    analysis.checks.forEach((check, i) =>
      states.push({
        check,
        queries: fillForTracks(check.query, vars, `analysis.checks[${i}].query`),
        tests: pairedTests(check).map((test) => ({ test, differences: [], undefinedWindows: 0, standing: 'open' })),
        canaryValues: [],
        stableValues: [],
        skipped: new Map(),
        consecutiveErrors: 0,
        latestMeasured: false,
      }),
    );
    if (analysis.requests) requestQueries = fillForTracks(analysis.requests, vars, 'analysis.requests');
  } catch (err) {
    if (!isUserError(err)) throw err;
    return finish('error', `the plan's queries cannot be filled in: ${describeError(err)}`);
  }
  // Dry-run checks are measured and shown, never decide.
  const decisive = states.filter((s) => !s.check.dryRun);
  const blind = states.map((s) => identicalQueries(s.check.name, s.queries)).find((r) => r !== undefined);
  if (blind) return finish('fail', blind);
  const untested = states.find((s) => s.tests.length === 0);
  if (untested)
    return finish(
      'error',
      `check ${untested.check.name}: no tolerance on the side its direction judges (allowedIncrease, maxRatio, maxIncrease for increase; allowedDecrease, minRatio, maxDecrease for decrease)`,
    );

  log(
    `paired judge (confidence sequence, α ${formatValue(analysis.alpha)}): ${states.length} check(s), a window of ${window} every ${formatDuration(analysis.interval)}; decides after ${formatDuration(minRounds * analysis.interval)} at the earliest, ${formatDuration(rounds * analysis.interval)} at the latest`,
  );

  for (let round = 1; round <= rounds; round++) {
    try {
      await clock.sleep(startedAt + round * analysis.interval - clock.now(), signal);
    } catch {
      return finish('error', 'the gate was cancelled before the bake ended');
    }
    if (signal?.aborted) return finish('error', 'the gate was cancelled before the bake ended');
    const time = clock.now();
    const requests: RequestCounts | undefined = requestQueries ? await countRequests(provider, requestQueries, time, signal) : undefined;
    if (requests?.error) {
      for (const s of states) noteError(s, requests.error, round, time);
      const broken = states.find((s) => s.consecutiveErrors > analysis.consecutiveErrorLimit);
      if (broken)
        return finish('error', `${broken.consecutiveErrors} metrics errors in a row, more than consecutiveErrorLimit ${analysis.consecutiveErrorLimit} allows: ${requests.error}`);
      continue;
    }
    if (requests?.canary !== undefined && requests.stable !== undefined) traffic.push({ canary: requests.canary, stable: requests.stable });
    const lost = requests?.canary !== undefined && requests.stable !== undefined ? canaryTrafficLoss(traffic, weight) : undefined;
    const gone = lost ? lostTrafficNow(traffic, weight, lossConfirmations(analysis.interval)) : undefined;
    if (gone) return finish('fail', gone);
    const quiet = lost ?? requests?.problem ?? lowTraffic(requests);

    const answers = await Promise.all(
      states.map(async (s): Promise<[QueryOutcome, QueryOutcome] | string> => {
        try {
          return await Promise.all([provider.query(s.queries.canary, { time, signal }), provider.query(s.queries.stable, { time, signal })]);
        } catch (err) {
          if (!isUserError(err)) throw err;
          return describeError(err);
        }
      }),
    );
    if (signal?.aborted) return finish('error', 'the gate was cancelled before the bake ended');

    states.forEach((s, i) => {
      const answer = answers[i] as [QueryOutcome, QueryOutcome] | string;
      if (typeof answer === 'string') return noteError(s, answer, round, time);
      s.consecutiveErrors = 0;
      const [canary, stable] = answer;
      const m: Measurement = { check: s.check.name, round, time, outcome: 'pass', reason: '' };
      const c = numberOf(canary);
      const st = numberOf(stable);
      if (c !== undefined) m.canary = c;
      else m.canaryOutcome = describe(canary);
      if (st !== undefined) m.stable = st;
      else m.stableOutcome = describe(stable);
      if (requests?.canary !== undefined) m.canaryRequests = requests.canary;
      if (requests?.stable !== undefined) m.stableRequests = requests.stable;
      const limit = chartLimit(s.check, st);
      if (limit !== undefined) m.limit = limit;
      s.latestMeasured = c !== undefined && quiet === undefined;
      const several = [canary, stable].find((o) => o.kind === 'many-series');
      if (several) {
        noteError(s, `${describe(several)} where one was expected (aggregate the query with sum() or by())`, round, time, m);
        return;
      }
      const skip = (why: string) => {
        s.skipped.set(why, (s.skipped.get(why) ?? 0) + 1);
        s.latestReason = why;
        m.outcome = 'inconclusive';
        m.reason = why;
      };
      if (quiet !== undefined) skip(quiet);
      else if (c === undefined || st === undefined) {
        const silent = (['canary', 'stable'] as const).find((t) => (t === 'canary' ? canary : stable).kind === 'no-data' && (requests?.[t] ?? 0) > 0);
        skip(silent ? noSeriesWithTraffic(silent, requests?.[silent] ?? 0) : `${c === undefined ? `canary ${describe(canary)}` : `stable ${describe(stable)}`}: window left out`);
      } else {
        s.canaryValues.push(c);
        s.stableValues.push(st);
        const notes: string[] = [];
        for (const t of s.tests) {
          const d = pairedDifference(t.test.scale, c, st);
          if (typeof d === 'string') {
            t.undefinedWindows++;
            notes.push(d);
            continue;
          }
          t.differences.push(d);
          // A check judged on both sides spends half of α on each.
          t.cs = confidenceSequence(t.differences, sequentialAlpha(t.test), rho2);
          t.standing = standing(t.test, t.cs, failOn);
          notes.push(describeStanding(t.test, t.cs));
        }
        s.latestReason = undefined;
        m.reason = notes.join('; ');
      }
      measurements.push(m);
      log(
        `window ${round}/${rounds}: ${s.check.name} canary ${m.canary !== undefined ? formatValue(m.canary) : m.canaryOutcome} stable ${m.stable !== undefined ? formatValue(m.stable) : m.stableOutcome} → ${m.reason}`,
      );
    });

    const broken = states.find((s) => s.consecutiveErrors > analysis.consecutiveErrorLimit);
    if (broken)
      return finish(
        'error',
        `check ${broken.check.name}: ${broken.consecutiveErrors} metrics errors in a row, more than consecutiveErrorLimit ${analysis.consecutiveErrorLimit} allows: ${broken.lastError ?? ''}`,
      );
    // A clear regression ends the gate at any look: the interval holds at every look at once.
    for (const s of decisive) {
      const failed = s.tests.find((t) => t.standing === 'fail');
      if (failed && failed.cs) {
        s.failure = `a clear regression: ${describeStanding(failed.test, failed.cs)}${driftHint(failed.cs)}`;
        markLast(s, 'fail', s.failure);
        return finish('fail', `check ${s.check.name}: ${s.failure}`);
      }
    }
    // The last look of the bake spends the other half of α on a fixed-sample test: it no longer
    // has to hold for later looks, so it is as sharp as a test run once at the end.
    if (round === rounds)
      for (const s of decisive)
        for (const t of s.tests) {
          if (t.standing !== 'open' || t.differences.length < MIN_DIFFERENCES) continue;
          const last = finalInterval(t.differences, sequentialAlpha(t.test));
          if (standing(t.test, last, failOn) === 'fail') {
            t.cs = last;
            t.standing = 'fail';
            s.failure = `a clear regression at the end of the bake: ${describeStanding(t.test, last)}${driftHint(last)}`;
            markLast(s, 'fail', s.failure);
            return finish('fail', `check ${s.check.name}: ${s.failure}`);
          }
        }
    if (round >= minRounds) {
      const absolute = decisive.map((s) => ({ s, breaches: absoluteBreaches(s) })).find((x) => x.breaches.length > 0);
      if (absolute) {
        absolute.s.failure = `on the windows' means, ${absolute.breaches.join('; ')}`;
        markLast(absolute.s, 'fail', absolute.s.failure);
        return finish('fail', `check ${absolute.s.check.name}: ${absolute.s.failure}`);
      }
      // A pass needs every check within tolerance and the canary measured in this very window.
      if (decisive.every((s) => s.latestMeasured && s.tests.every((t) => t.standing === 'within')))
        return finish('pass', `every check within tolerance after ${formatDuration(clock.now() - startedAt)} (${round} windows)`);
    }
  }

  const notNow = decisive.find((s) => !s.latestMeasured);
  const gone = sustainedTrafficLoss(traffic, weight, lossConfirmations(analysis.interval));
  if (notNow && gone) return finish('fail', `the canary has no traffic now: ${gone}; a canary without traffic is never a pass`);
  if (notNow && !requestQueries && notNow.latestReason?.startsWith('canary '))
    return finish(
      'fail',
      `check ${notNow.check.name}: the canary's latest window has no number (${notNow.latestReason}); a canary without traffic looks like this, and without analysis.requests the judge cannot tell it from a quiet query`,
    );
  const noErrors = decisive.filter((s) => s.canaryValues.length === 0 && s.lastError !== undefined);
  if (noErrors.length > 0) return finish('error', noErrors.map((s) => `check ${s.check.name}: no window could be measured: ${s.lastError ?? ''}`).join('; '));
  // The whole bake showed no clear regression: like the mann-whitney judge, a canary whose
  // estimate is within tolerance passes, measured now and on enough windows.
  for (const s of states) if (s.latestMeasured && s.tests.every((t) => t.cs !== undefined && t.cs.n >= MIN_DIFFERENCES && estimateWithin(t))) s.endPass = true;
  if (decisive.every((s) => s.endPass || isWithin(s)))
    return finish(
      'pass',
      `no clear regression in the whole bake of ${formatDuration(analysis.bake)} and every estimate within tolerance: ${states.map((s) => `check ${s.check.name}: ${s.tests.map((t) => (t.cs ? describeStanding(t.test, t.cs) : '')).join('; ')}`).join('; ')}`,
    );
  return finish(
    'inconclusive',
    `undecided after the whole bake of ${formatDuration(analysis.bake)}: ${decisive
      .filter((s) => !isWithin(s))
      .map((s) => `check ${s.check.name}: ${openReason(s)}`)
      .join('; ')}`,
  );

  /**
   * Differences that wander slowly are what two tracks drifting apart on their own look like, and
   * within one bake that cannot be told from a regression: say so, and what to do if it is drift.
   */
  function driftHint(cs: ConfidenceSequencePoint): string {
    if (failOn === 'beyond-tolerance' || cs.autocorrelation < DRIFT_AUTOCORRELATION) return '';
    return ` — the differences drift from window to window (lag-1 autocorrelation ${formatValue(Math.round(cs.autocorrelation * 100) / 100)}); if identical releases of this service wander apart like this, set analysis.failOn: beyond-tolerance (see docs/statistical-judge.md)`;
  }

  function lowTraffic(requests: RequestCounts | undefined): string | undefined {
    if (!requests || analysis.minRequests <= 0) return undefined;
    const low = (['canary', 'stable'] as const).filter((t) => (requests[t] ?? 0) < analysis.minRequests);
    return low.length > 0 ? `too few requests: ${low.map((t) => `${t} ${formatValue(requests[t] ?? 0)}`).join(', ')} < minRequests ${analysis.minRequests}` : undefined;
  }

  function noteError(s: PairedCheckState, error: string, round: number, time: number, m?: Measurement): void {
    s.consecutiveErrors++;
    s.lastError = error;
    s.latestMeasured = false;
    s.latestReason = error;
    const measurement = m ?? { check: s.check.name, round, time, outcome: 'error' as MeasurementOutcome, reason: error };
    measurement.outcome = 'error';
    measurement.reason = error;
    measurements.push(measurement);
    log(`window ${round}/${rounds}: ${s.check.name}: error: ${error}`);
  }

  function markLast(s: PairedCheckState, outcome: MeasurementOutcome, reason: string): void {
    const last = [...measurements].reverse().find((m) => m.check === s.check.name);
    if (last) {
      last.outcome = outcome;
      last.reason = reason;
    }
  }

  function absoluteBreaches(s: PairedCheckState): string[] {
    if (s.canaryValues.length === 0 || (s.check.max === undefined && s.check.min === undefined)) return [];
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    const m = mean(s.canaryValues);
    const out: string[] = [];
    if (s.check.max !== undefined && m > s.check.max) out.push(`canary ${formatValue(m)} > max ${formatValue(s.check.max)}`);
    if (s.check.min !== undefined && m < s.check.min) out.push(`canary ${formatValue(m)} < min ${formatValue(s.check.min)}`);
    return out;
  }

  function isWithin(s: PairedCheckState): boolean {
    return s.tests.every((t) => t.standing === 'within') && s.latestMeasured;
  }

  function openReason(s: PairedCheckState): string {
    const skipped = [...s.skipped.entries()].map(([why, n]) => `${n}× ${why}`).join(', ');
    const tests = s.tests.map((t) => (t.cs ? describeStanding(t.test, t.cs) : `${t.differences.length} window(s), fewer than the ${MIN_DIFFERENCES} an interval needs`));
    const latest = !s.latestMeasured && s.latestReason ? `its latest window was not measured (${s.latestReason}); ` : '';
    return `${latest}${tests.join('; ')}: the interval still reaches past the tolerance${skipped ? ` (left out: ${skipped})` : ''}`;
  }

  function checkOutcome(s: PairedCheckState, verdict: Verdict): Verdict {
    if (s.failure) return 'fail';
    if (s.canaryValues.length === 0 && s.lastError !== undefined) return 'error';
    if (isWithin(s) || s.endPass) return 'pass';
    return verdict === 'error' ? 'error' : 'inconclusive';
  }

  function finish(verdict: Verdict, reason: string): GateReport {
    const checks: CheckSummary[] = states.map((s) => {
      const outcome = checkOutcome(s, verdict);
      const details: Record<string, string | number> = { judge: 'paired', windows: s.canaryValues.length, alpha: analysis.alpha, query: s.check.query };
      const ranked: string[] = [];
      for (const t of s.tests) {
        const key = t.test.scale === 'log-ratio' ? 'ratio' : 'difference';
        if (t.cs && t.cs.n >= 2) {
          details[`${key}Estimate`] = t.test.scale === 'log-ratio' ? Math.exp(t.cs.mean) : t.cs.mean;
          if (Number.isFinite(t.cs.lower)) details[`${key}Lower`] = t.test.scale === 'log-ratio' ? Math.exp(t.cs.lower) : t.cs.lower;
          if (Number.isFinite(t.cs.upper)) details[`${key}Upper`] = t.test.scale === 'log-ratio' ? Math.exp(t.cs.upper) : t.cs.upper;
          details[`${key}Autocorrelation`] = t.cs.autocorrelation;
        }
        if (t.differences.length > 0) {
          // The fixed-sample signed-rank test, reported beside the interval for readers who know it.
          const w = wilcoxonSignedRank(t.differences, t.test.down === undefined ? 'greater' : t.test.up === undefined ? 'less' : 'two-sided');
          details[`${key}SignedRankV`] = w.v;
          details[`${key}SignedRankP`] = w.p;
          ranked.push(`signed-rank p ${formatValue(w.p)}`);
        }
        if (t.undefinedWindows > 0) details[`${key}UndefinedWindows`] = t.undefinedWindows;
      }
      const why =
        outcome === 'fail'
          ? (s.failure ?? reason)
          : outcome === 'pass'
            ? (s.endPass && !isWithin(s) ? 'no clear regression over the whole bake, estimate within tolerance: ' : '') +
              s.tests.map((t) => (t.cs ? describeStanding(t.test, t.cs) : '')).join('; ')
            : outcome === 'error'
              ? (s.lastError ?? reason)
              : openReason(s);
      const summary: CheckSummary = {
        name: s.check.name,
        outcome,
        limit: describePairedLimit(s.check, analysis.alpha, failOn),
        reason: `${why}${ranked.length ? ` (${ranked.join(', ')})` : ''}`,
        details,
      };
      if (s.check.dryRun) summary.dryRun = true;
      const lastCanary = s.canaryValues.at(-1);
      const lastStable = s.stableValues.at(-1);
      if (lastCanary !== undefined) summary.canary = lastCanary;
      if (lastStable !== undefined) summary.stable = lastStable;
      return summary;
    });
    log(`verdict: ${verdict}: ${reason}`);
    return { verdict, reason, startedAt, endedAt: clock.now(), checks, measurements };
  }
}
