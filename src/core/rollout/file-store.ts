import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, readlinkSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { createExclusively, writeAtomically } from '../atomic-file.js';
import { UserError } from '../errors.js';
import { RolloutConflictError, type RolloutDocument, type RolloutStore, type StoreCallOptions, type StoredRecord } from './store.js';

/** What the record file holds around the state machine's document. */
interface RecordFile {
  format: typeof RECORD_FORMAT;
  /** Counts writes since the record was created; with `nonce` it makes the revision. */
  sequence: number;
  /** Random per write, so a record deleted by hand and created again never repeats a revision a stale reader holds. */
  nonce: string;
  writtenAt: string;
  /** The process that wrote it: `pid@host`. */
  writtenBy: string;
  message: string;
  document: RolloutDocument;
}

/** What the per-record write lock file holds, so a waiting writer can tell a dead holder from a busy one. */
export interface WriteLock {
  pid: number;
  host: string;
  /** Which kernel boot and pid namespace `pid` belongs to: containers and machines may share a host name. */
  machine: string;
  token: string;
  takenAt: string;
}

const RECORD_FORMAT = 'rollgate-rollout-record/1';

/** This kernel boot and pid namespace, where Linux tells; empty elsewhere (host name alone then). */
const thisMachine = ((): string => {
  try {
    return `${readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()}/${readlinkSync('/proc/self/ns/pid')}`;
  } catch {
    return '';
  }
})();

/** Tuning of the write lock; the defaults suit local disks and NFS alike. */
export interface FileStoreOptions {
  /**
   * A write lock older than this is taken to belong to a writer that died mid-write and is
   * broken. A write holds it for milliseconds; the margin covers a slow shared file system and
   * clocks that differ between hosts. Default 30 s.
   */
  staleLockMs?: number;
  /** How long a writer waits for a live lock before giving up with an error naming its holder. Default 60 s. */
  lockTimeoutMs?: number;
}

/** Service and environment as one path segment each: letters, digits, `-`, `_` kept, every other byte %-escaped, so different names never share a file. */
function pathSegment(name: string, what: string): string {
  if (!name) throw new UserError(`rollout store: ${what} is empty`);
  return Array.from(Buffer.from(name, 'utf8'), (byte) => {
    const ch = String.fromCharCode(byte);
    return /[A-Za-z0-9_-]/.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }).join('');
}

/**
 * The rollout record as one JSON file per service and environment, `<dir>/<service>/<environment>.json`,
 * for the CLI and self-hosted runners; point `dir` at shared storage (NFS) so every runner sees
 * the same record.
 *
 * Compare-and-swap across processes and hosts: a write takes a per-record lock (a file created
 * by an exclusive hard link), reads the revision on disk, compares it with the one the caller
 * read, writes the new content aside and renames it into place, then releases the lock. Readers
 * need no lock: a rename shows them the old or the new record, never a mix. A lock left by a
 * writer that died (its pid gone on this host, or older than `staleLockMs`) is broken; see
 * `RecordWriteLock.take` for why breaking it is safe.
 */
export class FileRolloutStore implements RolloutStore {
  readonly kind = 'file';
  /** The record file. */
  readonly location: string;
  /** The per-record write lock, `<record>.lock`. */
  readonly writeLock: RecordWriteLock;
  private readonly writer = `${process.pid}@${hostname()}`;

  constructor(
    readonly dir: string,
    key: { service: string; environment: string },
    options: FileStoreOptions = {},
  ) {
    this.location = join(dir, pathSegment(key.service, 'service'), `${pathSegment(key.environment, 'environment')}.json`);
    this.writeLock = new RecordWriteLock(`${this.location}.lock`, options.staleLockMs ?? 30_000, options.lockTimeoutMs ?? 60_000);
  }

  async read(options: StoreCallOptions = {}): Promise<StoredRecord | undefined> {
    options.signal?.throwIfAborted();
    const record = this.readRecordFile();
    return record && { document: record.document, revision: revisionOf(record) };
  }

  async write(document: RolloutDocument, expected: string | undefined, message: string, options: StoreCallOptions = {}): Promise<StoredRecord> {
    if (typeof document !== 'object' || document === null || Array.isArray(document)) throw new TypeError('a rollout document is a JSON object');
    // What is stored is exactly what JSON keeps; the caller gets that back, not its own object.
    const stored = JSON.parse(JSON.stringify(document)) as RolloutDocument;
    mkdirSync(dirname(this.location), { recursive: true });
    const lock = await this.writeLock.take(options.signal);
    try {
      const current = this.readRecordFile();
      const found = current && revisionOf(current);
      if (found !== expected) {
        throw new RolloutConflictError(
          this.location,
          current
            ? `expected revision ${expected ?? '(no record)'}, found ${found} written by ${current.writtenBy} at ${current.writtenAt} (${JSON.stringify(current.message)})`
            : `expected revision ${expected}, but there is no record any more`,
        );
      }
      const next: RecordFile = {
        format: RECORD_FORMAT,
        sequence: (current?.sequence ?? 0) + 1,
        nonce: randomBytes(4).toString('hex'),
        writtenAt: new Date().toISOString(),
        writtenBy: this.writer,
        message,
        document: stored,
      };
      // Last line of defence against a holder that was paused past staleLockMs and lost its lock to a breaker.
      if (this.writeLock.holder()?.token !== lock.token)
        throw new RolloutConflictError(this.location, `the write lock ${this.writeLock.file} was taken over while this write held it; nothing was written`);
      writeAtomically(this.location, next);
      return { document: structuredClone(stored), revision: revisionOf(next) };
    } finally {
      this.writeLock.release(lock);
    }
  }

  /** The record file, parsed and checked; undefined only when there is no file. A file that is there but unreadable is an error, never "no record". */
  private readRecordFile(): RecordFile | undefined {
    let text: string;
    try {
      text = readFileSync(this.location, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new UserError(`rollout record ${this.location}: cannot be read: ${(err as Error).message}`);
    }
    const broken = (detail: string) =>
      new UserError(
        `rollout record ${this.location} is damaged (${detail}); refusing to take it as "no rollout". ` +
          'Check which version each slot serves, then repair the file or move it aside to start over.',
      );
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw broken(`not JSON: ${(err as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw broken('not a JSON object');
    const record = parsed as Partial<RecordFile>;
    if (record.format !== RECORD_FORMAT) throw broken(`format is ${JSON.stringify(record.format)}, expected ${JSON.stringify(RECORD_FORMAT)}`);
    if (!Number.isInteger(record.sequence) || (record.sequence as number) < 1) throw broken('sequence is not a positive integer');
    if (typeof record.nonce !== 'string' || !record.nonce) throw broken('nonce is missing');
    if (typeof record.document !== 'object' || record.document === null || Array.isArray(record.document)) throw broken('document is not a JSON object');
    return record as RecordFile;
  }
}

/**
 * The per-record write lock: a file created by an exclusive hard link, holding who took it, so
 * a waiting writer can tell a dead holder from a busy one.
 */
export class RecordWriteLock {
  constructor(
    readonly file: string,
    private readonly staleLockMs: number,
    private readonly lockTimeoutMs: number,
  ) {}

  /**
   * Takes the per-record write lock, waiting for a live holder and breaking a dead one's.
   *
   * Breaking is safe against several writers finding the same dead lock at once: the breaker
   * renames the lock file to a private name (only one rename of it can succeed), then checks it
   * moved the very lock it judged dead (by its token). If a live lock had replaced it in
   * between, it links that one straight back. A holder alive but silent for longer than
   * `staleLockMs` is the remaining risk, and its token check just before renaming the record
   * into place narrows that to microseconds.
   */
  async take(signal?: AbortSignal): Promise<WriteLock> {
    const lock: WriteLock = { pid: process.pid, host: hostname(), machine: thisMachine, token: randomBytes(8).toString('hex'), takenAt: new Date().toISOString() };
    const deadline = Date.now() + this.lockTimeoutMs;
    let pause = 2;
    for (;;) {
      signal?.throwIfAborted();
      if (createExclusively(this.file, lock)) return lock;
      const holder = this.holder();
      if (holder && this.isDead(holder)) this.breakLock(holder);
      else if (Date.now() > deadline) {
        throw new UserError(
          `rollout record write lock ${this.file} has been held for more than ${Math.round(this.lockTimeoutMs / 1000)} s` +
            (holder ? ` by pid ${holder.pid} on ${holder.host} since ${holder.takenAt}` : '') +
            `; a write takes milliseconds, so the holder is stuck. If it is gone, delete the lock file.`,
        );
      } else {
        await new Promise((resolve) => setTimeout(resolve, pause + Math.random() * pause));
        pause = Math.min(pause * 2, 50);
      }
    }
  }

  /** The current lock's holder; undefined when there is no lock (or it vanished while being read). */
  holder(): (WriteLock & { ageMs: number }) | undefined {
    try {
      const ageMs = Date.now() - statSync(this.file).mtimeMs;
      const held = JSON.parse(readFileSync(this.file, 'utf8')) as Partial<WriteLock>;
      return { pid: Number(held.pid), host: String(held.host), machine: String(held.machine ?? ''), token: String(held.token), takenAt: String(held.takenAt), ageMs };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      // Not JSON: not written by `take` (which publishes whole files), so judged by its age alone.
      try {
        return { pid: NaN, host: '?', machine: '?', token: '?', takenAt: '?', ageMs: Date.now() - statSync(this.file).mtimeMs };
      } catch {
        return undefined;
      }
    }
  }

  /** A holder that died: its process is gone on this host, or the lock is older than any write. */
  private isDead(holder: WriteLock & { ageMs: number }): boolean {
    if (holder.ageMs > this.staleLockMs) return true;
    // Only a pid of this very kernel and pid namespace can be asked whether it lives.
    if (holder.host !== hostname() || holder.machine !== thisMachine || !Number.isInteger(holder.pid)) return false;
    try {
      process.kill(holder.pid, 0);
      return false;
    } catch (err) {
      // EPERM: alive, someone else's process.
      return (err as NodeJS.ErrnoException).code === 'ESRCH';
    }
  }

  /** Removes `dead`'s lock, and only it (see `take`). */
  private breakLock(dead: WriteLock): void {
    const aside = `${this.file}.${process.pid}.${randomBytes(4).toString('hex')}.broken`;
    try {
      renameSync(this.file, aside);
    } catch {
      return; // gone already: another writer broke or released it
    }
    let moved: Partial<WriteLock> | undefined;
    try {
      moved = JSON.parse(readFileSync(aside, 'utf8')) as Partial<WriteLock>;
    } catch {
      /* unparseable: it was the dead one (a live lock always parses) */
    }
    if (moved && moved.token !== dead.token) {
      // A live writer took the lock between our look and our rename: give it back.
      try {
        linkSync(aside, this.file);
      } catch {
        /* someone else holds it now; the displaced writer's token check refuses its write */
      }
    }
    try {
      unlinkSync(aside);
    } catch {
      /* already gone */
    }
  }

  /** Removes the lock if it is still `lock`. */
  release(lock: WriteLock): void {
    if (this.holder()?.token !== lock.token) return; // broken and taken by another writer: not ours to remove
    try {
      unlinkSync(this.file);
    } catch {
      /* already gone */
    }
  }
}

function revisionOf(record: RecordFile): string {
  return `${record.sequence}-${record.nonce}`;
}
