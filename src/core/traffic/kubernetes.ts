import { systemClock, type Clock } from '../clock.js';
import { ProviderError, UserError } from '../errors.js';
import { describeEntry, UnservedTrafficError, whatUsersGet } from './health.js';
import { asRecord, asRecords, Kubectl, type KubeTarget } from './kubectl.js';
import type { Colour, RollbackOutcome, SlotState, TrafficCallOptions, TrafficState } from './provider.js';

/** What every Kubernetes provider is built with. */
export interface KubernetesDeps {
  clock?: Clock;
  log?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  mode?: 'canary' | 'blue-green';
  /** The kubectl program (tests point it at a fake); `kubectl` from PATH by default. */
  kubectl?: string;
}

/** The kubectl runner for one plan target, errors prefixed with the provider kind. */
export function kubectlFor(kind: string, target: KubeTarget, deps: KubernetesDeps): Kubectl {
  return new Kubectl({ context: target.context, namespace: target.namespace, env: deps.env, cwd: deps.cwd, log: deps.log, binary: deps.kubectl, provider: kind });
}

/** Rejects a weight outside 0–100 before anything is written. */
export function checkPercent(percent: number): void {
  if (!(Number.isFinite(percent) && percent >= 0 && percent <= 100)) throw new UserError(`weight: expected a traffic weight from 0 to 100, got ${percent}`);
}

/** Whole-number weights for stable and canary that add up to 100 (the APIs take integers). */
export function splitWeights(percent: number): { stable: number; canary: number } {
  const canary = Math.round(percent);
  return { stable: 100 - canary, canary };
}

/**
 * The state of a stable/canary pair from the raw weights found in the traffic object. `others` is
 * the weight held by destinations rollgate does not own: traffic it cannot account for, so an error.
 */
export function weightedState(
  kind: string,
  resource: string,
  slots: { stable: { name: string; weight: number }; canary: { name: string; weight: number } },
  options: { others?: number; mustTotal100?: boolean } = {},
): TrafficState {
  const { stable, canary } = slots;
  const others = options.others ?? 0;
  const total = stable.weight + canary.weight + others;
  if (others > 0)
    throw new ProviderError(kind, `${resource}: other destinations hold weight ${others} besides ${stable.name} and ${canary.name}; rollgate cannot tell where that traffic goes`);
  if (options.mustTotal100 ? total !== 100 : total <= 0)
    throw new ProviderError(kind, `${resource}: the weights do not add up to 100 (${stable.name} ${stable.weight} + ${canary.name} ${canary.weight} = ${total})`);
  return {
    canaryPercent: (canary.weight / total) * 100,
    slots: [
      { role: 'stable', name: stable.name, percent: (stable.weight / total) * 100, weight: stable.weight },
      { role: 'canary', name: canary.name, percent: (canary.weight / total) * 100, weight: canary.weight },
    ],
  };
}

/** Fails when the state read back after a write is not what was written. */
export function expectWeights(kind: string, resource: string, state: TrafficState, expected: { stable: number; canary: number }): TrafficState {
  const stable = state.slots.find((s) => s.role === 'stable');
  const canary = state.slots.find((s) => s.role === 'canary');
  if (stable?.weight !== expected.stable || canary?.weight !== expected.canary)
    throw new ProviderError(
      kind,
      `${resource}: read-back after the change does not match: found stable ${stable?.weight ?? '?'} / canary ${canary?.weight ?? '?'}, expected ${expected.stable} / ${expected.canary} (is something else, e.g. a GitOps controller, writing the same object?)`,
    );
  return state;
}

/** The error for an operation of the other shape (blue-green on a weighted provider, or the reverse). */
export function wrongShape(kind: string, operation: string, supported: 'canary' | 'blue-green'): UserError {
  return new UserError(
    `${kind}: ${operation} is not available: this provider drives ${supported === 'canary' ? 'weighted canaries (strategy: canary)' : 'blue-green switches (strategy: blue-green)'}`,
  );
}

/** The raw weights of the pair as found in the traffic object, before any judgement. */
export interface RawPair {
  stable: { name: string; weight: number };
  canary: { name: string; weight: number };
  /** Weight held by destinations rollgate does not own. */
  others: number;
  /** True when the extras this provider owns (header route, mirror, header annotation) are in place. */
  extras: boolean;
}

/**
 * The shared shape of the weighted providers (Istio, Gateway API, NGINX Ingress, SMI): each supplies
 * how to read the pair and how to write a split; promote and rollback are the same everywhere.
 */
export abstract class WeightedKubernetesProvider {
  abstract readonly kind: string;
  abstract readonly target: string;
  readonly supports = { canary: true, blueGreen: false };
  protected readonly clock: Clock;
  /** Istio requires route weights to total 100; the others are relative. */
  protected readonly mustTotal100: boolean = false;

  constructor(protected readonly deps: KubernetesDeps) {
    this.clock = deps.clock ?? systemClock;
  }

  /** Reads the pair; a missing object, route or destination is a ProviderError naming it. */
  protected abstract readPair(signal?: AbortSignal): Promise<RawPair>;

  /** Writes the split (and the extras this provider owns: header routes, mirroring) as one patch. */
  protected abstract write(weights: { stable: number; canary: number }, phase: 'ramp' | 'final', signal?: AbortSignal): Promise<void>;

  /**
   * The Services behind the stable and canary backends, whose ready endpoints say whether each
   * can serve; undefined where the backend is not a Service of its own (an Istio subset).
   */
  protected backendServices(): { stable?: string; canary?: string } {
    return {};
  }

  async getState(options: TrafficCallOptions = {}): Promise<TrafficState> {
    const pair = await this.readPair(options.signal);
    return this.withHealth(weightedState(this.kind, this.target, pair, { others: pair.others, mustTotal100: this.mustTotal100 }), options.signal);
  }

  async setWeight(percent: number, options: TrafficCallOptions = {}): Promise<TrafficState> {
    checkPercent(percent);
    const weights = splitWeights(percent);
    const roles: SlotState['role'][] = [...(weights.stable > 0 ? (['stable'] as const) : []), ...(weights.canary > 0 ? (['canary'] as const) : [])];
    this.refuseUnserved(await this.getState(options), roles, `give the canary ${percent}%`);
    await this.write(weights, percent > 0 && percent < 100 ? 'ramp' : 'final', options.signal);
    return this.confirmServing(expectWeights(this.kind, this.target, await this.getState(options), weights), roles, `gave the canary ${percent}%`);
  }

  async promote(options: TrafficCallOptions = {}): Promise<TrafficState> {
    this.refuseUnserved(await this.getState(options), ['stable'], 'promote (stable would take all traffic from the canary)');
    await this.write({ stable: 100, canary: 0 }, 'final', options.signal);
    return this.confirmServing(expectWeights(this.kind, this.target, await this.getState(options), { stable: 100, canary: 0 }), ['stable'], 'promoted: stable took all traffic');
  }

  /** Works from any state it can read, even weights that are all 0 or do not add up: that is what it repairs. */
  async rollback(options: TrafficCallOptions & { toColour?: Colour } = {}): Promise<RollbackOutcome> {
    const pair = await this.readPair(options.signal);
    const before = await this.withHealth(lenientState(pair), options.signal);
    const stableUnserved = before.slots.some((s) => s.role === 'stable' && s.serving === false);
    if (pair.stable.weight === 100 && pair.canary.weight === 0 && pair.others === 0 && !pair.extras) {
      if (stableUnserved) this.confirmServing(before, ['stable'], 'stable already had all traffic', false);
      return { changed: false, before, after: before };
    }
    // Rollback moves traffic whatever stable's health; the error after it says what users get.
    await this.write({ stable: 100, canary: 0 }, 'final', options.signal);
    const after = expectWeights(this.kind, this.target, await this.getState(options), { stable: 100, canary: 0 });
    return { changed: true, before, after: this.confirmServing(after, ['stable'], 'rollback gave stable all traffic and the canary none') };
  }

  /** Adds each slot's ready endpoints to a state read from the traffic object. */
  private async withHealth(state: TrafficState, signal?: AbortSignal): Promise<TrafficState> {
    const services = this.backendServices();
    const slots = await Promise.all(
      state.slots.map(async (slot) => {
        const service = slot.role === 'stable' ? services.stable : slot.role === 'canary' ? services.canary : undefined;
        return service ? { ...slot, ...(await serviceHealth(this.kubectl, service, signal)) } : slot;
      }),
    );
    return { ...state, slots };
  }

  /** Before a change: a destination with no ready endpoint gets nothing; nothing is written. */
  private refuseUnserved(state: TrafficState, roles: SlotState['role'][], operation: string): void {
    const unable = state.slots.filter((s) => roles.includes(s.role) && s.serving === false);
    if (unable.length > 0)
      throw new UnservedTrafficError(
        this.kind,
        `${this.target}: refusing to ${operation}: ${unable.map((s) => describeEntry(s.role, s)).join('; ')}. Nothing was changed: ${whatUsersGet(state)}.`,
        state,
        false,
      );
  }

  /** After a change: the destinations must have ready endpoints; otherwise say what users get. */
  private confirmServing(state: TrafficState, roles: SlotState['role'][], did: string, changed = true): TrafficState {
    const unable = state.slots.filter((s) => roles.includes(s.role) && s.serving === false);
    if (unable.length === 0) return state;
    throw new UnservedTrafficError(this.kind, `${this.target}: ${did}, but ${unable.map((s) => describeEntry(s.role, s)).join('; ')}: ${whatUsersGet(state)}.`, state, changed);
  }

  /** The kubectl runner, for the endpoint reads. */
  protected abstract readonly kubectl: Kubectl;

  async liveColour(): Promise<Colour> {
    throw wrongShape(this.kind, 'liveColour', 'canary');
  }

  async switchTo(): Promise<TrafficState> {
    throw wrongShape(this.kind, 'switchTo', 'canary');
  }
}

/** A state for reports that never throws (rollback's "found" table, whatever it found). */
function lenientState(pair: RawPair): TrafficState {
  const total = pair.stable.weight + pair.canary.weight + pair.others;
  const pct = (w: number) => (total > 0 ? (w / total) * 100 : 0);
  return {
    canaryPercent: pct(pair.canary.weight),
    slots: [
      { role: 'stable', name: pair.stable.name, percent: pct(pair.stable.weight), weight: pair.stable.weight },
      { role: 'canary', name: pair.canary.name, percent: pct(pair.canary.weight), weight: pair.canary.weight },
    ],
  };
}

/**
 * Whether a Service can serve, from its Endpoints object: ready addresses, and the ones that are
 * not ready. A Service that has no Endpoints object to read is reported as unknown, not healthy.
 */
export async function serviceHealth(kubectl: Kubectl, service: string, signal?: AbortSignal): Promise<Pick<SlotState, 'serving' | 'status' | 'detail'>> {
  let endpoints;
  try {
    endpoints = await kubectl.get('endpoints', service, signal);
  } catch (err) {
    if (err instanceof ProviderError && /does not exist/.test(err.message)) return { detail: `no Endpoints object for Service ${service} to read its health from` };
    throw err;
  }
  const subsets = asRecords((endpoints as { subsets?: unknown }).subsets);
  const count = (key: string) => subsets.reduce((sum, subset) => sum + asRecords(asRecord(subset)?.[key]).length, 0);
  const ready = count('addresses');
  const total = ready + count('notReadyAddresses');
  return ready > 0
    ? { serving: true, status: 'READY', detail: `${ready} of ${total} endpoints of Service ${service} ready` }
    : { serving: false, status: 'NO READY ENDPOINTS', detail: `0 of ${total} endpoints of Service ${service} ready` };
}
