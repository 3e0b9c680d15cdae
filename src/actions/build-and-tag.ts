import { runAction } from '../core/runtime.js';
import { runBuildAndTagAction } from '../core/rollout/build-and-tag.js';

await runAction('build-and-tag', (runtime) => runBuildAndTagAction(runtime));
