import { runAction } from '../core/runtime.js';
import { runPreDeployChecklistAction } from '../core/rollout/pre-deploy-checklist.js';

/** Runs the pre-deploy-checklist action with the runner's inputs; sets the exit code on failure. */
export async function run(): Promise<void> {
  await runAction('pre-deploy-checklist', (runtime) => runPreDeployChecklistAction(runtime));
}
