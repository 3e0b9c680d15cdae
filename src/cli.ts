import { inputsFromArgs } from './core/cli-args.js';
import { ACTION_NAMES, isActionName, runBundledAction } from './core/dispatch.js';
import { describeModes, MODE_NAMES, resolveMode } from './core/cli-modes.js';

const USAGE = `usage: rollgate <action> [--input value ...]

Runs one rollgate action outside GitHub Actions: each --flag sets the action input of the
same name (--plan .github/rollout.yml --bake 30s --error-rate-threshold 1). The job summary
is printed to the terminal; outputs are printed as name=value.

actions: ${ACTION_NAMES.join(', ')}
modes:
${describeModes()}`;

async function main(argv: string[]): Promise<void> {
  const [action, ...rest] = argv;
  if (!action || action === '--help' || action === '-h' || action === 'help') {
    process.stdout.write(`${USAGE}\n`);
    process.exitCode = action ? 0 : 2;
    return;
  }
  if (!isActionName(action) && !MODE_NAMES.includes(action)) {
    process.stderr.write(`rollgate: unknown action ${JSON.stringify(action)}\n\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  let inputs: Record<string, string>;
  try {
    inputs = inputsFromArgs(rest);
  } catch (err) {
    process.stderr.write(`rollgate ${action}: ${(err as Error).message}\n`);
    process.exitCode = 2;
    return;
  }
  const mode = resolveMode(action, inputs);
  Object.assign(process.env, mode?.inputs ?? inputs);
  await runBundledAction(mode?.action ?? (action as typeof ACTION_NAMES[number]), import.meta.url);
}

await main(process.argv.slice(2));
