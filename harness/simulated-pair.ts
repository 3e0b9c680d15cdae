// A stable and a canary release simulated window by window, answering the gate's queries as a
// metrics backend would: seeded, in-process, thousands of gates a minute. It stands beside the
// real-Prometheus benchmark for the figures that need many runs (A/A false failures), with the
// same noise model: lognormal request latency, a load wave both tracks share, and slow drifts.
import type { MetricsProvider, QueryOutcome, RangeOutcome, RangeQuery, SeriesPoint } from '../src/core/metrics/provider.js';

/** The noise model; every figure the benchmark prints names these. */
export interface NoiseModel {
  /** Requests per second per track at the wave's midpoint. */
  rps: number;
  /** Median request latency in ms. */
  latencyMs: number;
  /** σ of log latency per request (0.5: p99 ≈ 3.2 × median). */
  spread: number;
  /** Load wave both tracks share: relative amplitude (0.25: ±25%) and period in seconds. Latency follows the load. */
  wave: number;
  wavePeriodS: number;
  /** Lag-1 autocorrelation (per second) and size of a slow drift of each track's own latency (relative). */
  drift: number;
  driftCorrelation: number;
  /** Size (relative) and lag-1 autocorrelation (per second) of a slow wander both tracks share: an autocorrelated load, not a periodic one. */
  sharedDrift?: number;
  sharedDriftCorrelation?: number;
  /** Canary latency multiplier: 1.15 is a 15% regression. */
  regression: number;
  /** Seconds after which the canary stops serving (requests 0, latency no data). */
  canaryDiesAtS?: number;
  /** The canary's request rate relative to stable's (default 1; 0.01: a canary the router starves). */
  canaryTraffic?: number;
}

export const DEFAULT_NOISE: NoiseModel = { rps: 15, latencyMs: 20, spread: 0.5, wave: 0.25, wavePeriodS: 60, drift: 0, driftCorrelation: 0, regression: 1 };

/** A small, fast seeded generator (mulberry32). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function normal(random: () => number): number {
  const u = Math.max(random(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

function poisson(random: () => number, mean: number): number {
  if (mean > 50) return Math.max(0, Math.round(mean + Math.sqrt(mean) * normal(random)));
  const limit = Math.exp(-mean);
  let k = 0;
  for (let p = random(); p > limit; p *= random()) k++;
  return k;
}

interface Second {
  requests: number;
  latencySum: number;
  /** The track's own drift this second (log of its latency factor): the truth no query shows. */
  drift: number;
}

/** The simulated pair: a metrics backend, and the truth behind it. */
export interface SimulatedPair extends MetricsProvider {
  /** The true mean log-ratio canary/stable from the tracks' own drifts and the regression, over the seconds [fromS, toS). */
  trueLogRatio(fromS: number, toS: number): number;
}

/**
 * The pair as a MetricsProvider. Queries are `latency{track="canary"}[3s]` (mean latency in the
 * window, ms) and `requests{track="canary"}[3s]` (requests in the window), evaluated at any time.
 */
export function simulatedPair(model: NoiseModel, seed: number, startMs = 0): SimulatedPair {
  const random = seededRandom(seed);
  const phase = random() * 2 * Math.PI;
  const seconds: Record<'canary' | 'stable', Second[]> = { canary: [], stable: [] };
  const drift = { canary: 0, stable: 0 };
  let shared = 0;
  const extend = (upTo: number) => {
    while (seconds.stable.length < upTo) {
      const t = seconds.stable.length;
      const r = model.sharedDriftCorrelation ?? 0;
      shared = r * shared + Math.sqrt(1 - r ** 2) * (model.sharedDrift ?? 0) * normal(random);
      const load = (1 + model.wave * Math.sin((2 * Math.PI * t) / model.wavePeriodS + phase)) * Math.exp(shared);
      for (const track of ['stable', 'canary'] as const) {
        drift[track] = model.driftCorrelation * drift[track] + Math.sqrt(1 - model.driftCorrelation ** 2) * model.drift * normal(random);
        const dead = track === 'canary' && model.canaryDiesAtS !== undefined && t >= model.canaryDiesAtS;
        const n = dead ? 0 : poisson(random, model.rps * load * (track === 'canary' ? (model.canaryTraffic ?? 1) : 1));
        const median = model.latencyMs * load * Math.exp(drift[track]) * (track === 'canary' ? model.regression : 1);
        let sum = 0;
        for (let i = 0; i < n; i++) sum += median * Math.exp(model.spread * normal(random));
        seconds[track].push({ requests: n, latencySum: sum, drift: drift[track] });
      }
    }
  };
  const windowOf = (track: 'canary' | 'stable', endMs: number, windowS: number) => {
    const end = Math.floor((endMs - startMs) / 1000);
    extend(end);
    const slice = seconds[track].slice(Math.max(0, end - windowS), end);
    return slice.reduce((a, s) => ({ requests: a.requests + s.requests, latencySum: a.latencySum + s.latencySum }), { requests: 0, latencySum: 0 });
  };
  const trueLogRatio = (fromS: number, toS: number) => {
    extend(toS);
    let sum = 0;
    for (let t = fromS; t < toS; t++) sum += (seconds.canary[t]?.drift ?? 0) - (seconds.stable[t]?.drift ?? 0);
    return sum / Math.max(1, toS - fromS) + Math.log(model.regression);
  };
  const answer = (query: string, time: number): QueryOutcome => {
    const match = /^(latency|requests)\{track="(canary|stable)"\}\[(\d+)s\]$/.exec(query);
    if (!match) throw new Error(`simulated pair: unexpected query ${query}`);
    const w = windowOf(match[2] as 'canary' | 'stable', time, Number(match[3]));
    if (match[1] === 'requests') return w.requests === 0 ? { kind: 'no-data' } : { kind: 'value', value: w.requests };
    return w.requests === 0 ? { kind: 'no-data' } : { kind: 'value', value: w.latencySum / w.requests };
  };
  return {
    name: 'simulated',
    trueLogRatio,
    async query(query, options) {
      return answer(query, options?.time ?? 0);
    },
    async queryRange(query: string, range: RangeQuery): Promise<RangeOutcome> {
      const points: SeriesPoint[] = [];
      for (let t = range.start; t <= range.end; t += range.stepMs) {
        const o = answer(query, t);
        if (o.kind === 'value') points.push({ time: t, value: o.value });
      }
      return points.length === 0 ? { kind: 'no-data' } : { kind: 'series', points };
    },
  };
}
