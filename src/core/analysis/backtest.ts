import { FakeClock } from '../clock.js';
import { formatDuration } from '../duration.js';
import { outcomeOf, type MetricsProvider, type QueryOutcome, type RangeOutcome, type RangeQuery } from '../metrics/provider.js';
import type { AnalysisConfig, CheckConfig } from '../plan/schema.js';
import { runGate } from './gate.js';
import { formatValue, type GateReport, type Measurement } from './report.js';
import { renderGateSummary } from './summary.js';
import type { Verdict } from './verdict.js';

/** A past stretch of time to judge, in unix ms. */
export interface BacktestWindow {
  from: number;
  to: number;
  /** Where the window came from, e.g. `deployment #12 (v1.4.2), step 25%`. */
  label?: string;
}

/** How close a check came to failing: the smallest slack to any of its limits over the window. */
export interface CheckMargin {
  check: string;
  dryRun: boolean;
  /** Limit value minus measured value, the way the limit points; negative means breached. */
  margin?: number;
  /** Which limit was closest, e.g. `max 0.05`. */
  limit?: string;
  /** When the closest approach was measured (unix ms). */
  at?: number;
  /** The canary (and stable) value then. */
  canary?: number;
  stable?: number;
}

/** What the gate would have said over one past window. */
export interface BacktestResult {
  window: BacktestWindow;
  verdict: Verdict;
  reason: string;
  /** When the gate would have decided against the canary (unix ms); undefined when it passed. */
  firedAt?: number;
  /** The measurement round that decided it. */
  firedRound?: number;
  margins: CheckMargin[];
  report: GateReport;
  /** Range queries sent (the replay answers each measurement from them). */
  rangeQueries: number;
}

/** Prometheus answers at most 11,000 points per series per range query. */
const MAX_POINTS_PER_QUERY = 10_000;

/**
 * Answers the gate's instant queries from range queries over the whole window: one range query
 * per distinct query instead of one instant query per measurement. A range query evaluates the
 * expression at each step exactly as an instant query at that time would, so the judge sees the
 * same numbers. A query whose range answer holds several series falls back to instant queries,
 * so the judge still sees what it would have seen live.
 */
export class ReplayProvider implements MetricsProvider {
  readonly name: string;
  private readonly answers = new Map<string, Promise<Map<number, QueryOutcome> | 'live'>>();
  rangeQueries = 0;

  constructor(
    private readonly backend: MetricsProvider,
    private readonly range: RangeQuery,
  ) {
    this.name = `${backend.name} (replay)`;
  }

  async query(query: string, options: { time?: number; signal?: AbortSignal } = {}): Promise<QueryOutcome> {
    const time = options.time;
    if (time === undefined || time < this.range.start || time > this.range.end || (time - this.range.start) % this.range.stepMs !== 0) return this.backend.query(query, options);
    let answer = this.answers.get(query);
    if (!answer) {
      answer = this.fetch(query, options.signal);
      this.answers.set(query, answer);
    }
    const points = await answer;
    if (points === 'live') return this.backend.query(query, options);
    return points.get(time) ?? { kind: 'no-data' };
  }

  queryRange(query: string, range: RangeQuery, options?: { signal?: AbortSignal }): Promise<RangeOutcome> {
    return this.backend.queryRange(query, range, options);
  }

  private async fetch(query: string, signal?: AbortSignal): Promise<Map<number, QueryOutcome> | 'live'> {
    const points = new Map<number, QueryOutcome>();
    const { start, end, stepMs } = this.range;
    for (let chunkStart = start; chunkStart <= end; chunkStart += MAX_POINTS_PER_QUERY * stepMs) {
      const chunkEnd = Math.min(end, chunkStart + (MAX_POINTS_PER_QUERY - 1) * stepMs);
      this.rangeQueries++;
      const outcome = await this.backend.queryRange(query, { start: chunkStart, end: chunkEnd, stepMs }, { signal });
      if (outcome.kind === 'many-series') return 'live';
      if (outcome.kind === 'series') for (const p of outcome.points) points.set(p.time, outcomeOf(p.value));
    }
    return points;
  }
}

/** The slack of one measurement against each limit of its check; negative where it crossed. */
export function slacks(check: CheckConfig, canary: number, stable: number | undefined): { limit: string; slack: number }[] {
  const out: { limit: string; slack: number }[] = [];
  if (check.max !== undefined) out.push({ limit: `max ${formatValue(check.max)}`, slack: check.max - canary });
  if (check.min !== undefined) out.push({ limit: `min ${formatValue(check.min)}`, slack: canary - check.min });
  if (stable !== undefined) {
    if (check.maxIncrease !== undefined) out.push({ limit: `maxIncrease ${formatValue(check.maxIncrease)}`, slack: check.maxIncrease - (canary - stable) });
    if (check.maxDecrease !== undefined) out.push({ limit: `maxDecrease ${formatValue(check.maxDecrease)}`, slack: check.maxDecrease - (stable - canary) });
    if (stable > 0 && check.maxRatio !== undefined) out.push({ limit: `maxRatio ${formatValue(check.maxRatio)}`, slack: check.maxRatio - canary / stable });
    if (stable > 0 && check.minRatio !== undefined) out.push({ limit: `minRatio ${formatValue(check.minRatio)}`, slack: canary / stable - check.minRatio });
  }
  return out;
}

function marginsOf(analysis: AnalysisConfig, measurements: readonly Measurement[]): CheckMargin[] {
  return analysis.checks.map((check) => {
    const margin: CheckMargin = { check: check.name, dryRun: check.dryRun === true };
    for (const m of measurements) {
      if (m.check !== check.name || m.canary === undefined) continue;
      for (const s of slacks(check, m.canary, m.stable)) {
        if (margin.margin !== undefined && s.slack >= margin.margin) continue;
        Object.assign(margin, { margin: s.slack, limit: s.limit, at: m.time, canary: m.canary });
        if (m.stable !== undefined) margin.stable = m.stable;
      }
    }
    return margin;
  });
}

export interface BacktestOptions {
  analysis: AnalysisConfig;
  provider: MetricsProvider;
  window: BacktestWindow;
  vars?: Record<string, string>;
  log?: (line: string) => void;
  signal?: AbortSignal;
}

/**
 * Replays the gate over a past window: the same runGate, on a virtual clock that starts at
 * `from`, with one bake as long as the window, its measurements answered from range queries.
 */
export async function runBacktest(options: BacktestOptions): Promise<BacktestResult> {
  const { window } = options;
  const bake = window.to - window.from;
  const analysis: AnalysisConfig = { ...options.analysis, bake: Math.max(bake, options.analysis.interval) };
  const rounds = Math.max(1, Math.floor(analysis.bake / analysis.interval));
  const replay = new ReplayProvider(options.provider, { start: window.from + analysis.interval, end: window.from + rounds * analysis.interval, stepMs: analysis.interval });
  const clock = new FakeClock(window.from);
  const report = await runGate({ analysis, provider: replay, clock, vars: options.vars, log: options.log, signal: options.signal });
  const result: BacktestResult = {
    window,
    verdict: report.verdict,
    reason: report.reason,
    margins: marginsOf(analysis, report.measurements),
    report,
    rangeQueries: replay.rangeQueries,
  };
  if (report.verdict !== 'pass') {
    result.firedAt = report.endedAt;
    const last = report.measurements.at(-1);
    if (last) result.firedRound = last.round;
  }
  return result;
}

const BARS = '▁▂▃▄▅▆▇█';

/** A one-line chart of a series for a terminal, thinned to `width` points. */
export function sparkline(values: readonly number[], width = 60): string {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return '';
  const shown = values.length <= width ? values : Array.from({ length: width }, (_, i) => values[Math.round((i * (values.length - 1)) / (width - 1))] as number);
  const lo = Math.min(...finite);
  const hi = Math.max(...finite);
  return shown.map((v) => (Number.isFinite(v) ? BARS[hi === lo ? 0 : Math.round(((v - lo) / (hi - lo)) * (BARS.length - 1))] : ' ')).join('');
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

/** The backtest for a terminal: per window the verdict, when it fired, per check the margin and a chart. */
export function renderBacktestText(results: readonly BacktestResult[]): string {
  const lines: string[] = [];
  for (const r of results) {
    lines.push(`backtest ${iso(r.window.from)} → ${iso(r.window.to)}${r.window.label ? ` (${r.window.label})` : ''}: ${r.verdict}`);
    lines.push(`  ${r.reason}`);
    if (r.firedAt !== undefined)
      lines.push(`  would have fired at ${iso(r.firedAt)} (measurement ${r.firedRound ?? '?'}, ${formatDuration(r.firedAt - r.window.from)} into the window)`);
    for (const m of r.margins) {
      const values = r.report.measurements.filter((x) => x.check === m.check).map((x) => x.canary ?? Number.NaN);
      const margin =
        m.margin === undefined
          ? 'no measurement with a value'
          : `margin ${formatValue(m.margin)} to ${m.limit} at ${iso(m.at as number)} (canary ${formatValue(m.canary)}${m.stable !== undefined ? `, stable ${formatValue(m.stable)}` : ''})`;
      lines.push(`  ${m.check}${m.dryRun ? ' (dry run)' : ''}: ${margin}`);
      const chart = sparkline(values);
      if (chart) lines.push(`    canary ${chart}`);
    }
  }
  return lines.join('\n');
}

/** The backtest for a job summary: one table over all windows, then each window's gate summary with its charts. */
export function renderBacktestSummary(results: readonly BacktestResult[]): string {
  const lines = ['## rollgate backtest', '', '| Window | Verdict | Fired at | Closest check (margin) |', '| --- | --- | --- | --- |'];
  for (const r of results) {
    const closest = r.margins.filter((m) => !m.dryRun && m.margin !== undefined).sort((a, b) => (a.margin as number) - (b.margin as number))[0];
    lines.push(
      `| ${iso(r.window.from)} → ${iso(r.window.to)}${r.window.label ? ` ${r.window.label.replace(/\|/g, '\\|')}` : ''} | ${r.verdict} | ${r.firedAt !== undefined ? `${iso(r.firedAt)} (#${r.firedRound ?? '?'})` : '–'} | ${closest ? `${closest.check}: ${formatValue(closest.margin)} to ${closest.limit}` : '–'} |`,
    );
  }
  lines.push('');
  for (const r of results) lines.push(renderGateSummary(r.report, `backtest ${iso(r.window.from)}`), '');
  return lines.join('\n');
}
