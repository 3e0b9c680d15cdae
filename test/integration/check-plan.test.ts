import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { counterSamples, openMetricsText } from '../../harness/openmetrics.js';
import { requireBinary, tempDir } from '../../harness/process.js';
import { createBlocks, startPrometheus, type PrometheusServer } from '../../harness/prometheus.js';
import { FakeClock } from '../../src/core/clock.js';
import type { PlanCheckReport } from '../../src/core/policy/check-plan.js';
import { runPlanCheckAction } from '../../src/core/rollout/check-plan.js';
import { MemoryRuntime } from '../../src/core/runtime.js';

// A Prometheus scraping every 15 s (its configuration says so), holding 30 minutes of counters
// for two instances per track. The canary has served no 5xx yet: its 5xx series does not exist.

const describeIf = requireBinary('prometheus', 'prometheus') && requireBinary('promtool', 'prometheus') ? describe : describe.skip;

const T0 = Math.floor(Date.now() / 3_600_000) * 3600 - 3 * 3600;
const END = T0 + 30 * 60;

const ratio = 'sum(rate(http_requests_total{track="{{track}}",status=~"5.."}[{{window}}])) / sum(rate(http_requests_total{track="{{track}}"}[{{window}}]))';

describeIf('check-plan against a live Prometheus', () => {
  let prometheus: PrometheusServer;
  let dir: ReturnType<typeof tempDir>;

  beforeAll(async () => {
    dir = tempDir('rollgate-check-plan-');
    const samples = ['stable', 'canary'].flatMap((track) =>
      ['a', 'b'].flatMap((instance) => [
        ...counterSamples(`http_requests_total{track="${track}",status="200",instance="${instance}"}`, T0, END, 15, () => 100),
        ...(track === 'stable' ? counterSamples(`http_requests_total{track="${track}",status="500",instance="${instance}"}`, T0, END, 15, () => 1) : []),
      ]),
    );
    createBlocks(openMetricsText(samples, { http_requests: 'counter' }), join(dir.path, 'tsdb'));
    prometheus = await startPrometheus({ dataDir: join(dir.path, 'tsdb'), scrapeInterval: '15s' });
  }, 120_000);

  afterAll(async () => {
    await prometheus?.stop();
    dir?.remove();
  });

  function writePlan(name: string, analysis: Record<string, unknown>): string {
    const file = join(dir.path, name);
    writeFileSync(file, stringify({ service: 'orders', environment: 'production', metrics: { provider: 'prometheus', address: prometheus.url }, analysis }));
    return file;
  }

  async function check(file: string): Promise<{ rt: MemoryRuntime; ok: boolean; report: PlanCheckReport }> {
    const rt = new MemoryRuntime({ plan: file, 'check-plan': 'true' });
    const result = await runPlanCheckAction(rt, { clock: new FakeClock((END - 30) * 1000) });
    return { rt, ok: result.ok, report: JSON.parse(rt.outputs.report!) as PlanCheckReport };
  }

  it('finds the usual mistakes, each on the check it belongs to, and fails', async () => {
    const file = writePlan('mistakes.yml', {
      interval: '20s',
      bake: '2m',
      minRequests: 10,
      requests: 'sum(increase(http_requests_total{track="{{track}}"}[{{window}}]))',
      checks: [
        { name: 'no-track', query: 'sum(rate(http_requests_total{status=~"5.."}[{{window}}]))', max: 1 },
        { name: 'no-sum', query: 'rate(http_requests_total{track="{{track}}",status="200"}[{{window}}])', max: 1000 },
        { name: 'error-rate', query: ratio, max: 0.05 },
      ],
    });
    const { rt, ok, report } = await check(file);
    expect(ok).toBe(false);
    expect(rt.outputs.result).toBe('fail');
    expect(report.scrapeInterval).toEqual({ ms: 15_000, jobs: ['services'] });
    const mistakes = (name: string) => report.checks.find((c) => c.name === name)!.mistakes.map((m) => `${m.severity}: ${m.message}`);
    // Every check reads a 20 s window: fewer than two scrapes at 15 s.
    for (const name of ['no-track', 'no-sum', 'error-rate'])
      expect(mistakes(name)).toContain(
        'error: the window 20s is shorter than two scrapes (scrape interval 15s, job services): rate() needs two samples in it; set analysis.window to 30s or more',
      );
    expect(mistakes('no-track')).toContain(
      'error: analysis.checks[0].query has no {{track}}: canary and stable get the same query, so every comparison is of a series with itself',
    );
    expect(mistakes('no-sum').filter((m) => m.includes('series where one is expected'))).toEqual([
      'error: check no-sum (canary): 2 series where one is expected: aggregate it with sum(…) or sum by (…) (…)',
      'error: check no-sum (stable): 2 series where one is expected: aggregate it with sum(…) or sum by (…) (…)',
    ]);
    expect(mistakes('error-rate').filter((m) => m.includes('numerator'))).toEqual([
      'warning: check error-rate (canary): the numerator has no series yet while the denominator is 13.33 (e.g. no 5xx counted so far); write (numerator or vector(0)) so "none yet" is 0, not no data',
    ]);
    // What the judge would say now: stable has a value, the canary has none.
    const errorRate = report.checks.find((c) => c.name === 'error-rate')!;
    expect(errorRate.verdictNow).toBe('inconclusive');
    expect(errorRate.probes.find((p) => p.track === 'stable')!.outcome).toEqual({ kind: 'value', value: expect.closeTo(1 / 101, 9) });
    expect(report.requests!.probes.map((p) => p.outcome?.kind)).toEqual(['value', 'value']);
    expect(rt.summary).toContain('| error-rate | no data | 0.009901 | inconclusive: canary: no data |');
    expect(rt.logs.filter((l) => l.level === 'error').length).toBeGreaterThanOrEqual(6);
  });

  it('passes a plan whose queries answer one value per track over a window of several scrapes', async () => {
    const file = writePlan('good.yml', {
      interval: '30s',
      window: '1m',
      bake: '2m',
      checks: [
        {
          name: 'error-rate',
          query: ratio.replace(
            'sum(rate(http_requests_total{track="{{track}}",status=~"5.."}[{{window}}]))',
            '(sum(rate(http_requests_total{track="{{track}}",status=~"5.."}[{{window}}])) or vector(0))',
          ),
          max: 0.05,
        },
      ],
    });
    const { ok, report } = await check(file);
    expect(report.checks[0]!.mistakes).toEqual([]);
    expect(report.checks[0]!.verdictNow).toBe('pass');
    expect(ok).toBe(true);
  });

  it('warns when the windows do not tile the bake: data lost between windows, data counted twice, or tracks shifted by the scrape', async () => {
    const latency = {
      name: 'latency',
      query: 'sum(rate(http_requests_total{track="{{track}}"}[{{window}}]))',
      direction: 'increase',
      allowedIncrease: 0.05,
    };
    const warnings = async (name: string, analysis: Record<string, unknown>) =>
      (await check(writePlan(name, { bake: '5m', checks: [latency], ...analysis }))).report.checks[0]!.mistakes.map((m) => `${m.severity}: ${m.message}`);
    // One scrape every 15 s: a 30 s window every 30 s holds one increment of two.
    expect(await warnings('lossy.yml', { judge: 'paired', interval: '30s', window: '30s' })).toEqual([
      "warning: the window 30s is shorter than the interval 30s plus one scrape (15s): rate() measures from the first to the last sample in its window, so the increments between one window's last sample and the next one's first are in no window (about 50% of the data); set analysis.window to 45s",
    ]);
    expect(await warnings('tiled.yml', { judge: 'paired', interval: '30s', window: '45s' })).toEqual([]);
    expect(await warnings('shifted.yml', { judge: 'paired', interval: '15s', window: '30s' })).toEqual([
      "warning: an interval of 15s is under two scrapes (15s): each track's targets are scraped at their own moment, so the two tracks' windows are shifted against each other by up to a scrape, and load that changes within it no longer cancels; set analysis.interval to 30s and analysis.window to 45s",
    ]);
    expect(await warnings('overlapping.yml', { judge: 'mann-whitney', interval: '30s', window: '2m' })).toEqual([
      'warning: windows of 2m every 30s share data with the next window (scrape interval 15s): the mann-whitney judge takes its points for independent and grows over-confident; set analysis.window to 45s',
    ]);
  });

  it('names the plan file and field when the plan does not validate', async () => {
    const file = writePlan('invalid.yml', { interval: '30s', checks: [{ name: 'x', query: 'up' }] });
    await expect(runPlanCheckAction(new MemoryRuntime({ plan: file, 'check-plan': 'true' }))).rejects.toThrow(
      /invalid\.yml: analysis\.checks\[0\] \(line \d+\): expected at least one limit/,
    );
  });
});
