import type { ActionResult } from '../runtime.js';

/** An action that is declared but not built yet: it fails loudly rather than pretending. */
export async function runNotImplementedAction(name: string): Promise<ActionResult> {
  return { ok: false, failure: `${name}: not implemented yet` };
}
