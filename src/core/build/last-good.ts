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
