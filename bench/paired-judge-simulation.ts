// The paired judge against the mann-whitney judge, in-process: a seeded simulation of two tracks
// (harness/simulated-pair.ts) answers the gate's queries the way Prometheus would, so thousands
// of gates run in a minute. It gives the figures that need many runs: the bake each judge needs,
// A/A false failures with a look after every window, and the time a healthy canary needs to pass.
// Run: npx tsx bench/paired-judge-simulation.ts [seeds=100]
import { FakeClock } from '../src/core/clock.js';
import { runGate } from '../src/core/analysis/gate.js';
import { wilcoxonSignedRank } from '../src/core/analysis/signed-rank.js';
import { studentQuantile } from '../src/core/analysis/sequential.js';
import { analysisSchema, type AnalysisConfig } from '../src/core/plan/schema.js';
import { DEFAULT_NOISE, simulatedPair, type NoiseModel } from '../harness/simulated-pair.js';

const seeds = Number(process.argv[2] ?? 100);
const INTERVAL = '2s';
const BAKES = [10, 20, 30, 45, 60, 90, 120, 180, 240, 360];

const models: { name: string; model: NoiseModel }[] = [
  { name: 'σ 0.3, wave ±25%/60 s', model: { ...DEFAULT_NOISE, spread: 0.3 } },
  { name: 'σ 0.3, wave ±25%/30 s', model: { ...DEFAULT_NOISE, spread: 0.3, wavePeriodS: 30 } },
  { name: 'σ 0.5, wave ±25%/60 s', model: { ...DEFAULT_NOISE, spread: 0.5 } },
  { name: 'σ 0.3, wave ±50%/20 s', model: { ...DEFAULT_NOISE, spread: 0.3, wave: 0.5, wavePeriodS: 20 } },
  { name: 'σ 0.3, shared AR(1) load ±30% (r 0.95/s), no wave', model: { ...DEFAULT_NOISE, spread: 0.3, wave: 0, sharedDrift: 0.3, sharedDriftCorrelation: 0.95 } },
  { name: 'σ 0.3, wave ±25%/60 s, own drift 2% (r 0.9/s)', model: { ...DEFAULT_NOISE, spread: 0.3, drift: 0.02, driftCorrelation: 0.9 } },
  { name: 'σ 0.3, wave ±25%/60 s, own drift 5% (r 0.9/s)', model: { ...DEFAULT_NOISE, spread: 0.3, drift: 0.05, driftCorrelation: 0.9 } },
  { name: 'σ 0.5, wave ±50%/120 s, own drift 10% (r 0.95/s)', model: { ...DEFAULT_NOISE, spread: 0.5, wave: 0.5, wavePeriodS: 120, drift: 0.1, driftCorrelation: 0.95 } },
];

type Judge = 'paired' | 'paired, beyond-tolerance' | 'mann-whitney';

function plan(judge: Judge, bakeS: number, tolerance = 0.05): AnalysisConfig {
  return analysisSchema.parse({
    judge: judge === 'mann-whitney' ? judge : 'paired',
    ...(judge === 'paired, beyond-tolerance' ? { failOn: 'beyond-tolerance' } : {}),
    interval: INTERVAL,
    bake: `${bakeS}s`,
    alpha: 0.05,
    requests: 'requests{track="{{track}}"}[{{window}}]',
    checks: [{ name: 'latency', query: 'latency{track="{{track}}"}[{{window}}]', direction: 'increase', allowedIncrease: tolerance }],
  });
}

async function gate(config: AnalysisConfig, model: NoiseModel, seed: number) {
  const clock = new FakeClock(0);
  const pair = simulatedPair(model, seed);
  const report = await runGate({ analysis: config, provider: pair, clock });
  const seconds = clock.now() / 1000;
  // Whether the tracks truly differed by more than the tolerance over the bake (their own drifts).
  const beyond = Math.abs(pair.trueLogRatio(0, Math.ceil(seconds))) > Math.log1p(0.05);
  return { verdict: report.verdict, seconds, beyond };
}

async function rate(judge: Judge, bakeS: number, model: NoiseModel, verdict: string, count = seeds, offset = 0, tolerance = 0.05) {
  let hits = 0;
  let within = 0;
  let hitsWithin = 0;
  const times: number[] = [];
  for (let s = 0; s < count; s++) {
    const r = await gate(plan(judge, bakeS, tolerance), model, 10_000 + offset + s);
    if (!r.beyond) within++;
    if (r.verdict === verdict) {
      hits++;
      if (!r.beyond) hitsWithin++;
      times.push(r.seconds);
    }
  }
  times.sort((a, b) => a - b);
  return { rate: hits / count, median: times[Math.floor(times.length / 2)], within, rateWithin: within > 0 ? hitsWithin / within : 0 };
}

/** The smallest bake in BAKES at which ≥ 95% of gates fail the regression. */
async function bakeNeeded(judge: Judge, model: NoiseModel, regression: number, tolerance = 0.05): Promise<string> {
  for (const bake of BAKES) {
    const { rate: caught } = await rate(judge, bake, { ...model, regression }, 'fail', seeds, 0, tolerance);
    if (caught >= 0.95) return `${bake} s`;
  }
  return `> ${BAKES.at(-1)} s`;
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const started = performance.now();
console.log(
  `paired vs mann-whitney judge, simulated; ${seeds} seeded gates per cell; 15 requests/s per track, median latency 20 ms, interval and window ${INTERVAL}, allowedIncrease 5%, α 0.05`,
);
console.log('');
console.log(
  '| noise model | bake to catch 15% (paired / mann-whitney) | caught at 20 s (paired / mann-whitney) | bake to catch 5%, allowedIncrease 1% (paired / mann-whitney) | A/A false failures, 60 s bake (paired, looks every window / mann-whitney) | paired with failOn: beyond-tolerance: A/A false failures (of the A/A pairs truly within tolerance over their bake) / bake to catch 15% | healthy canary passes (paired, 120 s max): share / median time |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const { name, model } of models) {
  const need15 = [await bakeNeeded('paired', model, 1.15), await bakeNeeded('mann-whitney', model, 1.15)];
  const at20 = [(await rate('paired', 20, { ...model, regression: 1.15 }, 'fail')).rate, (await rate('mann-whitney', 20, { ...model, regression: 1.15 }, 'fail')).rate];
  // A 5% regression is at the 5% tolerance: judged against allowedIncrease 1% instead.
  const need5 = [await bakeNeeded('paired', model, 1.05, 0.01), await bakeNeeded('mann-whitney', model, 1.05, 0.01)];
  const aa = [(await rate('paired', 60, model, 'fail', seeds * 4, 50_000)).rate, (await rate('mann-whitney', 60, model, 'fail', seeds * 4, 50_000)).rate];
  const beyondAA = await rate('paired, beyond-tolerance', 60, model, 'fail', seeds * 4, 50_000);
  const beyond = [beyondAA.rate, await bakeNeeded('paired, beyond-tolerance', model, 1.15)];
  const truly = beyondAA.within < seeds * 4 ? ` (${pct(beyondAA.rateWithin)} of ${beyondAA.within})` : '';
  const healthy = await rate('paired', 120, model, 'pass', seeds, 90_000);
  console.log(
    `| ${name} | ${need15.join(' / ')} | ${pct(at20[0] as number)} / ${pct(at20[1] as number)} | ${need5.join(' / ')} | ${pct(aa[0] as number)} / ${pct(aa[1] as number)} (${seeds * 4} pairs) | ${pct(beyond[0] as number)}${truly} / ${beyond[1]} | ${pct(healthy.rate)} / ${healthy.median ?? '–'} s |`,
  );
}

// Which test on the paired log-ratios holds α on skewed, autocorrelated windows? Fixed n = 10
// windows of A/A pairs, one-sided at α 0.05: the share that reject is the false-alarm rate.
console.log('');
console.log('fixed-sample tests on 10 A/A log-ratios, one-sided α 0.05 (false-alarm rate; 2,000 pairs each):');
console.log('| noise model | t-test on log-ratios | Wilcoxon signed-rank |');
console.log('| --- | --- | --- |');
for (const { name, model } of models) {
  let t = 0;
  let w = 0;
  const runs = 2000;
  for (let s = 0; s < runs; s++) {
    const pair = simulatedPair(model, 200_000 + s);
    const d: number[] = [];
    for (let i = 1; i <= 10; i++) {
      const c = await pair.query(`latency{track="canary"}[2s]`, { time: i * 2000 });
      const st = await pair.query(`latency{track="stable"}[2s]`, { time: i * 2000 });
      if (c.kind === 'value' && st.kind === 'value') d.push(Math.log(c.value / st.value));
    }
    const n = d.length;
    const mean = d.reduce((a, b) => a + b, 0) / n;
    const sd = Math.sqrt(d.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
    if (mean / (sd / Math.sqrt(n)) > studentQuantile(0.95, n - 1)) t++;
    if (wilcoxonSignedRank(d, 'greater').p < 0.05) w++;
  }
  console.log(`| ${name} | ${pct(t / runs)} | ${pct(w / runs)} |`);
}
console.log('');
console.log(`(${((performance.now() - started) / 1000).toFixed(0)} s)`);
