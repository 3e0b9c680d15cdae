import { describe, expect, it } from '@jest/globals';
import { FakeClock } from '../../src/core/clock.js';
import { ProviderError } from '../../src/core/errors.js';
import { runGate, judgeCheck } from '../../src/core/analysis/gate.js';
import { renderGateSummary } from '../../src/core/analysis/summary.js';
import type { GateReport } from '../../src/core/analysis/report.js';
import type { MetricsProvider, QueryOutcome } from '../../src/core/metrics/provider.js';
import { analysisSchema, type AnalysisConfig } from '../../src/core/plan/schema.js';

type Track = 'canary' | 'stable';
/** What the backend answers for a metric, a track and a round (1-based): a number, an outcome, or an error. */
type Script = (metric: string, track: Track, round: number) => number | QueryOutcome | 'error';

const INTERVAL = 1000;

/** An in-memory backend that answers each query from a script; queries look like `metric{track="canary"}`. */
function scripted(script: Script, clock: FakeClock): MetricsProvider & { queries: string[] } {
  const queries: string[] = [];
  return {
    name: 'scripted',
    queries,
    async query(query, options) {
      queries.push(query);
      const match = /^(\w+)\{track="(canary|stable)"/.exec(query);
      if (!match) throw new Error(`unexpected query ${query}`);
      const round = Math.round((options?.time ?? clock.now()) / INTERVAL);
      const answer = script(match[1] as string, match[2] as Track, round);
      if (answer === 'error') throw new ProviderError('scripted', 'connection refused', true);
      return typeof answer === 'number' ? { kind: 'value', value: answer } : answer;
    },
    async queryRange() {
      return { kind: 'no-data' };
    },
  };
}

function analysis(overrides: Record<string, unknown>): AnalysisConfig {
  return analysisSchema.parse({ interval: '1s', bake: '5s', ...overrides });
}

async function gate(config: AnalysisConfig, script: Script, vars?: Record<string, string>) {
  const clock = new FakeClock(0);
  const provider = scripted(script, clock);
  const lines: string[] = [];
  const report = await runGate({ analysis: config, provider, clock, vars, log: (l) => lines.push(l) });
  return { report, lines, provider, clock };
}

const errorRate = { name: 'error-rate', query: 'errors{track="{{track}}"}[{{window}}]' };
const latency = { name: 'p99', query: 'latency{track="{{track}}"}' };

function measurementsOf(report: GateReport, check: string) {
  return report.measurements.filter((m) => m.check === check);
}

describe('threshold gate', () => {
  it('passes a canary within its absolute and relative limits, one measurement per interval across the bake', async () => {
    const { report, clock } = await gate(analysis({ checks: [{ ...errorRate, max: 0.05, maxIncrease: 0.01 }] }), (_m, track) => (track === 'canary' ? 0.012 : 0.01));
    expect(report.verdict).toBe('pass');
    expect(measurementsOf(report, 'error-rate')).toHaveLength(5);
    expect(report.measurements.every((m) => m.outcome === 'pass' && m.canary === 0.012 && m.stable === 0.01)).toBe(true);
    expect(clock.now()).toBe(5000);
    expect(report.checks[0]).toMatchObject({ name: 'error-rate', outcome: 'pass', canary: 0.012, stable: 0.01 });
  });

  it('fails when the canary exceeds max, and stops at once instead of waiting out the bake', async () => {
    const { report, clock } = await gate(analysis({ bake: '60s', checks: [{ ...errorRate, max: 0.05 }] }), (_m, track, round) => (track === 'canary' && round >= 3 ? 0.1 : 0.01));
    expect(report.verdict).toBe('fail');
    expect(report.reason).toMatch(/error-rate.*canary 0\.1 > max 0\.05/);
    expect(clock.now()).toBe(3000);
    expect(measurementsOf(report, 'error-rate').map((m) => m.outcome)).toEqual(['pass', 'pass', 'fail']);
  });

  it('fails when canary − stable exceeds maxIncrease even under the absolute max', async () => {
    const { report } = await gate(analysis({ checks: [{ ...errorRate, max: 0.5, maxIncrease: 0.005 }] }), (_m, track) => (track === 'canary' ? 0.03 : 0.01));
    expect(report.verdict).toBe('fail');
    expect(report.reason).toMatch(/canary − stable = 0\.02 > maxIncrease 0\.005/);
  });

  it('fails when stable − canary exceeds maxDecrease', async () => {
    const { report } = await gate(analysis({ checks: [{ name: 'conversions', query: 'conv{track="{{track}}"}', maxDecrease: 0.1 }] }), (_m, track) =>
      track === 'canary' ? 0.5 : 0.7,
    );
    expect(report.verdict).toBe('fail');
    expect(report.reason).toMatch(/maxDecrease/);
  });

  it('fails when canary / stable exceeds maxRatio (3× slower at p99)', async () => {
    const { report } = await gate(analysis({ checks: [{ ...latency, maxRatio: 1.5 }] }), (_m, track) => (track === 'canary' ? 0.3 : 0.1));
    expect(report.verdict).toBe('fail');
    expect(report.reason).toMatch(/canary \/ stable = 3 > maxRatio 1\.5/);
  });

  it('fails when canary / stable falls below minRatio, and when the canary falls below min', async () => {
    const ratio = await gate(analysis({ checks: [{ name: 'throughput', query: 'tp{track="{{track}}"}', minRatio: 0.9 }] }), (_m, t) => (t === 'canary' ? 80 : 100));
    expect(ratio.report.verdict).toBe('fail');
    expect(ratio.report.reason).toMatch(/< minRatio 0\.9/);
    const floor = await gate(analysis({ checks: [{ name: 'checkout-success', query: 'ok{track="{{track}}"}', min: 0.98 }] }), () => 0.95);
    expect(floor.report.verdict).toBe('fail');
    expect(floor.report.reason).toMatch(/canary 0\.95 < min 0\.98/);
  });

  it('tolerates failed measurements up to failureLimit, and fails on the next one', async () => {
    const tolerated = await gate(analysis({ failureLimit: 1, checks: [{ ...errorRate, max: 0.05 }] }), (_m, t, round) => (t === 'canary' && round === 2 ? 0.2 : 0.01));
    expect(tolerated.report.verdict).toBe('pass');
    expect(tolerated.report.checks[0]?.reason).toMatch(/4\/5 measurement\(s\) passed; 1 failed \(within failureLimit 1\)/);
    const exceeded = await gate(analysis({ failureLimit: 1, checks: [{ ...errorRate, max: 0.05 }] }), (_m, t, round) =>
      t === 'canary' && (round === 2 || round === 4) ? 0.2 : 0.01,
    );
    expect(exceeded.report.verdict).toBe('fail');
    expect(exceeded.clock.now()).toBe(4000);
    expect(exceeded.report.reason).toMatch(/failed 2 measurement\(s\), more than failureLimit 1/);
  });

  describe('`for`: a breach must persist', () => {
    const check = { ...errorRate, max: 0.05, for: '2s' };
    it('ignores a breach shorter than `for` that recovers', async () => {
      const { report } = await gate(analysis({ checks: [check] }), (_m, t, round) => (t === 'canary' && round === 2 ? 0.2 : 0.01));
      expect(report.verdict).toBe('pass');
      expect(measurementsOf(report, 'error-rate').map((m) => m.outcome)).toEqual(['pass', 'breach', 'pass', 'pass', 'pass']);
    });
    it('fails once the breach has lasted `for`', async () => {
      const { report, clock } = await gate(analysis({ bake: '10s', checks: [check] }), (_m, t, round) => (t === 'canary' && round >= 3 ? 0.2 : 0.01));
      expect(report.verdict).toBe('fail');
      // Breached at 3s, 4s (1s so far), 5s (2s = for): fails at 5s.
      expect(clock.now()).toBe(5000);
      expect(measurementsOf(report, 'error-rate').map((m) => m.outcome)).toEqual(['pass', 'pass', 'breach', 'breach', 'fail']);
    });
    it('keeps the breach running through a measurement with no data (no data proves no recovery)', async () => {
      const { report } = await gate(analysis({ bake: '10s', checks: [check] }), (_m, t, round) =>
        t !== 'canary' ? 0.01 : round === 2 ? { kind: 'no-data' } : round >= 1 ? 0.2 : 0.01,
      );
      expect(report.verdict).toBe('fail');
      expect(measurementsOf(report, 'error-rate').map((m) => m.outcome)).toEqual(['breach', 'inconclusive', 'fail']);
    });
    it('is inconclusive, not pass, when a breach is still running at the end of the bake', async () => {
      const { report } = await gate(analysis({ checks: [{ ...check, for: '10s' }] }), (_m, t, round) => (t === 'canary' && round >= 4 ? 0.2 : 0.01));
      expect(report.verdict).toBe('inconclusive');
      expect(report.reason).toMatch(/still breaching at the end of the bake/);
    });
  });

  describe('provider errors', () => {
    it('tolerates consecutiveErrorLimit errors in a row, and a later success resets the count', async () => {
      const { report } = await gate(analysis({ bake: '6s', consecutiveErrorLimit: 2, checks: [{ ...errorRate, max: 0.05 }] }), (_m, _t, round) =>
        [1, 2, 4, 5].includes(round) ? 'error' : 0.01,
      );
      expect(report.verdict).toBe('pass');
      expect(measurementsOf(report, 'error-rate').map((m) => m.outcome)).toEqual(['error', 'error', 'pass', 'error', 'error', 'pass']);
    });
    it('ends in error after more than consecutiveErrorLimit errors in a row, never pass', async () => {
      const { report, clock } = await gate(analysis({ bake: '60s', consecutiveErrorLimit: 2, checks: [{ ...errorRate, max: 0.05 }] }), (_m, _t, round) =>
        round >= 2 ? 'error' : 0.01,
      );
      expect(report.verdict).toBe('error');
      expect(clock.now()).toBe(4000);
      expect(report.reason).toMatch(/3 metrics errors in a row, more than consecutiveErrorLimit 2.*connection refused/);
    });
    it('treats a query returning several series as an error (a missing sum), not a number', async () => {
      const { report } = await gate(analysis({ consecutiveErrorLimit: 0, checks: [{ ...errorRate, max: 0.05 }] }), () => ({ kind: 'many-series', count: 3 }));
      expect(report.verdict).toBe('error');
      expect(report.reason).toMatch(/3 series where one was expected/);
    });
    it('ends in error when every measurement erred, even if the bake was too short to reach the limit', async () => {
      const { report } = await gate(analysis({ bake: '2s', consecutiveErrorLimit: 4, checks: [{ ...errorRate, max: 0.05 }] }), () => 'error');
      expect(report.verdict).toBe('error');
      expect(report.reason).toMatch(/check error-rate: every one of 2 measurement\(s\) ended in an error: scripted: connection refused/);
      expect(report.checks[0]?.outcome).toBe('error');
    });
    it('is inconclusive when measurements erred or had no data and none passed', async () => {
      const { report } = await gate(analysis({ bake: '2s', consecutiveErrorLimit: 4, checks: [{ ...errorRate, max: 0.05 }] }), (_m, _t, round) =>
        round === 1 ? 'error' : { kind: 'no-data' },
      );
      expect(report.verdict).toBe('inconclusive');
      expect(report.reason).toMatch(/no conclusive passing measurement in 2 \(1× canary: no data, 1× scripted: connection refused\)/);
    });
  });

  describe('missing data fails closed', () => {
    it('is inconclusive when the canary has no data', async () => {
      const { report } = await gate(analysis({ checks: [{ ...errorRate, max: 0.05 }] }), (_m, t) => (t === 'canary' ? { kind: 'no-data' } : 0.01));
      expect(report.verdict).toBe('inconclusive');
      expect(report.reason).toMatch(/check error-rate: no conclusive passing measurement in 5 \(5× canary: no data\)/);
      expect(report.checks[0]?.outcome).toBe('inconclusive');
    });
    it('is inconclusive when stable has no data and the check compares against it', async () => {
      const { report } = await gate(analysis({ checks: [{ ...errorRate, maxIncrease: 0.01 }] }), (_m, t) => (t === 'stable' ? { kind: 'no-data' } : 0.01));
      expect(report.verdict).toBe('inconclusive');
      expect(report.reason).toMatch(/stable: no data, nothing to compare with/);
    });
    it('still judges absolute limits when stable has no data and the check does not compare', async () => {
      const { report } = await gate(analysis({ checks: [{ ...errorRate, max: 0.05 }] }), (_m, t) => (t === 'stable' ? { kind: 'no-data' } : 0.01));
      expect(report.verdict).toBe('pass');
    });
    it('fails on an absolute breach even when stable has no data to compare with', async () => {
      const { report } = await gate(analysis({ checks: [{ ...errorRate, max: 0.05, maxIncrease: 0.01 }] }), (_m, t) => (t === 'stable' ? { kind: 'no-data' } : 0.5));
      expect(report.verdict).toBe('fail');
    });
    it('is inconclusive on NaN (no traffic: 0/0) and on +Inf', async () => {
      const nan = await gate(analysis({ checks: [{ ...latency, max: 1 }] }), () => ({ kind: 'nan' }));
      expect(nan.report.verdict).toBe('inconclusive');
      expect(nan.report.reason).toMatch(/canary: NaN/);
      expect(nan.report.measurements[0]).toMatchObject({ canaryOutcome: 'NaN', outcome: 'inconclusive' });
      const inf = await gate(analysis({ checks: [{ ...latency, max: 1 }] }), () => ({ kind: 'infinite', sign: 1 }));
      expect(inf.report.verdict).toBe('inconclusive');
      expect(inf.report.reason).toMatch(/canary: \+Inf/);
    });
    it('is inconclusive on division by zero when stable is 0 in a ratio', async () => {
      const { report } = await gate(analysis({ checks: [{ ...errorRate, maxRatio: 2 }] }), () => 0);
      expect(report.verdict).toBe('inconclusive');
      expect(report.reason).toMatch(/division by zero in a ratio/);
    });
    it('fails, never passes, when the canary had a value once and no data for the rest of the bake', async () => {
      const { report } = await gate(analysis({ checks: [{ ...errorRate, max: 0.05 }] }), (_m, t, round) => (t === 'canary' && round !== 2 ? { kind: 'no-data' } : 0.01));
      expect(report.verdict).toBe('fail');
      expect(report.reason).toMatch(/check error-rate: the canary had values earlier in the bake and its latest measurement is no data/);
    });
    it('is inconclusive, never a pass, when most of the bake had no data even though the latest measurement passed', async () => {
      const { report } = await gate(analysis({ checks: [{ ...errorRate, max: 0.05 }] }), (_m, t, round) => (t === 'canary' && round !== 5 ? { kind: 'no-data' } : 0.01));
      expect(report.verdict).toBe('inconclusive');
      expect(report.reason).toMatch(/check error-rate: 4 of 5 measurement\(s\) were inconclusive, more than the 1 that passed \(4× canary: no data\); not a pass/);
    });

    it('tolerates exactly inconclusiveLimit inconclusive measurements when the plan sets it', async () => {
      const script: Script = (_m, t, round) => (t === 'canary' && round <= 2 ? { kind: 'no-data' } : 0.01);
      expect((await gate(analysis({ inconclusiveLimit: 2, checks: [{ ...errorRate, max: 0.05 }] }), script)).report.verdict).toBe('pass');
      const strict = await gate(analysis({ inconclusiveLimit: 1, checks: [{ ...errorRate, max: 0.05 }] }), script);
      expect(strict.report.verdict).toBe('inconclusive');
      expect(strict.report.reason).toMatch(/2 of 5 measurement\(s\) were inconclusive, more than inconclusiveLimit 1/);
    });

    it('passes when an early measurement had no data but later ones passed', async () => {
      const { report } = await gate(analysis({ checks: [{ ...errorRate, max: 0.05 }] }), (_m, t, round) => (round === 1 ? { kind: 'no-data' } : 0.01));
      expect(report.verdict).toBe('pass');
      expect(report.checks[0]?.reason).toMatch(/4\/5 measurement\(s\) passed; 1× canary: no data/);
    });
  });

  describe('minRequests', () => {
    const requests = 'requests{track="{{track}}"}[{{window}}]';
    it('is inconclusive when either track served fewer requests than minRequests', async () => {
      const { report } = await gate(analysis({ minRequests: 100, requests, checks: [{ ...errorRate, max: 0.05 }] }), (m, t) =>
        m === 'requests' ? (t === 'canary' ? 500 : 20) : 0.01,
      );
      expect(report.verdict).toBe('inconclusive');
      expect(report.reason).toMatch(/too few requests \(stable < minRequests 100\)/);
      expect(report.measurements[0]).toMatchObject({ canaryRequests: 500, stableRequests: 20, outcome: 'inconclusive' });
    });
    it('counts a requests query with no series as zero requests', async () => {
      const { report } = await gate(analysis({ minRequests: 1, requests, checks: [{ ...errorRate, max: 0.05 }] }), (m, t) =>
        m === 'requests' && t === 'canary' ? { kind: 'no-data' } : m === 'requests' ? 50 : 0.01,
      );
      expect(report.verdict).toBe('fail');
      expect(report.reason).toMatch(
        /the canary has no traffic now: the canary served 0 requests in the latest window \(stable 50\), and in the 2 window\(s\) before; a canary without traffic is never a pass/,
      );
      expect(report.measurements[0]?.reason).toMatch(/the canary served 0 requests/);
    });
    it('judges normally with enough requests', async () => {
      const { report, provider } = await gate(analysis({ minRequests: 100, requests, checks: [{ ...errorRate, max: 0.05 }] }), (m) => (m === 'requests' ? 1000 : 0.01));
      expect(report.verdict).toBe('pass');
      expect(provider.queries).toContain('requests{track="canary"}[1s]');
    });
  });

  it('fills {{track}}, {{window}} and extra placeholders, and the window defaults to the interval', async () => {
    const { provider } = await gate(
      analysis({ interval: '2s', bake: '2s', checks: [{ name: 'x', query: 'errors{track="{{track}}",service="{{service}}"}[{{window}}]', max: 1 }] }),
      () => 0,
      {
        service: 'orders',
      },
    );
    expect(provider.queries.sort()).toEqual(['errors{track="canary",service="orders"}[2s]', 'errors{track="stable",service="orders"}[2s]']);
  });

  it('ends in error before measuring when a query names an unknown placeholder', async () => {
    const { report, provider } = await gate(analysis({ checks: [{ name: 'x', query: 'errors{track="{{track}}",v="{{versoin}}"}', max: 1 }] }), () => 0);
    expect(report.verdict).toBe('error');
    expect(report.reason).toMatch(/analysis\.checks\[0\]\.query: unknown placeholder \{\{versoin\}\}/);
    expect(provider.queries).toHaveLength(0);
  });

  it('ends in error, never pass, when a check has only statistical settings the threshold judge cannot judge', async () => {
    // The plan schema refuses such a check; this guards analyses built in code.
    const config = analysis({ checks: [{ ...errorRate, max: 1, direction: 'increase' }] });
    delete config.checks[0]?.max;
    const { report, provider } = await gate(config, () => 0.01);
    expect(report.verdict).toBe('error');
    expect(report.reason).toMatch(/check error-rate: no threshold limit .* set analysis\.judge: mann-whitney/);
    expect(provider.queries).toHaveLength(0);
  });

  it('ends in error when cancelled', async () => {
    const controller = new AbortController();
    const clock = new FakeClock(0);
    const provider = scripted((_m, _t, round) => {
      if (round === 2) controller.abort();
      return 0.01;
    }, clock);
    const report = await runGate({ analysis: analysis({ checks: [{ ...errorRate, max: 0.05 }] }), provider, clock, signal: controller.signal });
    expect(report.verdict).toBe('error');
    expect(report.reason).toMatch(/cancelled/);
  });

  it('logs one progress line per measurement', async () => {
    const { lines } = await gate(analysis({ bake: '2s', checks: [{ ...errorRate, max: 0.05 }] }), (_m, t) => (t === 'canary' ? 0.004 : 0.001));
    expect(lines).toContain('measurement 2/2: error-rate canary 0.004 stable 0.001 → pass');
    expect(lines.at(-1)).toMatch(/^verdict: pass/);
  });

  it('judgeCheck reports every crossed limit', () => {
    const j = judgeCheck(analysis({ checks: [{ ...errorRate, max: 0.05, maxIncrease: 0.01 }] }).checks[0]!, { kind: 'value', value: 0.2 }, { kind: 'value', value: 0.01 });
    expect(j.outcome).toBe('breach');
    expect(j.reason).toMatch(/> max 0\.05; canary − stable = 0\.19 > maxIncrease 0\.01/);
  });
});

describe('threshold gate: a canary that vanishes fails closed', () => {
  const requests = 'requests{track="{{track}}"}[{{window}}]';
  const healthy = (m: string, t: Track) => (m === 'requests' ? (t === 'canary' ? 20 : 180) : 0.01);

  it('fails at once, whatever passed before, when the canary stops serving mid-bake', async () => {
    const { report, clock } = await gate(analysis({ bake: '10s', requests, checks: [{ ...errorRate, max: 0.05 }] }), (m, t, round) =>
      round >= 8 && t === 'canary' ? { kind: 'no-data' } : healthy(m, t),
    );
    expect(report.verdict).toBe('fail');
    expect(report.reason).toBe('the canary lost its traffic mid-bake: the canary served 0 requests in the latest window (stable 180), and in the 2 window(s) before');
    // One window without canary requests may be missed scrapes; three in a row (short windows) confirm it.
    expect(clock.now()).toBe(10000);
    expect(measurementsOf(report, 'error-rate').filter((m) => m.outcome === 'pass')).toHaveLength(7);
  });

  it('fails when the canary serves far less than its weight predicts beside stable', async () => {
    const { report } = await gate(
      analysis({ requests, checks: [{ ...errorRate, max: 0.05 }] }),
      (m, t, round) => (m === 'requests' && t === 'canary' && round >= 3 ? 1 : healthy(m, t)),
      {
        weight: '10',
      },
    );
    expect(report.verdict).toBe('fail');
    expect(report.reason).toMatch(/the canary served 1 requests in the latest window where its weight 10% predicts about 20 beside stable's 180/);
  });

  it('fails a canary starved from the first window (1% of requests) when its weight says 20%, and passes it without the weight', async () => {
    const config = analysis({ bake: '10s', requests, checks: [{ ...errorRate, max: 0.05 }] });
    const starved = (m: string, t: Track) => (m === 'requests' ? (t === 'canary' ? 6 : 594) : 0.01);
    const clock = new FakeClock(0);
    const weighed = await runGate({ analysis: config, provider: scripted(starved, clock), clock, weight: 20 });
    expect(weighed.verdict).toBe('fail');
    expect(weighed.reason).toBe(
      "the canary lost its traffic: far fewer requests than its weight predicts in every window since the bake began: the canary served 6 requests in the latest window where its weight 20% predicts about 149 beside stable's 594, and in the 2 window(s) before",
    );
    // Three windows confirm it (short windows), after a first one that served: the bake is not waited out.
    expect(clock.now()).toBe(4000);
    // The same gate without the weight sees a steady 1% share and nothing lost: the weight is what catches it.
    const { report: unweighed } = await gate(config, starved);
    expect(unweighed.verdict).toBe('pass');
  });

  it('never passes a canary that got no requests, with minRequests 0', async () => {
    const { report } = await gate(analysis({ requests, checks: [{ ...errorRate, max: 0.05 }] }), (m, t) => (m === 'requests' && t === 'canary' ? 0 : healthy(m, t)));
    expect(report.verdict).toBe('fail');
    expect(report.reason).toMatch(/^the canary has no traffic now: the canary served 0 requests/);
  });

  it('is an error when the requests query returns several series', async () => {
    const { report } = await gate(analysis({ requests, consecutiveErrorLimit: 1, checks: [{ ...errorRate, max: 0.05 }] }), (m, t) =>
      m === 'requests' ? { kind: 'many-series', count: 3 } : healthy(m, t),
    );
    expect(report.verdict).toBe('error');
    expect(report.reason).toMatch(/requests query: canary: 3 series where one was expected \(aggregate it with sum\(\)\)/);
  });

  it('explains a check with no series while the canary served requests, in the log and the summary', async () => {
    const { report, lines } = await gate(analysis({ requests, checks: [{ ...errorRate, max: 0.05 }] }), (m, t) =>
      m === 'errors' && t === 'canary' ? { kind: 'no-data' } : healthy(m, t),
    );
    expect(report.verdict).toBe('inconclusive');
    const explained =
      'the query returned no series while canary served 20 requests — a numerator with no series yet (no 5xx so far?); see docs/metrics-gate.md#a-numerator-with-no-series-yet';
    expect(lines.some((l) => l.includes(explained))).toBe(true);
    expect(report.measurements[0]?.reason).toBe(explained);
    expect(renderGateSummary(report)).toContain('a numerator with no series yet');
  });

  it('fails a check whose canary and stable queries come out identical', async () => {
    const config = analysis({ checks: [{ ...errorRate, maxIncrease: 0.01 }] });
    const blind = { ...config, checks: [{ ...config.checks[0]!, query: 'errors{track="canary"}[{{window}}]' }] };
    const { report, provider } = await gate(blind, () => 0.01);
    expect(report.verdict).toBe('fail');
    expect(report.reason).toMatch(/check error-rate: its canary and stable queries are identical/);
    expect(provider.queries).toHaveLength(0);
  });

  it('is refused by the plan schema when a comparing check or the requests query lacks {{track}}', () => {
    const relative = analysisSchema.safeParse({ checks: [{ name: 'e', query: 'errors[1m]', maxIncrease: 0.01 }] });
    expect(relative.success).toBe(false);
    expect(relative.error?.issues[0]).toMatchObject({ path: ['checks', 0, 'query'], message: expect.stringMatching(/^expected \{\{track\}\} in the query/) });
    expect(analysisSchema.safeParse({ judge: 'mann-whitney', checks: [{ name: 'e', query: 'errors[1m]', direction: 'increase' }] }).success).toBe(false);
    expect(analysisSchema.safeParse({ checks: [{ name: 'e', query: 'errors[1m]', max: 1 }] }).success).toBe(true);
    expect(analysisSchema.safeParse({ requests: 'sum(requests)', checks: [{ name: 'e', query: 'errors[1m]', max: 1 }] }).error?.issues[0]?.path).toEqual(['requests']);
  });
});

describe('gate summary', () => {
  it('has one row per check and a Mermaid xychart of canary and stable values and the limit (stable + maxIncrease, tighter than max)', async () => {
    const { report } = await gate(
      analysis({
        checks: [
          { ...errorRate, max: 0.05, maxIncrease: 0.01 },
          { ...latency, max: 1 },
        ],
      }),
      (m, t, round) => (m === 'errors' ? (t === 'canary' ? 0.01 * round : 0.01) : 0.2),
    );
    const md = renderGateSummary(report, 'gate: orders');
    expect(md).toMatch(/^### gate: orders: ❌ fail/);
    expect(md).toContain('| Check | Stable | Canary | Limit | Outcome | Why |');
    expect(md).toMatch(/\| error-rate \| 0\.01 \| 0\.03 \| ≤ 0\.05; canary − stable ≤ 0\.01 \| ❌ fail \|/);
    expect(md).toMatch(/\| p99 \| 0\.2 \| 0\.2 \| ≤ 1 \| ✅ pass \|/);
    const chart =
      /```mermaid\nxychart-beta\n {2}title "error-rate"\n {2}x-axis \["1s", "2s", "3s"\]\n {2}line \[0\.01, 0\.02, 0\.03\]\n {2}line \[0\.01, 0\.01, 0\.01\]\n {2}line \[0\.02, 0\.02, 0\.02\]\n```/;
    expect(md).toMatch(chart);
  });

  it('leaves charts out when there are no numbers to draw, and escapes pipes in reasons', async () => {
    const { report } = await gate(analysis({ bake: '2s', checks: [{ ...errorRate, max: 0.05 }] }), () => ({ kind: 'no-data' }));
    const md = renderGateSummary({ ...report, reason: 'a | b' });
    expect(md).not.toContain('xychart-beta');
    expect(md).toContain('a \\| b');
    expect(md).toContain('⚠️ inconclusive');
  });
});

describe('traffic loss', () => {
  it('needs several windows in a row without canary requests: one alone may be a missed scrape', async () => {
    const { sustainedTrafficLoss, canaryTrafficLoss } = await import('../../src/core/analysis/traffic.js');
    const served = { canary: 20, stable: 180 };
    const none = { canary: 0, stable: 180 };
    expect(canaryTrafficLoss([served, served, none])).toMatch(/served 0 requests/);
    expect(sustainedTrafficLoss([served, served, none], undefined, 2)).toBeUndefined();
    expect(sustainedTrafficLoss([served, none, none], undefined, 2)).toMatch(/and in the 1 window\(s\) before$/);
    expect(sustainedTrafficLoss([served, none, none], undefined, 3)).toBeUndefined();
    expect(sustainedTrafficLoss([none], undefined, 3)).toMatch(/served 0 requests/);
    // Far below its share: 1 where about 34 are expected (the share pooled over every earlier window), beyond chance (binomial tail < 1e-6).
    const low = { canary: 1, stable: 360 };
    expect(sustainedTrafficLoss([served, served, served, served, served, served, served, served, served, served, served, low, low], undefined, 2)).toMatch(
      /its share earlier in the bake predicts about 34/,
    );
    expect(sustainedTrafficLoss([served, served, { canary: 12, stable: 180 }, { canary: 12, stable: 180 }], undefined, 2)).toBeUndefined();
    // Neither track counted: missed scrapes, not a dead canary.
    expect(canaryTrafficLoss([served, served, { canary: 0, stable: 0 }])).toBeUndefined();
  });
});
