import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FakeClock, systemClock } from '../../src/core/clock.js';
import { runGate } from '../../src/core/analysis/gate.js';
import { createMetricsProvider } from '../../src/core/metrics/index.js';
import { analysisSchema, metricsSchema } from '../../src/core/plan/schema.js';
import { runMetricsGateAction } from '../../src/core/rollout/metrics-gate.js';
import { MemoryRuntime } from '../../src/core/runtime.js';
import { startLoad } from '../../harness/load.js';
import { requireBinary, tempDir } from '../../harness/process.js';
import { createBlocks, startPrometheus, waitForSeries, type PrometheusServer } from '../../harness/prometheus.js';
import { startSampleService, type SampleService } from '../../harness/sample-service.js';

const haveProm = requireBinary('prometheus', 'prometheus') && requireBinary('promtool', 'prometheus');
const describeIf = haveProm ? describe : describe.skip;

const ERROR_RATE = {
  name: 'error-rate',
  query: '(sum(rate(http_requests_total{track="{{track}}",status=~"5.."}[{{window}}])) or vector(0)) / sum(rate(http_requests_total{track="{{track}}"}[{{window}}]))',
  max: 0.05,
  maxIncrease: 0.02,
};
const P99 = {
  name: 'p99-latency',
  query: 'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{track="{{track}}"}[{{window}}])))',
  maxRatio: 1.5,
};
const REQUESTS = 'sum(increase(http_requests_total{track="{{track}}"}[{{window}}]))';

function metrics(url: string, extra: Record<string, unknown> = {}) {
  return metricsSchema.parse({ provider: 'prometheus', address: url, timeout: '1s', retries: 0, ...extra });
}

describeIf('metrics-gate against a real Prometheus scraping two real services', () => {
  let stable: SampleService;
  let canary: SampleService;
  let prometheus: PrometheusServer;
  let stableLoad: ReturnType<typeof startLoad>;
  let canaryLoad: ReturnType<typeof startLoad> | undefined;

  beforeAll(async () => {
    stable = await startSampleService({ track: 'stable', version: 'v1', behaviour: { latencyMs: 10 }, seed: 1 });
    canary = await startSampleService({ track: 'canary', version: 'v2', behaviour: { latencyMs: 10 }, seed: 2 });
    stableLoad = startLoad(`${stable.url}/orders`, 40);
    canaryLoad = startLoad(`${canary.url}/orders`, 40);
    prometheus = await startPrometheus({
      targets: [`127.0.0.1:${stable.port}`, `127.0.0.1:${canary.port}`],
      scrapeInterval: '1s',
      waitForQuery: 'sum(rate(http_requests_total{track="canary"}[5s])) > 0 and sum(rate(http_requests_total{track="stable"}[5s])) > 0',
    });
  }, 60_000);

  afterAll(async () => {
    await canaryLoad?.stop();
    await stableLoad?.stop();
    await prometheus?.stop();
    await stable?.close();
    await canary?.close();
  });

  const gate = (overrides: Record<string, unknown>, provider = createMetricsProvider(metrics(prometheus.url))) =>
    runGate({
      analysis: analysisSchema.parse({ interval: '1s', bake: '4s', window: '5s', minRequests: 20, requests: REQUESTS, checks: [ERROR_RATE, P99], ...overrides }),
      provider,
      clock: systemClock,
    });

  it('passes a healthy canary', async () => {
    // p99 of a few hundred requests rests on a handful of them: on a loaded machine one stalled
    // request must not fail a healthy canary, so this case allows more spread than the slow one.
    const report = await gate({ failureLimit: 1, checks: [ERROR_RATE, { ...P99, maxRatio: 2.5 }] });
    expect(report.verdict).toBe('pass');
    expect(report.measurements).toHaveLength(8);
    const errorRate = report.checks.find((c) => c.name === 'error-rate');
    expect(errorRate).toMatchObject({ outcome: 'pass', canary: 0, stable: 0 });
    expect(report.measurements.every((m) => (m.canaryRequests ?? 0) >= 20)).toBe(true);
  });

  it('fails a canary answering 10% of requests with 5xx, before the bake is over', async () => {
    canary.behaviour.errorRate = 0.1;
    try {
      const started = Date.now();
      const report = await gate({ bake: '20s' });
      expect(report.verdict).toBe('fail');
      expect(report.reason).toMatch(/check error-rate failed/);
      expect(report.checks.find((c) => c.name === 'error-rate')?.outcome).toBe('fail');
      expect(Date.now() - started).toBeLessThan(19_000);
    } finally {
      canary.behaviour.errorRate = 0;
    }
  });

  it('fails a canary 3× slower at p99', async () => {
    canary.behaviour.latencyMs = 30;
    try {
      // Let the 5 s window fill with slow requests first, so the verdict does not hinge on timing.
      await new Promise((r) => setTimeout(r, 3000));
      const report = await gate({ bake: '10s', checks: [P99] });
      expect(report.verdict).toBe('fail');
      expect(report.reason).toMatch(/p99-latency.*canary \/ stable = [\d.]+ > maxRatio 1\.5/);
    } finally {
      canary.behaviour.latencyMs = 10;
    }
  });

  it('does not pass a canary that gets no traffic', async () => {
    await canaryLoad?.stop();
    canaryLoad = undefined;
    // The window must hold no canary request at all.
    await new Promise((r) => setTimeout(r, 6000));
    const report = await gate({ bake: '3s' });
    // A canary without traffic now is never a pass, and not merely inconclusive (onInconclusive: pass would promote it).
    expect(report.verdict).toBe('fail');
    expect(report.reason).toMatch(/the canary has no traffic now: the canary served 0 requests in the latest window/);
    // Without minRequests the ratio itself is 0/0: NaN, named, never a number.
    const bare = await gate({ bake: '2s', minRequests: 0, requests: undefined });
    expect(bare.verdict).toBe('inconclusive');
    expect(bare.reason).toMatch(/canary: NaN/);
  });

  it('ends in error, never pass, when Prometheus stops mid-bake', async () => {
    canaryLoad = startLoad(`${canary.url}/orders`, 40);
    await waitForSeries(prometheus.url, 'sum(rate(http_requests_total{track="canary"}[2s])) > 0');
    const stopping = new Promise<void>((resolve) => setTimeout(() => void prometheus.stop().then(resolve), 2500));
    const report = await gate({ bake: '30s', consecutiveErrorLimit: 2, minRequests: 0, requests: undefined, checks: [ERROR_RATE] });
    await stopping;
    expect(report.verdict).toBe('error');
    // Mid-shutdown a query may be reset or refused; once Prometheus is gone it is refused.
    expect(report.reason).toMatch(
      /3 metrics errors in a row, more than consecutiveErrorLimit 2 allows: prometheus: GET http:\/\/127\.0\.0\.1:\d+\/api\/v1\/query: (connection refused|connection reset|HTTP 503)/,
    );
    expect(report.measurements.some((m) => m.outcome === 'pass')).toBe(true);
    expect(report.endedAt - report.startedAt).toBeLessThan(20_000);
  });
});

describeIf('metrics-gate on a deterministic data set (promtool blocks)', () => {
  // Every 15 s for 20 minutes: stable answers 1% errors throughout; the canary 1% for ten
  // minutes, then 10%.
  const STEP = 15;
  const t0 = Math.floor(Date.now() / 1000 / 3600) * 3600 - 3 * 3600;
  let prometheus: PrometheusServer;
  let dir: ReturnType<typeof tempDir>;

  beforeAll(async () => {
    dir = tempDir('rollgate-blocks-');
    const lines = ['# HELP http_requests Requests served', '# TYPE http_requests counter'];
    const totals: Record<string, number> = {};
    const samples: string[] = [];
    for (let i = 0; i <= (20 * 60) / STEP; i++) {
      const t = t0 + i * STEP;
      for (const track of ['stable', 'canary']) {
        const bad = track === 'canary' && i * STEP > 10 * 60;
        for (const [status, inc] of [
          ['200', bad ? 900 : 990],
          ['500', bad ? 100 : 10],
        ] as const) {
          const key = `${track}/${status}`;
          totals[key] = (totals[key] ?? 0) + (i === 0 ? 0 : inc);
          samples.push(`http_requests_total{track="${track}",status="${status}"} ${totals[key]} ${t}`);
        }
      }
    }
    // OpenMetrics wants each series' samples together.
    samples.sort((a, b) => a.split(' ')[0]!.localeCompare(b.split(' ')[0]!) || Number(a.split(' ')[2]) - Number(b.split(' ')[2]));
    createBlocks(`${[...lines, ...samples].join('\n')}\n`, join(dir.path, 'tsdb'));
    prometheus = await startPrometheus({ dataDir: join(dir.path, 'tsdb') });
  }, 60_000);

  afterAll(async () => {
    await prometheus?.stop();
    dir?.remove();
  });

  const at = (minutes: number) => new FakeClock((t0 + minutes * 60) * 1000);
  const simpleErrorRate = {
    name: 'error-rate',
    query: 'sum(rate(http_requests_total{track="{{track}}",status=~"5.."}[{{window}}])) / sum(rate(http_requests_total{track="{{track}}"}[{{window}}]))',
    max: 0.05,
    maxIncrease: 0.01,
  };

  it('measures exact values and fails at the first window of the bad release', async () => {
    const clock = at(6);
    const report = await runGate({
      analysis: analysisSchema.parse({ interval: '1m', bake: '10m', checks: [simpleErrorRate] }),
      provider: createMetricsProvider(metrics(prometheus.url), { clock }),
      clock,
    });
    expect(report.verdict).toBe('fail');
    const values = report.measurements.map((m) => [m.round, m.outcome, Number(m.canary?.toFixed(6)), Number(m.stable?.toFixed(6))]);
    expect(values.slice(0, 4)).toEqual([
      [1, 'pass', 0.01, 0.01],
      [2, 'pass', 0.01, 0.01],
      [3, 'pass', 0.01, 0.01],
      [4, 'pass', 0.01, 0.01],
    ]);
    expect(values.at(-1)?.[1]).toBe('fail');
    expect(report.measurements.at(-1)?.round).toBeLessThanOrEqual(6);
    expect(report.measurements.length).toBeLessThan(10);
  });

  it('passes the same release judged before it went bad', async () => {
    const clock = at(2);
    const report = await runGate({
      analysis: analysisSchema.parse({ interval: '1m', bake: '5m', checks: [simpleErrorRate] }),
      provider: createMetricsProvider(metrics(prometheus.url), { clock }),
      clock,
    });
    expect(report.verdict).toBe('pass');
    expect(report.measurements.every((m) => Math.abs((m.canary ?? 0) - 0.01) < 1e-9)).toBe(true);
  });

  it('names a query without sum() as several series, and a metric that does not exist as no data', async () => {
    const clock = at(5);
    const report = await runGate({
      analysis: analysisSchema.parse({
        interval: '1m',
        bake: '2m',
        consecutiveErrorLimit: 5,
        checks: [
          { name: 'unsummed', query: 'rate(http_requests_total{track="{{track}}"}[{{window}}])', max: 1000 },
          { name: 'typo', query: 'sum(rate(http_requests_totl{track="{{track}}"}[{{window}}]))', max: 1 },
        ],
      }),
      provider: createMetricsProvider(metrics(prometheus.url), { clock }),
      clock,
    });
    // A query that can never give one number is broken, not inconclusive.
    expect(report.verdict).toBe('error');
    expect(report.reason).toMatch(/check unsummed: every one of 2 measurement\(s\) ended in an error: canary: 2 series where one was expected/);
    expect(report.checks.find((c) => c.name === 'typo')).toMatchObject({ outcome: 'inconclusive', reason: 'no conclusive passing measurement in 2 (2× canary: no data)' });
    expect(report.measurements.find((m) => m.check === 'unsummed')?.canaryOutcome).toBe('2 series (expected 1)');
  });

  it('reports a query Prometheus rejects with its own message', async () => {
    const clock = at(5);
    const report = await runGate({
      analysis: analysisSchema.parse({
        interval: '1m',
        bake: '2m',
        consecutiveErrorLimit: 0,
        checks: [{ name: 'broken', query: 'sum(rate(http_requests_total{track="{{track}}"}[{{window}}])', max: 1 }],
      }),
      provider: createMetricsProvider(metrics(prometheus.url), { clock }),
      clock,
    });
    expect(report.verdict).toBe('error');
    expect(report.reason).toMatch(/prometheus: query rejected \(bad_data\): .*parse error/);
  });

  it('runs as the action from a plan file, with inputs overriding the bake', async () => {
    const plan = join(dir.path, 'rollout.yml');
    writeFileSync(
      plan,
      [
        'service: orders',
        'environment: production',
        'metrics:',
        '  provider: prometheus',
        '  address: http://127.0.0.1:1',
        'analysis:',
        '  interval: 1m',
        '  bake: 30m',
        '  checks:',
        '    - name: error-rate',
        `      query: '${simpleErrorRate.query}'`,
        '      maxIncrease: 0.01',
      ].join('\n'),
    );
    const runtime = new MemoryRuntime({ plan, 'prometheus-url': prometheus.url, bake: '3m' });
    const clock = at(2);
    const result = await runMetricsGateAction(runtime, { clock });
    expect(result).toEqual({ ok: true });
    expect(runtime.outputs.verdict).toBe('pass');
    const report = JSON.parse(runtime.outputs.report ?? '{}') as { measurements: unknown[] };
    expect(report.measurements).toHaveLength(3);
    expect(runtime.summary).toContain('| error-rate | 0.01 | 0.01 | canary − stable ≤ 0.01 | ✅ pass |');
    expect(runtime.text()).toContain('measurement 3/3: error-rate canary 0.01 stable 0.01 → pass');
  });
});
