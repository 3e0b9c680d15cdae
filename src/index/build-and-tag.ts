// What the runner starts (bundled to dist/build-and-tag/index.js): the action itself is in src/actions/build-and-tag.ts.
import { run } from '../actions/build-and-tag.js';

await run();
