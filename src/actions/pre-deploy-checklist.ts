import { runAction } from '../core/runtime.js';
import { runPreDeployChecklistAction } from '../core/rollout/pre-deploy-checklist.js';
import { isPlanCheckRun, runPlanCheckAction } from '../core/rollout/check-plan.js';

/** Runs the pre-deploy-checklist action with the runner's inputs; sets the exit code on failure. */
export async function run(): Promise<void> {
  // check-plan: true runs the plan check (every query once against the live backend) instead.
  await runAction('pre-deploy-checklist', (runtime) => (isPlanCheckRun(runtime) ? runPlanCheckAction(runtime) : runPreDeployChecklistAction(runtime)));
}
