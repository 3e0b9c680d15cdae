// What the runner starts (bundled to dist/deploy-canary/index.js): the action itself is in src/actions/deploy-canary.ts.
import { run } from '../actions/deploy-canary.js';

await run();
