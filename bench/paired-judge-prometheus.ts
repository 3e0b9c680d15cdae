// The paired and the mann-whitney judge on real data: one real Prometheus scraping several
// stable/canary pairs of real HTTP services every second, all in parallel, so many gates run in
// a few minutes on a small machine. Request latency is lognormal (σ of log latency SPREAD), and a
// load wave both tracks of a pair share moves the request rate and the latency by ±WAVE over
// WAVE_PERIOD seconds (each pair at its own phase). Each pair runs gates back to back, in turn a
// canary 15% slower and an identical one (A/A); the two judges judge the same gate side by side.
// Run: npx tsx bench/paired-judge-prometheus.ts [minutes=6] [pairs=6]
import { cpus, loadavg } from 'node:os';
import { systemClock } from '../src/core/clock.js';
import { runGate } from '../src/core/analysis/gate.js';
import { createMetricsProvider } from '../src/core/metrics/index.js';
import { analysisSchema, metricsSchema } from '../src/core/plan/schema.js';
import { startLoad } from '../harness/load.js';
import { startPrometheus } from '../harness/prometheus.js';
import { startSampleService, type SampleService } from '../harness/sample-service.js';

const minutes = Number(process.argv[2] ?? 6);
const pairs = Number(process.argv[3] ?? 6);
const RPS = 15;
const LATENCY_MS = 20;
const SPREAD = Number(process.env.SPREAD ?? 0.3);
const WAVE = 0.25;
const WAVE_PERIOD_S = 60;
const BAKE_S = 20;
const MW_BAKE_S = Number(process.env.MW_BAKE ?? 20);

interface Pair {
  index: number;
  stable: SampleService;
  canary: SampleService;
  loads: ReturnType<typeof startLoad>[];
  timer: NodeJS.Timeout;
  regression: number;
}

const startedAt = Date.now();
const built: Pair[] = [];
for (let index = 0; index < pairs; index++) {
  const service = `pair-${index}`;
  const behaviour = { latencyMs: LATENCY_MS, latencySpread: SPREAD };
  const stable = await startSampleService({ service, track: 'stable', version: 'v1', behaviour: { ...behaviour }, seed: 100 + 2 * index });
  const canary = await startSampleService({ service, track: 'canary', version: 'v2', behaviour: { ...behaviour }, seed: 101 + 2 * index });
  const phase = (2 * Math.PI * index) / pairs;
  const load = () => 1 + WAVE * Math.sin((2 * Math.PI * (Date.now() - startedAt)) / 1000 / WAVE_PERIOD_S + phase);
  const pair: Pair = { index, stable, canary, loads: [], regression: 1, timer: setInterval(() => undefined, 1000) };
  clearInterval(pair.timer);
  // The shared wave: both tracks' latency and request rate follow the same load.
  pair.timer = setInterval(() => {
    stable.behaviour.latencyMs = LATENCY_MS * load();
    canary.behaviour.latencyMs = LATENCY_MS * load() * pair.regression;
  }, 200);
  pair.loads = [startLoad(`${stable.url}/orders`, () => RPS * load()), startLoad(`${canary.url}/orders`, () => RPS * load())];
  built.push(pair);
}
const prometheus = await startPrometheus({
  targets: built.flatMap((p) => [`127.0.0.1:${p.stable.port}`, `127.0.0.1:${p.canary.port}`]),
  scrapeInterval: '1s',
  waitForQuery: `count(rate(http_requests_total[5s]) > 0) >= ${2 * pairs}`,
});
const provider = createMetricsProvider(metricsSchema.parse({ provider: 'prometheus', address: prometheus.url, timeout: '5s', retries: 1 }), { clock: systemClock });

function plan(judge: 'paired' | 'mann-whitney', service: string, bakeS: number) {
  const on = `service="${service}",track="{{track}}"`;
  return analysisSchema.parse({
    judge,
    interval: '2s',
    bake: `${bakeS}s`,
    requests: `sum(increase(http_requests_total{${on}}[{{window}}]))`,
    checks: [
      {
        name: 'mean-latency',
        query: `sum(rate(http_request_duration_seconds_sum{${on}}[{{window}}])) / sum(rate(http_request_duration_seconds_count{${on}}[{{window}}]))`,
        direction: 'increase',
        allowedIncrease: 0.05,
      },
    ],
  });
}

interface Outcome {
  scenario: 'regression 15%' | 'A/A';
  paired: string;
  pairedSeconds: number;
  mannWhitney: string;
}
const outcomes: Outcome[] = [];
const deadline = startedAt + minutes * 60_000;

async function runPair(pair: Pair): Promise<void> {
  for (let gate = 0; Date.now() + MW_BAKE_S * 1000 + 10_000 < deadline; gate++) {
    const scenario = (gate + pair.index) % 2 === 0 ? 'regression 15%' : 'A/A';
    pair.regression = scenario === 'A/A' ? 1 : 1.15;
    // Let the window forget the previous scenario.
    await new Promise((r) => setTimeout(r, 3000));
    const t0 = Date.now();
    const [paired, mw] = await Promise.all([
      runGate({ analysis: plan('paired', `pair-${pair.index}`, BAKE_S), provider, clock: systemClock }),
      runGate({ analysis: plan('mann-whitney', `pair-${pair.index}`, MW_BAKE_S), provider, clock: systemClock }),
    ]);
    outcomes.push({ scenario, paired: paired.verdict, pairedSeconds: (paired.endedAt - t0) / 1000, mannWhitney: mw.verdict });
    const why = paired.verdict === (scenario === 'A/A' ? 'fail' : 'pass') ? ` (${paired.reason})` : '';
    console.log(
      `pair ${pair.index} gate ${gate}: ${scenario}: paired ${paired.verdict} after ${((paired.endedAt - t0) / 1000).toFixed(0)} s${why}; mann-whitney (${MW_BAKE_S} s) ${mw.verdict}`,
    );
  }
}

try {
  await Promise.all(built.map(runPair));
} finally {
  for (const p of built) {
    clearInterval(p.timer);
    await Promise.all(p.loads.map((l) => l.stop()));
  }
  await prometheus.stop();
  for (const p of built) {
    await p.stable.close();
    await p.canary.close();
  }
}

const share = (list: Outcome[], f: (o: Outcome) => boolean) => `${list.filter(f).length}/${list.length}`;
const regressions = outcomes.filter((o) => o.scenario === 'regression 15%');
const same = outcomes.filter((o) => o.scenario === 'A/A');
const passTimes = same
  .filter((o) => o.paired === 'pass')
  .map((o) => o.pairedSeconds)
  .sort((a, b) => a - b);
const failTimes = regressions
  .filter((o) => o.paired === 'fail')
  .map((o) => o.pairedSeconds)
  .sort((a, b) => a - b);
console.log('');
console.log(
  `real Prometheus (1 s scrape), ${pairs} service pairs in parallel for ${minutes} min; ${RPS} requests/s per track, lognormal latency (median ${LATENCY_MS} ms, σ ${SPREAD}), shared wave ±${WAVE * 100}% over ${WAVE_PERIOD_S} s; interval and window 2 s, allowedIncrease 5%, α 0.05`,
);
console.log(
  `15% regression caught: paired (bake ≤ ${BAKE_S} s) ${share(regressions, (o) => o.paired === 'fail')}, median ${failTimes[Math.floor(failTimes.length / 2)] ?? '–'} s; mann-whitney (bake ${MW_BAKE_S} s) ${share(regressions, (o) => o.mannWhitney === 'fail')}`,
);
console.log(`A/A false failures: paired ${share(same, (o) => o.paired === 'fail')}; mann-whitney ${share(same, (o) => o.mannWhitney === 'fail')}`);
console.log(
  `A/A passed: paired ${share(same, (o) => o.paired === 'pass')}, median time to pass ${passTimes[Math.floor(passTimes.length / 2)] ?? '–'} s; mann-whitney ${share(same, (o) => o.mannWhitney === 'pass')}`,
);
console.log(
  `machine: ${cpus().length} CPUs, load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
