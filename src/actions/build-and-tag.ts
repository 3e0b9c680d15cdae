import { runAction } from '../core/runtime.js';
import { runBuildAndTagAction } from '../core/rollout/build-and-tag.js';

/** Runs the build-and-tag action with the runner's inputs; sets the exit code on failure. */
export async function run(): Promise<void> {
  await runAction('build-and-tag', (runtime) => runBuildAndTagAction(runtime));
}
