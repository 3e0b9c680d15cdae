import { MemoryRuntime, runAction, type ActionResult } from '../src/core/runtime.js';

/**
 * Runs one action in-process the way its entry does (through runAction), with a fresh runtime
 * holding the step's inputs, as the runner gives each step; the test's own exit code is kept.
 */
export async function runStep(
  name: string,
  body: (rt: MemoryRuntime) => Promise<ActionResult>,
  inputs: Record<string, string>,
  env: NodeJS.ProcessEnv,
): Promise<{ result: ActionResult; rt: MemoryRuntime }> {
  const rt = new MemoryRuntime(inputs, env);
  const exitCode = process.exitCode;
  const result = await runAction(name, () => body(rt), rt);
  process.exitCode = exitCode;
  return { result, rt };
}
