// What the runner starts for the umbrella action (bundled to dist/main/index.js).
import { run } from '../actions/main.js';

await run();
