// The gate under load: 50 checks against a real Prometheus scraping two real services.
// 1. In-process: every query of every measurement is timed; a measurement's queries must run
//    concurrently and finish well within the interval. Reports the ratio of the measurement's
//    query time (first start to last end) to the interval, and how many queries were in flight.
// 2. The bundled metrics-gate (`node dist/metrics-gate/index.js`) with the same 50-check plan:
//    peak resident memory (VmHWM) of the action's process, target < 150 MB.
// Run: npx tsx bench/load.ts [bake seconds, default 20]
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { tempDir } from '../harness/process.js';
import { startTrackPair } from '../harness/track-pair.js';
import { runGate } from '../src/core/analysis/gate.js';
import { systemClock } from '../src/core/clock.js';
import { createMetricsProvider } from '../src/core/metrics/index.js';
import type { MetricsProvider } from '../src/core/metrics/provider.js';
import { loadPlanFile } from '../src/core/plan/load.js';

const BAKE_S = Number(process.argv[2] ?? 20);
const INTERVAL_S = 2;
const CHECKS = 50;
const RSS_LIMIT_MB = 150;
const bundle = resolve('dist/metrics-gate/index.js');
if (!existsSync(bundle)) throw new Error('dist/metrics-gate/index.js is missing: run node scripts/build.mjs metrics-gate');

/** Fifty checks of the kinds teams write: error ratios per status class, latency quantiles, rates. */
function checks(): string[] {
  const lines: string[] = [];
  const sel = 'track="{{track}}"';
  const quantiles = [0.5, 0.75, 0.9, 0.95, 0.99];
  for (let i = 0; lines.length / 4 < CHECKS; i++) {
    const kind = i % 3;
    const name = `check-${String(i + 1).padStart(2, '0')}`;
    if (kind === 0)
      lines.push(
        `  - name: ${name}`,
        `    query: '(sum(rate(http_requests_total{${sel},status=~"5.."}[{{window}}])) or vector(0)) / sum(rate(http_requests_total{${sel}}[{{window}}]))'`,
        '    max: 0.05',
        '    maxIncrease: 0.02',
      );
    else if (kind === 1)
      lines.push(
        `  - name: ${name}`,
        `    query: 'histogram_quantile(${quantiles[i % quantiles.length]}, sum by (le) (rate(http_request_duration_seconds_bucket{${sel}}[{{window}}])))'`,
        '    max: 2.0',
        '    maxRatio: 3',
      );
    else lines.push(`  - name: ${name}`, `    query: 'sum(rate(http_requests_total{${sel}}[{{window}}]))'`, '    min: 0.001', '    minRatio: 0.1');
  }
  return lines;
}

const pair = await startTrackPair({ behaviour: { latencyMs: 5 }, rps: 40, seeds: [11, 12] });
const { prometheus } = pair;
const workspace = tempDir('rollgate-bench-load-');
mkdirSync(join(workspace.path, '.github'));
const planFile = join(workspace.path, '.github/rollout.yml');
writeFileSync(
  planFile,
  [
    'service: orders',
    'environment: production',
    `metrics: { provider: prometheus, address: "${prometheus.url}", timeout: 5s }`,
    'analysis:',
    `  interval: ${INTERVAL_S}s`,
    '  window: 5s',
    `  bake: ${BAKE_S}s`,
    '  minRequests: 10',
    `  requests: 'sum(increase(http_requests_total{track="{{track}}"}[{{window}}]))'`,
    '  checks:',
    ...checks(),
    '',
  ].join('\n'),
);

interface Timed {
  round: number;
  start: number;
  end: number;
}

/** Times every query, keyed by the measurement it belongs to (the gate passes one evaluation time per measurement). */
function timing(inner: MetricsProvider, calls: Timed[]): MetricsProvider {
  const rounds = new Map<number, number>();
  return {
    name: inner.name,
    async query(query, options) {
      const key = options?.time ?? 0;
      if (!rounds.has(key)) rounds.set(key, rounds.size + 1);
      const start = performance.now();
      try {
        return await inner.query(query, options);
      } finally {
        calls.push({ round: rounds.get(key) as number, start, end: performance.now() });
      }
    },
    queryRange: (query, range, options) => inner.queryRange(query, range, options),
  };
}

try {
  // 1. Query time per measurement, in-process.
  const { plan } = loadPlanFile(planFile, { env: {} });
  const calls: Timed[] = [];
  const provider = timing(createMetricsProvider(plan.metrics!), calls);
  const report = await runGate({ analysis: plan.analysis!, provider, clock: systemClock, vars: { service: 'orders' } });
  const rounds = [...new Set(calls.map((c) => c.round))].map((round) => {
    const mine = calls.filter((c) => c.round === round);
    const first = Math.min(...mine.map((c) => c.start));
    const last = Math.max(...mine.map((c) => c.end));
    const events = mine.flatMap((c) => [[c.start, 1] as const, [c.end, -1] as const]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let inFlight = 0;
    let peak = 0;
    for (const [, d] of events) peak = Math.max(peak, (inFlight += d));
    return { round, queries: mine.length, spanMs: last - first, serialMs: mine.reduce((s, c) => s + c.end - c.start, 0), peak };
  });
  for (const r of rounds)
    console.log(
      `measurement ${r.round}: ${r.queries} queries in ${r.spanMs.toFixed(0)} ms (sum of query times ${r.serialMs.toFixed(0)} ms, up to ${r.peak} in flight): ${((r.spanMs / (INTERVAL_S * 1000)) * 100).toFixed(1)}% of the ${INTERVAL_S} s interval`,
    );
  const ratios = rounds.map((r) => r.spanMs / (INTERVAL_S * 1000)).sort((a, b) => a - b);
  const median = ratios[Math.floor(ratios.length / 2)] as number;
  const worst = ratios.at(-1) as number;
  console.log(
    `gate, ${CHECKS} checks (${rounds[0]?.queries ?? 0} queries a measurement), ${rounds.length} measurements, verdict ${report.verdict}: query time / interval median ${(median * 100).toFixed(1)}%, worst ${(worst * 100).toFixed(1)}%; peak concurrency ${Math.max(...rounds.map((r) => r.peak))}`,
  );

  // 2. Peak RSS of the bundled action with the same plan.
  const child = spawn(process.execPath, [bundle], { cwd: workspace.path, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH, INPUT_PLAN: planFile } });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  let peakKb = 0;
  const sample = () => {
    try {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      peakKb = Math.max(peakKb, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0));
    } catch {
      /* exited between samples */
    }
  };
  const sampler = setInterval(sample, 20);
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  clearInterval(sampler);
  const peakMb = peakKb / 1024;
  const verdict = /verdict=(\w+)|verdict: (\w+)/.exec(output);
  console.log(
    `bundled metrics-gate, ${CHECKS} checks, ${BAKE_S} s bake: exit ${code}, peak RSS ${peakMb.toFixed(1)} MB (target < ${RSS_LIMIT_MB} MB)${verdict ? `, ${verdict[0]}` : ''}`,
  );
  console.log(
    `machine: ${cpus().length} CPUs, load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  if (worst >= 1) throw new Error(`a measurement's queries took longer than the interval (${(worst * 100).toFixed(0)}%)`);
  if (peakMb >= RSS_LIMIT_MB) throw new Error(`peak RSS ${peakMb.toFixed(1)} MB is over ${RSS_LIMIT_MB} MB`);
} finally {
  await pair.stop();
  workspace.remove();
}
