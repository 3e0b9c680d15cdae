import { systemClock, type Clock } from '../clock.js';
import { DeploymentRecordHooks, recordHooks } from '../github/record-hooks.js';
import { rolloutNotifier } from '../notify/index.js';
import type { Plan } from '../plan/schema.js';
import type { ActionRuntime } from '../runtime.js';
import { RollingDeployment } from '../deploy/rolling.js';
import { UserError } from '../errors.js';
import { createTrafficProvider } from '../traffic/index.js';
import type { TrafficProvider } from '../traffic/provider.js';
import { parseDuration } from '../duration.js';
import { noRolloutHooks, type RolloutEvent, type RolloutHooks } from './hooks.js';
import { rolloutOwner, stateDirectory } from './rollout-state.js';
import { RolloutSession } from './session.js';
import type { RolloutStore } from './store.js';
import { openRolloutStore } from './stores.js';
import type { RolloutStrategy } from './strategy.js';
import { blueGreenStrategy } from './strategies/blue-green.js';
import { canaryStrategy } from './strategies/canary.js';
import { rollingStrategy } from './strategies/rolling.js';

/** What deploy-canary, ramp and rollback can have replaced, for tests and the CLI. */
export interface RolloutDeps {
  clock?: Clock;
  hooks?: RolloutHooks;
  /** Builds the traffic provider; default from the plan. */
  traffic?: (plan: Plan) => TrafficProvider;
  /** Where the rollout record lives; default from the `store` input (see stores.ts). */
  store?: RolloutStore;
  cwd?: string;
}

/** Everything one traffic-moving action works with. */
export interface RolloutContext {
  runtime: ActionRuntime;
  plan: Plan;
  file: string;
  clock: Clock;
  hooks: RolloutHooks;
  traffic: TrafficProvider;
  /** strategy: rolling: the Deployment updated in place, which also stands as `traffic`. */
  rolling?: RollingDeployment;
  store: RolloutStore;
  /** How this plan's strategy moves a version into service; chosen once, here. */
  strategy: RolloutStrategy;
  owner: string;
  cwd: string;
  log: (line: string) => void;
  group: <T>(title: string, fn: () => Promise<T>) => Promise<T>;
}

/** Builds the context from a loaded plan; the traffic provider comes from the plan unless injected. */
export function openRollout(runtime: ActionRuntime, loaded: { plan: Plan; file: string }, deps: RolloutDeps = {}): RolloutContext {
  const clock = deps.clock ?? systemClock;
  const cwd = deps.cwd ?? process.cwd();
  const stateDir = stateDirectory(runtime.env);
  const log = (line: string) => runtime.info(line);
  const group = <T>(title: string, fn: () => Promise<T>) => runtime.group(title, fn);
  const env = { ...process.env, ...runtime.env };
  const rolling = loaded.plan.strategy === 'rolling' ? rollingDeployment(loaded.plan, { log, env, cwd }) : undefined;
  const traffic = deps.traffic
    ? deps.traffic(loaded.plan)
    : (rolling ?? createTrafficProvider(loaded.plan, { clock, log, warn: (w) => runtime.warning(w), group, env, cwd, stateDir, signal: runtime.signal }));
  return {
    runtime,
    plan: loaded.plan,
    file: loaded.file,
    clock,
    // Deployment records (GitHub, or the ledger without a token) join every rollout by default.
    hooks: deps.hooks ?? {
      ...noRolloutHooks,
      ...recordHooks(DeploymentRecordHooks.forRun(runtime, loaded.plan, loaded.file, {}, cwd)),
      notify: rolloutNotifier(loaded.plan, { runtime, clock }),
    },
    traffic,
    rolling,
    store: deps.store ?? openRolloutStore(runtime, { service: loaded.plan.service, environment: loaded.plan.environment }, { cwd }),
    strategy: chooseStrategy(loaded.plan),
    owner: rolloutOwner(runtime.env),
    cwd,
    log,
    group,
  };
}

/** The one place a plan's strategy name becomes behaviour. */
export function chooseStrategy(plan: Plan): RolloutStrategy {
  switch (plan.strategy) {
    case 'canary':
      return canaryStrategy;
    case 'blue-green':
      return blueGreenStrategy;
    case 'rolling':
      return rollingStrategy;
  }
}

/** This action's hold on the rollout record. */
export function openSession(ctx: RolloutContext, action: string): Promise<RolloutSession> {
  const ttl = ctx.runtime.env.ROLLGATE_LOCK_STALE_AFTER ? parseDuration(ctx.runtime.env.ROLLGATE_LOCK_STALE_AFTER) : undefined;
  return RolloutSession.open({
    store: ctx.store,
    service: ctx.plan.service,
    environment: ctx.plan.environment,
    owner: ctx.owner,
    action,
    clock: ctx.clock,
    staleAfterMs: ttl,
    warn: (line) => ctx.runtime.warning(line),
  });
}

function rollingDeployment(plan: Plan, deps: { log: (line: string) => void; env: NodeJS.ProcessEnv; cwd: string }): RollingDeployment {
  if (!plan.deploy) throw new UserError('deploy: is required with strategy: rolling (deploy.kubernetes.deployment names the Deployment)');
  return new RollingDeployment(plan.deploy, deps);
}

/** The event bookkeeping hears about, for this rollout. */
export function rolloutEvent(ctx: RolloutContext, weight: number, version?: string): RolloutEvent {
  return { service: ctx.plan.service, environment: ctx.plan.environment, strategy: ctx.plan.strategy, version, weight };
}

/** Variables for templates (deploy command, readiness and smoke URLs). */
export function templateVars(ctx: RolloutContext, slot: string, version: string): Record<string, string> {
  return { service: ctx.plan.service, environment: ctx.plan.environment, slot, track: slot, version };
}
