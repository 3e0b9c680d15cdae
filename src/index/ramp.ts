// What the runner starts (bundled to dist/ramp/index.js): the action itself is in src/actions/ramp.ts.
import { run } from '../actions/ramp.js';

await run();
