import { systemClock, type Clock } from '../clock.js';
import { describeError, isUserError } from '../errors.js';
import { getBooleanInput } from '../inputs.js';
import { createMetricsProvider } from '../metrics/index.js';
import type { MetricsProvider } from '../metrics/provider.js';
import { PrometheusProvider } from '../metrics/prometheus.js';
import { checkPlanQueries, renderPlanCheck } from '../policy/check-plan.js';
import type { ActionResult, ActionRuntime } from '../runtime.js';
import { loadActionPlan } from './plan-input.js';

/** Whether this pre-deploy-checklist run is a plan check (input check-plan: true). */
export function isPlanCheckRun(runtime: ActionRuntime): boolean {
  return getBooleanInput(runtime, 'check-plan', false);
}

/**
 * The plan check (`rollgate check-plan`, or pre-deploy-checklist with check-plan: true): validates
 * the plan, runs every query once against the live backend for both tracks, and fails on the
 * mistakes that would leave the gate unable to judge.
 */
export async function runPlanCheckAction(runtime: ActionRuntime, deps: { clock?: Clock; provider?: MetricsProvider } = {}): Promise<ActionResult> {
  const { plan, file } = loadActionPlan(runtime, { require: ['metrics', 'analysis'] });
  const metrics = plan.metrics!;
  const analysis = plan.analysis!;
  const clock = deps.clock ?? systemClock;
  const provider = deps.provider ?? createMetricsProvider(metrics, { clock });
  let scrapeIntervals: { job: string; intervalMs: number }[] | undefined;
  if (provider instanceof PrometheusProvider) {
    try {
      scrapeIntervals = await provider.scrapeIntervals();
    } catch (err) {
      if (!isUserError(err)) throw err;
      // A proxy in front of Prometheus may hide its configuration: then the window is not checked.
      runtime.warning(`check-plan: the scrape interval could not be read (${describeError(err)}); the window is not checked against it`);
    }
  }
  const report = await checkPlanQueries({ analysis, provider, time: clock.now(), vars: { service: plan.service, environment: plan.environment }, scrapeIntervals });
  for (const c of report.checks) {
    runtime.info(`${c.name}: ${c.probes.map((p) => `${p.track} ${p.error ?? JSON.stringify(p.outcome)}`).join(', ')} → ${c.verdictNow}`);
    for (const m of c.mistakes) (m.severity === 'error' ? runtime.error : runtime.warning).call(runtime, m.message, { file, title: `rollgate check-plan: ${c.name}` });
  }
  for (const m of report.requests?.mistakes ?? [])
    (m.severity === 'error' ? runtime.error : runtime.warning).call(runtime, m.message, { file, title: 'rollgate check-plan: requests' });
  runtime.appendSummary(renderPlanCheck(report, file));
  runtime.setOutput('result', report.ok ? 'pass' : 'fail');
  runtime.setOutput('report', JSON.stringify(report));
  const errors = [...report.checks.flatMap((c) => c.mistakes), ...(report.requests?.mistakes ?? [])].filter((m) => m.severity === 'error').length;
  return report.ok ? { ok: true } : { ok: false, failure: `check-plan: ${errors} mistake(s) in ${file} would leave the gate unable to judge` };
}
