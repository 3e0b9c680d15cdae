import { systemClock, type Clock } from '../clock.js';
import { UserError } from '../errors.js';
import type { Plan, TrafficConfig } from '../plan/schema.js';
import { CommandTrafficProvider } from './command.js';
import { stopForwardChangesOn } from './health.js';
import { HaproxyTrafficProvider } from './haproxy.js';
import type { TrafficProvider } from './provider.js';
import { ArgoRolloutsTrafficProvider } from './argo-rollouts.js';
import { GatewayApiTrafficProvider } from './gateway-api.js';
import { IstioTrafficProvider } from './istio.js';
import type { KubernetesDeps } from './kubernetes.js';
import { NginxIngressTrafficProvider } from './nginx-ingress.js';
import { ServiceSelectorTrafficProvider } from './service-selector.js';
import { SmiTrafficProvider } from './smi.js';

export type { Colour, RollbackOutcome, SlotState, TrafficProvider, TrafficState } from './provider.js';

/** What a provider may need from the world around it; every field has a safe default. */
export interface TrafficDeps {
  clock?: Clock;
  /** A line for the log. */
  log?: (line: string) => void;
  /** A warning a person must read (a server someone put in maintenance); defaults to a log line. */
  warn?: (line: string) => void;
  /** Runs `fn` inside a collapsed log group (user commands stream their output there). */
  group?: <T>(title: string, fn: () => Promise<T>) => Promise<T>;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Where a provider with no state of its own (command) remembers the last weight and colour. */
  stateDir?: string;
  /** The action's interruption (SIGINT/SIGTERM): once it fires, no new forward change starts. */
  signal?: AbortSignal;
}

/** The traffic provider the plan names; a UserError for kinds not built yet. */
export function createTrafficProvider(plan: Pick<Plan, 'service' | 'environment' | 'traffic' | 'strategy'>, deps: TrafficDeps = {}): TrafficProvider {
  const traffic = plan.traffic;
  if (!traffic) throw new UserError('plan: traffic is required by this action (which system moves the traffic?)');
  const log = deps.log ?? (() => undefined);
  const full = {
    clock: systemClock,
    log,
    warn: (line: string) => log(`warning: ${line}`),
    group: <T>(_t: string, fn: () => Promise<T>) => fn(),
    env: process.env,
    cwd: process.cwd(),
    ...deps,
  };
  const provider = fromConfig(traffic, plan, full);
  return deps.signal ? stopForwardChangesOn(provider, deps.signal) : provider;
}

function fromConfig(
  traffic: TrafficConfig,
  plan: Pick<Plan, 'service' | 'environment' | 'strategy'>,
  deps: Required<Omit<TrafficDeps, 'stateDir' | 'signal'>> & Pick<TrafficDeps, 'stateDir'>,
): TrafficProvider {
  const mode = plan.strategy === 'blue-green' ? 'blue-green' : 'canary';
  switch (traffic.provider) {
    case 'haproxy':
      return new HaproxyTrafficProvider(traffic, { clock: deps.clock, mode, warn: deps.warn });
    case 'command':
      return new CommandTrafficProvider(traffic, { ...deps, service: plan.service, environment: plan.environment, mode });
    case 'istio':
      return new IstioTrafficProvider(traffic, kubernetesDeps(deps, mode));
    case 'gateway-api':
      return new GatewayApiTrafficProvider(traffic, kubernetesDeps(deps, mode));
    case 'nginx-ingress':
      return new NginxIngressTrafficProvider(traffic, kubernetesDeps(deps, mode));
    case 'smi':
      return new SmiTrafficProvider(traffic, kubernetesDeps(deps, mode));
    case 'argo-rollouts':
      return new ArgoRolloutsTrafficProvider(traffic, kubernetesDeps(deps, mode));
    case 'service-selector':
      return new ServiceSelectorTrafficProvider(traffic, kubernetesDeps(deps, mode));
  }
}

/** The Kubernetes providers' deps: kubectl runs with the action's environment (PATH, KUBECONFIG) and logs its commands. */
function kubernetesDeps(deps: { clock: Clock; log: (line: string) => void; env: NodeJS.ProcessEnv; cwd: string }, mode: 'canary' | 'blue-green'): KubernetesDeps {
  return { clock: deps.clock, log: deps.log, env: deps.env, cwd: deps.cwd, mode };
}
