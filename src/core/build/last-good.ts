import { existsSync, readFileSync } from 'node:fs';
import { UserError } from '../errors.js';
import { DIGEST, parseReference, RegistryClient, type ImageName, type RegistryClientOptions } from './registry.js';

/**
 * Where the version last known good in an environment comes from: the deployment records
 * (GitHub Deployments, or the local ledger file), or an explicit `previous-version` input.
 */
export interface LastGoodSource {
  /** Names the source in messages (`input previous-version`, `ledger .rollgate/ledger.json`). */
  readonly description: string;
  /** The version (an image reference, digest or tag) last marked good, or undefined when none is recorded. */
  lastGoodVersion(environment: string): Promise<string | undefined>;
}

/** The `previous-version` input: the caller says which version is the rollback target. */
export class ExplicitLastGood implements LastGoodSource {
  readonly description = 'input previous-version';
  constructor(private readonly version: string) {}
  async lastGoodVersion(): Promise<string | undefined> {
    return this.version;
  }
}

interface LedgerEntry {
  environment?: unknown;
  state?: unknown;
  status?: unknown;
  statuses?: { state?: unknown }[];
  version?: unknown;
  payload?: { version?: unknown };
  createdAt?: unknown;
  created_at?: unknown;
  updatedAt?: unknown;
  updated_at?: unknown;
}

/**
 * The local deployment ledger (used when there is no GitHub token): the newest deployment of
 * the environment whose state is `success`. Tolerates the ledger being a list or an object
 * holding one (`deployments`, `records`, `entries`), and states kept as a status history.
 */
export class LedgerLastGood implements LastGoodSource {
  readonly description: string;
  constructor(private readonly file: string) {
    this.description = `ledger ${file}`;
  }
  async lastGoodVersion(environment: string): Promise<string | undefined> {
    if (!existsSync(this.file)) return undefined;
    let data: unknown;
    try {
      data = JSON.parse(readFileSync(this.file, 'utf8'));
    } catch (err) {
      throw new UserError(`${this.file}: not a readable deployment ledger (${(err as Error).message})`);
    }
    const list = findEntries(data);
    if (!list) throw new UserError(`${this.file}: expected a list of deployment records (or an object with a "deployments" list)`);
    const good = list
      .map((entry, order) => ({ entry, order }))
      .filter(({ entry }) => entry.environment === environment && stateOf(entry) === 'success' && versionOf(entry) !== undefined)
      .sort((a, b) => timeOf(a.entry) - timeOf(b.entry) || a.order - b.order);
    const newest = good[good.length - 1];
    return newest ? versionOf(newest.entry) : undefined;
  }
}

function findEntries(data: unknown): LedgerEntry[] | undefined {
  if (Array.isArray(data)) return data.filter((e): e is LedgerEntry => typeof e === 'object' && e !== null);
  if (typeof data === 'object' && data !== null)
    for (const key of ['deployments', 'records', 'entries'])
      if (Array.isArray((data as Record<string, unknown>)[key])) return findEntries((data as Record<string, unknown>)[key]);
  return undefined;
}

function stateOf(entry: LedgerEntry): string | undefined {
  const history = Array.isArray(entry.statuses) ? entry.statuses : [];
  const latest = history.length ? history[history.length - 1]?.state : undefined;
  const state = entry.state ?? entry.status ?? latest;
  return typeof state === 'string' ? state.toLowerCase() : undefined;
}

function versionOf(entry: LedgerEntry): string | undefined {
  const version = entry.payload?.version ?? entry.version;
  return typeof version === 'string' && version.trim() ? version.trim() : undefined;
}

function timeOf(entry: LedgerEntry): number {
  for (const value of [entry.updatedAt, entry.updated_at, entry.createdAt, entry.created_at]) {
    const t = typeof value === 'string' || typeof value === 'number' ? new Date(value).getTime() : Number.NaN;
    if (Number.isFinite(t)) return t;
  }
  return 0;
}

/** The rollback artifact: the last good version pinned by digest and confirmed to exist. */
export interface VerifiedRollbackArtifact {
  /** `image@sha256:…` */
  imageRef: string;
  /** The version as recorded. */
  recorded: string;
  source: string;
}

/**
 * Resolves the recorded last good version to `image@sha256:…` and checks the registry still
 * holds it. A recorded version that is gone fails: a deployment whose rollback target cannot
 * be pulled is not safe to start.
 */
export async function verifyRollbackArtifact(
  source: LastGoodSource,
  environment: string,
  image: ImageName,
  clientFor: (image: ImageName) => RegistryClient,
): Promise<VerifiedRollbackArtifact | undefined> {
  const recorded = await source.lastGoodVersion(environment);
  if (!recorded) return undefined;
  const { target, reference } = locate(recorded, image, source.description);
  const found = await clientFor(target).resolve(reference);
  if (!found)
    throw new UserError(
      `previous-image-ref: ${recorded} (last good in ${environment}, from ${source.description}) no longer exists in ${target.name}: ` +
        `a rollback to it would fail. Restore that image, or name another good version with input previous-version.`,
    );
  if (DIGEST.test(reference) && found.digest !== reference)
    throw new UserError(`previous-image-ref: ${target.name}@${reference} resolved to a different digest (${found.digest})`);
  return { imageRef: `${target.name}@${found.digest}`, recorded, source: source.description };
}

function locate(recorded: string, image: ImageName, source: string): { target: ImageName; reference: string } {
  const field = `previous-version (from ${source})`;
  if (DIGEST.test(recorded)) return { target: image, reference: recorded };
  if (recorded.includes('/') || recorded.includes('@')) {
    const parsed = parseReference(recorded, field);
    return { target: parsed.image, reference: parsed.reference };
  }
  // A bare tag (`v1.2.3`, `sha-abc1234`) names a version of this image.
  if (/^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/.test(recorded)) return { target: image, reference: recorded };
  throw new UserError(`${field}: expected image@sha256:…, image:tag, sha256:… or a tag, got ${JSON.stringify(recorded)}`);
}

/** A client factory: credentials go only to the registry they were given for, never to another host. */
export function registryClients(registry: string, options: RegistryClientOptions): (image: ImageName) => RegistryClient {
  return (image) => new RegistryClient(image, image.registry === registry ? options : { ...options, credentials: undefined });
}
