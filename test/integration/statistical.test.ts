import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FakeClock } from '../../src/core/clock.js';
import { runGate } from '../../src/core/analysis/gate.js';
import { renderGateSummary } from '../../src/core/analysis/summary.js';
import type { GateReport } from '../../src/core/analysis/report.js';
import { createMetricsProvider } from '../../src/core/metrics/index.js';
import { analysisSchema, metricsSchema } from '../../src/core/plan/schema.js';
import { runMetricsGateAction } from '../../src/core/rollout/metrics-gate.js';
import { MemoryRuntime } from '../../src/core/runtime.js';
import { requireBinary, tempDir } from '../../harness/process.js';
import { openMetricsText, type Sample } from '../../harness/openmetrics.js';
import { createBlocks, startPrometheus, type PrometheusServer } from '../../harness/prometheus.js';

// Deterministic request latencies written as TSDB blocks with promtool, then judged through a
// real Prometheus: the judge sees exactly what it would see in production, and every run of
// this test sees the same numbers.

const havePrometheus = requireBinary('prometheus', 'prometheus') && requireBinary('promtool', 'prometheus');
const describeIf = havePrometheus ? describe : describe.skip;

const SCRAPE_S = 5;
const BAKE_S = 15 * 60;
const REQUESTS_PER_SCRAPE = 50;
const AA_RUNS = 20;
/** Scrapes per load swing: one per 15 s window the judge samples, so its points are independent. */
const LOAD_EVERY = 3;
const LOAD_SIGMA = 0.1;
const REGRESSION_RUNS = 5;

/** A small seeded generator (mulberry32): the same seed gives the same traffic. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normal(random: () => number): number {
  // Box-Muller; 1 − u keeps the logarithm finite.
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/**
 * One track's request-duration summary counters: every scrape, 50 requests with log-normal
 * latencies (median 200 ms, σ 0.5), scaled by a load factor drawn per 15 s window (σ 0.1) so
 * windows are noisy the way real traffic is (a canary/stable ratio of single windows swings by
 * ±15%); `slowdown` scales every request (1.15 = a 15% regression).
 */
function trackSamples(scenario: string, track: string, seed: number, slowdown: number, t0: number): Sample[] {
  const random = seeded(seed);
  const samples: Sample[] = [];
  let count = 0;
  let sum = 0;
  let load = 1;
  for (let i = 0; i <= BAKE_S / SCRAPE_S; i++) {
    if (i % LOAD_EVERY === 0) load = Math.exp(LOAD_SIGMA * normal(random));
    if (i > 0)
      for (let r = 0; r < REQUESTS_PER_SCRAPE; r++) {
        count++;
        sum += 0.2 * Math.exp(0.5 * normal(random)) * load * slowdown;
      }
    const t = t0 + i * SCRAPE_S;
    const labels = `{scenario="${scenario}",track="${track}"}`;
    samples.push({ series: `app_request_duration_seconds_count${labels}`, value: count, time: t }, { series: `app_request_duration_seconds_sum${labels}`, value: sum, time: t });
  }
  return samples;
}

const MEAN_LATENCY =
  'sum(rate(app_request_duration_seconds_sum{scenario="{{scenario}}",track="{{track}}"}[{{window}}])) / sum(rate(app_request_duration_seconds_count{scenario="{{scenario}}",track="{{track}}"}[{{window}}]))';

/** The judge as a team would configure it: a 5% tolerance on mean latency, increases only. */
const statisticalAnalysis = (overrides: Record<string, unknown> = {}) =>
  analysisSchema.parse({
    judge: 'mann-whitney',
    interval: '15s',
    // The interval plus one scrape interval (5 s): every increment in exactly one window.
    window: '20s',
    bake: '15m',
    alpha: 0.05,
    checks: [{ name: 'mean-latency', query: MEAN_LATENCY, direction: 'increase', allowedIncrease: 0.05, critical: true }],
    ...overrides,
  });

describeIf('statistical judge on real Prometheus data', () => {
  let prometheus: PrometheusServer;
  let dir: ReturnType<typeof tempDir>;
  // Whole hours, four hours back: old enough to be stored blocks, young enough for retention.
  const t0 = Math.floor(Date.now() / 3_600_000) * 3600 - 4 * 3600;

  beforeAll(async () => {
    dir = tempDir('rollgate-statistical-');
    const samples: Sample[] = [];
    for (let run = 1; run <= AA_RUNS; run++) {
      // A/A: two identical versions, each with its own traffic.
      samples.push(...trackSamples(`aa-${run}`, 'stable', 1000 + run, 1, t0));
      samples.push(...trackSamples(`aa-${run}`, 'canary', 2000 + run, 1, t0));
    }
    for (let run = 1; run <= REGRESSION_RUNS; run++) {
      samples.push(...trackSamples(`slow-${run}`, 'stable', 3000 + run, 1, t0));
      samples.push(...trackSamples(`slow-${run}`, 'canary', 4000 + run, 1.15, t0));
    }
    createBlocks(openMetricsText(samples, { app_request_duration_seconds: 'summary' }), join(dir.path, 'tsdb'));
    prometheus = await startPrometheus({ dataDir: join(dir.path, 'tsdb') });
  }, 90_000);

  afterAll(async () => {
    await prometheus?.stop();
    dir?.remove();
  });

  async function judge(scenario: string, analysis = statisticalAnalysis()): Promise<GateReport> {
    const clock = new FakeClock(t0 * 1000);
    const provider = createMetricsProvider(metricsSchema.parse({ provider: 'prometheus', address: prometheus.url, retries: 0 }), { clock });
    return runGate({ analysis, provider, clock, vars: { scenario } });
  }

  it('catches a 15% latency regression that a 20% threshold misses', async () => {
    for (let run = 1; run <= REGRESSION_RUNS; run++) {
      // The threshold judge, on the bake's mean latency: 1.15 < maxRatio 1.2, so it passes.
      const threshold = await judge(
        `slow-${run}`,
        analysisSchema.parse({ judge: 'threshold', interval: '15m', window: '15m', bake: '15m', checks: [{ name: 'mean-latency', query: MEAN_LATENCY, maxRatio: 1.2 }] }),
      );
      expect([run, threshold.verdict]).toEqual([run, 'pass']);
      const ratio = threshold.checks[0]!.canary! / threshold.checks[0]!.stable!;
      expect(ratio).toBeGreaterThan(1.1);
      expect(ratio).toBeLessThan(1.2);

      const report = await judge(`slow-${run}`);
      expect([run, report.verdict]).toEqual([run, 'fail']);
      const details = report.checks[0]!.details!;
      expect(details.decision).toBe('fail');
      expect(details.p as number).toBeLessThan(0.001);
      expect(details.effectSize as number).toBeGreaterThan(1.1);
      expect(details.canaryN).toBe(60);
      expect(details.stableN).toBe(60);
      expect(report.score).toBe(0);
      expect(report.reason).toMatch(/^critical check mean-latency failed: canary is higher: mean ×1\.1\d* > allowed ×1\.05/);
    }
  });

  it('passes an A/A comparison of two identical versions in at least 19 of 20 seeded runs', async () => {
    const verdicts: string[] = [];
    for (let run = 1; run <= AA_RUNS; run++) verdicts.push((await judge(`aa-${run}`)).verdict);
    const passed = verdicts.filter((v) => v === 'pass').length;
    process.stdout.write(`A/A: ${passed} of ${AA_RUNS} passed (${verdicts.join(' ')})\n`);
    expect(verdicts.every((v) => v === 'pass' || v === 'fail')).toBe(true);
    expect(passed).toBeGreaterThanOrEqual(19);
  });

  it('shows per check n, median, p90, U, p, effect size and the decision in the job summary and the report', async () => {
    const report = await judge('slow-1');
    const check = report.checks[0]!;
    expect(check.details).toMatchObject({ decision: 'fail', direction: 'increase', pMethod: 'normal', alternative: 'greater', canaryN: 60, stableN: 60 });
    for (const key of ['canaryMedian', 'canaryP90', 'stableMedian', 'stableP90', 'u', 'p', 'effectSize', 'medianRatio']) expect(typeof check.details![key]).toBe('number');
    expect(check.canary).toBe(check.details!.canaryMedian);
    expect(check.limit).toBe('Mann-Whitney (increase, α 0.05): mean ≤ +5%; critical');
    const summary = renderGateSummary(report);
    expect(summary).toContain('score 0');
    expect(summary).toMatch(
      /mean ×1\.1\d* > allowed ×1\.05 and significant \(p [\de.-]+ < α 0\.05\) — canary n 60, median [\d.]+, p90 [\d.]+; stable n 60, median [\d.]+, p90 [\d.]+; U [\d.]+ \(normal p\); median ×1\.1/,
    );
    expect(summary).toContain('```mermaid');
    // The report output is JSON: it must survive a round trip with every number intact.
    expect(JSON.parse(JSON.stringify(report)).checks[0].details.u).toBe(check.details!.u);
  });

  it('runs as the metrics-gate action from a plan file: verdict, report output and job summary', async () => {
    const plan = join(dir.path, 'rollout.yml');
    writeFileSync(
      plan,
      [
        'service: orders',
        'environment: production',
        'metrics:',
        '  provider: prometheus',
        `  address: ${prometheus.url}`,
        'analysis:',
        '  judge: mann-whitney',
        '  interval: 15s',
        '  window: 15s',
        '  bake: 15m',
        '  checks:',
        '    - name: mean-latency',
        `      query: '${MEAN_LATENCY.replace(/\{\{scenario\}\}/g, 'slow-3')}'`,
        '      direction: increase',
        '      allowedIncrease: 0.05',
      ].join('\n'),
    );
    const runtime = new MemoryRuntime({ plan });
    const result = await runMetricsGateAction(runtime, { clock: new FakeClock(t0 * 1000) });
    expect(result.ok).toBe(false);
    expect(runtime.outputs.verdict).toBe('fail');
    const report = JSON.parse(runtime.outputs.report ?? '{}') as GateReport;
    expect(report.score).toBe(0);
    expect(report.checks[0]!.details).toMatchObject({ decision: 'fail', canaryN: 60, stableN: 60 });
    expect(runtime.summary).toMatch(/\| mean-latency \| [\d.]+ \| [\d.]+ \| Mann-Whitney \(increase, α 0\.05\): mean ≤ \+5% \| ❌ fail \| canary is higher/);
    expect(runtime.text()).toMatch(/statistical judge \(Mann-Whitney U, α 0\.05\): 1 check\(s\); baking 15m/);
  });

  it('is inconclusive with too few points and says how many more are needed', async () => {
    const report = await judge('aa-1', statisticalAnalysis({ interval: '1m', bake: '5m' }));
    expect(report.verdict).toBe('inconclusive');
    expect(report.reason).toMatch(
      /never a pass: check mean-latency: too few points to compare: canary 5, stable 5; the test needs 10 on each side, 5 more canary and 5 more stable/,
    );
    expect(report.score).toBe(0);
  });

  it('leaves out windows with fewer requests than minRequests, and says so', async () => {
    const requests = 'sum(increase(app_request_duration_seconds_count{scenario="{{scenario}}",track="{{track}}"}[{{window}}]))';
    // About 150 requests per 15 s window: all of them count at 100, none at 1000.
    const busy = await judge('slow-2', statisticalAnalysis({ requests, minRequests: 100 }));
    expect(busy.verdict).toBe('fail');
    expect(busy.checks[0]!.details).toMatchObject({ canaryN: 60, stableN: 60, canaryLowTraffic: 0, stableLowTraffic: 0 });
    const quiet = await judge('slow-2', statisticalAnalysis({ requests, minRequests: 1000 }));
    expect(quiet.verdict).toBe('inconclusive');
    expect(quiet.reason).toMatch(/too few points to compare: canary 0, stable 0; .* \(left out: 60 canary and 60 stable points below minRequests\)/);
  });

  it('treats a check without data as inconclusive unless the plan says data may be missing', async () => {
    const missing = { name: 'five-xx', query: 'sum(rate(app_errors_total{scenario="{{scenario}}",track="{{track}}"}[{{window}}]))', direction: 'increase' };
    const strict = await judge('aa-2', statisticalAnalysis({ checks: [{ name: 'mean-latency', query: MEAN_LATENCY, direction: 'increase', allowedIncrease: 0.05 }, missing] }));
    expect(strict.verdict).toBe('inconclusive');
    expect(strict.reason).toMatch(/check five-xx: no data for canary and stable over the bake window \(mustHaveData: true\); never a pass/);
    const lenient = await judge(
      'aa-2',
      statisticalAnalysis({
        checks: [
          { name: 'mean-latency', query: MEAN_LATENCY, direction: 'increase', allowedIncrease: 0.05 },
          { ...missing, mustHaveData: false },
        ],
      }),
    );
    expect(lenient.verdict).toBe('pass');
    expect(lenient.checks[1]!.reason).toMatch(/left out of the score \(mustHaveData: false\)/);
  });

  it('reports a query that matches several series, or that Prometheus rejects, as an error', async () => {
    const several = await judge(
      'aa-3',
      statisticalAnalysis({
        checks: [{ name: 'unaggregated', query: 'rate(app_request_duration_seconds_count{scenario="{{scenario}}",track=~"{{track}}|stable"}[{{window}}])', direction: 'either' }],
      }),
    );
    expect(several.verdict).toBe('error');
    expect(several.reason).toMatch(/2 series where one was expected/);
    const rejected = await judge(
      'aa-3',
      statisticalAnalysis({ checks: [{ name: 'typo', query: 'sum(rate(app_request_duration_seconds_count{track="{{track}}"[{{window}}]))', direction: 'either' }] }),
    );
    expect(rejected.verdict).toBe('error');
    expect(rejected.reason).toMatch(/check typo: prometheus: query rejected \(bad_data\)/);
  });

  it('reports an unreachable backend as an error, never a pass', async () => {
    const clock = new FakeClock(t0 * 1000);
    const provider = createMetricsProvider(metricsSchema.parse({ provider: 'prometheus', address: 'http://127.0.0.1:9', retries: 0, timeout: '1s' }), { clock });
    const report = await runGate({ analysis: statisticalAnalysis(), provider, clock, vars: { scenario: 'aa-1' } });
    expect(report.verdict).toBe('error');
    expect(report.reason).toMatch(/connection refused/);
  });
});
