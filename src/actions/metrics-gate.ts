import { runAction } from '../core/runtime.js';
import { runMetricsGateAction } from '../core/rollout/metrics-gate.js';
import { isBacktestRun, runBacktestAction } from '../core/rollout/backtest.js';

// backtest-from/-to (or backtest-deployments) replay the same gate over past windows.
await runAction('metrics-gate', (runtime) => (isBacktestRun(runtime) ? runBacktestAction(runtime) : runMetricsGateAction(runtime)));
