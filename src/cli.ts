import { packageRoot } from './core/action-metadata.js';
import { runCli } from './core/cli.js';
import { runBundledAction } from './core/dispatch.js';

// The rollgate CLI: the same bundled actions a workflow runs, driven from a terminal.
const status = await runCli(process.argv.slice(2), packageRoot(import.meta.url), { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) }, (name) =>
  runBundledAction(name, import.meta.url),
);
process.exitCode = status;
