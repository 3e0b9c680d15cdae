import { systemClock, type Clock } from '../clock.js';
import { UserError } from '../errors.js';
import type { Plan, TrafficConfig } from '../plan/schema.js';
import { CommandTrafficProvider } from './command.js';
import { HaproxyTrafficProvider } from './haproxy.js';
import type { TrafficProvider } from './provider.js';

export type { Colour, RollbackOutcome, SlotState, TrafficProvider, TrafficState } from './provider.js';

/** What a provider may need from the world around it; every field has a safe default. */
export interface TrafficDeps {
  clock?: Clock;
  /** A line for the log. */
  log?: (line: string) => void;
  /** Runs `fn` inside a collapsed log group (user commands stream their output there). */
  group?: <T>(title: string, fn: () => Promise<T>) => Promise<T>;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Where a provider with no state of its own (command) remembers the last weight and colour. */
  stateDir?: string;
}

/** The traffic provider the plan names; a UserError for kinds not built yet. */
export function createTrafficProvider(plan: Pick<Plan, 'service' | 'environment' | 'traffic' | 'strategy'>, deps: TrafficDeps = {}): TrafficProvider {
  const traffic = plan.traffic;
  if (!traffic) throw new UserError('plan: traffic is required by this action (which system moves the traffic?)');
  const full = { clock: systemClock, log: () => undefined, group: <T>(_t: string, fn: () => Promise<T>) => fn(), env: process.env, cwd: process.cwd(), ...deps };
  return fromConfig(traffic, plan, full);
}

function fromConfig(traffic: TrafficConfig, plan: Pick<Plan, 'service' | 'environment' | 'strategy'>, deps: Required<Omit<TrafficDeps, 'stateDir'>> & Pick<TrafficDeps, 'stateDir'>): TrafficProvider {
  const mode = plan.strategy === 'blue-green' ? 'blue-green' : 'canary';
  switch (traffic.provider) {
    case 'haproxy':
      return new HaproxyTrafficProvider(traffic, { clock: deps.clock, mode });
    case 'command':
      return new CommandTrafficProvider(traffic, { ...deps, service: plan.service, environment: plan.environment, mode });
    case 'istio':
    case 'gateway-api':
    case 'nginx-ingress':
    case 'smi':
    case 'argo-rollouts':
    case 'service-selector':
      throw new UserError(`traffic.provider: ${traffic.provider} is not implemented yet (haproxy and command are)`);
  }
}
