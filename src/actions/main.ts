import { ACTION_NAMES, isActionName, runBundledAction } from '../core/dispatch.js';

// The umbrella action: input `action` picks one of the six, which then reads its own inputs.
const name = process.env.INPUT_ACTION?.trim() ?? '';
if (isActionName(name)) {
  await runBundledAction(name, import.meta.url);
} else {
  process.stdout.write(`::error::input action: expected one of ${ACTION_NAMES.join(', ')}, got ${JSON.stringify(name)}\n`);
  process.exitCode = 1;
}
