/**
 * The traffic layer as rollgate sees it. The traffic system is the source of truth for where
 * requests go right now, so every operation reads the state back and returns what it found;
 * nothing here trusts a value the caller remembered from an earlier step.
 *
 * Two shapes share one interface:
 * - canary (weighted): a stable slot and a canary slot; `setWeight(n)` gives the canary n%.
 * - blue-green: two colours, one live; `switchTo(colour)` moves 100% in one change.
 * Providers that support only one shape throw a UserError from the other's operations.
 */

/** The two colours of a blue-green pair. */
export type Colour = 'blue' | 'green';

/** The other colour. */
export function otherColour(colour: Colour): Colour {
  return colour === 'blue' ? 'green' : 'blue';
}

/** How one slot (an HAProxy server, a Service behind a route, a colour) looks right now. */
export interface SlotState {
  /** The role rollgate gives it: stable, canary, blue or green. */
  role: 'stable' | 'canary' | Colour;
  /** The name in the traffic system (server, Service, subset). */
  name: string;
  /** Share of traffic, 0–100. */
  percent: number;
  /** The provider's raw weight, when it has one (HAProxy: 0–256). */
  weight?: number;
  /** Administrative state as the provider names it (ready, drain, maint, …), when it has one. */
  admin?: string;
  /** Operational state when the provider knows it (UP, DOWN, …). */
  health?: string;
}

/** Where traffic goes now, as read from the traffic system. */
export interface TrafficState {
  /** The canary's share, 0–100 (blue-green: the share of the colour that is not live). */
  canaryPercent: number;
  /** The live colour, for blue-green targets. */
  live?: Colour;
  slots: SlotState[];
}

/** What `rollback()` found and did. */
export interface RollbackOutcome {
  /** True when this call moved traffic; false when stable already had everything. */
  changed: boolean;
  before: TrafficState;
  after: TrafficState;
}

export interface TrafficCallOptions {
  signal?: AbortSignal;
}

/**
 * A system that decides which slot serves a request. Every change is read back: a provider
 * throws a ProviderError when what it reads differs from what it set.
 */
export interface TrafficProvider {
  /** The provider kind, e.g. `haproxy`. */
  readonly kind: string;
  /** What it controls, for messages and lock keys, e.g. `haproxy 127.0.0.1:9999 backend orders`. */
  readonly target: string;
  /** Which shapes this provider can drive. */
  readonly supports: { canary: boolean; blueGreen: boolean };

  /** Reads where traffic goes now. */
  getState(options?: TrafficCallOptions): Promise<TrafficState>;

  /** Gives the canary `percent` (0–100) and stable the rest; reads back and fails on a mismatch. */
  setWeight(percent: number, options?: TrafficCallOptions): Promise<TrafficState>;

  /**
   * Makes the promotion final on the traffic side, once the stable slot runs the new version:
   * stable 100%, canary 0% and drained, so the next rollout starts from the same shape.
   */
  promote(options?: TrafficCallOptions): Promise<TrafficState>;

  /**
   * Restores 100% to stable (blue-green: to `toColour`, or the provider's own idea of the
   * previous colour) from whatever state it finds. Idempotent: a second call changes nothing.
   */
  rollback(options?: TrafficCallOptions & { toColour?: Colour }): Promise<RollbackOutcome>;

  /** The live colour of a blue-green pair. */
  liveColour(options?: TrafficCallOptions): Promise<Colour>;

  /**
   * Moves 100% to `colour` in one change; the other colour keeps running (ready, weight 0), so
   * switching back is one more call. Reads back and fails on a mismatch.
   */
  switchTo(colour: Colour, options?: TrafficCallOptions): Promise<TrafficState>;

  /** Closes connections or clients the provider holds. */
  close?(): Promise<void>;
}

/** One line describing a state, for logs: `stable 75% · canary 25%`. */
export function describeTrafficState(state: TrafficState): string {
  const slots = state.slots.map((s) => `${s.role}${s.name !== s.role ? ` (${s.name})` : ''} ${formatPercent(s.percent)}${s.admin && s.admin !== 'ready' ? ` [${s.admin}]` : ''}`);
  return `${state.live ? `live ${state.live} · ` : ''}${slots.join(' · ')}`;
}

/** A Markdown table of a state, for job summaries. */
export function trafficStateTable(state: TrafficState): string {
  const rows = state.slots.map(
    (s) => `| ${s.role} | \`${s.name}\` | ${formatPercent(s.percent)} | ${s.weight ?? '—'} | ${s.admin ?? '—'} | ${s.health ?? '—'} |`,
  );
  return ['| slot | name | traffic | weight | admin state | health |', '| --- | --- | --- | --- | --- | --- |', ...rows].join('\n');
}

/** `25%`, `33.3%` */
export function formatPercent(percent: number): string {
  return `${Math.round(percent * 10) / 10}%`;
}

/**
 * The narrow view a canary rollout needs: a router that weighs two slots. Strategies depend on
 * this, not on the whole provider, so a provider need only offer what its shapes use.
 */
export type WeightedRouter = Pick<TrafficProvider, 'kind' | 'target' | 'getState' | 'setWeight' | 'promote' | 'rollback'>;

/** The narrow view a blue-green rollout needs: a switch between two colours. */
export type ColourSwitch = Pick<TrafficProvider, 'kind' | 'target' | 'getState' | 'switchTo'>;
