import { runAction } from '../core/runtime.js';
import { runMetricsGateAction } from '../core/rollout/metrics-gate.js';

await runAction('metrics-gate', (runtime) => runMetricsGateAction(runtime));
