import { runAction } from '../core/runtime.js';
import { runRampAction } from '../core/rollout/ramp.js';

await runAction('ramp', (runtime) => runRampAction(runtime, { signal: runtime.signal }));
