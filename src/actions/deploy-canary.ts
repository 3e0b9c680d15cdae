import { runAction } from '../core/runtime.js';
import { runDeployCanaryAction } from '../core/rollout/deploy-canary.js';

await runAction('deploy-canary', (runtime) => runDeployCanaryAction(runtime));
