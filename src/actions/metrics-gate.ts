import { runAction } from '../core/runtime.js';
import { runMetricsGateAction } from '../core/rollout/metrics-gate.js';
import { isBacktestRun, runBacktestAction } from '../core/rollout/backtest.js';

/** Runs the metrics-gate action with the runner's inputs; sets the exit code on failure. */
export async function run(): Promise<void> {
  // backtest-from/-to (or backtest-deployments) replay the same gate over past windows.
  await runAction('metrics-gate', (runtime) => (isBacktestRun(runtime) ? runBacktestAction(runtime) : runMetricsGateAction(runtime)));
}
