// What the runner starts (bundled to dist/rollback/index.js): the action itself is in src/actions/rollback.ts.
import { run } from '../actions/rollback.js';

await run();
