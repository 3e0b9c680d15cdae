import { ProviderError } from '../errors.js';
import { blobPath, type BuiltImage } from './layout.js';
import type { RegistryClient } from './registry.js';

/** What pushing did to one tag. */
export type TagOutcome = 'pushed' | 'unchanged' | 'moved';

export interface TagResult {
  tag: string;
  floating: boolean;
  outcome: TagOutcome;
  /** The digest the tag pointed to before, when it existed. */
  before?: string;
}

/** A tag that already names another image and may not move. */
export interface TagConflict {
  tag: string;
  existing: string;
}

/** Raised before anything is uploaded when an immutable tag already names a different image. */
export class ImmutableTagError extends ProviderError {
  constructor(
    registry: string,
    readonly image: string,
    readonly digest: string,
    readonly conflicts: readonly TagConflict[],
  ) {
    super(
      registry,
      `refusing to move immutable tag${conflicts.length > 1 ? 's' : ''} of ${image}: ` +
        conflicts.map((c) => `${c.tag} already points to ${c.existing}`).join('; ') +
        `; this build is ${digest}. An immutable tag is never moved: build a new version, or list the tag under floating-tags if it is meant to move. Nothing was pushed.`,
    );
  }
}

export interface PublishPlan {
  results: TagResult[];
  conflicts: TagConflict[];
}

/** Asks the registry where each tag points now and decides, per tag, push / no-op / move / refuse. */
export async function planTags(client: RegistryClient, image: BuiltImage, immutableTags: readonly string[], floatingTags: readonly string[]): Promise<PublishPlan> {
  const results: TagResult[] = [];
  const conflicts: TagConflict[] = [];
  const digest = image.root.digest;
  for (const [tag, floating] of [...immutableTags.map((t) => [t, false] as const), ...floatingTags.map((t) => [t, true] as const)]) {
    const current = await client.resolve(tag);
    if (!current) results.push({ tag, floating, outcome: 'pushed' });
    else if (current.digest === digest) results.push({ tag, floating, outcome: 'unchanged', before: current.digest });
    else if (floating) results.push({ tag, floating, outcome: 'moved', before: current.digest });
    else conflicts.push({ tag, existing: current.digest });
  }
  return { results, conflicts };
}

/**
 * Pushes a built image under its tags, immutable ones first. Every tag is checked before any
 * byte is uploaded, so a refused tag leaves the registry exactly as it was; afterwards every
 * tag is read back, so a push that did not land is never reported as done.
 */
export async function publishImage(
  client: RegistryClient,
  image: BuiltImage,
  tags: { immutable: readonly string[]; floating: readonly string[] },
  log: (message: string) => void = () => undefined,
): Promise<TagResult[]> {
  const plan = await planTags(client, image, tags.immutable, tags.floating);
  if (plan.conflicts.length) throw new ImmutableTagError(`registry ${client.image.registry}`, client.image.name, image.root.digest, plan.conflicts);
  const toWrite = plan.results.filter((r) => r.outcome !== 'unchanged');
  if (toWrite.length) {
    const blobs = new Map<string, number>();
    for (const m of image.manifests) for (const d of [m.config, ...m.layers]) blobs.set(d.digest, d.size);
    for (const [digest, size] of blobs) {
      if (await client.hasBlob(digest)) continue;
      log(`uploading blob ${digest.slice(0, 19)} (${size} bytes)`);
      await client.uploadBlob(digest, blobPath(image.dir, digest));
    }
    // Platform manifests of an index go in by digest; the index (or the single manifest) by tag.
    if (image.manifests.length !== 1 || image.manifests[0]!.descriptor.digest !== image.root.digest)
      for (const m of image.manifests) await client.putManifest(m.descriptor.digest, m.bytes, m.descriptor.mediaType, m.descriptor.digest);
    for (const r of toWrite) {
      log(`${r.outcome === 'moved' ? 'moving' : 'pushing'} ${client.image.name}:${r.tag}`);
      await client.putManifest(r.tag, image.rootBytes, image.root.mediaType, image.root.digest);
    }
  }
  for (const r of plan.results) {
    const now = await client.resolve(r.tag);
    if (now?.digest !== image.root.digest)
      throw new ProviderError(
        `registry ${client.image.registry}`,
        `after pushing, ${client.image.name}:${r.tag} points to ${now?.digest ?? 'nothing'} instead of ${image.root.digest} (another push raced this one?)`,
      );
  }
  return plan.results;
}
