import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

/** One input as an action.yml declares it. */
export interface InputSpec {
  description: string;
  default?: string;
  required?: boolean;
}

/** What actions/<name>/action.yml says about an action: the single source for defaults and help. */
export interface ActionMetadata {
  name: string;
  description: string;
  inputs: Record<string, InputSpec>;
  outputs: Record<string, { description: string }>;
}

/**
 * The repository root (the folder holding `actions/`), found by walking up from a module: the
 * bundles live in dist/<name>/, the sources in src/ and src/actions/, and the published
 * package keeps the same layout.
 */
export function packageRoot(moduleUrl: string): string {
  let dir = dirname(fileURLToPath(moduleUrl));
  for (;;) {
    if (existsSync(join(dir, 'actions', 'ramp', 'action.yml'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find rollgate's actions/ folder above ${fileURLToPath(moduleUrl)}`);
    dir = parent;
  }
}

/** Reads and normalises actions/<name>/action.yml under `root`. */
export function loadActionMetadata(root: string, name: string): ActionMetadata {
  const file = join(root, 'actions', name, 'action.yml');
  const spec = parse(readFileSync(file, 'utf8')) as {
    description?: string;
    inputs?: Record<string, { description?: string; default?: unknown; required?: boolean }>;
    outputs?: Record<string, { description?: string }>;
  };
  const inputs: Record<string, InputSpec> = {};
  for (const [key, value] of Object.entries(spec.inputs ?? {})) {
    inputs[key] = {
      description: value.description ?? '',
      ...(value.default !== undefined ? { default: String(value.default) } : {}),
      ...(value.required ? { required: true } : {}),
    };
  }
  const outputs: Record<string, { description: string }> = {};
  for (const [key, value] of Object.entries(spec.outputs ?? {})) outputs[key] = { description: value.description ?? '' };
  return { name, description: spec.description ?? '', inputs, outputs };
}

/** A default the runner evaluates (`${{ github.token }}`): only a runner can supply it. */
export function isExpressionDefault(value: string): boolean {
  return value.includes('${{');
}

/**
 * Sets INPUT_* for every input of `metadata` that has a literal default and no value in `env`,
 * as the runner does from action.yml. The CLI and the umbrella action call it so an action
 * behaves the same however it is started.
 */
export function applyInputDefaults(metadata: ActionMetadata, env: NodeJS.ProcessEnv): void {
  for (const [key, spec] of Object.entries(metadata.inputs)) {
    if (spec.default === undefined || isExpressionDefault(spec.default)) continue;
    const variable = `INPUT_${key.replace(/ /g, '_').toUpperCase()}`;
    if (env[variable] === undefined || env[variable] === '') env[variable] = spec.default;
  }
}
