// Backtest runtime over a 24 h window of 1 s data, against a real Prometheus serving blocks
// backfilled with promtool: the replay (one range query per distinct query) beside the live
// gate's way of asking (one instant query per measurement) over the same window and clock.
// Run: npx tsx bench/backtest.ts [runs]
import { createWriteStream } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { tempDir } from '../harness/process.js';
import { startPrometheus } from '../harness/prometheus.js';
import { runBacktest } from '../src/core/analysis/backtest.js';
import { runGate } from '../src/core/analysis/gate.js';
import { FakeClock } from '../src/core/clock.js';
import { createMetricsProvider } from '../src/core/metrics/index.js';
import { analysisSchema, metricsSchema } from '../src/core/plan/schema.js';

const runs = Number(process.argv[2] ?? 3);
const HOURS = 24;
const dir = tempDir('rollgate-bench-backtest-');
const end = Math.floor(Date.now() / 3_600_000) * 3600 - 3600;
const start = end - HOURS * 3600;

// 1 s samples for two tracks × two statuses, written as a stream: 345,600 samples.
const input = join(dir.path, 'input.om');
const out = createWriteStream(input);
out.write('# TYPE http_requests counter\n');
for (const track of ['stable', 'canary'])
  for (const status of ['200', '500']) {
    let total = 0;
    for (let t = start; t <= end; t++) {
      if (t > start) total += status === '200' ? 99 : 1;
      out.write(`http_requests_total{track="${track}",status="${status}"} ${total} ${t}\n`);
    }
  }
out.write('# EOF\n');
await new Promise<void>((r) => out.end(r));
const blocksStarted = Date.now();
execFileSync('promtool', ['tsdb', 'create-blocks-from', 'openmetrics', '--quiet', input, join(dir.path, 'tsdb')], { stdio: 'pipe' });
console.log(`promtool: ${HOURS} h of 1 s data for 4 series in ${((Date.now() - blocksStarted) / 1000).toFixed(1)} s`);
const prometheus = await startPrometheus({ dataDir: join(dir.path, 'tsdb') });

const analysis = analysisSchema.parse({
  interval: '10s',
  window: '30s',
  bake: `${HOURS}h`,
  minRequests: 100,
  requests: 'sum(increase(http_requests_total{track="{{track}}"}[{{window}}]))',
  checks: [
    {
      name: 'error-rate',
      query: 'sum(rate(http_requests_total{track="{{track}}",status=~"5.."}[{{window}}])) / sum(rate(http_requests_total{track="{{track}}"}[{{window}}]))',
      max: 0.05,
      maxIncrease: 0.01,
    },
  ],
});
const provider = createMetricsProvider(metricsSchema.parse({ provider: 'prometheus', address: prometheus.url, retries: 0, timeout: '60s' }));
const window = { from: start * 1000, to: end * 1000 };
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

const replay: number[] = [];
let rounds = 0;
let verdict = '';
for (let i = 0; i < runs; i++) {
  const started = performance.now();
  const result = await runBacktest({ analysis, provider, window });
  replay.push(performance.now() - started);
  rounds = new Set(result.report.measurements.map((m) => m.round)).size;
  verdict = `${result.verdict}, ${result.rangeQueries} range queries`;
}
console.log(`backtest of ${HOURS} h (interval 10s: ${rounds} measurements of 1 check + requests), ${runs} runs: median ${(median(replay) / 1000).toFixed(2)} s (${verdict})`);

// The live gate's way, once: an instant query per track and query at every measurement.
const liveStarted = performance.now();
const live = await runGate({ analysis, provider, clock: new FakeClock(window.from) });
const liveMs = performance.now() - liveStarted;
console.log(
  `the same window with instant queries (as the live gate asks): ${(liveMs / 1000).toFixed(2)} s (${live.verdict}); replay is ${(liveMs / median(replay)).toFixed(1)}× faster`,
);
console.log(
  `machine: ${cpus().length} CPUs, load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);

await prometheus.stop();
dir.remove();
