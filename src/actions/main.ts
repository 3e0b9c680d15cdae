import { applyInputDefaults, loadActionMetadata, packageRoot } from '../core/action-metadata.js';
import { ACTION_NAMES, isActionName, runBundledAction } from '../core/dispatch.js';

/**
 * The umbrella action: input `action` picks one of the six, which then reads its own inputs.
 * action.yml declares the defaults all six agree on; the chosen action's other defaults are
 * applied here, so `uses: OWNER/rollgate@v1` behaves exactly like `actions/<name>`.
 */
export async function run(): Promise<void> {
  const name = process.env.INPUT_ACTION?.trim() ?? '';
  if (isActionName(name)) {
    applyInputDefaults(loadActionMetadata(packageRoot(import.meta.url), name), process.env);
    await runBundledAction(name, import.meta.url);
  } else {
    process.stdout.write(`::error::input action: expected one of ${ACTION_NAMES.join(', ')}, got ${JSON.stringify(name)}\n`);
    process.exitCode = 1;
  }
}
