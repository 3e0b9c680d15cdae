// What the runner starts (bundled to dist/metrics-gate/index.js): the action itself is in src/actions/metrics-gate.ts.
import { run } from '../actions/metrics-gate.js';

await run();
