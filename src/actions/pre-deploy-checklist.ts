import { runAction } from '../core/runtime.js';
import { runNotImplementedAction } from '../core/rollout/not-implemented.js';

await runAction('pre-deploy-checklist', () => runNotImplementedAction('pre-deploy-checklist'));
