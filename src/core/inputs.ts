import { parseDuration, REPEATED_UNIT, repeatsDurationUnit } from './duration.js';
import { InputError } from './errors.js';
import { trafficStepsProblem } from './plan/steps.js';
import type { ActionRuntime } from './runtime.js';

/** The input's value; an InputError naming it when it is missing. */
export function getRequiredInput(runtime: ActionRuntime, name: string): string {
  const value = runtime.getInput(name);
  if (value === undefined) throw new InputError(name, 'is required');
  return value;
}

/** The input's value, or undefined when unset or empty. */
export function getOptionalInput(runtime: ActionRuntime, name: string): string | undefined {
  return runtime.getInput(name);
}

/** A boolean input: true/false/yes/no/1/0, case-insensitive. */
export function getBooleanInput(runtime: ActionRuntime, name: string, fallback: boolean): boolean {
  const value = runtime.getInput(name);
  if (value === undefined) return fallback;
  const lower = value.toLowerCase();
  if (['true', 'yes', '1', 'on'].includes(lower)) return true;
  if (['false', 'no', '0', 'off'].includes(lower)) return false;
  throw new InputError(name, `expected true or false, got ${JSON.stringify(value)}`);
}

/** A finite number input, optionally bounded. */
export function getNumberInput(runtime: ActionRuntime, name: string, bounds: { min?: number; max?: number; integer?: boolean } = {}): number | undefined {
  const value = runtime.getInput(name);
  if (value === undefined) return undefined;
  return parseNumberInput(name, value, bounds);
}

/** Parses and bounds-checks a number given as text for input `name`. */
export function parseNumberInput(name: string, value: string, bounds: { min?: number; max?: number; integer?: boolean } = {}): number {
  const n = /^[-+]?(\d+(\.\d*)?|\.\d+)(e[-+]?\d+)?$/i.test(value) ? Number(value) : Number.NaN;
  const what = bounds.integer ? 'a whole number' : 'a number';
  const range =
    bounds.min !== undefined && bounds.max !== undefined
      ? ` from ${bounds.min} to ${bounds.max}`
      : bounds.min !== undefined
        ? ` ≥ ${bounds.min}`
        : bounds.max !== undefined
          ? ` ≤ ${bounds.max}`
          : '';
  const problem = `expected ${what}${range}, got ${JSON.stringify(value)}`;
  if (!Number.isFinite(n)) throw new InputError(name, problem);
  if (bounds.integer && !Number.isInteger(n)) throw new InputError(name, problem);
  if (bounds.min !== undefined && n < bounds.min) throw new InputError(name, problem);
  if (bounds.max !== undefined && n > bounds.max) throw new InputError(name, problem);
  return n;
}

/** A duration input (`30s`, `5m`) in milliseconds. */
export function getDurationInput(runtime: ActionRuntime, name: string): number | undefined {
  const value = runtime.getInput(name);
  if (value === undefined) return undefined;
  const ms = parseDuration(value);
  if (ms === undefined)
    throw new InputError(name, `expected a duration such as 500ms, 30s, 5m or 1h${repeatsDurationUnit(value) ? ` (${REPEATED_UNIT})` : ''}, got ${JSON.stringify(value)}`);
  return ms;
}

/** A list input: comma- or newline-separated, blanks dropped. */
export function getListInput(runtime: ActionRuntime, name: string): string[] | undefined {
  const value = runtime.getInput(name);
  if (value === undefined) return undefined;
  return value
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * Traffic weights given as an input (`steps`, `to`, `weight`), held to the same rule as a plan's
 * `steps`: an input can never ask for what the plan itself would refuse. `current` is the
 * canary's share now, when the steps must rise from it.
 */
export function parseTrafficSteps(name: string, values: readonly string[], current?: number): number[] {
  const weights = values.map((v) => parseNumberInput(name, v, { min: 0, max: 100 }));
  const problem = trafficStepsProblem(weights, current);
  if (problem) throw new InputError(name, `${problem.message}, got ${values.join(',')}`);
  return weights;
}

/** A single traffic weight input (`weight`, `to`), under the rule of `parseTrafficSteps`. */
export function getTrafficWeightInput(runtime: ActionRuntime, name: string): number | undefined {
  const value = runtime.getInput(name);
  return value === undefined ? undefined : parseTrafficSteps(name, [value])[0];
}
