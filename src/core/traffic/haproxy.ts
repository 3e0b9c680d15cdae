import { connect, type Socket } from 'node:net';
import { systemClock, type Clock } from '../clock.js';
import { ProviderError, UserError } from '../errors.js';
import type { TrafficConfig } from '../plan/schema.js';
import type { Colour, RollbackOutcome, SlotState, TrafficCallOptions, TrafficProvider, TrafficState } from './provider.js';
import { otherColour } from './provider.js';

type HaproxyConfig = Extract<TrafficConfig, { provider: 'haproxy' }>;

/** One server as `show servers state` reports it. */
export interface HaproxyServer {
  name: string;
  /** The weight set through the runtime API (srv_uweight), 0–256. */
  weight: number;
  /** ready | drain | maint, from srv_admin_state's bits. */
  admin: 'ready' | 'drain' | 'maint';
  /** UP | DOWN | STARTING | STOPPING, from srv_op_state. */
  health: 'UP' | 'DOWN' | 'STARTING' | 'STOPPING';
}

// srv_admin_state bits (HAProxy's SRV_ADMF_*): forced/inherited/config/resolver/hostname maintenance, and drain.
const ADMIN_MAINT = 0x01 | 0x02 | 0x04 | 0x20 | 0x40;
const ADMIN_DRAIN = 0x08 | 0x10;
const OP_STATES = ['DOWN', 'STARTING', 'UP', 'STOPPING'] as const;

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
      throw new ProviderError('haproxy', `show servers state ${backend}: ${/no such backend|can.t find backend/i.test(reason) ? `no backend named ${JSON.stringify(backend)}` : reason}`);
    }
    const columns = header.slice(2).split(/\s+/);
    const col = (name: string) => columns.indexOf(name);
    const rows = lines.filter((l) => l && !l.startsWith('#') && /^\d+\s/.test(l)).map((l) => l.split(/\s+/));
    return rows
      .filter((r) => r[col('be_name')] === backend)
      .map((r) => {
        const adminBits = Number(r[col('srv_admin_state')]);
        return {
          name: r[col('srv_name')] as string,
          weight: Number(r[col('srv_uweight')]),
          admin: adminBits & ADMIN_MAINT ? 'maint' : adminBits & ADMIN_DRAIN ? 'drain' : 'ready',
          health: OP_STATES[Number(r[col('srv_op_state')])] ?? 'DOWN',
        };
      });
  }
}

/**
 * HAProxy as a traffic provider: two servers of one backend, driven with absolute weights
 * (HAProxy's `N%` form is relative to the configured weight and does nothing on a server that
 * starts at 0). `maxWeight` is the weight that means 100%.
 */
export class HaproxyTrafficProvider implements TrafficProvider {
  readonly kind = 'haproxy';
  readonly target: string;
  readonly supports = { canary: true, blueGreen: true };
  readonly api: HaproxyRuntimeApi;
  private readonly clock: Clock;

  constructor(
    private readonly config: HaproxyConfig,
    deps: { clock?: Clock; mode?: 'canary' | 'blue-green' } = {},
  ) {
    this.api = new HaproxyRuntimeApi(config.admin, config.timeout);
    this.clock = deps.clock ?? systemClock;
    this.mode = deps.mode ?? 'canary';
    this.target = `haproxy ${config.admin} backend ${config.backend}`;
  }
  private readonly mode: 'canary' | 'blue-green';

  async getState(options: TrafficCallOptions = {}): Promise<TrafficState> {
    if (this.mode === 'blue-green') return this.colourState(options.signal);
    const [stable, canary] = await this.pair(this.config.stable, this.config.canary, options.signal);
    return toState([
      { role: 'stable', server: stable },
      { role: 'canary', server: canary },
    ]);
  }

  async setWeight(percent: number, options: TrafficCallOptions = {}): Promise<TrafficState> {
    this.requireMode('canary', 'setWeight');
    if (!(percent >= 0 && percent <= 100)) throw new UserError(`weight: expected a traffic weight from 0 to 100, got ${percent}`);
    const canaryWeight = Math.round((percent / 100) * this.config.maxWeight);
    const stableWeight = this.config.maxWeight - canaryWeight;
    const { stable, canary, backend } = this.config;
    // The growing side moves first, so no instant has both servers at weight 0 (a 503 for everyone).
    const canaryCommands = [...(canaryWeight > 0 ? [`set server ${backend}/${canary} state ready`] : []), `set server ${backend}/${canary} weight ${canaryWeight}`];
    const stableCommands = [`set server ${backend}/${stable} state ready`, `set server ${backend}/${stable} weight ${stableWeight}`];
    const [stableBefore] = await this.pair(stable, canary, options.signal);
    const canaryGrows = stableBefore.weight > stableWeight;
    await this.api.change(canaryGrows ? [...canaryCommands, ...stableCommands] : [...stableCommands, ...canaryCommands], options.signal);
    return this.expect({ [stable]: stableWeight, [canary]: canaryWeight }, options.signal);
  }

  async promote(options: TrafficCallOptions = {}): Promise<TrafficState> {
    this.requireMode('canary', 'promote');
    const { stable, canary, backend, maxWeight } = this.config;
    await this.api.change(
      [`set server ${backend}/${stable} state ready`, `set server ${backend}/${stable} weight ${maxWeight}`, `set server ${backend}/${canary} weight 0`, `set server ${backend}/${canary} state drain`],
      options.signal,
    );
    return this.expect({ [stable]: maxWeight, [canary]: 0 }, options.signal, { [canary]: 'drain' });
  }

  async rollback(options: TrafficCallOptions & { toColour?: Colour } = {}): Promise<RollbackOutcome> {
    const before = await this.getState(options);
    if (this.mode === 'blue-green') {
      const to = options.toColour;
      if (!to) throw new UserError('blue-green rollback needs the colour to return to, and no earlier switch is on record');
      if (before.live === to && before.canaryPercent === 0) return { changed: false, before, after: before };
      const after = await this.switchTo(to, options);
      return { changed: true, before, after };
    }
    const { stable, canary, backend, maxWeight } = this.config;
    const stableSlot = before.slots.find((s) => s.role === 'stable');
    const canarySlot = before.slots.find((s) => s.role === 'canary');
    const alreadyStable = stableSlot?.weight === maxWeight && stableSlot.admin === 'ready' && (canarySlot?.weight === 0 || canarySlot?.admin !== 'ready');
    if (alreadyStable) return { changed: false, before, after: before };
    // Stable first: at no point may both servers be out of rotation.
    await this.api.change(
      [`set server ${backend}/${stable} state ready`, `set server ${backend}/${stable} weight ${maxWeight}`, `set server ${backend}/${canary} weight 0`],
      options.signal,
    );
    const after = await this.expect({ [stable]: maxWeight, [canary]: 0 }, options.signal);
    return { changed: true, before, after };
  }

  async liveColour(options: TrafficCallOptions = {}): Promise<Colour> {
    const state = await this.colourState(options.signal);
    return state.live as Colour;
  }

  async switchTo(colour: Colour, options: TrafficCallOptions = {}): Promise<TrafficState> {
    this.requireMode('blue-green', 'switchTo');
    const names = this.colours();
    const on = names[colour];
    const off = names[otherColour(colour)];
    const { backend, maxWeight } = this.config;
    // One command line: HAProxy applies both before it reads the next request from the socket.
    await this.api.change(
      [`set server ${backend}/${on} state ready`, `set server ${backend}/${on} weight ${maxWeight}`, `set server ${backend}/${off} weight 0`, `set server ${backend}/${off} state ready`],
      options.signal,
    );
    return this.expect({ [on]: maxWeight, [off]: 0 }, options.signal);
  }

  private colours(): Record<Colour, string> {
    const { blue, green } = this.config;
    if (!blue || !green) throw new UserError('traffic: blue-green on haproxy needs `blue:` and `green:` server names');
    return { blue, green };
  }

  private async colourState(signal?: AbortSignal): Promise<TrafficState> {
    const names = this.colours();
    const [blue, green] = await this.pair(names.blue, names.green, signal);
    const state = toState([
      { role: 'blue', server: blue },
      { role: 'green', server: green },
    ]);
    const bluePercent = state.slots[0]?.percent ?? 0;
    const live: Colour = bluePercent >= 50 ? 'blue' : 'green';
    return { ...state, live, canaryPercent: live === 'blue' ? 100 - bluePercent : bluePercent };
  }

  private requireMode(mode: 'canary' | 'blue-green', operation: string): void {
    if (this.mode !== mode) throw new UserError(`haproxy: ${operation} is for strategy ${mode}, but the plan says ${this.mode}`);
  }

  private async pair(first: string, second: string, signal?: AbortSignal): Promise<[HaproxyServer, HaproxyServer]> {
    const servers = await this.api.servers(this.config.backend, signal);
    const find = (name: string) => {
      const server = servers.find((s) => s.name === name);
      if (!server)
        throw new ProviderError('haproxy', `backend ${this.config.backend} has no server ${JSON.stringify(name)} (it has: ${servers.map((s) => s.name).join(', ') || 'none'})`);
      return server;
    };
    return [find(first), find(second)];
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

function toState(slots: { role: SlotState['role']; server: HaproxyServer }[]): TrafficState {
  const effective = (s: HaproxyServer) => (s.admin === 'ready' && s.health !== 'DOWN' ? s.weight : 0);
  const total = slots.reduce((sum, s) => sum + effective(s.server), 0);
  const out: SlotState[] = slots.map(({ role, server }) => ({
    role,
    name: server.name,
    percent: total === 0 ? 0 : (effective(server) / total) * 100,
    weight: server.weight,
    admin: server.admin,
    health: server.health,
  }));
  const canary = out.find((s) => s.role === 'canary');
  return { canaryPercent: canary?.percent ?? 0, slots: out };
}
