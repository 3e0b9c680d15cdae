import { mkdirSync, readFileSync, unlinkSync } from 'node:fs';
import { homedir, hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { createExclusively, writeAtomically } from '../atomic-file.js';
import type { Clock } from '../clock.js';
import { parseDuration } from '../duration.js';
import { UserError } from '../errors.js';
import type { Colour } from '../traffic/provider.js';

/** A rollout in progress, as its lock file records it. */
export interface RolloutRecord {
  service: string;
  environment: string;
  /** Who holds the lock: a workflow run, or a person at a terminal. */
  owner: string;
  version: string;
  strategy: 'canary' | 'blue-green' | 'rolling';
  /** The canary's share when last set by this rollout. */
  weight: number;
  startedAt: string;
  updatedAt: string;
  /** Blue-green: the colour that was live before this rollout switched. */
  previousColour?: Colour;
}

/** Blue-green memory that outlives a rollout, so a manual rollback knows which colour to go back to. */
export interface ColourRecord {
  live: Colour;
  previous: Colour;
  liveVersion?: string;
  /** Set when the last switch was a rollback: a second rollback must not switch again. */
  rolledBack?: boolean;
  switchedAt: string;
}

/** Locks idle for longer than this are taken to belong to a runner that died. */
export const DEFAULT_STALE_AFTER_MS = 2 * 60 * 60 * 1000;

/** The state directory: ROLLGATE_STATE_DIR, else ~/.rollgate/state. */
export function stateDirectory(env: NodeJS.ProcessEnv): string {
  return env.ROLLGATE_STATE_DIR?.trim() || join(homedir(), '.rollgate', 'state');
}

/** Who is rolling out: the workflow run (re-runs of it count as the same rollout), else the person at the terminal. */
export function rolloutOwner(env: NodeJS.ProcessEnv): string {
  if (env.ROLLGATE_RUN_ID?.trim()) return env.ROLLGATE_RUN_ID.trim();
  if (env.GITHUB_RUN_ID) return `${env.GITHUB_REPOSITORY ?? 'github'} run ${env.GITHUB_RUN_ID}`;
  let user = 'someone';
  try {
    user = userInfo().username;
  } catch {
    /* no passwd entry in some containers */
  }
  return `${user}@${hostname()}`;
}

/**
 * The lock that stops two rollouts of one service and environment from moving the same traffic,
 * plus the blue-green colour memory. A lock is a file created exclusively (O_EXCL) in the state
 * directory; it survives a killed runner, so it carries `updatedAt`, refreshed at every step,
 * and a lock idle for longer than `staleAfterMs` is broken with a warning. `rollback` always
 * proceeds and releases it.
 */
export class RolloutStateStore {
  readonly lockFile: string;
  private readonly colourFile: string;
  readonly staleAfterMs: number;

  constructor(
    readonly dir: string,
    readonly service: string,
    readonly environment: string,
    private readonly clock: Clock,
    env: NodeJS.ProcessEnv = {},
  ) {
    const key = `${service}.${environment}`.replace(/[^A-Za-z0-9._-]/g, '_');
    this.lockFile = join(dir, `${key}.lock.json`);
    this.colourFile = join(dir, `${key}.colours.json`);
    const ttl = env.ROLLGATE_LOCK_STALE_AFTER ? parseDuration(env.ROLLGATE_LOCK_STALE_AFTER) : undefined;
    this.staleAfterMs = ttl ?? DEFAULT_STALE_AFTER_MS;
  }

  /** The rollout in progress, if any. */
  read(): RolloutRecord | undefined {
    return readJson<RolloutRecord>(this.lockFile);
  }

  /**
   * Takes the lock for `owner`, or refreshes it when `owner` holds it already. Refuses with a
   * UserError naming the holder when another rollout holds a lock that is not stale.
   * `warn` hears about a stale lock being broken.
   */
  acquire(owner: string, fields: Pick<RolloutRecord, 'version' | 'strategy' | 'weight'> & Partial<RolloutRecord>, warn: (line: string) => void): RolloutRecord {
    mkdirSync(this.dir, { recursive: true });
    const now = new Date(this.clock.now()).toISOString();
    const record: RolloutRecord = { service: this.service, environment: this.environment, owner, startedAt: now, updatedAt: now, ...fields };
    for (let attempt = 0; attempt < 3; attempt++) {
      if (createExclusively(this.lockFile, record)) return record;
      const held = this.read();
      if (!held) {
        // Gone since we looked (released), or not JSON (edited by hand): try again / treat as stale.
        this.removeLock();
        continue;
      }
      if (held.owner === owner) return this.update({ ...fields, startedAt: held.startedAt });
      const idleMs = this.clock.now() - Date.parse(held.updatedAt);
      if (idleMs > this.staleAfterMs) {
        warn(`breaking a stale rollout lock of ${this.service}/${this.environment}: held by ${held.owner} for version ${held.version}, idle for ${Math.round(idleMs / 60000)} min`);
        this.removeLock();
        continue;
      }
      throw new UserError(
        `${this.service}/${this.environment}: another rollout is in progress (version ${held.version} by ${held.owner}, started ${held.startedAt}, last step ${held.updatedAt}); ` +
          `refusing to move the same traffic twice. Wait for it to finish, or run rollback to abandon it ` +
          `(a lock idle for ${Math.round(this.staleAfterMs / 60000)} min is taken as abandoned; lock file ${this.lockFile}). ` +
          'On GitHub, a workflow `concurrency:` group per service and environment prevents this.',
      );
    }
    throw new UserError(`${this.service}/${this.environment}: could not take the rollout lock ${this.lockFile}`);
  }

  /** Records progress (and proves the holder is alive). */
  update(fields: Partial<RolloutRecord>): RolloutRecord {
    const held = this.read();
    const record = { ...(held as RolloutRecord), ...fields, updatedAt: new Date(this.clock.now()).toISOString() };
    writeAtomically(this.lockFile, record);
    return record;
  }

  /** Ends the rollout (promotion or rollback); a no-op when no lock is held. */
  release(): RolloutRecord | undefined {
    const held = this.read();
    this.removeLock();
    return held;
  }

  /** The last blue-green switch on record. */
  colours(): ColourRecord | undefined {
    return readJson<ColourRecord>(this.colourFile);
  }

  /** Remembers a blue-green switch. */
  recordSwitch(record: Omit<ColourRecord, 'switchedAt'>): void {
    mkdirSync(this.dir, { recursive: true });
    writeAtomically(this.colourFile, { ...record, switchedAt: new Date(this.clock.now()).toISOString() });
  }

  private removeLock(): void {
    try {
      unlinkSync(this.lockFile);
    } catch {
      /* already gone */
    }
  }
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}
