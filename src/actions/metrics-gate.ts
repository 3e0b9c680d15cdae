import { runAction } from '../core/runtime.js';
import { runMetricsGateAction } from '../core/rollout/metrics-gate.js';

/** Runs the metrics-gate action with the runner's inputs; sets the exit code on failure. */
export async function run(): Promise<void> {
  await runAction('metrics-gate', (runtime) => runMetricsGateAction(runtime));
}
