import { systemClock, type Clock } from '../clock.js';
import { formatDuration } from '../duration.js';
import { InputError, PlanError } from '../errors.js';
import { getDurationInput, getNumberInput, getOptionalInput } from '../inputs.js';
import { createMetricsProvider } from '../metrics/index.js';
import type { MetricsProvider } from '../metrics/provider.js';
import { runGate } from '../analysis/gate.js';
import { renderGateSummary } from '../analysis/summary.js';
import { verdictAllowsPromotion } from '../analysis/verdict.js';
import type { AnalysisConfig, CheckConfig, MetricsConfig, Plan } from '../plan/schema.js';
import type { ActionResult, ActionRuntime } from '../runtime.js';
import { failingChecksOf, notify } from '../notify/index.js';
import { recordedCanaryWeight, recordGateVerdict } from './gate-record.js';
import { INPUTS_PLAN, loadActionPlan } from './plan-input.js';
import type { RolloutStore } from './store.js';

// Defaults live here as well as in action.yml: the umbrella action and the CLI never see action.yml.
const DEFAULT_TRACK_LABEL = 'track';
const DEFAULT_ENVIRONMENT = 'production';
const DEFAULT_SERVICE = 'service';
/** Shortcut-only gates have no plan to say how long to bake. */
const SHORTCUT_INTERVAL_MS = 30_000;
const SHORTCUT_BAKE_MS = 300_000;

/** The classic gate script's inputs, which work with or without a plan. */
interface Shortcuts {
  errorRatePercent?: number;
  p95Ms?: number;
  p99Ms?: number;
  selector?: string;
  trackLabel: string;
}

function readShortcuts(runtime: ActionRuntime): Shortcuts {
  const selector = getOptionalInput(runtime, 'selector');
  if (selector !== undefined && /[{}]/.test(selector))
    throw new InputError('selector', `expected label matchers without braces, e.g. service="orders",job="api", got ${JSON.stringify(selector)}`);
  const trackLabel = getOptionalInput(runtime, 'track-label') ?? DEFAULT_TRACK_LABEL;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(trackLabel)) throw new InputError('track-label', `expected a Prometheus label name, got ${JSON.stringify(trackLabel)}`);
  return {
    errorRatePercent: getNumberInput(runtime, 'error-rate-threshold', { min: 0, max: 100 }),
    p95Ms: getNumberInput(runtime, 'latency-p95-ms', { min: 0 }),
    p99Ms: getNumberInput(runtime, 'latency-p99-ms', { min: 0 }),
    selector,
    trackLabel,
  };
}

function hasShortcutChecks(s: Shortcuts): boolean {
  return s.errorRatePercent !== undefined || s.p95Ms !== undefined || s.p99Ms !== undefined;
}

/** Label matchers for one track in the conventional metrics. */
function matchers(s: Shortcuts, extra?: string): string {
  return [s.selector, `${s.trackLabel}="{{track}}"`, extra].filter(Boolean).join(',');
}

/** Checks on `http_requests_total` and `http_request_duration_seconds_bucket`, as the classic gate script judged. */
export function shortcutChecks(s: Shortcuts): CheckConfig[] {
  const common = { critical: false, mustHaveData: true, weight: 1, nanStrategy: 'remove' as const };
  const checks: CheckConfig[] = [];
  if (s.errorRatePercent !== undefined)
    checks.push({
      ...common,
      name: 'error-rate',
      // `or vector(0)`: before the first 5xx there is no 5xx series, which means 0 errors, not "no data".
      query: `(sum(rate(http_requests_total{${matchers(s, 'status=~"5.."')}}[{{window}}])) or vector(0)) / sum(rate(http_requests_total{${matchers(s)}}[{{window}}]))`,
      max: s.errorRatePercent / 100,
    });
  const latency = (name: string, quantile: number, ms: number): CheckConfig => ({
    ...common,
    name,
    query: `histogram_quantile(${quantile}, sum by (le) (rate(http_request_duration_seconds_bucket{${matchers(s)}}[{{window}}])))`,
    max: ms / 1000,
  });
  if (s.p95Ms !== undefined) checks.push(latency('latency-p95', 0.95, s.p95Ms));
  if (s.p99Ms !== undefined) checks.push(latency('latency-p99', 0.99, s.p99Ms));
  return checks;
}

function requestsQuery(s: Shortcuts): string {
  return `sum(increase(http_requests_total{${matchers(s)}}[{{window}}]))`;
}

/** The plan's metrics section, or one built from `prometheus-url`. */
function effectiveMetrics(plan: Plan, file: string, prometheusUrl: string | undefined): MetricsConfig {
  if (prometheusUrl !== undefined) {
    if (!/^https?:\/\/[^\s]+$/.test(prometheusUrl)) throw new InputError('prometheus-url', `expected a URL such as http://prometheus:9090, got ${JSON.stringify(prometheusUrl)}`);
    if (plan.metrics?.provider === 'prometheus') return { ...plan.metrics, address: prometheusUrl };
    return { provider: 'prometheus', address: prometheusUrl, timeout: 10_000, retries: 2 };
  }
  if (!plan.metrics) throw new PlanError(file, ['metrics: is required by metrics-gate (or set the prometheus-url input)']);
  return plan.metrics;
}

/** The plan's analysis with this run's input overrides and shortcut checks merged in. */
function effectiveAnalysis(runtime: ActionRuntime, plan: Plan, file: string, s: Shortcuts): AnalysisConfig {
  const shortcuts = shortcutChecks(s);
  const base = plan.analysis;
  if (!base && shortcuts.length === 0) throw new PlanError(file, ['analysis: is required by metrics-gate (or set error-rate-threshold, latency-p95-ms or latency-p99-ms)']);
  const checks = [...(base?.checks ?? [])];
  for (const shortcut of shortcuts) {
    // A plan check of the same name keeps its query and takes the input's threshold.
    const same = checks.findIndex((c) => c.name === shortcut.name);
    if (same >= 0) checks[same] = { ...(checks[same] as CheckConfig), max: shortcut.max };
    else checks.push(shortcut);
  }
  const analysis: AnalysisConfig = {
    interval: SHORTCUT_INTERVAL_MS,
    bake: SHORTCUT_BAKE_MS,
    minRequests: 0,
    failureLimit: 0,
    consecutiveErrorLimit: 4,
    onInconclusive: 'fail',
    judge: 'threshold',
    alpha: 0.05,
    ...base,
    checks,
  };
  if (!base?.requests && shortcuts.length > 0) analysis.requests = requestsQuery(s);
  const interval = getDurationInput(runtime, 'interval');
  const bake = getDurationInput(runtime, 'bake');
  const window = getDurationInput(runtime, 'window');
  const minRequests = getNumberInput(runtime, 'min-requests', { min: 0, integer: true });
  if (window !== undefined) {
    if (window <= 0) throw new InputError('window', 'expected a duration greater than 0');
    analysis.window = window;
  }
  if (interval !== undefined) {
    if (interval <= 0) throw new InputError('interval', 'expected a duration greater than 0');
    analysis.interval = interval;
  }
  if (bake !== undefined) {
    if (bake <= 0) throw new InputError('bake', 'expected a duration greater than 0');
    analysis.bake = bake;
  }
  if (analysis.interval > analysis.bake)
    throw new InputError(interval !== undefined ? 'interval' : 'bake', `expected interval (${formatDuration(analysis.interval)}) ≤ bake (${formatDuration(analysis.bake)})`);
  if (minRequests !== undefined) analysis.minRequests = minRequests;
  if (analysis.minRequests > 0 && !analysis.requests)
    throw new InputError('min-requests', `needs analysis.requests in ${file}: the query that counts requests for {{track}} over {{window}}`);
  return analysis;
}

/** Everything the action needs, resolved from the plan and the inputs. */
export interface MetricsGateSetup {
  plan: Plan;
  file: string;
  metrics: MetricsConfig;
  analysis: AnalysisConfig;
  /** The canary's share of requests (percent) from the `weight` input, when given. */
  weight?: number;
}

/** Loads the plan (or builds one from the shortcut inputs) and applies this run's inputs. */
export function resolveMetricsGate(runtime: ActionRuntime): MetricsGateSetup {
  const shortcuts = readShortcuts(runtime);
  const prometheusUrl = getOptionalInput(runtime, 'prometheus-url');
  const { plan, file } = loadActionPlan(runtime, {
    reads: ['metrics', 'analysis'],
    fallback: () =>
      hasShortcutChecks(shortcuts)
        ? { service: getOptionalInput(runtime, 'service') ?? DEFAULT_SERVICE, environment: getOptionalInput(runtime, 'environment') ?? DEFAULT_ENVIRONMENT }
        : undefined,
  });
  const analysis = effectiveAnalysis(runtime, plan, file, shortcuts);
  const metrics = effectiveMetrics(plan, file, prometheusUrl);
  const weight = readWeightInput(runtime);
  return { plan, file, metrics, analysis, ...(weight !== undefined ? { weight } : {}) };
}

/** Reads the `weight` input: the canary's share of requests in percent, strictly between 0 and 100. */
function readWeightInput(runtime: ActionRuntime): number | undefined {
  const weight = getNumberInput(runtime, 'weight');
  if (weight !== undefined && !(weight > 0 && weight < 100))
    throw new InputError('weight', `expected the canary's share of requests in percent, above 0 and below 100 (e.g. 20), got ${weight}`);
  return weight;
}

/**
 * The canary's share the traffic-loss rule expects: the `weight` input, else the rollout record's
 * current step when a canary step is on record, else unknown.
 */
async function gateWeight(runtime: ActionRuntime, setup: MetricsGateSetup, deps: { store?: RolloutStore; cwd?: string }): Promise<number | undefined> {
  const { plan, file } = setup;
  if (setup.weight !== undefined) return setup.weight;
  if (file === INPUTS_PLAN) return undefined;
  const recorded = await recordedCanaryWeight(runtime, plan, { cwd: deps.cwd ?? process.cwd(), store: deps.store });
  if (recorded.problem) runtime.warning(recorded.problem);
  if (recorded.weight !== undefined) runtime.info(`the rollout record gives the canary ${recorded.weight}%: losing traffic is judged against that share`);
  return recorded.weight;
}

/** metrics-gate: judges the canary against stable over the bake and fails the step unless it passes. */
export async function runMetricsGateAction(
  runtime: ActionRuntime,
  deps: { clock?: Clock; provider?: MetricsProvider; signal?: AbortSignal; store?: RolloutStore; cwd?: string } = {},
): Promise<ActionResult> {
  const setup = resolveMetricsGate(runtime);
  const { plan, file, metrics, analysis } = setup;
  const clock = deps.clock ?? systemClock;
  const provider = deps.provider ?? createMetricsProvider(metrics, { clock });
  const weight = await gateWeight(runtime, setup, deps);
  const report = await runtime.group(`metrics-gate: ${plan.service} (${plan.environment})`, () =>
    runGate({
      analysis,
      provider,
      clock,
      vars: { service: plan.service, environment: plan.environment },
      log: (line) => runtime.info(line),
      signal: deps.signal,
      weight,
    }),
  );
  runtime.setOutput('verdict', report.verdict);
  runtime.setOutput('report', JSON.stringify(report));
  runtime.appendSummary(renderGateSummary(report, `metrics-gate: ${plan.service}`));
  const allowed = verdictAllowsPromotion(report.verdict, analysis.onInconclusive);
  // A gate run from a plan file judges that plan's rollout: its verdict joins the rollout record.
  if (file !== INPUTS_PLAN) {
    const problem = await recordGateVerdict(
      runtime,
      plan,
      { standing: allowed ? 'passed' : 'failed', verdict: report.verdict, reason: report.reason },
      { clock, cwd: deps.cwd ?? process.cwd(), store: deps.store },
    );
    if (problem) runtime.warning(problem);
  }
  if (allowed) {
    if (report.verdict !== 'pass') runtime.warning(`metrics-gate: ${report.verdict} (allowed by onInconclusive: pass): ${report.reason}`);
    return { ok: true };
  }
  // Retried and reported inside; a chat outage never changes the verdict.
  await notify(plan, { kind: 'gate-failure', verdict: report.verdict, reason: report.reason, failingChecks: failingChecksOf(report.checks) }, { runtime, clock });
  const policy = report.verdict === 'inconclusive' ? ' (onInconclusive: fail)' : '';
  return { ok: false, failure: `metrics-gate: ${report.verdict}${policy}: ${report.reason}` };
}
