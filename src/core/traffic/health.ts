import type { Clock } from '../clock.js';
import { ProviderError, UserError } from '../errors.js';
import { formatPercent, type OtherEntry, type SlotState, type TrafficCallOptions, type TrafficProvider, type TrafficState } from './provider.js';

/**
 * A traffic change whose read-back shows a destination unable to serve the share it was given.
 * The change may have happened (rollback onto a DOWN stable still sets the weights): `state` is
 * what the traffic layer holds now, and the message says what users get. Not retried: waiting
 * for health is already part of the change, and a retry would only repeat the wait.
 */
export class UnservedTrafficError extends ProviderError {
  constructor(
    provider: string,
    detail: string,
    readonly state: TrafficState,
    /** True when traffic was moved before the problem was found. */
    readonly changed: boolean,
  ) {
    super(provider, detail, false);
  }
}

/** `stable (server s1) DOWN: L7STS 404` — a slot or entry and why it cannot serve. */
export function describeEntry(label: string, entry: OtherEntry): string {
  const name = entry.name !== label ? ` (${entry.name})` : '';
  const state = entry.status ?? entry.health ?? (entry.serving === false ? 'not serving' : 'state unknown');
  return `${label}${name} ${state}${entry.detail ? `: ${entry.detail}` : ''}`;
}

/**
 * What users get from a state, in one sentence: who serves which share, and the share that
 * fails because the entry holding it cannot serve (HAProxy answers 503 when no server can).
 */
export function whatUsersGet(state: TrafficState): string {
  const entries: { label: string; entry: OtherEntry }[] = [
    ...state.slots.map((s) => ({ label: s.role as string, entry: s as OtherEntry })),
    ...(state.others ?? []).map((o) => ({ label: `other server ${o.name}`, entry: o })),
  ];
  const serving = entries.filter((e) => e.entry.percent > 0 && e.entry.serving !== false);
  const total = entries.reduce((sum, e) => sum + e.entry.percent, 0);
  if (total === 0 || serving.length === 0) return 'no entry that can serve has any weight: every request fails (HAProxy answers 503)';
  const failing = entries.filter((e) => e.entry.percent > 0 && e.entry.serving === false);
  const parts = serving.map((e) => `${e.label} ${formatPercent(e.entry.percent)}`);
  const lost = failing.map((e) => `${formatPercent(e.entry.percent)} to ${e.label}, which cannot serve`);
  return `users now get ${parts.join(' · ')}${lost.length ? `; ${lost.join(', ')}` : ''}`;
}

/** The slot with `role`, or a ProviderError naming what the state holds. */
export function slotOf(kind: string, state: TrafficState, role: SlotState['role']): SlotState {
  const slot = state.slots.find((s) => s.role === role);
  if (!slot) throw new ProviderError(kind, `the traffic state has no ${role} slot (it has: ${state.slots.map((s) => s.role).join(', ')})`);
  return slot;
}

/**
 * Entries beside the two rollgate drives that carry weight: they take a share rollgate does not
 * control (a canary share would be smaller than reported, and a promotion would leave users on
 * whatever they run), so a weight change refuses to start while any exists.
 */
export function refuseOthersWithWeight(kind: string, target: string, state: TrafficState, operation: string): void {
  const carrying = (state.others ?? []).filter((o) => (o.weight ?? (o.percent > 0 ? 1 : 0)) > 0);
  if (carrying.length === 0) return;
  const list = carrying.map((o) => `${o.name} (weight ${o.weight ?? '?'}, ${formatPercent(o.percent)} of traffic now${o.status ? `, ${o.status}` : ''})`).join(', ');
  throw new ProviderError(
    kind,
    `${target} also holds ${list}: refusing to ${operation}, because rollgate cannot account for traffic it does not control. Set ${carrying.length > 1 ? 'their weights' : 'its weight'} to 0 (or take ${carrying.length > 1 ? 'them' : 'it'} out of the backend) first.`,
  );
}

/**
 * Polls `read` until every slot named in `roles` can serve, for up to `timeoutMs`; returns the
 * last state read and the slots that still cannot serve (empty when all can). A slot whose
 * provider cannot tell (serving undefined) counts as able: the provider has no health to read.
 */
export async function waitUntilServing(
  read: () => Promise<TrafficState>,
  roles: SlotState['role'][],
  options: { clock: Clock; timeoutMs: number; intervalMs?: number; signal?: AbortSignal },
): Promise<{ state: TrafficState; unable: SlotState[] }> {
  const deadline = options.clock.now() + options.timeoutMs;
  for (;;) {
    const state = await read();
    const unable = state.slots.filter((s) => roles.includes(s.role) && s.serving === false);
    if (unable.length === 0 || options.clock.now() >= deadline || options.signal?.aborted) return { state, unable };
    await options.clock.sleep(Math.min(options.intervalMs ?? 250, Math.max(1, deadline - options.clock.now())), options.signal);
  }
}

/**
 * After a change: keeps reading for `settleMs` and returns at the first read that shows a slot
 * in `roles` unable to serve. A health check needs a few intervals to notice a server that just
 * stopped answering, so one read right after the change could report a server that is already
 * gone; watching for a short window catches it before the action reports success.
 */
export async function watchServing(
  read: () => Promise<TrafficState>,
  first: TrafficState,
  roles: SlotState['role'][],
  options: { clock: Clock; settleMs: number; intervalMs?: number; signal?: AbortSignal },
): Promise<{ state: TrafficState; unable: SlotState[] }> {
  const until = options.clock.now() + options.settleMs;
  let state = first;
  for (;;) {
    const unable = state.slots.filter((s) => roles.includes(s.role) && s.serving === false);
    if (unable.length > 0 || options.clock.now() >= until || options.signal?.aborted) return { state, unable };
    await options.clock.sleep(Math.min(options.intervalMs ?? 250, Math.max(1, until - options.clock.now())), options.signal);
    state = await read();
  }
}

/**
 * The provider as an interrupted action may use it: once `stop` fires (SIGINT, SIGTERM), no new
 * forward change starts (setWeight, promote, switchTo refuse, naming the signal), and changes
 * already waiting on health stop waiting. Reads and rollback are untouched: taking traffic off a
 * canary is what an interrupted rollout may still need.
 */
export function stopForwardChangesOn(provider: TrafficProvider, stop: AbortSignal): TrafficProvider {
  const refuse = (operation: string) => {
    if (stop.aborted) throw new UserError(`${provider.kind}: not starting ${operation}: the action was ${stop.reason instanceof Error ? stop.reason.message : 'interrupted'}`);
  };
  const signalFor = (options?: TrafficCallOptions) => (options?.signal ? AbortSignal.any([options.signal, stop]) : stop);
  return {
    kind: provider.kind,
    target: provider.target,
    supports: provider.supports,
    getState: (options) => provider.getState(options),
    setWeight: async (percent, options) => {
      refuse(`giving the canary ${percent}%`);
      return provider.setWeight(percent, { ...options, signal: signalFor(options) });
    },
    promote: async (options) => {
      refuse('the promotion');
      return provider.promote({ ...options, signal: signalFor(options) });
    },
    rollback: (options) => provider.rollback(options),
    liveColour: (options) => provider.liveColour(options),
    switchTo: async (colour, options) => {
      refuse(`the switch to ${colour}`);
      return provider.switchTo(colour, { ...options, signal: signalFor(options) });
    },
    ...(provider.close ? { close: () => (provider.close as () => Promise<void>)() } : {}),
  };
}
