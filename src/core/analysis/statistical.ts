import { formatDuration, promDuration } from '../duration.js';
import { describeError, isUserError, UserError } from '../errors.js';
import type { CheckConfig } from '../plan/schema.js';
import type { RangeOutcome, RangeQuery, SeriesPoint } from '../metrics/provider.js';
import type { GateOptions } from './gate.js';
import { mannWhitneyU, ratio, smallestDecisiveSampleSize, summarize, type Alternative, type MannWhitneyResult, type SampleSummary } from './mann-whitney.js';
import { chartLimit, formatValue, type CheckSummary, type GateReport, type Measurement } from './report.js';
import { canaryWeight, lossConfirmations, sustainedTrafficLoss, fillForTracks, identicalQueries, type TrafficSample, type Track } from './traffic.js';
import type { Verdict } from './verdict.js';

/**
 * Fewest points per side the judge will test. Below this the rank test has little power and
 * a quiet canary would pass for want of evidence, which is exactly what must not happen.
 */
export const MIN_POINTS = 10;

/** Score bands when the plan gives none (Kayenta's customary values). */
export const DEFAULT_SCORE = { pass: 95, marginal: 75 } as const;

type Direction = NonNullable<CheckConfig['direction']>;

/** How one check came out of the statistical comparison. */
export type CheckDecision = 'pass' | 'fail' | 'too-few-points' | 'no-data' | 'no-data-ignored' | 'error';

/** What the judge concluded about one check, with every number behind it. */
export interface CheckJudgement {
  check: CheckConfig;
  decision: CheckDecision;
  reason: string;
  canary?: SampleSummary;
  stable?: SampleSummary;
  test?: MannWhitneyResult;
  /** canary mean / stable mean: Kayenta's effect size. */
  meanRatio?: number;
  /** canary median / stable median, reported beside it. */
  medianRatio?: number;
  /** Points left out: NaN (nanStrategy remove) and ±Inf. */
  dropped?: Record<Track, number>;
  /** More points needed per side before the test may decide. */
  missing?: Record<Track, number>;
  /** Points left out because their window had fewer requests than analysis.minRequests. */
  lowTraffic?: Record<Track, number>;
  points?: Record<Track, SeriesPoint[]>;
  /** The canary has no data at the end of the bake: it does not serve now, so the gate fails. */
  absent?: boolean;
}

function alternativeFor(direction: Direction): Alternative {
  switch (direction) {
    case 'increase':
      return 'greater';
    case 'decrease':
      return 'less';
    case 'either':
      return 'two-sided';
  }
}

function percent(fraction: number): string {
  return `${formatValue(fraction * 100)}%`;
}

/** The statistical limit of a check in words, for the report's Limit column. */
export function describeStatisticalLimit(check: CheckConfig, alpha: number): string {
  const direction = check.direction ?? 'either';
  const up = `mean ≤ +${percent(check.allowedIncrease ?? 0)}`;
  const down = `mean ≥ −${percent(check.allowedDecrease ?? 0)}`;
  const bound = direction === 'increase' ? up : direction === 'decrease' ? down : `${up}, ${down}`;
  const flags = [check.critical ? 'critical' : '', check.weight !== 1 ? `weight ${formatValue(check.weight)}` : ''].filter(Boolean).join(', ');
  const limits = [
    check.max !== undefined ? `mean ≤ ${formatValue(check.max)}` : '',
    check.min !== undefined ? `mean ≥ ${formatValue(check.min)}` : '',
    check.maxIncrease !== undefined ? `canary − stable ≤ ${formatValue(check.maxIncrease)}` : '',
    check.maxDecrease !== undefined ? `stable − canary ≤ ${formatValue(check.maxDecrease)}` : '',
    check.maxRatio !== undefined ? `canary / stable ≤ ${formatValue(check.maxRatio)}` : '',
    check.minRatio !== undefined ? `canary / stable ≥ ${formatValue(check.minRatio)}` : '',
  ].filter(Boolean);
  return `Mann-Whitney (${direction}, α ${formatValue(alpha)}): ${bound}${limits.length ? `; ${limits.join('; ')}` : ''}${flags ? `; ${flags}` : ''}`;
}

/** Applies nanStrategy: NaN is removed or replaced by 0; ±Inf is always left out (it has no mean). */
export function cleanPoints(points: readonly SeriesPoint[], strategy: CheckConfig['nanStrategy']): { values: number[]; dropped: number } {
  const values: number[] = [];
  let dropped = 0;
  for (const p of points) {
    if (Number.isNaN(p.value)) {
      switch (strategy) {
        case 'remove':
          dropped++;
          break;
        case 'replace':
          values.push(0);
          break;
      }
    } else if (!Number.isFinite(p.value)) dropped++;
    else values.push(p.value);
  }
  return { values, dropped };
}

function describeSide(name: string, s: SampleSummary): string {
  return `${name} n ${s.n}, median ${formatValue(s.median)}, p90 ${formatValue(s.p90)}`;
}

/**
 * Judges one check from its two series: Mann-Whitney U for whether the canary's distribution
 * moved, the ratio of means for how far, and the check's tolerances for whether that matters.
 */
export function judgeSamples(
  check: CheckConfig,
  canaryPoints: readonly SeriesPoint[],
  stablePoints: readonly SeriesPoint[],
  alpha: number,
  lowTraffic?: Record<Track, number>,
): CheckJudgement {
  const direction: Direction = check.direction ?? 'either';
  const alternative = alternativeFor(direction);
  const canary = cleanPoints(canaryPoints, check.nanStrategy);
  const stable = cleanPoints(stablePoints, check.nanStrategy);
  const dropped = { canary: canary.dropped, stable: stable.dropped };
  const base = { check, dropped, points: { canary: [...canaryPoints], stable: [...stablePoints] }, ...(lowTraffic ? { lowTraffic } : {}) };
  // 0/0 in every canary window is a canary without traffic, not a canary without errors.
  if (canaryPoints.length > 0 && canaryPoints.every((p) => Number.isNaN(p.value)))
    return {
      ...base,
      decision: 'no-data',
      absent: true,
      reason: `every one of the canary's ${canaryPoints.length} points is NaN (0/0: no traffic); never a pass, whatever nanStrategy says`,
    };
  const needed = Math.max(MIN_POINTS, smallestDecisiveSampleSize(alpha, alternative));
  const summaries = { canary: summarize(canary.values), stable: summarize(stable.values) };
  const notes = [
    dropped.canary + dropped.stable > 0 ? `${dropped.canary} canary and ${dropped.stable} stable NaN/Inf points` : '',
    lowTraffic && lowTraffic.canary + lowTraffic.stable > 0 ? `${lowTraffic.canary} canary and ${lowTraffic.stable} stable points below minRequests` : '',
  ].filter(Boolean);
  const droppedNote = notes.length > 0 ? ` (left out: ${notes.join('; ')})` : '';
  if (canary.values.length < needed || stable.values.length < needed) {
    const missing = { canary: Math.max(0, needed - canary.values.length), stable: Math.max(0, needed - stable.values.length) };
    const more = (['canary', 'stable'] as const)
      .filter((t) => missing[t] > 0)
      .map((t) => `${missing[t]} more ${t}`)
      .join(' and ');
    return {
      ...base,
      ...summaries,
      decision: 'too-few-points',
      missing,
      reason: `too few points to compare: canary ${canary.values.length}, stable ${stable.values.length}; the test needs ${needed} on each side, ${more} (bake longer or measure more often)${droppedNote}`,
    };
  }

  const test = mannWhitneyU(canary.values, stable.values, alternative);
  const meanRatio = ratio(summaries.canary.mean, summaries.stable.mean);
  const medianRatio = ratio(summaries.canary.median, summaries.stable.median);
  const allowedUp = 1 + (check.allowedIncrease ?? 0);
  const allowedDown = 1 - (check.allowedDecrease ?? 0);
  const significant = test.p < alpha;
  const tooHigh = direction !== 'decrease' && meanRatio > allowedUp;
  const tooLow = direction !== 'increase' && meanRatio < allowedDown;
  const stats = `${describeSide('canary', summaries.canary)}; ${describeSide('stable', summaries.stable)}; U ${formatValue(test.u)} (${test.method} p); median ×${formatValue(medianRatio)}`;
  const shared = { ...base, ...summaries, test, meanRatio, medianRatio };

  // Limits a team also set for the threshold judge still hold, on the bake's means.
  const breaches = limitBreaches(check, summaries.canary.mean, summaries.stable.mean);
  if (breaches.length > 0) return { ...shared, decision: 'fail', reason: `on the bake's means, ${breaches.join('; ')} — ${stats}${droppedNote}` };
  if (significant && (tooHigh || tooLow)) {
    const which = tooHigh
      ? `canary is higher: mean ×${formatValue(meanRatio)} > allowed ×${formatValue(allowedUp)}`
      : `canary is lower: mean ×${formatValue(meanRatio)} < allowed ×${formatValue(allowedDown)}`;
    return { ...shared, decision: 'fail', reason: `${which} and significant (p ${formatValue(test.p)} < α ${formatValue(alpha)}) — ${stats}${droppedNote}` };
  }
  const why = !significant
    ? `no significant difference (p ${formatValue(test.p)} ≥ α ${formatValue(alpha)}, mean ×${formatValue(meanRatio)})`
    : `a significant difference within tolerance (mean ×${formatValue(meanRatio)}, p ${formatValue(test.p)})`;
  return { ...shared, decision: 'pass', reason: `${why} — ${stats}${droppedNote}` };
}

/** The plan's threshold limits (max, min, maxIncrease, …) crossed by the bake's canary and stable means. */
export function limitBreaches(check: CheckConfig, canary: number, stable: number): string[] {
  const out: string[] = [];
  if (check.max !== undefined && canary > check.max) out.push(`canary ${formatValue(canary)} > max ${formatValue(check.max)}`);
  if (check.min !== undefined && canary < check.min) out.push(`canary ${formatValue(canary)} < min ${formatValue(check.min)}`);
  if (check.maxIncrease !== undefined && canary - stable > check.maxIncrease)
    out.push(`canary − stable = ${formatValue(canary - stable)} > maxIncrease ${formatValue(check.maxIncrease)}`);
  if (check.maxDecrease !== undefined && stable - canary > check.maxDecrease)
    out.push(`stable − canary = ${formatValue(stable - canary)} > maxDecrease ${formatValue(check.maxDecrease)}`);
  // A ratio needs a positive stable; with stable 0 the U test and the effect size still judge.
  if (stable > 0) {
    const r = canary / stable;
    if (check.maxRatio !== undefined && r > check.maxRatio) out.push(`canary / stable = ${formatValue(r)} > maxRatio ${formatValue(check.maxRatio)}`);
    if (check.minRatio !== undefined && r < check.minRatio) out.push(`canary / stable = ${formatValue(r)} < minRatio ${formatValue(check.minRatio)}`);
  }
  return out;
}

/** Score 0–100 and verdict from the judged checks, the plan's bands and critical checks. */
export function scoreChecks(judged: readonly CheckJudgement[], bands: { pass: number; marginal: number }): { verdict: Verdict; reason: string; score?: number } {
  const counted = judged.filter((j) => j.decision !== 'no-data-ignored');
  const total = counted.reduce((w, j) => w + j.check.weight, 0);
  const passed = counted.filter((j) => j.decision === 'pass').reduce((w, j) => w + j.check.weight, 0);
  const open = counted.filter((j) => j.decision === 'too-few-points' || j.decision === 'no-data' || j.decision === 'error');
  const openWeight = open.reduce((w, j) => w + j.check.weight, 0);
  if (total === 0) return { verdict: 'inconclusive', reason: 'no check had data to judge (every check is mustHaveData: false and none had data)' };
  const score = (100 * passed) / total;
  const best = (100 * (passed + openWeight)) / total;
  const failedCritical = counted.find((j) => j.decision === 'fail' && j.check.critical);
  if (failedCritical) return { verdict: 'fail', score, reason: `critical check ${failedCritical.check.name} failed: ${failedCritical.reason}` };
  const failedNames = counted.filter((j) => j.decision === 'fail').map((j) => j.check.name);
  // Open checks cannot rescue a score that stays below marginal even if they all passed.
  if (best < bands.marginal) return { verdict: 'fail', score, reason: `score ${formatValue(score)} < marginal ${formatValue(bands.marginal)} (failed: ${failedNames.join(', ')})` };
  const errored = open.filter((j) => j.decision === 'error');
  if (errored.length > 0) return { verdict: 'error', score, reason: errored.map((j) => `check ${j.check.name}: ${j.reason}`).join('; ') };
  if (open.length > 0)
    return { verdict: 'inconclusive', score, reason: `not enough data to judge, never a pass: ${open.map((j) => `check ${j.check.name}: ${j.reason}`).join('; ')}` };
  if (score >= bands.pass)
    return { verdict: 'pass', score, reason: `score ${formatValue(score)} ≥ pass ${formatValue(bands.pass)}${failedNames.length ? ` (failed: ${failedNames.join(', ')})` : ''}` };
  return {
    verdict: 'inconclusive',
    score,
    reason: `marginal: score ${formatValue(score)} is below pass ${formatValue(bands.pass)} and at least marginal ${formatValue(bands.marginal)} (failed: ${failedNames.join(', ')})`,
  };
}

function checkOutcome(j: CheckJudgement): Verdict {
  switch (j.decision) {
    case 'pass':
      return 'pass';
    case 'fail':
      return 'fail';
    case 'too-few-points':
    case 'no-data':
    case 'no-data-ignored':
      return 'inconclusive';
    case 'error':
      return 'error';
  }
}

function details(j: CheckJudgement, alpha: number): Record<string, string | number> {
  const d: Record<string, string | number> = { decision: j.decision, direction: j.check.direction ?? 'either', alpha, weight: j.check.weight, critical: String(j.check.critical) };
  for (const [track, s] of [
    ['canary', j.canary],
    ['stable', j.stable],
  ] as const)
    if (s) {
      d[`${track}N`] = s.n;
      if (s.n > 0) {
        d[`${track}Median`] = s.median;
        d[`${track}P90`] = s.p90;
        d[`${track}Mean`] = s.mean;
      }
    }
  if (j.test) {
    d.u = j.test.u;
    d.p = j.test.p;
    d.pMethod = j.test.method;
    d.alternative = j.test.alternative;
    if (j.test.z !== undefined) d.z = j.test.z;
    d.probabilityCanaryHigher = j.test.probabilityOfSuperiority;
  }
  // Ratios may be ±Infinity (stable is 0); JSON has no Infinity, so they travel as text.
  if (j.meanRatio !== undefined) d.effectSize = Number.isFinite(j.meanRatio) ? j.meanRatio : formatValue(j.meanRatio);
  if (j.medianRatio !== undefined) d.medianRatio = Number.isFinite(j.medianRatio) ? j.medianRatio : formatValue(j.medianRatio);
  if (j.missing) {
    d.canaryPointsMissing = j.missing.canary;
    d.stablePointsMissing = j.missing.stable;
  }
  if (j.lowTraffic) {
    d.canaryLowTraffic = j.lowTraffic.canary;
    d.stableLowTraffic = j.lowTraffic.stable;
  }
  if (j.dropped && j.dropped.canary + j.dropped.stable > 0) {
    d.canaryDropped = j.dropped.canary;
    d.stableDropped = j.dropped.stable;
  }
  d.query = j.check.query;
  return d;
}

/** The mann-whitney judge: waits out the bake, then compares canary and stable series per check. */
export async function runStatisticalGate(options: GateOptions): Promise<GateReport> {
  const { analysis, provider, clock, signal } = options;
  const log = options.log ?? (() => undefined);
  const startedAt = clock.now();
  const bands = analysis.score ?? DEFAULT_SCORE;
  const window = promDuration(analysis.window ?? analysis.interval);
  const finish = (verdict: Verdict, reason: string, judged: CheckJudgement[] = [], score?: number): GateReport => {
    log(`verdict: ${verdict}${score !== undefined ? ` (score ${formatValue(score)})` : ''}: ${reason}`);
    const checks: CheckSummary[] = judged.map((j) => {
      const summary: CheckSummary = {
        name: j.check.name,
        outcome: checkOutcome(j),
        limit: describeStatisticalLimit(j.check, analysis.alpha),
        reason: j.reason,
        details: details(j, analysis.alpha),
      };
      if (j.check.dryRun) summary.dryRun = true;
      if (j.canary && j.canary.n > 0) summary.canary = j.canary.median;
      if (j.stable && j.stable.n > 0) summary.stable = j.stable.median;
      return summary;
    });
    const report: GateReport = { verdict, reason, startedAt, endedAt: clock.now(), checks, measurements: measurementsOf(judged) };
    if (score !== undefined) report.score = score;
    return report;
  };

  if (bands.marginal > bands.pass) return finish('error', `analysis.score: marginal ${bands.marginal} is above pass ${bands.pass}`);
  let queries: Record<Track, string>[];
  let requestQueries: Record<Track, string> | undefined;
  try {
    const vars = { ...options.vars, window };
    queries = analysis.checks.map((check, i) => fillForTracks(check.query, vars, `analysis.checks[${i}].query`));
    if (analysis.requests) requestQueries = fillForTracks(analysis.requests, vars, 'analysis.requests');
  } catch (err) {
    if (!isUserError(err)) throw err;
    return finish('error', `the plan's queries cannot be filled in: ${describeError(err)}`);
  }
  const blind = analysis.checks.map((c, i) => identicalQueries(c.name, queries[i] as Record<Track, string>)).find((r) => r !== undefined);
  if (blind) return finish('fail', blind);

  const range: RangeQuery = { start: startedAt, end: startedAt + analysis.bake, stepMs: analysis.interval };
  const expected = Math.floor(analysis.bake / analysis.interval) + 1;
  log(
    `statistical judge (Mann-Whitney U, α ${formatValue(analysis.alpha)}): ${analysis.checks.length} check(s); baking ${formatDuration(analysis.bake)}, then comparing ~${expected} points per side (one every ${formatDuration(analysis.interval)})`,
  );
  // Wake once per interval so progress shows and a cancel is noticed without waiting out the bake.
  for (let t = clock.now(); t < range.end; t = clock.now()) {
    try {
      await clock.sleep(Math.min(analysis.interval, range.end - t), signal);
    } catch {
      return finish('error', 'the gate was cancelled before the bake ended');
    }
    if (signal?.aborted) return finish('error', 'the gate was cancelled before the bake ended');
  }

  // Windows with too little traffic say more about chance than about the version: leave them out.
  let traffic: Record<Track, Map<number, number>> | undefined;
  if (requestQueries) {
    try {
      const [canary, stable] = await Promise.all([provider.queryRange(requestQueries.canary, range, { signal }), provider.queryRange(requestQueries.stable, range, { signal })]);
      const counts = (o: RangeOutcome, track: Track): Map<number, number> => {
        switch (o.kind) {
          case 'series':
            return new Map(o.points.map((p) => [p.time, p.value]));
          case 'no-data':
            // No series means no request was counted at all.
            return new Map();
          case 'many-series':
            throw new UserError(`requests query: ${track}: ${o.count} series where one was expected (aggregate it with sum())`);
        }
      };
      traffic = { canary: counts(canary, 'canary'), stable: counts(stable, 'stable') };
    } catch (err) {
      if (!isUserError(err)) throw err;
      return finish('error', `requests query: ${describeError(err).replace(/^requests query: /, '')}`);
    }
  }
  // The canary's latest window says whether it serves now; nothing earlier can make up for that.
  if (traffic) {
    const times = [...new Set([...traffic.canary.keys(), ...traffic.stable.keys()])].sort((a, b) => a - b);
    const samples: TrafficSample[] = times.map((t) => ({ canary: traffic?.canary.get(t) ?? 0, stable: traffic?.stable.get(t) ?? 0 }));
    // A canary whose series ended before the bake did served nothing since.
    if (times.length === 0 || (times.at(-1) as number) < range.end - analysis.interval) samples.push({ canary: 0, stable: samples.at(-1)?.stable ?? 0 });
    const lost = sustainedTrafficLoss(samples, canaryWeight(options), lossConfirmations(analysis.interval));
    if (lost) return finish('fail', `the canary has no traffic now: ${lost}; a canary without traffic is never a pass`);
  }
  // Even with minRequests 0, a window without requests has nothing to compare: 0/0 is not "no errors".
  const floor = Math.max(1, analysis.minRequests);
  const busyEnough = (points: SeriesPoint[], track: Track): { kept: SeriesPoint[]; quiet: number } => {
    if (!traffic) return { kept: points, quiet: 0 };
    const counts = traffic[track];
    const kept = points.filter((p) => (counts.get(p.time) ?? 0) >= floor);
    return { kept, quiet: points.length - kept.length };
  };

  const judged = await Promise.all(
    analysis.checks.map(async (check, i): Promise<CheckJudgement> => {
      let outcomes: [RangeOutcome, RangeOutcome];
      try {
        outcomes = await Promise.all([provider.queryRange(queries[i]!.canary, range, { signal }), provider.queryRange(queries[i]!.stable, range, { signal })]);
      } catch (err) {
        if (!isUserError(err)) throw err;
        return { check, decision: 'error', reason: describeError(err) };
      }
      const [canary, stable] = outcomes;
      for (const [track, o] of [
        ['canary', canary],
        ['stable', stable],
      ] as const)
        if (o.kind === 'many-series') return { check, decision: 'error', reason: `${track}: ${o.count} series where one was expected (aggregate the query with sum() or by())` };
      const empty = (['canary', 'stable'] as const).filter((t) => (t === 'canary' ? canary : stable).kind === 'no-data');
      if (empty.length > 0) {
        const what = `no data for ${empty.join(' and ')}`;
        return check.mustHaveData
          ? { check, decision: 'no-data', reason: `${what} over the bake window (mustHaveData: true); never a pass` }
          : { check, decision: 'no-data-ignored', reason: `${what}; left out of the score (mustHaveData: false)` };
      }
      if (!traffic && canary.kind === 'series') {
        const last = canary.points.at(-1);
        if (!last || last.time < range.end - analysis.interval || Number.isNaN(last.value))
          return {
            check,
            decision: 'no-data',
            absent: true,
            reason: `the canary's series ${last && !Number.isNaN(last.value) ? `ends at ${formatDuration(last.time - range.start)} of the ${formatDuration(analysis.bake)} bake` : 'is NaN at the end of the bake'}: a canary without traffic looks like this, and without analysis.requests the judge cannot tell it from a quiet query; never a pass`,
          };
      }
      const c = busyEnough(canary.kind === 'series' ? canary.points : [], 'canary');
      const s = busyEnough(stable.kind === 'series' ? stable.points : [], 'stable');
      return judgeSamples(check, c.kept, s.kept, analysis.alpha, traffic ? { canary: c.quiet, stable: s.quiet } : undefined);
    }),
  );
  for (const j of judged) log(`${j.check.name}: ${j.decision}: ${j.reason}`);
  // Dry-run checks are judged and shown, never scored, and never fail the gate.
  const absent = judged.find((j) => j.absent && !j.check.dryRun);
  if (absent) return finish('fail', `check ${absent.check.name}: ${absent.reason}`, judged);
  const { verdict, reason, score } = scoreChecks(
    judged.filter((j) => !j.check.dryRun),
    bands,
  );
  return finish(verdict, reason, judged, score);
}

/** The sampled points as measurements, paired by time, so the summary can chart them. */
function measurementsOf(judged: readonly CheckJudgement[]): Measurement[] {
  const out: Measurement[] = [];
  for (const j of judged) {
    if (!j.points) continue;
    const byTime = new Map<number, { canary?: number; stable?: number }>();
    for (const p of j.points.canary) byTime.set(p.time, { ...byTime.get(p.time), canary: p.value });
    for (const p of j.points.stable) byTime.set(p.time, { ...byTime.get(p.time), stable: p.value });
    const outcome = checkOutcome(j);
    [...byTime.entries()]
      .sort((a, b) => a[0] - b[0])
      .forEach(([time, v], i) => {
        const m: Measurement = { check: j.check.name, round: i + 1, time, outcome, reason: 'one point of the sample compared over the bake window' };
        if (v.canary !== undefined && Number.isFinite(v.canary)) m.canary = v.canary;
        else if (v.canary !== undefined) m.canaryOutcome = formatValue(v.canary);
        if (v.stable !== undefined && Number.isFinite(v.stable)) m.stable = v.stable;
        else if (v.stable !== undefined) m.stableOutcome = formatValue(v.stable);
        const limit = chartLimit(j.check, m.stable);
        if (limit !== undefined) m.limit = limit;
        out.push(m);
      });
  }
  return out;
}
