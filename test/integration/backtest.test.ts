import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { counterSamples, openMetricsText } from '../../harness/openmetrics.js';
import { requireBinary, tempDir } from '../../harness/process.js';
import { createBlocks, startPrometheus, type PrometheusServer } from '../../harness/prometheus.js';
import { runBacktest } from '../../src/core/analysis/backtest.js';
import { runGate } from '../../src/core/analysis/gate.js';
import { FakeClock } from '../../src/core/clock.js';
import { LedgerDeploymentRecords } from '../../src/core/github/ledger.js';
import { createMetricsProvider } from '../../src/core/metrics/index.js';
import { analysisSchema, metricsSchema, type AnalysisConfig } from '../../src/core/plan/schema.js';
import { runBacktestAction } from '../../src/core/rollout/backtest.js';
import { MemoryRuntime } from '../../src/core/runtime.js';

// A recorded incident: 40 minutes of a stable and a canary release's counters, every 5 s,
// backfilled with promtool. At minute 20 the canary's errors go from 1% to 10%.

const describeIf = requireBinary('prometheus', 'prometheus') && requireBinary('promtool', 'prometheus') ? describe : describe.skip;

const STEP = 5;
const T0 = Math.floor(Date.now() / 3_600_000) * 3600 - 3 * 3600;
const INCIDENT = T0 + 20 * 60;
const END = T0 + 40 * 60;
const ms = (s: number) => s * 1000;

const ERROR_RATE = 'sum(rate(http_requests_total{track="{{track}}",status=~"5.."}[{{window}}])) / sum(rate(http_requests_total{track="{{track}}"}[{{window}}]))';
const analysisRaw = {
  interval: '30s',
  window: '1m',
  bake: '5m',
  minRequests: 50,
  requests: 'sum(increase(http_requests_total{track="{{track}}"}[{{window}}]))',
  checks: [
    { name: 'error-rate', query: ERROR_RATE, max: 0.05, maxIncrease: 0.02 },
    // A stricter limit the team is trying out: measured and shown, never decisive.
    { name: 'error-rate-strict', query: ERROR_RATE, max: 0.005, dryRun: true },
  ],
};
const analysis = (bakeS: number): AnalysisConfig => ({ ...analysisSchema.parse(analysisRaw), bake: ms(bakeS) });

describeIf('backtest over a recorded incident on real Prometheus', () => {
  let prometheus: PrometheusServer;
  let dir: ReturnType<typeof tempDir>;

  beforeAll(async () => {
    dir = tempDir('rollgate-backtest-');
    const perStep = 100;
    const errors = (track: string) => (t: number) => (track === 'canary' && t > INCIDENT ? 10 : 1);
    const samples = ['stable', 'canary'].flatMap((track) => [
      ...counterSamples(`http_requests_total{track="${track}",status="200"}`, T0, END, STEP, (t) => perStep - errors(track)(t)),
      ...counterSamples(`http_requests_total{track="${track}",status="500"}`, T0, END, STEP, errors(track)),
    ]);
    createBlocks(openMetricsText(samples, { http_requests: 'counter' }), join(dir.path, 'tsdb'));
    prometheus = await startPrometheus({ dataDir: join(dir.path, 'tsdb') });
  }, 120_000);

  afterAll(async () => {
    await prometheus?.stop();
    dir?.remove();
  });

  const provider = () => createMetricsProvider(metricsSchema.parse({ provider: 'prometheus', address: prometheus.url, retries: 0 }));

  it('reports the failure at the same measurement as the live gate run over the same data with the same clock', async () => {
    const from = ms(INCIDENT - 10 * 60);
    const to = ms(INCIDENT + 10 * 60);
    const backtest = await runBacktest({ analysis: analysis(20 * 60), provider: provider(), window: { from, to } });
    // The live gate: instant queries, one per measurement, on a virtual clock starting at the same instant.
    const live = await runGate({ analysis: analysis(20 * 60), provider: provider(), clock: new FakeClock(from) });

    expect(live.verdict).toBe('fail');
    expect(backtest.verdict).toBe(live.verdict);
    expect(backtest.reason).toBe(live.reason);
    expect(backtest.firedAt).toBe(live.endedAt);
    expect(backtest.report.measurements).toEqual(live.measurements);
    // 30 s after the errors start, the 1-minute window holds half bad samples: 5.5% > max 5%.
    expect(backtest.firedAt).toBe(ms(INCIDENT + 30));
    expect(backtest.firedRound).toBe(21);
    const failing = backtest.report.measurements.filter((m) => m.outcome === 'fail' && m.check === 'error-rate');
    expect(failing.map((m) => m.time)).toEqual([ms(INCIDENT + 30)]);
    expect(backtest.margins.find((m) => m.check === 'error-rate')).toMatchObject({ limit: 'maxIncrease 0.02', at: ms(INCIDENT + 30) });
    expect(backtest.margins.find((m) => m.check === 'error-rate')!.margin).toBeLessThan(0);
    // One range query per distinct query (2 checks × 2 tracks share 2, plus 2 for requests), not one per measurement.
    expect(backtest.rangeQueries).toBe(4);
  });

  it('passes the healthy stretch before the incident, though the dry-run check fails throughout', async () => {
    const result = await runBacktest({ analysis: analysis(15 * 60), provider: provider(), window: { from: ms(T0 + 60), to: ms(T0 + 16 * 60) } });
    expect(result.verdict).toBe('pass');
    expect(result.firedAt).toBeUndefined();
    const strict = result.report.checks.find((c) => c.name === 'error-rate-strict')!;
    expect(strict).toMatchObject({ outcome: 'fail', dryRun: true });
    const margin = result.margins.find((m) => m.check === 'error-rate')!;
    expect(margin.limit).toBe('maxIncrease 0.02');
    expect(margin.margin).toBeCloseTo(0.02, 9);
    expect(result.margins.find((m) => m.check === 'error-rate-strict')!.margin).toBeCloseTo(0.005 - 0.01, 9);
  });

  it('leaves a dry-run check out of the statistical judge too', async () => {
    const statistical = analysisSchema.parse({
      judge: 'mann-whitney',
      interval: '30s',
      window: '1m',
      bake: '10m',
      checks: [
        { name: 'throughput', query: 'sum(rate(http_requests_total{track="{{track}}"}[{{window}}]))', direction: 'either', critical: true },
        { name: 'errors', query: 'sum(rate(http_requests_total{track="{{track}}",status=~"5.."}[{{window}}]))', direction: 'increase', critical: true, dryRun: true },
      ],
    });
    const result = await runBacktest({ analysis: statistical, provider: provider(), window: { from: ms(INCIDENT), to: ms(INCIDENT + 10 * 60) } });
    const errors = result.report.checks.find((c) => c.name === 'errors')!;
    expect(errors).toMatchObject({ outcome: 'fail', dryRun: true });
    expect(result.report.checks.find((c) => c.name === 'throughput')!.outcome).toBe(result.verdict);
    expect(result.verdict).not.toBe('fail');
    // Without dryRun the same errors fail the gate.
    const decisive = { ...statistical, checks: statistical.checks.map((c) => ({ ...c, dryRun: false })) };
    expect((await runBacktest({ analysis: decisive, provider: provider(), window: { from: ms(INCIDENT), to: ms(INCIDENT + 10 * 60) } })).verdict).toBe('fail');
  });

  it("picks every recorded rollout's bake windows from the ledger and reports each, with a chart and JSON", async () => {
    const ledger = join(dir.path, 'ledger.json');
    let now = new Date(ms(T0 + 5 * 60));
    const records = new LedgerDeploymentRecords(ledger, { now: () => now });
    const d = await records.create({ environment: 'production', ref: 'abc', payload: { version: 'v2', strategy: 'canary' } });
    await records.setStatus(d.id, { state: 'in_progress', description: 'canary 5%' });
    now = new Date(ms(INCIDENT - 2 * 60));
    await records.setStatus(d.id, { state: 'in_progress', description: 'canary 25%, gate passed' });
    now = new Date(ms(INCIDENT + 5 * 60));
    await records.setStatus(d.id, { state: 'failure', description: 'rolled back' });

    const planFile = join(dir.path, 'rollout.yml');
    writeFileSync(planFile, stringify({ service: 'orders', environment: 'production', metrics: { provider: 'prometheus', address: prometheus.url }, analysis: analysisRaw }));
    const json = join(dir.path, 'backtest.json');
    const rt = new MemoryRuntime({ plan: planFile, 'backtest-deployments': 'true', records: 'ledger', ledger, 'backtest-json': json });
    const result = await runBacktestAction(rt, { records });
    expect(result).toEqual({ ok: true });
    expect(rt.outputs.verdict).toBe('pass,fail');
    const written = JSON.parse(readFileSync(json, 'utf8')) as { window: { from: number; label: string }; verdict: string; firedAt?: number }[];
    expect(written.map((w) => [w.window.from, w.window.label, w.verdict])).toEqual([
      [ms(T0 + 5 * 60), 'deployment #1 (v2), canary 5%', 'pass'],
      [ms(INCIDENT - 2 * 60), 'deployment #1 (v2), canary 25%, gate passed', 'fail'],
    ]);
    expect(written[1]!.firedAt).toBe(ms(INCIDENT + 30));
    expect(rt.summary).toContain('| Window | Verdict | Fired at | Closest check (margin) |');
    expect(rt.summary).toContain('xychart-beta');
    expect(rt.summary).toContain('error-rate-strict (dry run: not counted)');
    expect(rt.text()).toMatch(/would have fired at .* \(measurement 5, 2m30s into the window\)/);
    expect(rt.text()).toMatch(/canary [▁▂▃▄▅▆▇█]+/);
  });

  it('refuses a window in the future or shorter than one interval, naming the input', async () => {
    const planFile = join(dir.path, 'rollout.yml');
    const future = new MemoryRuntime({
      plan: planFile,
      'backtest-from': new Date(Date.now() - 60_000).toISOString(),
      'backtest-to': new Date(Date.now() + 3_600_000).toISOString(),
    });
    await expect(runBacktestAction(future)).rejects.toThrow('input backtest-to: is in the future: a backtest judges the past');
    const short = new MemoryRuntime({ plan: planFile, 'backtest-from': '2026-01-01T00:00:00Z', 'backtest-to': '2026-01-01T00:00:10Z' });
    await expect(runBacktestAction(short)).rejects.toThrow('input backtest-to: expected a window at least one interval (30s) long after backtest-from, got 10s');
    const bad = new MemoryRuntime({ plan: planFile, 'backtest-from': 'last tuesday' });
    await expect(runBacktestAction(bad)).rejects.toThrow('input backtest-from: expected a time such as 2026-11-24T14:00:00Z or unix seconds, got "last tuesday"');
  });
});
