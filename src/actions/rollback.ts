import { runAction } from '../core/runtime.js';
import { runRollbackAction } from '../core/rollout/rollback.js';

await runAction('rollback', (runtime) => runRollbackAction(runtime));
