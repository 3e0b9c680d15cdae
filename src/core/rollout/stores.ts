// TEMPORARY stand-in until the real factory lands on main; not committed.
import { isAbsolute, join, resolve } from 'node:path';
import { getOptionalInput } from '../inputs.js';
import type { ActionRuntime } from '../runtime.js';
import { FileRolloutStore } from './file-store.js';
import { stateDirectory } from './rollout-state.js';
import type { RolloutStore } from './store.js';
export interface RolloutKey { service: string; environment: string }
export function openRolloutStore(runtime: ActionRuntime, key: RolloutKey, deps: { cwd: string }): RolloutStore {
  const value = getOptionalInput(runtime, 'store') ?? runtime.env.ROLLGATE_STORE?.trim() ?? 'file';
  const dir = value.startsWith('file:') ? value.slice(5) : join(stateDirectory(runtime.env), 'store');
  return new FileRolloutStore(isAbsolute(dir) ? dir : resolve(deps.cwd, dir), key);
}
