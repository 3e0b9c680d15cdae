import { connect, type Socket } from 'node:net';
import { systemClock, type Clock } from '../clock.js';
import { ProviderError, UserError } from '../errors.js';
import type { TrafficConfig } from '../plan/schema.js';
import { formatDuration } from '../duration.js';
import { describeEntry, refuseOthersWithWeight, slotOf, UnservedTrafficError, waitUntilServing, watchServing, whatUsersGet } from './health.js';
import type { Colour, RollbackOutcome, SlotState, TrafficCallOptions, TrafficProvider, TrafficState } from './provider.js';
import { formatPercent, otherColour } from './provider.js';

type HaproxyConfig = Extract<TrafficConfig, { provider: 'haproxy' }>;

/** One server as `show servers state` (and `show stat`, for the health check's words) reports it. */
export interface HaproxyServer {
  name: string;
  /** The weight set through the runtime API (srv_uweight), 0–256. */
  weight: number;
  /** ready | drain | maint, from srv_admin_state's bits. */
  admin: 'ready' | 'drain' | 'maint';
  /** UP | DOWN | STARTING | STOPPING, from srv_op_state. */
  health: 'UP' | 'DOWN' | 'STARTING' | 'STOPPING';
  /** HAProxy's own word for it: UP, DOWN, MAINT, DRAIN, NOLB, STARTING, STOPPING. */
  status: 'UP' | 'DOWN' | 'MAINT' | 'DRAIN' | 'NOLB' | 'STARTING' | 'STOPPING';
  /** Whether HAProxy sends it new requests when it has weight: ready, running, not NOLB. */
  balanced: boolean;
  /** Whether it can serve: balanced, and its last health check (when it has one) did not fail. */
  serving: boolean;
  /** Whether HAProxy runs health checks on it. */
  checked: boolean;
  /** The health check's last result in HAProxy's words (`L7STS 503: Layer7 wrong status`), when checks run. */
  check?: string;
}

// srv_admin_state bits (HAProxy's SRV_ADMF_*): forced/inherited/config/resolver/hostname maintenance, and drain.
const ADMIN_MAINT = 0x01 | 0x02 | 0x04 | 0x20 | 0x40;
const ADMIN_DRAIN = 0x08 | 0x10;
const OP_STATES = ['DOWN', 'STARTING', 'UP', 'STOPPING'] as const;
// srv_check_state CHK_ST_ENABLED, and srv_check_result CHK_RES_FAILED / CHK_RES_CONDPASS (NOLB).
const CHECK_ENABLED = 0x04;
const CHECK_FAILED = 2;
const CHECK_CONDPASS = 4;
/** Long enough for a few health checks at HAProxy's default 2s interval to pass after a deploy. */
export const DEFAULT_HEALTH_TIMEOUT_MS = 30_000;
/** How long a destination must stay able to serve after a change: a couple of check intervals. */
export const DEFAULT_HEALTH_SETTLE_MS = 2_000;

/**
 * Talks to HAProxy's runtime API (the `stats socket … level admin`), one command line per
 * connection, over TCP (`host:port`) or a unix socket (`unix:/path`).
 */
export class HaproxyRuntimeApi {
  constructor(
    readonly address: string,
    private readonly timeoutMs = 5000,
  ) {}

  /** Sends one command line (several commands may be joined with `;`) and returns the raw answer. */
  send(command: string, signal?: AbortSignal): Promise<string> {
    return new Promise((resolve, reject) => {
      let socket: Socket;
      const fail = (detail: string) => reject(new ProviderError('haproxy', `runtime API at ${this.address}: ${detail}`, true));
      if (this.address.startsWith('unix:')) socket = connect({ path: this.address.slice('unix:'.length) });
      else {
        const m = /^(.*):(\d+)$/.exec(this.address);
        if (!m) return reject(new UserError(`traffic.admin: expected host:port or unix:/path/to/admin.sock, got ${JSON.stringify(this.address)}`));
        socket = connect({ host: (m[1] as string).replace(/^\[|\]$/g, ''), port: Number(m[2]) });
      }
      let answer = '';
      let done = false;
      const finish = (fn: () => void) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        socket.destroy();
        fn();
      };
      const timer = setTimeout(() => finish(() => fail(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
      const onAbort = () => finish(() => fail('cancelled'));
      signal?.addEventListener('abort', onAbort, { once: true });
      socket.setEncoding('utf8');
      socket.on('connect', () => socket.end(`${command}\n`));
      socket.on('data', (chunk: string) => (answer += chunk));
      socket.on('end', () => finish(() => resolve(answer)));
      socket.on('close', () => finish(() => resolve(answer)));
      socket.on('error', (err: NodeJS.ErrnoException) =>
        finish(() => fail(err.code === 'ECONNREFUSED' ? 'connection refused' : err.code === 'ENOENT' ? 'no such socket' : (err.code ?? err.message))),
      );
    });
  }

  /** Runs commands that answer nothing on success; any answer text is the error HAProxy gave. */
  async change(commands: string[], signal?: AbortSignal): Promise<void> {
    const answer = await this.send(commands.join('; '), signal);
    // HAProxy ends every command's answer with a newline, even an empty one: no byte at all
    // means the connection dropped before it answered, and the change may not have happened.
    if (answer === '') throw new ProviderError('haproxy', `${commands.join('; ')}: the runtime API closed the connection without answering`, true);
    const problems = answer
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
    if (problems.length > 0) throw new ProviderError('haproxy', `${commands.join('; ')}: ${problems.join(' ')}`);
  }

  /** Every server of `backend` with its weight and states. */
  async servers(backend: string, signal?: AbortSignal): Promise<HaproxyServer[]> {
    const answer = await this.send(`show servers state ${backend}`, signal);
    const lines = answer.split('\n').map((l) => l.trim());
    const header = lines.find((l) => l.startsWith('# be_id'));
    if (!header) {
      const reason = lines.filter(Boolean).join(' ') || 'an empty answer';
      throw new ProviderError(
        'haproxy',
        `show servers state ${backend}: ${/no such backend|can.t find backend/i.test(reason) ? `no backend named ${JSON.stringify(backend)}` : reason}`,
      );
    }
    const columns = header.slice(2).split(/\s+/);
    const col = (name: string) => columns.indexOf(name);
    const rows = lines.filter((l) => l && !l.startsWith('#') && /^\d+\s/.test(l)).map((l) => l.split(/\s+/));
    const checks = await this.checkWords(backend, signal);
    return rows
      .filter((r) => r[col('be_name')] === backend)
      .map((r) => {
        const name = r[col('srv_name')] as string;
        const adminBits = Number(r[col('srv_admin_state')]);
        const admin = adminBits & ADMIN_MAINT ? 'maint' : adminBits & ADMIN_DRAIN ? 'drain' : 'ready';
        const health = OP_STATES[Number(r[col('srv_op_state')])] ?? 'DOWN';
        const checked = (Number(r[col('srv_check_state')]) & CHECK_ENABLED) !== 0;
        const result = Number(r[col('srv_check_result')]);
        const nolb = health === 'UP' && checked && result === CHECK_CONDPASS;
        const status = admin === 'maint' ? 'MAINT' : admin === 'drain' ? 'DRAIN' : nolb ? 'NOLB' : health;
        const balanced = admin === 'ready' && (health === 'UP' || health === 'STARTING') && !nolb;
        // Right after leaving maintenance HAProxy reports UP before any check ran; a failed last
        // check says the server is not (or no longer) answering, whatever the state column says.
        const serving = balanced && !(checked && result === CHECK_FAILED);
        const check = checked ? checks.get(name) : undefined;
        return { name, weight: Number(r[col('srv_uweight')]), admin, health, status, balanced, serving, checked, ...(check ? { check } : {}) };
      });
  }

  /** `show stat` for the backend's servers: the last health check's result in HAProxy's words, by server. */
  private async checkWords(backend: string, signal?: AbortSignal): Promise<Map<string, string>> {
    const words = new Map<string, string>();
    const lines = (await this.send(`show stat ${backend} 4 -1`, signal)).split('\n');
    const header = lines[0]?.startsWith('# ') ? lines[0].slice(2).split(',') : undefined;
    if (!header) return words;
    const at = (row: string[], column: string) => row[header.indexOf(column)] ?? '';
    for (const line of lines.slice(1)) {
      const row = line.split(',');
      if (at(row, 'pxname') !== backend || !at(row, 'check_status')) continue;
      const code = at(row, 'check_code');
      const desc = at(row, 'check_desc');
      words.set(at(row, 'svname'), `${at(row, 'check_status').replace(/^\* ?/, '')}${code ? ` ${code}` : ''}${desc ? `: ${desc}` : ''}`);
    }
    return words;
  }
}

/**
 * HAProxy as a traffic provider: two servers of one backend, driven with absolute weights
 * (HAProxy's `N%` form is relative to the configured weight and does nothing on a server that
 * starts at 0). `maxWeight` is the weight that means 100%.
 *
 * The backend is read whole: shares count every server in it, a server rollgate does not own
 * that carries weight stops every change but rollback, and a change succeeds only when the read-back
 * shows the server that was given traffic able to serve it (its health check passing).
 */
export class HaproxyTrafficProvider implements TrafficProvider {
  readonly kind = 'haproxy';
  readonly target: string;
  readonly supports = { canary: true, blueGreen: true };
  readonly api: HaproxyRuntimeApi;
  private readonly clock: Clock;
  private readonly warn: (line: string) => void;
  private readonly mode: 'canary' | 'blue-green';
  private readonly healthTimeoutMs: number;
  private readonly healthSettleMs: number;
  /** Servers with health checks, as last read: only those can turn DOWN on their own after a change. */
  private checked = new Set<string>();

  constructor(
    private readonly config: HaproxyConfig,
    deps: { clock?: Clock; mode?: 'canary' | 'blue-green'; warn?: (line: string) => void } = {},
  ) {
    this.api = new HaproxyRuntimeApi(config.admin, config.timeout);
    this.clock = deps.clock ?? systemClock;
    this.mode = deps.mode ?? 'canary';
    this.warn = deps.warn ?? (() => undefined);
    this.healthTimeoutMs = config.healthTimeout ?? DEFAULT_HEALTH_TIMEOUT_MS;
    this.healthSettleMs = config.healthSettle ?? DEFAULT_HEALTH_SETTLE_MS;
    this.target = `haproxy ${config.admin} backend ${config.backend}`;
  }

  async getState(options: TrafficCallOptions = {}): Promise<TrafficState> {
    const servers = await this.api.servers(this.config.backend, options.signal);
    this.checked = new Set(servers.filter((s) => s.checked).map((s) => s.name));
    if (this.mode === 'blue-green') {
      const names = this.colours();
      const state = toState(
        servers,
        [
          { role: 'blue', name: names.blue },
          { role: 'green', name: names.green },
        ],
        this.config.backend,
      );
      const blue = state.slots[0] as SlotState;
      const green = state.slots[1] as SlotState;
      // Live is the colour users reach; with neither serving, the one holding the weight.
      const live: Colour = blue.percent !== green.percent ? (blue.percent > green.percent ? 'blue' : 'green') : (blue.weight ?? 0) >= (green.weight ?? 0) ? 'blue' : 'green';
      return { ...state, live, canaryPercent: live === 'blue' ? green.percent : blue.percent };
    }
    return toState(
      servers,
      [
        { role: 'stable', name: this.config.stable },
        { role: 'canary', name: this.config.canary },
      ],
      this.config.backend,
    );
  }

  async setWeight(percent: number, options: TrafficCallOptions = {}): Promise<TrafficState> {
    this.requireMode('canary', 'setWeight');
    if (!(percent >= 0 && percent <= 100)) throw new UserError(`weight: expected a traffic weight from 0 to 100, got ${percent}`);
    const canaryWeight = Math.round((percent / 100) * this.config.maxWeight);
    const stableWeight = this.config.maxWeight - canaryWeight;
    const { stable, canary, backend } = this.config;
    const before = await this.getState(options);
    refuseOthersWithWeight(this.kind, this.target, before, `give the canary ${percent}%`);
    const destinations: SlotState['role'][] = [...(stableWeight > 0 ? (['stable'] as const) : []), ...(canaryWeight > 0 ? (['canary'] as const) : [])];
    // Nothing moves until every server about to receive traffic passes its health check.
    await this.readyToServe(before, destinations, `give the canary ${percent}%`, options.signal);
    // The growing side moves first, so no instant has both servers at weight 0 (a 503 for everyone).
    const canaryCommands = [...(canaryWeight > 0 ? [`set server ${backend}/${canary} state ready`] : []), `set server ${backend}/${canary} weight ${canaryWeight}`];
    const stableCommands = [...(stableWeight > 0 ? [`set server ${backend}/${stable} state ready`] : []), `set server ${backend}/${stable} weight ${stableWeight}`];
    const canaryGrows = (slotOf(this.kind, before, 'stable').weight ?? 0) > stableWeight;
    await this.api.change(canaryGrows ? [...canaryCommands, ...stableCommands] : [...stableCommands, ...canaryCommands], options.signal);
    const after = await this.expect({ [stable]: stableWeight, [canary]: canaryWeight }, options.signal);
    return this.requireServing(after, destinations, `gave the canary ${percent}%`, options.signal);
  }

  async promote(options: TrafficCallOptions = {}): Promise<TrafficState> {
    this.requireMode('canary', 'promote');
    const { stable, canary, backend, maxWeight } = this.config;
    const before = await this.getState(options);
    refuseOthersWithWeight(this.kind, this.target, before, 'promote');
    // The stable server was just redeployed: the canary keeps its traffic until stable is UP again.
    await this.readyToServe(before, ['stable'], 'promote (stable would take all traffic from the canary)', options.signal);
    await this.api.change(
      [
        `set server ${backend}/${stable} state ready`,
        `set server ${backend}/${stable} weight ${maxWeight}`,
        `set server ${backend}/${canary} weight 0`,
        `set server ${backend}/${canary} state drain`,
      ],
      options.signal,
    );
    const after = await this.expect({ [stable]: maxWeight, [canary]: 0 }, options.signal, { [canary]: 'drain' });
    return this.requireServing(after, ['stable'], 'promoted: stable took all traffic', options.signal);
  }

  async rollback(options: TrafficCallOptions & { toColour?: Colour } = {}): Promise<RollbackOutcome> {
    const before = await this.getState(options);
    this.warnAboutOthers(before);
    if (this.mode === 'blue-green') {
      const to = options.toColour;
      if (!to) throw new UserError('blue-green rollback needs the colour to return to, and no earlier switch is on record');
      if (before.live === to && before.canaryPercent === 0 && slotOf(this.kind, before, to).serving !== false) return { changed: false, before, after: before };
      this.warnAboutPeople(before, [to], `switch all traffic back to ${to}`);
      const after = await this.switchColours(to, options.signal);
      await this.settleAfterRollback(after, [to], options.signal);
      return { changed: true, before, after };
    }
    const { stable, canary, backend, maxWeight } = this.config;
    const stableSlot = slotOf(this.kind, before, 'stable');
    const canarySlot = slotOf(this.kind, before, 'canary');
    const alreadyStable = stableSlot.weight === maxWeight && stableSlot.admin === 'ready' && (canarySlot.weight === 0 || canarySlot.admin !== 'ready');
    if (alreadyStable) {
      await this.settleAfterRollback(before, ['stable'], options.signal, false);
      return { changed: false, before, after: before };
    }
    this.warnAboutPeople(before, ['stable'], 'restore all traffic to stable');
    // Rollback moves traffic whatever stable's health: the canary is the thing being rolled back,
    // and the error below tells the on-call engineer what users get. Stable first: at no point
    // may both servers be out of rotation.
    await this.api.change(
      [`set server ${backend}/${stable} state ready`, `set server ${backend}/${stable} weight ${maxWeight}`, `set server ${backend}/${canary} weight 0`],
      options.signal,
    );
    const after = await this.expect({ [stable]: maxWeight, [canary]: 0 }, options.signal);
    const settled = await this.settleAfterRollback(after, ['stable'], options.signal);
    return { changed: true, before, after: settled };
  }

  async liveColour(options: TrafficCallOptions = {}): Promise<Colour> {
    this.requireMode('blue-green', 'liveColour');
    const state = await this.getState(options);
    return state.live as Colour;
  }

  async switchTo(colour: Colour, options: TrafficCallOptions = {}): Promise<TrafficState> {
    this.requireMode('blue-green', 'switchTo');
    const before = await this.getState(options);
    refuseOthersWithWeight(this.kind, this.target, before, `switch to ${colour}`);
    await this.readyToServe(before, [colour], `switch all traffic to ${colour}`, options.signal);
    const after = await this.switchColours(colour, options.signal);
    return this.requireServing(after, [colour], `switched all traffic to ${colour}`, options.signal);
  }

  /** One command line: HAProxy applies both weights before it reads the next request. */
  private async switchColours(colour: Colour, signal?: AbortSignal): Promise<TrafficState> {
    this.requireMode('blue-green', 'switchTo');
    const names = this.colours();
    const on = names[colour];
    const off = names[otherColour(colour)];
    const { backend, maxWeight } = this.config;
    await this.api.change(
      [
        `set server ${backend}/${on} state ready`,
        `set server ${backend}/${on} weight ${maxWeight}`,
        `set server ${backend}/${off} weight 0`,
        `set server ${backend}/${off} state ready`,
      ],
      signal,
    );
    return this.expect({ [on]: maxWeight, [off]: 0 }, signal);
  }

  /**
   * Before a change: every destination must pass its health check. A server a person put in
   * MAINT or DRAIN is named in a warning and made ready (it gets no share until it is, so this
   * moves nothing); then up to `healthTimeout` is given for the check to pass. On failure the
   * admin states are put back and nothing else has changed.
   */
  private async readyToServe(before: TrafficState, roles: SlotState['role'][], operation: string, signal?: AbortSignal): Promise<void> {
    this.warnAboutPeople(before, roles, operation);
    const { backend } = this.config;
    const parked = before.slots.filter((s) => roles.includes(s.role) && s.admin !== 'ready');
    if (parked.length)
      await this.api.change(
        parked.map((s) => `set server ${backend}/${s.name} state ready`),
        signal,
      );
    const { state, unable } = await waitUntilServing(() => this.getState({ signal }), roles, { clock: this.clock, timeoutMs: this.healthTimeoutMs, signal });
    if (unable.length === 0) return;
    if (parked.length)
      await this.api
        .change(
          parked.map((s) => `set server ${backend}/${s.name} state ${s.admin}`),
          signal,
        )
        .catch(() => undefined);
    const why = unable.map((s) => describeEntry(s.role, s)).join('; ');
    throw new UnservedTrafficError(
      this.kind,
      `refusing to ${operation}: ${why} (waited ${formatDuration(this.healthTimeoutMs)} for its health check to pass). Nothing was changed: ${whatUsersGet(parked.length ? before : state)}.`,
      parked.length ? before : state,
      false,
    );
  }

  /**
   * After a change: the destinations must serve what they were given, through the settle window;
   * otherwise the error says what users get now (the change stays: the next step is rollback).
   */
  private async requireServing(after: TrafficState, roles: SlotState['role'][], did: string, signal?: AbortSignal): Promise<TrafficState> {
    const { state, unable } = await watchServing(() => this.getState({ signal }), after, roles, { clock: this.clock, settleMs: this.settleFor(after, roles), signal });
    if (unable.length === 0) return state;
    throw new UnservedTrafficError(this.kind, `${did}, but ${unable.map((s) => describeEntry(s.role, s)).join('; ')}: ${whatUsersGet(state)}. Run rollback.`, state, true);
  }

  /**
   * Rollback has moved the weights (or found them right): the destination must serve through the
   * settle window; one that cannot gets up to `healthTimeout` to come back before the rollback
   * fails loudly, saying what users get.
   */
  private async settleAfterRollback(after: TrafficState, roles: SlotState['role'][], signal: AbortSignal | undefined, changed = true): Promise<TrafficState> {
    const watched = await watchServing(() => this.getState({ signal }), after, roles, { clock: this.clock, settleMs: changed ? this.settleFor(after, roles) : 0, signal });
    const { state, unable } = watched.unable.length
      ? await waitUntilServing(() => this.getState({ signal }), roles, { clock: this.clock, timeoutMs: this.healthTimeoutMs, signal })
      : watched;
    if (unable.length === 0) return state;
    const gave =
      this.mode === 'blue-green' ? `rollback switched all traffic back to ${roles.join(' and ')}` : `rollback gave ${roles.join(' and ')} all traffic and the canary none`;
    const did = changed ? gave : `${roles.join(' and ')} already had all traffic`;
    throw new UnservedTrafficError(
      this.kind,
      `${did}, but ${unable.map((s) => describeEntry(s.role, s)).join('; ')} (waited ${formatDuration(this.healthTimeoutMs)}): ${whatUsersGet(state)}. Bring the ${roles.join('/')} server back (check it and its health check): rollgate will not send users back to the canary on its own.`,
      state,
      changed,
    );
  }

  /** The settle window for a change: none when no destination has a health check that could turn it DOWN. */
  private settleFor(state: TrafficState, roles: SlotState['role'][]): number {
    return state.slots.some((s) => roles.includes(s.role) && this.checked.has(s.name)) ? this.healthSettleMs : 0;
  }

  /** Destinations in MAINT/DRAIN that rollgate did not set: a warning naming each. */
  private warnAboutPeople(state: TrafficState, roles: SlotState['role'][], operation: string): void {
    // A drained canary at weight 0 is the shape promotion leaves behind, not a person's doing.
    const byPeople = state.slots.filter((s) => roles.includes(s.role) && s.admin !== 'ready' && !(s.role === 'canary' && s.admin === 'drain' && s.weight === 0));
    for (const s of byPeople)
      this.warn(
        `${this.target}: server ${s.name} (${s.role}) is in ${s.status ?? s.admin?.toUpperCase()}, which rollgate did not set: someone put it there (maintenance on its host, a drain before a restart?). rollgate makes it ready to ${operation}; check with whoever did it, and with \`show servers state ${this.config.backend}\`, before the next step.`,
      );
  }

  private warnAboutOthers(state: TrafficState): void {
    for (const o of state.others ?? [])
      if ((o.weight ?? 0) > 0)
        this.warn(
          `${this.target}: server ${o.name}, which is not part of this rollout, has weight ${o.weight} (${formatPercent(o.percent)} of traffic): rollback leaves it as it is`,
        );
  }

  private colours(): Record<Colour, string> {
    const { blue, green } = this.config;
    if (!blue || !green) throw new UserError('traffic: blue-green on haproxy needs `blue:` and `green:` server names');
    return { blue, green };
  }

  private requireMode(mode: 'canary' | 'blue-green', operation: string): void {
    if (this.mode !== mode) throw new UserError(`haproxy: ${operation} is for strategy ${mode}, but the plan says ${this.mode}`);
  }

  /** Reads back and fails when HAProxy holds anything but what was just set. */
  private async expect(weights: Record<string, number>, signal?: AbortSignal, admin: Record<string, HaproxyServer['admin']> = {}): Promise<TrafficState> {
    // The runtime API applies changes synchronously; one short retry covers a read racing a reload.
    for (let attempt = 1; ; attempt++) {
      const state = await this.getState({ signal });
      const wrong = state.slots.filter((s) => (weights[s.name] !== undefined && s.weight !== weights[s.name]) || (admin[s.name] !== undefined && s.admin !== admin[s.name]));
      if (wrong.length === 0) return state;
      if (attempt >= 2) {
        const detail = wrong.map((s) => `${s.name} has weight ${s.weight} [${s.admin}], expected ${weights[s.name]}${admin[s.name] ? ` [${admin[s.name]}]` : ''}`).join('; ');
        throw new ProviderError('haproxy', `read-back after the change does not match: ${detail} (was HAProxy reloaded, or is another rollout moving it?)`);
      }
      await this.clock.sleep(200, signal);
    }
  }
}

/**
 * The state of the whole backend: the two slots by role, every other server in `others`, and
 * shares over all of them as HAProxy balances (weight counts only for servers it sends requests to).
 */
function toState(servers: HaproxyServer[], roles: { role: SlotState['role']; name: string }[], backend: string): TrafficState {
  const find = (name: string) => {
    const server = servers.find((s) => s.name === name);
    if (!server) throw new ProviderError('haproxy', `backend ${backend} has no server ${JSON.stringify(name)} (it has: ${servers.map((s) => s.name).join(', ') || 'none'})`);
    return server;
  };
  const owned = roles.map(({ role, name }) => ({ role, server: find(name) }));
  const total = servers.reduce((sum, s) => sum + (s.balanced ? s.weight : 0), 0);
  const entry = (s: HaproxyServer) => ({
    name: s.name,
    percent: total === 0 || !s.balanced ? 0 : (s.weight / total) * 100,
    weight: s.weight,
    admin: s.admin,
    health: s.health,
    status: s.status,
    serving: s.serving,
    ...(!s.serving && s.check ? { detail: `health check ${s.check}` } : {}),
  });
  const slots: SlotState[] = owned.map(({ role, server }) => ({ role, ...entry(server) }));
  const ownedNames = new Set(roles.map((r) => r.name));
  const others = servers.filter((s) => !ownedNames.has(s.name)).map(entry);
  const canary = slots.find((s) => s.role === 'canary');
  return { canaryPercent: canary?.percent ?? 0, slots, ...(others.length ? { others } : {}) };
}
