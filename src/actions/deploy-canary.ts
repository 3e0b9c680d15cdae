import { runAction } from '../core/runtime.js';
import { runDeployCanaryAction } from '../core/rollout/deploy-canary.js';

/** Runs the deploy-canary action with the runner's inputs; sets the exit code on failure. */
export async function run(): Promise<void> {
  await runAction('deploy-canary', (runtime) => runDeployCanaryAction(runtime));
}
