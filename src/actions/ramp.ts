import { runAction } from '../core/runtime.js';
import { runRampAction } from '../core/rollout/ramp.js';

/** Runs the ramp action with the runner's inputs; sets the exit code on failure. */
export async function run(): Promise<void> {
  await runAction('ramp', (runtime) => runRampAction(runtime, { signal: runtime.signal }));
}
