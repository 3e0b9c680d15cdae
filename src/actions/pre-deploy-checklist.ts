import { runAction } from '../core/runtime.js';
import { runPreDeployChecklistAction } from '../core/rollout/pre-deploy-checklist.js';

await runAction('pre-deploy-checklist', (runtime) => runPreDeployChecklistAction(runtime));
