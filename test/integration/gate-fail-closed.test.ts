// What must never happen: a gate passing a canary that is not serving. Real Prometheus, real
// services; the canary that dies is a real process killed with SIGKILL mid-bake.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { systemClock } from '../../src/core/clock.js';
import { runGate } from '../../src/core/analysis/gate.js';
import { renderGateSummary } from '../../src/core/analysis/summary.js';
import { createMetricsProvider } from '../../src/core/metrics/index.js';
import { analysisSchema, metricsSchema } from '../../src/core/plan/schema.js';
import { startLoad } from '../../harness/load.js';
import { parseMermaid } from '../../harness/mermaid.js';
import { requireBinary, startProcess, tempDir, waitFor, type ManagedProcess } from '../../harness/process.js';
import { startPrometheus, waitForSeries, type PrometheusServer } from '../../harness/prometheus.js';
import { startSampleService, type SampleService } from '../../harness/sample-service.js';

const haveProm = requireBinary('prometheus', 'prometheus');
const describeIf = haveProm ? describe : describe.skip;

/** The error-rate idiom the docs teach: 0 until the first 5xx, no data only when there is no traffic at all. */
const ERROR_RATE =
  '(sum(rate(http_requests_total{service="orders",track="{{track}}",status=~"5.."}[{{window}}])) or vector(0)) / sum(rate(http_requests_total{service="orders",track="{{track}}"}[{{window}}]))';
const NAIVE_ERROR_RATE =
  'sum(rate(http_requests_total{service="orders",track="{{track}}",status=~"5.."}[{{window}}])) / sum(rate(http_requests_total{service="orders",track="{{track}}"}[{{window}}]))';
const MEAN_LATENCY =
  'sum(rate(http_request_duration_seconds_sum{service="orders",track="{{track}}"}[{{window}}])) / sum(rate(http_request_duration_seconds_count{service="orders",track="{{track}}"}[{{window}}]))';
const REQUESTS = 'sum(increase(http_requests_total{service="orders",track="{{track}}"}[{{window}}]))';

describeIf('the gate fails closed when the canary vanishes (real Prometheus)', () => {
  let stable: SampleService;
  let quietCanary: SampleService;
  let canaryProcess: ManagedProcess;
  let canaryPort: number;
  let prometheus: PrometheusServer;
  const loads: ReturnType<typeof startLoad>[] = [];
  const dir = tempDir('rollgate-fail-closed-');

  beforeAll(async () => {
    // Stable as most apps are: no 500 series until the first 5xx.
    stable = await startSampleService({ track: 'stable', version: 'v1', behaviour: { latencyMs: 10 }, seed: 1, precreateErrorSeries: false });
    // A canary that is up and scraped but gets no requests (weight 0), under another service name.
    quietCanary = await startSampleService({ service: 'quiet', track: 'canary', version: 'v2', behaviour: { latencyMs: 10 }, seed: 3, precreateErrorSeries: false });
    const quietStable = await startSampleService({ service: 'quiet', track: 'stable', version: 'v1', behaviour: { latencyMs: 10 }, seed: 4 });
    canaryProcess = startProcess('canary', process.execPath, ['--import', 'tsx', 'harness/sample-service-process.ts', 'canary', 'v2', '10'], { logDir: dir.path });
    await waitFor('the canary process to listen', async () => /listening \d+/.test(canaryProcess.log()), 30_000);
    canaryPort = Number(/listening (\d+)/.exec(canaryProcess.log())?.[1]);
    loads.push(startLoad(`${stable.url}/orders`, 30), startLoad(`http://127.0.0.1:${canaryPort}/orders`, 30), startLoad(`${quietStable.url}/orders`, 30));
    prometheus = await startPrometheus({
      targets: [`127.0.0.1:${stable.port}`, `127.0.0.1:${canaryPort}`, `127.0.0.1:${quietCanary.port}`, `127.0.0.1:${quietStable.port}`],
      scrapeInterval: '1s',
      waitForQuery: 'sum(rate(http_requests_total{service="orders",track="canary"}[5s])) > 0 and sum(rate(http_requests_total{service="orders",track="stable"}[5s])) > 0',
    });
    await waitForSeries(prometheus.url, 'sum(rate(http_requests_total{service="quiet",track="stable"}[5s])) > 0');
    afterCleanup.push(() => quietStable.close());
  }, 90_000);
  const afterCleanup: (() => Promise<void>)[] = [];

  afterAll(async () => {
    await Promise.all(loads.map((l) => l.stop()));
    await canaryProcess?.stop();
    await prometheus?.stop();
    await stable?.close();
    await quietCanary?.close();
    for (const c of afterCleanup) await c();
    dir.remove();
  });

  const provider = () => createMetricsProvider(metricsSchema.parse({ provider: 'prometheus', address: prometheus.url, timeout: '2s', retries: 0 }), { clock: systemClock });

  it('passes a healthy canary that has served no 5xx yet with the documented error-rate idiom, and explains the naive one', async () => {
    const analysis = (query: string) =>
      analysisSchema.parse({ interval: '2s', window: '4s', bake: '6s', requests: REQUESTS, checks: [{ name: 'error-rate', query, max: 0.05, maxIncrease: 0.01 }] });
    const good = await runGate({ analysis: analysis(ERROR_RATE), provider: provider(), clock: systemClock });
    expect(good.verdict).toBe('pass');
    const lines: string[] = [];
    const naive = await runGate({ analysis: analysis(NAIVE_ERROR_RATE), provider: provider(), clock: systemClock, log: (l) => lines.push(l) });
    expect(naive.verdict).toBe('inconclusive');
    expect(lines.join('\n')).toMatch(/the query returned no series while canary served [\d.]+ requests — a numerator with no series yet/);
    expect(renderGateSummary(naive)).toMatch(/a numerator with no series yet/);
  }, 60_000);

  it('never passes a canary that gets no requests, under the threshold, mann-whitney and paired judges', async () => {
    const quiet = (q: string) => q.replaceAll('service="orders"', 'service="quiet"');
    const threshold = await runGate({
      analysis: analysisSchema.parse({
        interval: '2s',
        window: '4s',
        bake: '6s',
        requests: quiet(REQUESTS),
        checks: [{ name: 'error-rate', query: quiet(ERROR_RATE), max: 0.05 }],
      }),
      provider: provider(),
      clock: systemClock,
    });
    expect(threshold.verdict).toBe('fail');
    expect(threshold.reason).toMatch(/the canary has no traffic now: the canary served 0 requests/);
    // The statistical judge's error-ratio check exactly as the docs once wrote it: NaN replaced by 0.
    const statistical = await runGate({
      analysis: analysisSchema.parse({
        judge: 'mann-whitney',
        interval: '1s',
        bake: '12s',
        checks: [{ name: 'error-rate', query: quiet(NAIVE_ERROR_RATE).replace(/\) \/ sum/, ') / sum'), direction: 'increase', nanStrategy: 'replace' }],
      }),
      provider: provider(),
      clock: systemClock,
    });
    expect(statistical.verdict).not.toBe('pass');
    const paired = await runGate({
      analysis: analysisSchema.parse({
        judge: 'paired',
        interval: '2s',
        bake: '12s',
        requests: quiet(REQUESTS),
        checks: [{ name: 'latency', query: quiet(MEAN_LATENCY), allowedIncrease: 0.1 }],
      }),
      provider: provider(),
      clock: systemClock,
    });
    expect(paired.verdict).toBe('fail');
    expect(paired.reason).toMatch(/no traffic now/);
  }, 90_000);

  it('fails, whatever passed before, when the canary process is killed mid-bake; the summary still charts it', async () => {
    const gate = runGate({
      analysis: analysisSchema.parse({
        interval: '2s',
        window: '3s',
        bake: '30s',
        requests: REQUESTS,
        checks: [{ name: 'error-rate', query: ERROR_RATE, max: 0.05, maxIncrease: 0.01 }],
      }),
      provider: provider(),
      clock: systemClock,
    });
    await new Promise((r) => setTimeout(r, 11_000));
    const killedAt = Date.now();
    await canaryProcess.stop('SIGKILL');
    const report = await gate;
    expect(report.verdict).toBe('fail');
    expect(report.reason).toMatch(/^the canary lost its traffic mid-bake: the canary served 0 requests in the latest window/);
    expect(report.measurements.filter((m) => m.outcome === 'pass').length).toBeGreaterThanOrEqual(3);
    // It ends soon after the kill, not at the end of the bake.
    expect(report.endedAt - killedAt).toBeLessThan(15_000);
    const charts = [...renderGateSummary(report).matchAll(/```mermaid\n([\s\S]*?)```/g)].map((m) => m[1] as string);
    expect(charts).toHaveLength(1);
    expect((await parseMermaid(charts)).every((p) => p.ok)).toBe(true);
  }, 90_000);
});
