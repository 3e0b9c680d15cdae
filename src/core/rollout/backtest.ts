import { writeFileSync } from 'node:fs';
import { renderBacktestSummary, renderBacktestText, runBacktest, type BacktestResult, type BacktestWindow } from '../analysis/backtest.js';
import { systemClock, type Clock } from '../clock.js';
import { formatDuration } from '../duration.js';
import { describeError, InputError } from '../errors.js';
import { deploymentRecordsFor } from '../github/factory.js';
import type { DeploymentRecords } from '../github/records.js';
import { getBooleanInput, getNumberInput, getOptionalInput } from '../inputs.js';
import { createMetricsProvider } from '../metrics/index.js';
import type { MetricsProvider } from '../metrics/provider.js';
import type { ActionResult, ActionRuntime } from '../runtime.js';
import { resolveMetricsGate } from './metrics-gate.js';

/** Whether this metrics-gate run is a backtest (inputs backtest-from/-to or backtest-deployments). */
export function isBacktestRun(runtime: ActionRuntime): boolean {
  return (
    getOptionalInput(runtime, 'backtest-from') !== undefined || getOptionalInput(runtime, 'backtest-to') !== undefined || getBooleanInput(runtime, 'backtest-deployments', false)
  );
}

/** An instant given as ISO 8601 (`2026-11-24T14:00:00Z`) or unix seconds. */
export function parseInstant(input: string, value: string): number {
  const trimmed = value.trim();
  const ms = /^\d{9,11}(\.\d+)?$/.test(trimmed) ? Number(trimmed) * 1000 : /^\d{4}-\d{2}-\d{2}/.test(trimmed) ? Date.parse(trimmed) : Number.NaN;
  if (!Number.isFinite(ms)) throw new InputError(input, `expected a time such as 2026-11-24T14:00:00Z or unix seconds, got ${JSON.stringify(value)}`);
  return Math.round(ms);
}

/**
 * Every bake window of the environment's recorded rollouts, oldest first: a deployment's
 * `in_progress` statuses mark each traffic step (deploy-canary's first slice, each ramp step),
 * and the gate baked for `bake` after each.
 */
export async function bakeWindowsFromRecords(records: DeploymentRecords, environment: string, bake: number, limit: number): Promise<BacktestWindow[]> {
  const windows: BacktestWindow[] = [];
  for (const d of await records.list(environment)) {
    const steps = (await records.statuses(d.id)).filter((s) => s.state === 'in_progress');
    for (const s of steps.reverse()) {
      const from = Date.parse(s.createdAt);
      if (Number.isFinite(from)) windows.push({ from, to: from + bake, label: `deployment #${d.id} (${d.payload.version || d.ref})${s.description ? `, ${s.description}` : ''}` });
    }
    if (windows.length >= limit) break;
  }
  return windows.sort((a, b) => a.from - b.from).slice(-limit);
}

/**
 * metrics-gate in backtest mode: replays the plan's gate over past windows of real metrics (the
 * window given, or every recorded rollout's bake windows) and reports what it would have said.
 * A report, not a gate: the step fails only when a window could not be judged at all (error).
 */
export async function runBacktestAction(runtime: ActionRuntime, deps: { clock?: Clock; provider?: MetricsProvider; records?: DeploymentRecords } = {}): Promise<ActionResult> {
  const { plan, metrics, analysis } = resolveMetricsGate(runtime);
  const clock = deps.clock ?? systemClock;
  const provider = deps.provider ?? createMetricsProvider(metrics, { clock });
  const windows: BacktestWindow[] = [];
  const fromText = getOptionalInput(runtime, 'backtest-from');
  const toText = getOptionalInput(runtime, 'backtest-to');
  if (fromText !== undefined || toText !== undefined) {
    if (fromText === undefined) throw new InputError('backtest-from', 'is required with backtest-to (the start of the past window)');
    const from = parseInstant('backtest-from', fromText);
    const to = toText === undefined ? clock.now() : parseInstant('backtest-to', toText);
    if (to - from < analysis.interval)
      throw new InputError(
        'backtest-to',
        `expected a window at least one interval (${formatDuration(analysis.interval)}) long after backtest-from, got ${formatDuration(Math.max(0, to - from))}`,
      );
    if (to > clock.now()) throw new InputError('backtest-to', 'is in the future: a backtest judges the past');
    windows.push({ from, to });
  }
  if (getBooleanInput(runtime, 'backtest-deployments', false)) {
    const records = deps.records ?? deploymentRecordsFor(runtime);
    if (!records) throw new InputError('records', 'is none: backtest-deployments reads the deployment records (GitHub or the ledger)');
    const limit = getNumberInput(runtime, 'backtest-limit', { min: 1, max: 500, integer: true }) ?? 20;
    const found = (await bakeWindowsFromRecords(records, plan.environment, analysis.bake, limit)).filter((w) => w.to <= clock.now());
    if (found.length === 0) throw new InputError('backtest-deployments', `no finished bake window of ${plan.environment} is recorded in ${records.location}`);
    runtime.info(`backtest: ${found.length} bake window(s) from ${records.location}`);
    windows.push(...found);
  }
  const results: BacktestResult[] = [];
  for (const window of windows) {
    const started = Date.now();
    const result = await runtime.group(`backtest ${new Date(window.from).toISOString()} → ${new Date(window.to).toISOString()}`, () =>
      runBacktest({ analysis, provider, window, vars: { service: plan.service, environment: plan.environment }, log: (line) => runtime.debug(line) }),
    );
    runtime.info(`${result.verdict} in ${Date.now() - started} ms (${result.rangeQueries} range queries)`);
    results.push(result);
  }
  runtime.info(renderBacktestText(results));
  runtime.appendSummary(renderBacktestSummary(results));
  const json = JSON.stringify(results.map(({ report, ...rest }) => ({ ...rest, checks: report.checks, measurements: report.measurements })));
  const file = getOptionalInput(runtime, 'backtest-json');
  if (file) {
    try {
      writeFileSync(file, `${json}\n`);
    } catch (err) {
      throw new InputError('backtest-json', `cannot write ${file}: ${(err as NodeJS.ErrnoException).code ?? describeError(err)}`);
    }
  }
  runtime.setOutput('verdict', results.map((r) => r.verdict).join(','));
  runtime.setOutput('report', json);
  const broken = results.filter((r) => r.verdict === 'error');
  return broken.length === 0 ? { ok: true } : { ok: false, failure: `backtest: ${broken.length} window(s) could not be judged: ${broken.map((r) => r.reason).join('; ')}` };
}
