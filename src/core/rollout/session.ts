import type { Clock } from '../clock.js';
import { UserError } from '../errors.js';
import { RolloutConflictError, type RolloutStore, type StoredRecord } from './store.js';
import { describePhase, nextSafeStep, parseRecord, SETTLED_PHASES, transition, type RolloutEvent, type RolloutRecord } from './state-machine.js';

/** Locks idle for longer than this are taken to belong to a runner that died. */
export const DEFAULT_STALE_AFTER_MS = 2 * 60 * 60 * 1000;

/** The record changed under an action (a rollback, another run): it must stop without moving traffic. */
export class RolloutChangedError extends UserError {
  override readonly name = 'RolloutChangedError';
}

export interface SessionOptions {
  store: RolloutStore;
  service: string;
  environment: string;
  /** Who is acting: the workflow run, or the person at the terminal. */
  owner: string;
  /** The action, for the lock and the history: deploy-canary, ramp, rollback. */
  action: string;
  clock: Clock;
  staleAfterMs?: number;
  warn: (line: string) => void;
}

/** CAS attempts when a write loses to one that changed nothing this action cares about (a heartbeat). */
const WRITE_ATTEMPTS = 5;

/**
 * One action's hold on the rollout record. Every change goes through `apply`, which re-reads the
 * record, checks that nothing changed since this action took it (same generation, the lock still
 * this action's), asks the state machine for the new record and writes it by compare-and-swap.
 * The order every traffic write follows is: `apply` the intent → move traffic → `apply` the result;
 * a rollback bumps the generation, so an action's next `apply` fails and it moves nothing more.
 */
export class RolloutSession {
  private current: StoredRecord | undefined;
  /** The generation this action holds, once it has taken the lock. */
  private held: number | undefined;

  private constructor(private readonly options: SessionOptions) {}

  /** Reads the record as it is now. */
  static async open(options: SessionOptions): Promise<RolloutSession> {
    const session = new RolloutSession(options);
    session.current = await options.store.read();
    return session;
  }

  /** The record as last read or written; undefined when there is none. */
  get record(): RolloutRecord | undefined {
    return parseRecord(this.current?.document);
  }

  get location(): string {
    return `${this.options.store.kind} store ${this.options.store.location}`;
  }

  /**
   * Takes the lock for this action, applying `event` in the same write (a rollout's start, a
   * rollback). Refuses, naming the holder, while another run's action holds a lock that is not
   * stale, unless `takeOver` (rollback always proceeds: it records whom it took over from).
   */
  async acquire(requested?: RolloutEvent, opts: { takeOver?: boolean } = {}): Promise<RolloutRecord> {
    const { owner, action } = this.options;
    return this.write(
      (record) => {
        let event = requested;
        const holder = this.holder(record, event);
        if (holder && !opts.takeOver) {
          const staleAfter = this.options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS;
          if (!(holder.idleMs > staleAfter))
            throw new UserError(
              `${this.options.service}/${this.options.environment}: another rollout is in progress (version ${record?.version ?? '?'} by ${holder.owner}: ${holder.doing}, last heard ${holder.heard}); ` +
                `refusing to move the same traffic twice. Wait for it to finish, or run rollback to abandon it (a rollout idle for ${Math.round(staleAfter / 60000)} min is taken as abandoned; record in the ${this.location}). ` +
                'On GitHub, a workflow `concurrency:` group per service and environment prevents this.',
            );
          this.options.warn(
            `breaking a stale rollout lock of ${this.options.service}/${this.options.environment}: held by ${holder.owner} for version ${record?.version ?? '?'}, idle for ${Math.round(holder.idleMs / 60000)} min`,
          );
          if (event?.kind === 'start') event = { ...event, abandoned: true };
        }
        const lock = record?.lock;
        if (lock && lock.owner !== owner && opts.takeOver) this.options.warn(`${action} takes over from ${lock.action} by ${lock.owner}: its next traffic change will be refused`);
        if (!record && !event) throw new UserError(`${this.options.service}/${this.options.environment}: no rollout is on record in the ${this.location}: run deploy-canary first`);
        const next = event ? this.transition(record, event) : structuredClone(record as RolloutRecord);
        const now = this.now();
        next.lock = { owner, action, since: lock?.owner === owner && lock.action === action ? lock.since : now, heartbeat: now };
        return next;
      },
      (next) => (this.held = next.generation),
    );
  }

  /**
   * Applies one change, refusing without writing when the record changed since this action took
   * it: another generation (a rollback, a new rollout) or the lock gone to someone else.
   */
  async apply(event: RolloutEvent): Promise<RolloutRecord> {
    return this.write((record) => {
      this.assertUnchanged(record);
      return this.transition(record, event);
    });
  }

  /** Checks, by a fresh read, that the record is as this action left it: call right before a traffic write. */
  async checkpoint(): Promise<RolloutRecord> {
    return this.apply({ kind: 'heartbeat' });
  }

  /**
   * Reads the record without writing: the error an `apply` would throw now, or undefined while
   * this action still holds it. For watching during a bake.
   */
  async changed(): Promise<RolloutChangedError | undefined> {
    const fresh = await this.options.store.read();
    try {
      this.assertUnchanged(parseRecord(fresh?.document));
      return undefined;
    } catch (err) {
      if (err instanceof RolloutChangedError) return err;
      throw err;
    }
  }

  /** Gives the lock back; the rollout stays in its phase for the next action. Best effort: never throws. */
  async release(): Promise<string | undefined> {
    try {
      await this.write((record) => {
        this.assertUnchanged(record);
        return this.transition(record, { kind: 'release' });
      });
      return undefined;
    } catch (err) {
      // Taken over (a rollback): the lock is no longer this action's to give back.
      if (err instanceof RolloutChangedError) return undefined;
      return `could not release the rollout lock in the ${this.location}: ${err instanceof Error ? err.message : String(err)}`;
    }
  }

  /**
   * Who else has this rollout: the holder of the lock, or, for a new rollout, whoever started the
   * one still in progress (between actions nobody holds the lock, but the rollout is theirs).
   */
  private holder(record: RolloutRecord | undefined, event: RolloutEvent | undefined): { owner: string; doing: string; heard: string; idleMs: number } | undefined {
    if (!record) return undefined;
    const now = this.options.clock.now();
    const lock = record.lock;
    if (lock && lock.owner !== this.options.owner)
      return {
        owner: lock.owner,
        doing: record?.stalled ? `${record.stalled}, holding the lock since ${lock.since}` : `${lock.action} running since ${lock.since}`,
        heard: lock.heartbeat,
        idleMs: now - Date.parse(lock.heartbeat),
      };
    if (event?.kind !== 'start' || SETTLED_PHASES.includes(record.phase) || record.startedBy === this.options.owner) return undefined;
    const heard = record.history[record.history.length - 1]?.at ?? record.startedAt;
    return { owner: record.startedBy, doing: `${describePhase(record)}, started ${record.startedAt}`, heard, idleMs: now - Date.parse(heard) };
  }

  private assertUnchanged(record: RolloutRecord | undefined): asserts record is RolloutRecord {
    const { service, environment, owner, action } = this.options;
    if (!record) throw new RolloutChangedError(`${service}/${environment}: the rollout record in the ${this.location} is gone; ${action} stops without moving traffic`);
    const lock = record.lock;
    if (record.generation === this.held && lock?.owner === owner && lock.action === action) return;
    const last = [...record.history].reverse().find((h) => h.generation === record.generation) ?? record.history[record.history.length - 1];
    const who = last ? `${last.action} by ${last.by} at ${last.at} (${last.change})` : `${lock?.action ?? 'someone'} by ${lock?.owner ?? 'an unknown run'}`;
    throw new RolloutChangedError(
      `${service}/${environment}: the rollout changed since ${action} took it (generation ${this.held ?? '?'} → ${record.generation}, now ${describePhase(record)}): ${who}. ` +
        `${action} stops without moving traffic. Next safe step: ${nextSafeStep(record)}`,
    );
  }

  private transition(record: RolloutRecord | undefined, event: RolloutEvent): RolloutRecord {
    return transition(record, event, {
      by: this.options.owner,
      action: this.options.action,
      now: this.now(),
      service: this.options.service,
      environment: this.options.environment,
    });
  }

  private now(): string {
    return new Date(this.options.clock.now()).toISOString();
  }

  /** Read → change → compare-and-swap, again from a fresh read when another writer got there first. */
  private async write(change: (record: RolloutRecord | undefined) => RolloutRecord, onWritten?: (next: RolloutRecord) => void): Promise<RolloutRecord> {
    for (let attempt = 1; ; attempt++) {
      const next = change(this.record);
      if (onWritten) onWritten(next);
      try {
        this.current = await this.options.store.write(
          next as unknown as Record<string, unknown>,
          this.current?.revision,
          `${this.options.action}: ${next.history[next.history.length - 1]?.change ?? 'update'}`,
        );
        return next;
      } catch (err) {
        if (!(err instanceof RolloutConflictError) || attempt >= WRITE_ATTEMPTS) throw err;
        // Someone else wrote: read again; `change` decides whether what they wrote stops us.
        this.current = await this.options.store.read();
      }
    }
  }
}
