import { existsSync } from 'node:fs';
import { getOptionalInput } from '../inputs.js';
import { loadPlanFile, validatePlanObject, type LoadedPlan, type PlanOverride } from '../plan/load.js';
import type { Plan, PlanSection } from '../plan/schema.js';
import type { ActionRuntime } from '../runtime.js';

/** The file name a plan built from action inputs alone goes by. */
export const INPUTS_PLAN = '(action inputs)';

/** Where plans live unless the `plan` input says otherwise. */
export const DEFAULT_PLAN_FILE = '.github/rollout.yml';

export interface ActionPlanOptions {
  require?: PlanSection[];
  reads?: PlanSection[];
  overrides?: PlanOverride[];
  /** Only the required sections are strict; problems elsewhere come back in `problems` (rollback). */
  lenient?: boolean;
  /**
   * Builds a plan from inputs alone when no plan file exists and the `plan` input was not set
   * (metrics-gate's shortcut inputs). Returning undefined means "a plan file is needed".
   */
  fallback?: () => Record<string, unknown> | undefined;
}

/**
 * Loads the plan named by the `plan` input (default `.github/rollout.yml`), applying this run's
 * input overrides, registering every value taken from the environment as a secret.
 */
export function loadActionPlan(runtime: ActionRuntime, options: ActionPlanOptions = {}): LoadedPlan {
  const named = getOptionalInput(runtime, 'plan');
  const file = named ?? DEFAULT_PLAN_FILE;
  const loadOptions = {
    require: options.require,
    reads: options.reads,
    overrides: options.overrides,
    lenient: options.lenient,
    env: runtime.env,
    onSecret: (value: string) => runtime.setSecret(value),
  };
  if (!named && !existsSync(file) && options.fallback) {
    const built = options.fallback();
    if (built) return validatePlanObject(built, INPUTS_PLAN, loadOptions);
  }
  return loadPlanFile(file, loadOptions);
}

/**
 * Loads the plan for a traffic-moving action whose required sections depend on the strategy:
 * `strategy: rolling` updates one Deployment in place and has no `traffic` section.
 */
export function loadRolloutPlan(runtime: ActionRuntime, options: Omit<ActionPlanOptions, 'require'> & { require: (strategy: Plan['strategy']) => PlanSection[] }): LoadedPlan {
  const all = [...new Set([...options.require('canary'), ...options.require('rolling'), ...(options.reads ?? [])])];
  // Lenient loads know the strategy's strict sections only after a first look at the strategy.
  const strategy = options.lenient ? loadActionPlan(runtime, { ...options, require: [], reads: all }).plan.strategy : undefined;
  if (strategy) return loadActionPlan(runtime, { ...options, require: options.require(strategy), reads: all });
  const loaded = loadActionPlan(runtime, { ...options, require: [], reads: all });
  const required = options.require(loaded.plan.strategy);
  // Loading again with the strategy's sections required reports them as every other missing section is reported.
  if (required.some((section) => loaded.plan[section] === undefined)) return loadActionPlan(runtime, { ...options, require: required });
  return loaded;
}
