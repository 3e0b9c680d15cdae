import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FakeClock } from '../../src/core/clock.js';
import { runGate } from '../../src/core/analysis/gate.js';
import { pairedTests, standing } from '../../src/core/analysis/paired.js';
import { confidenceSequence, mixtureFor, mixtureRadius, oneSidedMixtureRadius, studentQuantile } from '../../src/core/analysis/sequential.js';
import { wilcoxonSignedRank } from '../../src/core/analysis/signed-rank.js';
import type { Alternative, PValueMethod } from '../../src/core/analysis/mann-whitney.js';
import type { MetricsProvider } from '../../src/core/metrics/provider.js';
import { analysisSchema, checkSchema, type AnalysisConfig } from '../../src/core/plan/schema.js';
import { DEFAULT_NOISE, seededRandom, simulatedPair, type NoiseModel } from '../../harness/simulated-pair.js';

const reference = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'signed-rank-reference.json'), 'utf8')) as {
  tests: { name: string; x?: number[]; y?: number[]; d?: number[]; alternative: Alternative; method: PValueMethod; v: number; p: number }[];
};

describe('Wilcoxon signed-rank test', () => {
  it.each(reference.tests.map((t) => [t.name, t] as const))('matches the published value: %s', (_name, t) => {
    const d = t.d ?? (t.x ?? []).map((x, i) => x - (t.y?.[i] ?? 0));
    const r = wilcoxonSignedRank(d, t.alternative);
    expect(r.method).toBe(t.method);
    expect(r.v).toBe(t.v);
    expect(r.p).toBeCloseTo(t.p, 6);
  });

  it('leaves zeros out as R does, and refuses NaN', () => {
    expect(wilcoxonSignedRank([0, 0, 1, 2, 3], 'greater')).toMatchObject({ n: 3, zeros: 2, v: 6, method: 'normal' });
    expect(() => wilcoxonSignedRank([1, Number.NaN])).toThrow(/finite/);
  });
});

describe('confidence sequence', () => {
  it('uses the one-sided mixture: narrower than the two-sided boundary at α, wider than the two-sided one at 2α', () => {
    for (const n of [5, 10, 30, 100]) {
      const rho2 = mixtureFor(20, 0.05);
      expect(oneSidedMixtureRadius(n, 0.05, rho2)).toBeLessThan(mixtureRadius(n, 0.05, rho2));
      expect(oneSidedMixtureRadius(n, 0.05, rho2)).toBeGreaterThanOrEqual(mixtureRadius(n, 0.1, rho2) * 0.999);
    }
    // Student's t against R's qt(0.95, 4) = 2.131847 and qt(0.975, 10) = 2.228139.
    expect(studentQuantile(0.95, 4)).toBeCloseTo(2.131847, 2);
    expect(studentQuantile(0.975, 10)).toBeCloseTo(2.228139, 3);
  });

  it('keeps its lower bound below the true mean at every look at once, in at least 95% of 2,000 seeded normal paths', () => {
    const random = seededRandom(11);
    const gauss = () => Math.sqrt(-2 * Math.log(Math.max(random(), 1e-12))) * Math.cos(2 * Math.PI * random());
    let crossed = 0;
    const rho2 = mixtureFor(30, 0.05);
    for (let path = 0; path < 2000; path++) {
      const d: number[] = [];
      for (let n = 1; n <= 30; n++) {
        d.push(gauss());
        if (n >= 5 && confidenceSequence(d, 0.05, rho2).lower > 0) {
          crossed++;
          break;
        }
      }
    }
    expect(crossed / 2000).toBeLessThanOrEqual(0.05);
  });

  it('widens for positively autocorrelated differences', () => {
    const drifting = [0.1, 0.12, 0.15, 0.13, 0.1, 0.05, 0.02, 0.0, 0.03, 0.06];
    const cs = confidenceSequence(drifting, 0.05, mixtureFor(10, 0.05));
    expect(cs.autocorrelation).toBeGreaterThan(0.3);
    const shuffled = confidenceSequence([0.1, 0.0, 0.15, 0.02, 0.12, 0.05, 0.13, 0.03, 0.1, 0.06], 0.05, mixtureFor(10, 0.05));
    expect(cs.upper - cs.lower).toBeGreaterThan(shuffled.upper - shuffled.lower);
  });
});

describe('paired tests of a check', () => {
  const check = (fields: Record<string, unknown>) => checkSchema.parse({ name: 'latency', query: 'latency{track="{{track}}"}', ...fields });
  it('judges relative tolerances on the log-ratio and absolute ones on the difference', () => {
    expect(pairedTests(check({ allowedIncrease: 0.05 }))).toEqual([{ scale: 'log-ratio', up: Math.log1p(0.05) }]);
    expect(pairedTests(check({ maxIncrease: 0.01, maxRatio: 1.2, allowedIncrease: 0.1 }))).toEqual([
      { scale: 'log-ratio', up: Math.log1p(0.1) },
      { scale: 'difference', up: 0.01 },
    ]);
    expect(pairedTests(check({ direction: 'increase', allowedIncrease: 0.05, allowedDecrease: 0.05 }))).toEqual([{ scale: 'log-ratio', up: Math.log1p(0.05) }]);
  });
  it('fails only when the interval excludes no change and the estimate is beyond tolerance; passes when the interval is inside', () => {
    const test = { scale: 'log-ratio' as const, up: 0.05 };
    const cs = (mean: number, lower: number, upper: number) => ({ n: 10, mean, sd: 0.1, lower, upper, autocorrelation: 0 });
    expect(standing(test, cs(0.1, 0.01, 0.2))).toBe('fail');
    expect(standing(test, cs(0.04, 0.01, 0.08))).toBe('open');
    expect(standing(test, cs(0.1, -0.01, 0.2))).toBe('open');
    expect(standing(test, cs(0.0, -0.04, 0.045))).toBe('within');
    expect(standing(test, { ...cs(0.1, 0.05, 0.2), n: 4 })).toBe('open');
  });
  it('with failOn: beyond-tolerance fails only when the whole interval is beyond the tolerance', () => {
    const test = { scale: 'log-ratio' as const, up: 0.05, down: -0.05 };
    const cs = (mean: number, lower: number, upper: number) => ({ n: 10, mean, sd: 0.1, lower, upper, autocorrelation: 0 });
    expect(standing(test, cs(0.1, 0.01, 0.2), 'beyond-tolerance')).toBe('open');
    expect(standing(test, cs(0.1, 0.06, 0.2), 'beyond-tolerance')).toBe('fail');
    expect(standing(test, cs(-0.1, -0.2, -0.01), 'beyond-tolerance')).toBe('open');
    expect(standing(test, cs(-0.1, -0.2, -0.06), 'beyond-tolerance')).toBe('fail');
    expect(standing(test, cs(0.0, -0.04, 0.045), 'beyond-tolerance')).toBe('within');
  });
});

function paired(overrides: Record<string, unknown> = {}): AnalysisConfig {
  return analysisSchema.parse({
    interval: '2s',
    bake: '40s',
    judge: 'paired',
    requests: 'requests{track="{{track}}"}[{{window}}]',
    checks: [{ name: 'latency', query: 'latency{track="{{track}}"}[{{window}}]', direction: 'increase', allowedIncrease: 0.05 }],
    ...overrides,
  });
}

async function judge(config: AnalysisConfig, model: Partial<NoiseModel>, seed: number, provider?: MetricsProvider, weight?: number) {
  const clock = new FakeClock(0);
  const lines: string[] = [];
  const report = await runGate({
    analysis: config,
    provider: provider ?? simulatedPair({ ...DEFAULT_NOISE, spread: 0.3, ...model }, seed),
    clock,
    log: (l) => lines.push(l),
    weight,
  });
  return { report, lines, seconds: clock.now() / 1000 };
}

describe('paired judge', () => {
  it('fails a 15% latency regression under a shared ±25% load wave well before the bake ends', async () => {
    const { report, seconds } = await judge(paired(), { regression: 1.15 }, 3);
    expect(report.verdict).toBe('fail');
    expect(seconds).toBeLessThan(40);
    expect(report.reason).toMatch(/^check latency: a clear regression: canary\/stable \+\d+(\.\d+)?% \[\+[\d.]+%, \+[\d.]+%\] over \d+ windows; tolerance ≤ \+5%$/);
    expect(report.checks[0]).toMatchObject({ outcome: 'fail', details: { judge: 'paired' } });
  });

  it('holds the false-failure rate at alpha over 200 seeded A/A pairs looked at after every window', async () => {
    let failed = 0;
    for (let seed = 0; seed < 200; seed++) if ((await judge(paired(), { spread: 0.5 }, 1000 + seed)).report.verdict === 'fail') failed++;
    expect(failed / 200).toBeLessThanOrEqual(0.05);
  });

  it('holds alpha over 300 seeded A/A pairs whose load wanders slowly (a shared AR(1) load, ±30%, r 0.95 per second) as well as in waves', async () => {
    let failed = 0;
    for (let seed = 0; seed < 300; seed++)
      if ((await judge(paired({ bake: '60s' }), { wave: 0, sharedDrift: 0.3, sharedDriftCorrelation: 0.95 }, 4000 + seed)).report.verdict === 'fail') failed++;
    expect(failed / 300).toBeLessThanOrEqual(0.05);
  });

  it('with failOn: beyond-tolerance holds alpha when identical tracks drift apart on their own, and still catches a 15% regression with a longer bake', async () => {
    // Each track's latency wanders by 5% (AR(1), r 0.9 per second): the two tracks' difference
    // often exceeds the 5% tolerance within a bake, a real difference no bake can tell from a regression.
    const drift = { drift: 0.05, driftCorrelation: 0.9 };
    let significant = 0;
    let beyond = 0;
    let caught = 0;
    for (let seed = 0; seed < 200; seed++) {
      if ((await judge(paired({ bake: '60s' }), drift, 6000 + seed)).report.verdict === 'fail') significant++;
      if ((await judge(paired({ bake: '60s', failOn: 'beyond-tolerance' }), drift, 6000 + seed)).report.verdict === 'fail') beyond++;
      if ((await judge(paired({ bake: '120s', failOn: 'beyond-tolerance' }), { ...drift, regression: 1.15 }, 8000 + seed)).report.verdict === 'fail') caught++;
    }
    // The default rule is the one that breaks here, which is why the option exists.
    expect(significant / 200).toBeGreaterThan(0.05);
    expect(beyond / 200).toBeLessThanOrEqual(0.05);
    expect(caught / 200).toBeGreaterThanOrEqual(0.9);
  });

  it('names drift and the way out when a failure comes from slowly wandering differences', async () => {
    const drift = { drift: 0.08, driftCorrelation: 0.97 };
    let hinted: string | undefined;
    for (let seed = 0; seed < 100 && !hinted; seed++) {
      const { report } = await judge(paired({ bake: '60s' }), drift, 9000 + seed);
      if (report.verdict === 'fail' && report.reason.includes('drift')) hinted = report.reason;
    }
    expect(hinted).toMatch(
      /the differences drift from window to window \(lag-1 autocorrelation 0\.\d+\); if identical releases of this service wander apart like this, set analysis\.failOn: beyond-tolerance/,
    );
  });

  it('refuses failOn with another judge', () => {
    expect(() => paired({ judge: 'mann-whitney', failOn: 'beyond-tolerance' })).toThrow(/expected judge: paired with failOn/);
  });

  it('passes a healthy canary once its interval is within tolerance, but never before minBake', async () => {
    const early = await judge(paired({ bake: '60s' }), { spread: 0.2 }, 5);
    expect(early.report.verdict).toBe('pass');
    expect(early.report.reason).toMatch(/^every check within tolerance after \d+s/);
    expect(early.seconds).toBeLessThan(60);
    const floored = await judge(paired({ bake: '60s', minBake: '50s' }), { spread: 0.2 }, 5);
    expect(floored.report.verdict).toBe('pass');
    expect(floored.seconds).toBeGreaterThanOrEqual(50);
  });

  it('fails at once when the canary dies mid-bake, whatever it showed before', async () => {
    const { report, seconds } = await judge(paired({ bake: '60s', minBake: '60s' }), { canaryDiesAtS: 20 }, 7);
    expect(report.verdict).toBe('fail');
    expect(report.reason).toMatch(/^the canary lost its traffic mid-bake: the canary served 0 requests in the latest window/);
    expect(seconds).toBeLessThanOrEqual(26);
  });

  it('fails a canary starved from the first window (1% of requests) when its weight says 20%; without the weight its steady share looks normal', async () => {
    // 300 requests/s on stable, 3/s on the canary: every window holds enough canary requests to measure it.
    const starved = { rps: 300, spread: 0.1, canaryTraffic: 0.01 };
    const config = paired({ window: '4s' });
    const weighed = await judge(config, starved, 21, undefined, 20);
    expect(weighed.report.verdict).toBe('fail');
    expect(weighed.report.reason).toMatch(
      /^the canary lost its traffic: far fewer requests than its weight predicts in every window since the bake began: the canary served \d+ requests in the latest window where its weight 20% predicts about \d+/,
    );
    // Three windows confirm the loss; the gate does not wait out the bake.
    expect(weighed.seconds).toBeLessThanOrEqual(8);
    const unweighed = await judge(config, starved, 21);
    expect(unweighed.report.verdict).toBe('pass');
    expect(unweighed.report.reason).not.toMatch(/traffic/);
  });

  it('never passes a canary that got no requests', async () => {
    const { report } = await judge(paired(), { canaryDiesAtS: 0 }, 8);
    expect(report.verdict).toBe('fail');
    expect(report.reason).toMatch(/the canary has no traffic now/);
  });

  it('refuses a check without a tolerance and a query without {{track}}', () => {
    const parsed = analysisSchema.safeParse({ judge: 'paired', checks: [{ name: 'l', query: 'latency{track="{{track}}"}', direction: 'increase' }] });
    expect(parsed.error?.issues[0]?.message).toMatch(/^expected a tolerance for judge: paired/);
    expect(analysisSchema.safeParse({ judge: 'paired', checks: [{ name: 'l', query: 'latency', allowedIncrease: 0.1 }] }).error?.issues[0]?.path).toEqual(['checks', 0, 'query']);
    expect(
      analysisSchema.safeParse({ judge: 'paired', bake: '1m', minBake: '2m', checks: [{ name: 'l', query: 'l{track="{{track}}"}', allowedIncrease: 0.1 }] }).error?.issues[0]?.path,
    ).toEqual(['minBake']);
  });
});
