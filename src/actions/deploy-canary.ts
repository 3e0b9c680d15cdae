import { runAction } from '../core/runtime.js';
import { runNotImplementedAction } from '../core/rollout/not-implemented.js';

await runAction('deploy-canary', () => runNotImplementedAction('deploy-canary'));
