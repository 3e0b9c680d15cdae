import { runAction } from '../core/runtime.js';
import { runRollbackAction } from '../core/rollout/rollback.js';

/** Runs the rollback action with the runner's inputs; sets the exit code on failure. */
export async function run(): Promise<void> {
  await runAction('rollback', (runtime) => runRollbackAction(runtime));
}
