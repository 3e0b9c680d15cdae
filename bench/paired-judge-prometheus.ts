// The paired and the mann-whitney judge on real data: one real Prometheus scraping several
// stable/canary pairs of real HTTP services every second, all in parallel, so many gates run in
// a few minutes on a small machine. Request latency is lognormal (σ of log latency SPREAD), and a
// load wave both tracks of a pair share moves the request rate and the latency by ±WAVE over
// its period (each pair at its own phase; pairs alternate between the periods in WAVE_PERIODS).
// Each pair runs gates back to back, in turn a canary slower by REGRESSION (1.15 unless set) and
// an identical one (A/A; AA=none for regression gates only); the judges in JUDGES judge the same
// gate side by side, from the same Prometheus at once.
// Run: [JUDGES=judge:bake-s:interval:window,...] [WAVE_PERIODS=30,60] [REGRESSION=1.15] [TOLERANCE=0.05] [AA=none]
//        npx tsx bench/paired-judge-prometheus.ts [minutes=12] [pairs=12]
import { cpus, loadavg } from 'node:os';
import { systemClock } from '../src/core/clock.js';
import { runGate } from '../src/core/analysis/gate.js';
import { createMetricsProvider } from '../src/core/metrics/index.js';
import { analysisSchema, metricsSchema } from '../src/core/plan/schema.js';
import { startLoad } from '../harness/load.js';
import { startPrometheus } from '../harness/prometheus.js';
import { startSampleService, type SampleService } from '../harness/sample-service.js';

const minutes = Number(process.argv[2] ?? 12);
const pairs = Number(process.argv[3] ?? 12);
const RPS = 15;
const LATENCY_MS = 20;
const SPREAD = Number(process.env.SPREAD ?? 0.3);
const WAVE = 0.25;
/** The canary's latency factor in a regression gate, and the tolerance the checks allow. */
const REGRESSION = Number(process.env.REGRESSION ?? 1.15);
const TOLERANCE = Number(process.env.TOLERANCE ?? 0.05);
/** `alternate`: regression and A/A gates in turn; `none`: regression gates only. */
const AA = process.env.AA ?? 'alternate';
const REGRESSION_NAME = `regression ${Math.round((REGRESSION - 1) * 100)}%`;
const WAVE_PERIODS_S = (process.env.WAVE_PERIODS ?? '30,60').split(',').map(Number);
/**
 * The judges that judge every gate side by side, as judge:bake-seconds:interval:window. A window
 * of the interval plus one scrape interval makes consecutive windows share a sample, so no
 * increment between two windows is lost; a 2 s window over 1 s scrapes holds about 1 s of increments.
 */
const JUDGES = (process.env.JUDGES ?? 'paired:20:1s:2s,paired:20:2s:3s,mann-whitney:20:2s:3s,mann-whitney:30:2s:3s,mann-whitney:45:2s:3s').split(',').map((spec) => {
  const [judge, bake, interval, window] = spec.split(':');
  if ((judge !== 'paired' && judge !== 'mann-whitney') || !bake || !interval || !window) throw new Error(`JUDGES: expected judge:bake-seconds:interval:window, got ${spec}`);
  return { judge, bakeS: Number(bake), interval, window, label: `${judge} (bake ${judge === 'paired' ? '≤ ' : ''}${bake} s, interval ${interval}, window ${window})` } as const;
});
const LONGEST_S = Math.max(...JUDGES.map((j) => j.bakeS));

interface Pair {
  index: number;
  stable: SampleService;
  canary: SampleService;
  loads: ReturnType<typeof startLoad>[];
  timer: NodeJS.Timeout;
  regression: number;
  wavePeriodS: number;
}

const startedAt = Date.now();
const built: Pair[] = [];
for (let index = 0; index < pairs; index++) {
  const service = `pair-${index}`;
  const behaviour = { latencyMs: LATENCY_MS, latencySpread: SPREAD };
  const stable = await startSampleService({ service, track: 'stable', version: 'v1', behaviour: { ...behaviour }, seed: 100 + 2 * index });
  const canary = await startSampleService({ service, track: 'canary', version: 'v2', behaviour: { ...behaviour }, seed: 101 + 2 * index });
  const phase = (2 * Math.PI * index) / pairs;
  const wavePeriodS = WAVE_PERIODS_S[index % WAVE_PERIODS_S.length] as number;
  const load = () => 1 + WAVE * Math.sin((2 * Math.PI * (Date.now() - startedAt)) / 1000 / wavePeriodS + phase);
  const pair: Pair = { index, stable, canary, loads: [], regression: 1, wavePeriodS, timer: setInterval(() => undefined, 1000) };
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

function plan(judge: 'paired' | 'mann-whitney', service: string, bakeS: number, interval: string, window: string) {
  const on = `service="${service}",track="{{track}}"`;
  return analysisSchema.parse({
    judge,
    interval,
    window,
    bake: `${bakeS}s`,
    requests: `sum(increase(http_requests_total{${on}}[{{window}}]))`,
    checks: [
      {
        name: 'mean-latency',
        query: `sum(rate(http_request_duration_seconds_sum{${on}}[{{window}}])) / sum(rate(http_request_duration_seconds_count{${on}}[{{window}}]))`,
        direction: 'increase',
        allowedIncrease: TOLERANCE,
      },
    ],
  });
}

interface Outcome {
  scenario: 'regression' | 'A/A';
  wavePeriodS: number;
  /** Each judge's verdict and seconds to it, in the order of JUDGES. */
  verdicts: { verdict: string; seconds: number }[];
}
const outcomes: Outcome[] = [];
const deadline = startedAt + minutes * 60_000;

async function runPair(pair: Pair): Promise<void> {
  for (let gate = 0; Date.now() + LONGEST_S * 1000 + 10_000 < deadline; gate++) {
    const scenario = AA === 'none' || (gate + pair.index) % 2 === 0 ? 'regression' : 'A/A';
    pair.regression = scenario === 'A/A' ? 1 : REGRESSION;
    // Let the windows forget the previous scenario.
    await new Promise((r) => setTimeout(r, 4000));
    const t0 = Date.now();
    const reports = await Promise.all(JUDGES.map((j) => runGate({ analysis: plan(j.judge, `pair-${pair.index}`, j.bakeS, j.interval, j.window), provider, clock: systemClock })));
    outcomes.push({ scenario, wavePeriodS: pair.wavePeriodS, verdicts: reports.map((r) => ({ verdict: r.verdict, seconds: (r.endedAt - t0) / 1000 })) });
    console.log(
      `pair ${pair.index} (wave ${pair.wavePeriodS} s) gate ${gate}: ${scenario === 'A/A' ? scenario : REGRESSION_NAME}: ${reports
        .map(
          (r, i) =>
            `${JUDGES[i]?.label} ${r.verdict} after ${((r.endedAt - t0) / 1000).toFixed(0)} s${r.verdict !== (scenario === 'A/A' ? 'pass' : 'fail') ? ` (${r.reason})` : ''}`,
        )
        .join('; ')}`,
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
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? '–' : `${sorted[Math.floor(sorted.length / 2)]?.toFixed(0)} s`;
};
console.log('');
console.log(
  `real Prometheus (1 s scrape), ${pairs} service pairs in parallel for ${minutes} min; ${RPS} requests/s per track, lognormal latency (median ${LATENCY_MS} ms, σ ${SPREAD}), shared wave ±${WAVE * 100}%; allowedIncrease ${TOLERANCE * 100}%, α 0.05`,
);
console.log('');
console.log(`| wave period | gates (${REGRESSION_NAME} + A/A) | judge | ${REGRESSION_NAME} caught, median time | A/A false failures | A/A passed, median time |`);
console.log('| --- | --- | --- | --- | --- | --- |');
for (const period of WAVE_PERIODS_S) {
  const here = outcomes.filter((o) => o.wavePeriodS === period);
  const regressions = here.filter((o) => o.scenario === 'regression');
  const same = here.filter((o) => o.scenario === 'A/A');
  JUDGES.forEach((j, i) => {
    const v = (o: Outcome) => o.verdicts[i] ?? { verdict: 'none', seconds: 0 };
    console.log(
      `| ${period} s | ${regressions.length} + ${same.length} | ${j.label} | ${share(regressions, (o) => v(o).verdict === 'fail')}, ${median(regressions.filter((o) => v(o).verdict === 'fail').map((o) => v(o).seconds))} | ${share(same, (o) => v(o).verdict === 'fail')} | ${share(same, (o) => v(o).verdict === 'pass')}, ${median(same.filter((o) => v(o).verdict === 'pass').map((o) => v(o).seconds))} |`,
    );
  });
}
console.log(
  `machine: ${cpus().length} CPUs, load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
