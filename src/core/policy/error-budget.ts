import { formatDuration } from '../duration.js';
import { describeError, isUserError } from '../errors.js';
import type { MetricsProvider, QueryOutcome } from '../metrics/provider.js';
import { describeOutcome } from '../metrics/provider.js';
import { formatValue } from '../analysis/report.js';
import type { ErrorBudgetConfig } from '../plan/schema.js';
import { renderTemplate } from '../template.js';
import type { PolicyFinding } from './finding.js';

/** The error ratio over one window, or why it could not be measured. */
export interface WindowRatio {
  window: number;
  /** Bad events / all events over the window (0–1). */
  errorRatio?: number;
  /** errorRatio / (1 − objective): 1 spends the budget exactly over the period. */
  burnRate?: number;
  problem?: string;
}

/** One multi-window burn-rate alert condition, as the SRE workbook pairs them. */
export interface BurnRateAlert {
  long: WindowRatio;
  short: WindowRatio;
  factor: number;
  /** Both windows burn faster than `factor`; undefined when either could not be measured. */
  holds?: boolean;
}

/** What the error budget looked like at one instant. */
export interface BudgetSummary {
  objective: number;
  period: number;
  /** Share of the period's budget left (1 = untouched, ≤ 0 = spent); undefined when not measured. */
  remaining?: number;
  remainingProblem?: string;
  alerts: BurnRateAlert[];
  /** The burn rate over the shortest long window: "the current rate". */
  currentBurnRate?: number;
  /** How long the remaining budget lasts at the current rate; undefined when it does not run out. */
  exhaustionMs?: number;
}

/** Prometheus' own duration form, largest exact unit first (`28d`, `6h`, `30m`), as Sloth and Pyrra name their rules. */
export function promWindow(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const)
    if (ms % size === 0) return `${ms / size}${unit}`;
  return `${Math.max(1, Math.round(ms / 1000))}s`;
}

function numberOf(outcome: QueryOutcome, what: string): { value?: number; problem?: string } {
  return outcome.kind === 'value' ? { value: outcome.value } : { problem: `${what}: ${describeOutcome(outcome)}` };
}

/** The error ratio over `window`, from errorRatio, or from total with good or errors. */
async function errorRatioOver(config: ErrorBudgetConfig, provider: MetricsProvider, window: number, time: number, vars: Record<string, string>): Promise<WindowRatio> {
  const fill = (template: string, field: string) => renderTemplate(template, { ...vars, window: promWindow(window) }, `policy.errorBudget.${field}`);
  const budget = 1 - config.objective / 100;
  const ratio = (errorRatio: number): WindowRatio => ({ window, errorRatio, burnRate: errorRatio / budget });
  try {
    if (config.errorRatio !== undefined) {
      const got = numberOf(await provider.query(fill(config.errorRatio, 'errorRatio'), { time }), 'errorRatio');
      return got.value === undefined ? { window, problem: got.problem } : ratio(got.value);
    }
    const part = config.good !== undefined ? 'good' : 'errors';
    const [partOutcome, totalOutcome] = await Promise.all([
      provider.query(fill((config.good ?? config.errors) as string, part), { time }),
      provider.query(fill(config.total as string, 'total'), { time }),
    ]);
    const total = numberOf(totalOutcome, 'total');
    if (total.value === undefined) return { window, problem: total.problem };
    // No requests: nothing was served, so nothing was spent.
    if (total.value === 0) return ratio(0);
    if (part === 'errors' && partOutcome.kind === 'no-data') return ratio(0); // no error series yet: no errors counted
    const counted = numberOf(partOutcome, part);
    if (counted.value === undefined) return { window, problem: `${counted.problem} while total is ${formatValue(total.value)}` };
    return ratio(part === 'good' ? 1 - counted.value / total.value : counted.value / total.value);
  } catch (err) {
    if (!isUserError(err)) throw err;
    return { window, problem: describeError(err) };
  }
}

/** Measures the budget left, every burn-rate alert's windows, and the time to exhaustion, at `time`. */
export async function measureErrorBudget(config: ErrorBudgetConfig, provider: MetricsProvider, time: number, vars: Record<string, string> = {}): Promise<BudgetSummary> {
  const windows = [...new Set([config.period, ...config.burnRateAlerts.flatMap((a) => [a.long, a.short])])];
  const measured = new Map<number, WindowRatio>();
  const ratios = await Promise.all(windows.map((w) => errorRatioOver(config, provider, w, time, vars)));
  ratios.forEach((r) => measured.set(r.window, r));

  const summary: BudgetSummary = { objective: config.objective, period: config.period, alerts: [] };
  if (config.remaining !== undefined) {
    try {
      const got = numberOf(await provider.query(renderTemplate(config.remaining, vars, 'policy.errorBudget.remaining'), { time }), 'remaining');
      if (got.value !== undefined) summary.remaining = got.value;
      else summary.remainingProblem = got.problem;
    } catch (err) {
      if (!isUserError(err)) throw err;
      summary.remainingProblem = describeError(err);
    }
  } else {
    const period = measured.get(config.period) as WindowRatio;
    if (period.burnRate !== undefined) summary.remaining = 1 - period.burnRate;
    else summary.remainingProblem = `error ratio over ${promWindow(config.period)}: ${period.problem ?? 'not measured'}`;
  }
  summary.alerts = config.burnRateAlerts.map((a) => {
    const long = measured.get(a.long) as WindowRatio;
    const short = measured.get(a.short) as WindowRatio;
    const alert: BurnRateAlert = { long, short, factor: a.factor };
    // Either window over the factor with the other unmeasured could still hold: unknown, never "clear".
    if (long.burnRate !== undefined && short.burnRate !== undefined) alert.holds = long.burnRate > a.factor && short.burnRate > a.factor;
    return alert;
  });
  const shortestLong = [...config.burnRateAlerts].sort((a, b) => a.long - b.long)[0];
  summary.currentBurnRate = shortestLong ? measured.get(shortestLong.long)?.burnRate : measured.get(config.period)?.burnRate;
  if (summary.remaining !== undefined && summary.currentBurnRate !== undefined && summary.currentBurnRate > 0)
    summary.exhaustionMs = Math.max(0, (summary.remaining * config.period) / summary.currentBurnRate);
  return summary;
}

function percentText(ratio: number): string {
  return `${formatValue(Math.round(ratio * 10_000) / 100)}%`;
}

function rateText(r: WindowRatio): string {
  return r.burnRate !== undefined ? `${formatValue(r.burnRate)}× over ${promWindow(r.window)}` : `? over ${promWindow(r.window)} (${r.problem ?? 'not measured'})`;
}

const OVERRIDE = 're-run with the input reason: "<why this release cannot wait>" (e.g. the fix for the incident; recorded with who ran it)';

/** The budget floor and every burn-rate alert as findings; an unmeasurable budget refuses (fail closed). */
export function judgeErrorBudget(config: ErrorBudgetConfig, summary: BudgetSummary): PolicyFinding[] {
  const findings: PolicyFinding[] = [];
  const floor = config.minRemaining / 100;
  const floorText = `budget left ≥ ${formatValue(config.minRemaining)}% of ${promWindow(config.period)} at SLO ${formatValue(config.objective)}%${floor === 0 ? ' (and not spent)' : ''}`;
  if (summary.remaining === undefined) {
    findings.push({
      rule: 'policy.errorBudget.minRemaining',
      outcome: 'refuse',
      measured: `the remaining budget could not be measured: ${summary.remainingProblem ?? 'no value'}`,
      limit: floorText,
      proceed: `fix the SLI queries or the metrics backend (rollgate check-plan runs them once); or ${OVERRIDE}`,
      overridable: true,
    });
  } else {
    const spent = summary.remaining <= 0 || summary.remaining < floor;
    findings.push({
      rule: 'policy.errorBudget.minRemaining',
      outcome: spent ? 'refuse' : 'allow',
      measured: `budget left ${percentText(summary.remaining)}`,
      limit: floorText,
      proceed: spent ? `wait until the budget recovers above ${formatValue(config.minRemaining)}% (errors age out of the ${promWindow(config.period)} window); or ${OVERRIDE}` : '',
      overridable: true,
    });
  }
  summary.alerts.forEach((alert, i) => {
    const rule = `policy.errorBudget.burnRateAlerts[${i}]`;
    const limit = `not both > ${formatValue(alert.factor)}× over ${promWindow(alert.long.window)} and ${promWindow(alert.short.window)}`;
    const measured = `burn rate ${rateText(alert.long)}, ${rateText(alert.short)}`;
    if (alert.holds === undefined)
      findings.push({
        rule,
        outcome: 'refuse',
        measured: `${measured}: cannot tell whether the alert holds`,
        limit,
        proceed: `fix the SLI queries or the metrics backend; or ${OVERRIDE}`,
        overridable: true,
      });
    else
      findings.push({
        rule,
        outcome: alert.holds ? 'refuse' : 'allow',
        measured,
        limit,
        proceed: alert.holds
          ? `wait until the ${promWindow(alert.short.window)} burn rate falls to ${formatValue(alert.factor)}× or below (the incident is over); or ${OVERRIDE}`
          : '',
        overridable: true,
      });
  });
  return findings;
}

/** One line for summaries: budget left, burn rates, exhaustion. */
export function describeBudget(summary: BudgetSummary): string {
  const left =
    summary.remaining !== undefined ? `budget left ${percentText(summary.remaining)} of ${promWindow(summary.period)}` : `budget left unknown (${summary.remainingProblem ?? ''})`;
  const rates = [...new Map(summary.alerts.flatMap((a) => [a.long, a.short]).map((r) => [r.window, r])).values()].map(rateText).join(', ');
  const exhaustion =
    summary.exhaustionMs !== undefined
      ? `exhausted in ${formatDuration(summary.exhaustionMs)} at the current rate`
      : summary.currentBurnRate !== undefined && summary.currentBurnRate <= 0
        ? 'not burning now'
        : 'exhaustion unknown';
  return `${left}; burn rates ${rates || 'none configured'}; ${exhaustion}`;
}
