import { describe, expect, it } from '@jest/globals';
import { cleanPoints, describeStatisticalLimit, judgeSamples, MIN_POINTS, scoreChecks, type CheckJudgement } from '../../src/core/analysis/statistical.js';
import { analysisSchema, checkSchema, type CheckConfig } from '../../src/core/plan/schema.js';
import type { SeriesPoint } from '../../src/core/metrics/provider.js';

const check = (fields: Record<string, unknown>): CheckConfig => checkSchema.parse({ name: 'latency', query: 'q{track="{{track}}"}', direction: 'increase', ...fields });
const series = (values: number[]): SeriesPoint[] => values.map((value, i) => ({ time: 1_700_000_000_000 + i * 30_000, value }));

// Deterministic, evenly spread samples: no randomness needed for the decision rules.
const spread = (centre: number, n = 20, width = 0.2) => Array.from({ length: n }, (_, i) => centre * (1 - width / 2 + (width * i) / (n - 1)));

describe('statistical judge: one check', () => {
  it('fails a canary whose values are clearly higher by more than allowedIncrease', () => {
    const j = judgeSamples(check({ allowedIncrease: 0.05 }), series(spread(0.23)), series(spread(0.2)), 0.05);
    expect(j.decision).toBe('fail');
    expect(j.meanRatio).toBeCloseTo(1.15, 10);
    expect(j.test!.p).toBeLessThan(0.05);
    expect(j.reason).toMatch(
      /^canary is higher: mean ×1\.15 > allowed ×1\.05 and significant \(p .* < α 0\.05\) — canary n 20, median 0\.23, p90 .*; stable n 20, median 0\.2, p90 .*; U \d+ \(exact p\); median ×1\.15$/,
    );
  });

  it('passes a significant increase that stays within allowedIncrease', () => {
    const j = judgeSamples(check({ allowedIncrease: 0.2 }), series(spread(0.23)), series(spread(0.2)), 0.05);
    expect(j.decision).toBe('pass');
    expect(j.reason).toMatch(/^a significant difference within tolerance \(mean ×1\.15, p [\de.-]+\)/);
  });

  it('passes a large difference that is not significant', () => {
    const noisy = [0.1, 0.9, 0.2, 0.8, 0.15, 0.85, 0.3, 0.7, 0.25, 0.75, 0.4, 0.6];
    const j = judgeSamples(check({}), series(noisy.map((v) => v * 1.1)), series(noisy), 0.05);
    expect(j.test!.p).toBeGreaterThan(0.05);
    expect(j.decision).toBe('pass');
  });

  it('ignores an improvement when only an increase is bad, and catches it when either direction is', () => {
    const better = series(spread(0.1));
    const stable = series(spread(0.2));
    expect(judgeSamples(check({ direction: 'increase' }), better, stable, 0.05).decision).toBe('pass');
    expect(judgeSamples(check({ direction: 'either', allowedDecrease: 0.1 }), better, stable, 0.05).decision).toBe('fail');
    expect(judgeSamples(check({ direction: 'decrease', allowedDecrease: 0.1 }), better, stable, 0.05).reason).toMatch(/canary is lower: mean ×0\.5 < allowed ×0\.9/);
  });

  it('still holds the threshold limits of a check, on the bake means, significant or not', () => {
    const ceiling = judgeSamples(check({ direction: 'either', max: 0.2 }), series(spread(0.21)), series(spread(0.21)), 0.05);
    expect(ceiling.decision).toBe('fail');
    expect(ceiling.reason).toMatch(/^on the bake's means, canary 0\.21 > max 0\.2 — /);
    expect(judgeSamples(check({ maxRatio: 1.1 }), series(spread(0.23)), series(spread(0.2)), 0.05).reason).toMatch(/canary \/ stable = 1\.15 > maxRatio 1\.1/);
    expect(judgeSamples(check({ max: 1, allowedIncrease: 0.5 }), series(spread(0.23)), series(spread(0.2)), 0.05).decision).toBe('pass');
    expect(describeStatisticalLimit(check({ max: 1, maxRatio: 1.2 }), 0.05)).toBe('Mann-Whitney (increase, α 0.05): mean ≤ +0%; mean ≤ 1; canary / stable ≤ 1.2');
  });

  it('is inconclusive with too few points and says how many more are needed, never a pass', () => {
    const j = judgeSamples(check({}), series(spread(0.2, 6)), series(spread(0.2, 20)), 0.05);
    expect(j.decision).toBe('too-few-points');
    expect(j.missing).toEqual({ canary: MIN_POINTS - 6, stable: 0 });
    expect(j.reason).toBe(
      `too few points to compare: canary 6, stable 20; the test needs ${MIN_POINTS} on each side, ${MIN_POINTS - 6} more canary (bake longer or measure more often)`,
    );
  });

  it('removes NaN or counts it as 0, as nanStrategy says, and always leaves out infinities', () => {
    const points = series([0.1, Number.NaN, 0.3, Number.POSITIVE_INFINITY]);
    expect(cleanPoints(points, 'remove')).toEqual({ values: [0.1, 0.3], dropped: 2 });
    expect(cleanPoints(points, 'replace')).toEqual({ values: [0.1, 0, 0.3], dropped: 1 });
    // NaN removed until too few points remain: inconclusive, naming what was left out.
    const withNaN = series([...spread(0.2, 8), Number.NaN, Number.NaN, Number.NaN]);
    const removed = judgeSamples(check({ nanStrategy: 'remove' }), withNaN, series(spread(0.2)), 0.05);
    expect(removed.decision).toBe('too-few-points');
    expect(removed.reason).toMatch(/left out: 3 canary and 0 stable NaN\/Inf points/);
    // Replaced by 0, an error ratio of "no errors" counts as data.
    const errorRatio = (v: number[]) => series(v);
    const replaced = judgeSamples(check({ nanStrategy: 'replace' }), errorRatio([...spread(0.01, 8), Number.NaN, Number.NaN]), errorRatio(spread(0.01, 10)), 0.05);
    expect(replaced.canary!.n).toBe(10);
  });

  it('describes the limit for the report', () => {
    expect(describeStatisticalLimit(check({ allowedIncrease: 0.1, critical: true }), 0.05)).toBe('Mann-Whitney (increase, α 0.05): mean ≤ +10%; critical');
    expect(describeStatisticalLimit(check({ direction: 'either', allowedIncrease: 0.1, allowedDecrease: 0.2, weight: 3 }), 0.01)).toBe(
      'Mann-Whitney (either, α 0.01): mean ≤ +10%, mean ≥ −20%; weight 3',
    );
  });
});

describe('statistical judge: score and verdict', () => {
  const judged = (name: string, decision: CheckJudgement['decision'], fields: Record<string, unknown> = {}): CheckJudgement => ({
    check: check({ name, ...fields }),
    decision,
    reason: `${name} ${decision}`,
  });
  const bands = { pass: 95, marginal: 75 };

  it('passes when every check passes', () => {
    expect(scoreChecks([judged('a', 'pass'), judged('b', 'pass')], bands)).toMatchObject({ verdict: 'pass', score: 100 });
  });

  it('weighs checks: a light failure can leave the score marginal, a heavy one fails it', () => {
    const marginal = scoreChecks([judged('a', 'pass', { weight: 9 }), judged('b', 'fail', { weight: 1 }), judged('c', 'pass', { weight: 2 })], bands);
    expect(marginal.verdict).toBe('inconclusive');
    expect(marginal.score).toBeCloseTo((100 * 11) / 12, 10);
    expect(marginal.reason).toMatch(/^marginal: score 91\.67 is below pass 95 and at least marginal 75 \(failed: b\)/);
    expect(scoreChecks([judged('a', 'pass', { weight: 1 }), judged('b', 'fail', { weight: 1 })], bands)).toMatchObject({ verdict: 'fail', score: 50 });
  });

  it('fails the whole gate on a failing critical check whatever the score', () => {
    const r = scoreChecks([...Array.from({ length: 30 }, (_, i) => judged(`ok${i}`, 'pass')), judged('errors', 'fail', { critical: true })], bands);
    expect(r.verdict).toBe('fail');
    expect(r.reason).toMatch(/^critical check errors failed/);
  });

  it('is inconclusive, never a pass, while a check lacks data', () => {
    const r = scoreChecks([judged('a', 'pass'), judged('b', 'too-few-points')], bands);
    expect(r.verdict).toBe('inconclusive');
    expect(r.reason).toMatch(/never a pass: check b: b too-few-points/);
    expect(scoreChecks([judged('a', 'pass'), judged('b', 'no-data')], bands).verdict).toBe('inconclusive');
  });

  it('fails when the score stays below marginal even if the open checks all passed', () => {
    const r = scoreChecks([judged('a', 'fail'), judged('b', 'fail'), judged('c', 'too-few-points')], bands);
    expect(r.verdict).toBe('fail');
  });

  it('leaves out checks without data that may lack it, but never passes on nothing', () => {
    expect(scoreChecks([judged('a', 'pass'), judged('five-xx', 'no-data-ignored', { mustHaveData: false })], bands)).toMatchObject({ verdict: 'pass', score: 100 });
    expect(scoreChecks([judged('five-xx', 'no-data-ignored', { mustHaveData: false })], bands).verdict).toBe('inconclusive');
  });

  it('reports a backend error as an error, not a pass', () => {
    expect(scoreChecks([judged('a', 'pass'), judged('b', 'error')], bands).verdict).toBe('error');
  });
});

describe('statistical judge: plan validation', () => {
  it('rejects a check with only a direction under the threshold judge, which could never fail it', () => {
    const plan = { checks: [{ name: 'latency', query: 'q{track="{{track}}"}', direction: 'increase' }] };
    const threshold = analysisSchema.safeParse(plan);
    expect(threshold.success).toBe(false);
    expect(threshold.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([
      [
        'checks.0',
        expect.stringMatching(
          /^expected a threshold limit \(max, min, .*\) with judge: threshold, or judge: mann-whitney or paired for direction and allowedIncrease\/allowedDecrease alone/,
        ),
      ],
    ]);
    expect(analysisSchema.safeParse({ ...plan, judge: 'mann-whitney' }).success).toBe(true);
  });
});
