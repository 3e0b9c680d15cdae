import { UserError } from '../errors.js';

/**
 * Where a rollout's record lives so that every job of a workflow — a fresh machine each, with
 * its own run id and an empty state directory — reads and changes the same one. Runner-local
 * files are not state on GitHub-hosted runners; a store is.
 *
 * A store keeps one JSON document per service and environment and changes it only by
 * compare-and-swap: `write` names the revision it read, and a store whose document has moved on
 * since refuses with `RolloutConflictError` instead of overwriting. The document's meaning (phase,
 * generation, versions, gate verdicts, lock holder) belongs to the rollout state machine; a store
 * only keeps it whole and ordered.
 */
export interface RolloutStore {
  /** The store kind, for messages and the job summary. */
  readonly kind: 'github' | 'file' | 'memory';
  /** Where the record lives, for messages: `refs/rollgate/orders/production in acme/orders`, a file path. */
  readonly location: string;
  /** The record as stored now, with its revision; undefined when this service and environment have none yet. */
  read(options?: StoreCallOptions): Promise<StoredRecord | undefined>;
  /**
   * Stores `document` if the record is still at `expected` (the revision a `read` returned;
   * undefined: only if there is no record yet). Returns the new revision. Throws
   * `RolloutConflictError` when another writer got there first; never overwrites silently.
   * `message` describes the change (the GitHub store's commit message: the audit log).
   */
  write(document: RolloutDocument, expected: string | undefined, message: string, options?: StoreCallOptions): Promise<StoredRecord>;
}

/** The JSON object a store keeps; its fields are the state machine's. */
export type RolloutDocument = Record<string, unknown>;

/** A record as read from a store. */
export interface StoredRecord {
  document: RolloutDocument;
  /** Opaque: a commit sha (GitHub), a content hash or counter (file). Passed back to `write`. */
  revision: string;
}

export interface StoreCallOptions {
  signal?: AbortSignal;
}

/** Another writer changed the record since it was read: the caller must stop without moving traffic. */
export class RolloutConflictError extends UserError {
  override readonly name = 'RolloutConflictError';
  constructor(
    readonly location: string,
    detail: string,
  ) {
    super(`rollout record ${location} changed since it was read: ${detail}`);
  }
}

/**
 * Service or environment as one segment of where a store keeps the record (a file path, a ref):
 * letters, digits, `-`, `_` kept, every other byte %-escaped, so two names never share a record
 * and no name breaks a path or git's ref rules (`..`, `.lock`, `~^:?*[\`, spaces).
 */
export function keySegment(name: string, what: string): string {
  if (!name) throw new UserError(`rollout store: ${what} is empty`);
  return Array.from(Buffer.from(name, 'utf8'), (byte) => {
    const ch = String.fromCharCode(byte);
    return /[A-Za-z0-9_-]/.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }).join('');
}

/** A store held in memory, with the same compare-and-swap rule: for unit tests of the state machine. */
export class MemoryRolloutStore implements RolloutStore {
  readonly kind = 'memory';
  private record: StoredRecord | undefined;
  private counter = 0;
  constructor(readonly location = 'memory') {}

  async read(): Promise<StoredRecord | undefined> {
    return this.record && { document: structuredClone(this.record.document), revision: this.record.revision };
  }

  async write(document: RolloutDocument, expected: string | undefined): Promise<StoredRecord> {
    if (this.record?.revision !== expected) throw new RolloutConflictError(this.location, `expected revision ${expected ?? '(none)'}, found ${this.record?.revision ?? '(none)'}`);
    this.record = { document: structuredClone(document), revision: String(++this.counter) };
    return { document: structuredClone(document), revision: this.record.revision };
  }
}
