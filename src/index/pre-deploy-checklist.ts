// What the runner starts (bundled to dist/pre-deploy-checklist/index.js): the action itself is in src/actions/pre-deploy-checklist.ts.
import { run } from '../actions/pre-deploy-checklist.js';

await run();
