import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The six actions, in the order a rollout uses them. */
export const ACTION_NAMES = ['build-and-tag', 'deploy-canary', 'metrics-gate', 'ramp', 'rollback', 'pre-deploy-checklist'] as const;
export type ActionName = (typeof ACTION_NAMES)[number];

export function isActionName(name: string): name is ActionName {
  return (ACTION_NAMES as readonly string[]).includes(name);
}

/**
 * Runs the bundled action `name` in this process, exactly as the runner would: the bundle
 * beside the caller's own (`dist/<name>/index.js`) reads its INPUT_* variables and runs.
 */
export async function runBundledAction(name: ActionName, callerUrl: string): Promise<void> {
  const bundle = join(dirname(fileURLToPath(callerUrl)), '..', name, 'index.js');
  if (!existsSync(bundle)) throw new Error(`the bundle for ${name} is missing at ${bundle}: run npm run build`);
  await import(/* webpackIgnore: true */ pathToFileURL(bundle).href);
}
