import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProviderError } from '../errors.js';
import { DIGEST } from './registry.js';

/** A content descriptor as OCI writes it. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os?: string; architecture?: string; variant?: string };
}

/** One manifest of the built image (a single image, or one platform of an index). */
export interface ImageManifest {
  descriptor: Descriptor;
  bytes: Buffer;
  config: Descriptor;
  layers: Descriptor[];
}

/**
 * A built image as an OCI image layout on disk: the exact bytes that will be pushed, so
 * its digest is known before the registry is touched.
 */
export interface BuiltImage {
  /** The layout directory (holds `index.json` and `blobs/sha256/`). */
  dir: string;
  /** The top manifest: the digest `image-ref` pins. */
  root: Descriptor;
  rootBytes: Buffer;
  /** Platform manifests (one for a single-platform image). */
  manifests: ImageManifest[];
  /** Compressed size: configs plus layers of every platform. */
  sizeBytes: number;
}

const INDEX_TYPES = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);

/** The path of a blob inside a layout. */
export function blobPath(dir: string, digest: string): string {
  return join(dir, 'blobs', ...digest.split(':'));
}

/** Reads the image a builder left in an OCI layout, checking every digest it relies on. */
export function readLayout(dir: string): BuiltImage {
  const indexFile = join(dir, 'index.json');
  if (!existsSync(indexFile)) throw new ProviderError('build', `the builder left no OCI layout in ${dir} (index.json is missing)`);
  const index = JSON.parse(readFileSync(indexFile, 'utf8')) as { manifests?: Descriptor[] };
  const entries = index.manifests ?? [];
  if (entries.length !== 1) throw new ProviderError('build', `expected exactly one image in the OCI layout ${dir}, found ${entries.length}`);
  const root = entries[0]!;
  const rootBytes = readBlob(dir, root.digest);
  const manifests: ImageManifest[] = [];
  if (INDEX_TYPES.has(root.mediaType)) {
    const list = JSON.parse(rootBytes.toString('utf8')) as { manifests?: Descriptor[] };
    for (const child of list.manifests ?? []) manifests.push(readManifest(dir, child));
  } else {
    manifests.push(readManifest(dir, root));
  }
  const sizeBytes = manifests.reduce((sum, m) => sum + m.config.size + m.layers.reduce((s, l) => s + l.size, 0), 0);
  return { dir, root: { mediaType: root.mediaType, digest: root.digest, size: root.size }, rootBytes, manifests, sizeBytes };
}

function readManifest(dir: string, descriptor: Descriptor): ImageManifest {
  const bytes = readBlob(dir, descriptor.digest);
  const body = JSON.parse(bytes.toString('utf8')) as { config?: Descriptor; layers?: Descriptor[] };
  if (!body.config) throw new ProviderError('build', `manifest ${descriptor.digest} in ${dir} has no config`);
  return { descriptor, bytes, config: body.config, layers: body.layers ?? [] };
}

function readBlob(dir: string, digest: string): Buffer {
  if (!DIGEST.test(digest)) throw new ProviderError('build', `unsupported digest ${JSON.stringify(digest)} in ${dir}`);
  const file = blobPath(dir, digest);
  if (!existsSync(file)) throw new ProviderError('build', `blob ${digest} is missing from ${dir}`);
  const bytes = readFileSync(file);
  const actual = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  if (actual !== digest) throw new ProviderError('build', `blob ${digest} in ${dir} is corrupt (its content hashes to ${actual})`);
  return bytes;
}

/**
 * Rewrites a layout's top index so its platform manifests follow `platforms` (then os/arch
 * order for any others). Returns whether its bytes changed. The index is re-encoded as compact
 * JSON, a valid OCI index whose bytes depend only on its content.
 */
export function orderIndexByPlatform(dir: string, platforms: readonly string[]): boolean {
  const indexFile = join(dir, 'index.json');
  const layoutIndex = JSON.parse(readFileSync(indexFile, 'utf8')) as { manifests: Descriptor[] } & Record<string, unknown>;
  const root = layoutIndex.manifests?.[0];
  if (!root || layoutIndex.manifests.length !== 1 || !INDEX_TYPES.has(root.mediaType)) return false;
  const original = readBlob(dir, root.digest);
  const body = JSON.parse(original.toString('utf8')) as { manifests: Descriptor[] } & Record<string, unknown>;
  const name = (d: Descriptor) => [d.platform?.os, d.platform?.architecture, d.platform?.variant].filter(Boolean).join('/');
  const rank = (d: Descriptor) => {
    const exact = platforms.indexOf(name(d));
    const loose = platforms.indexOf(`${d.platform?.os}/${d.platform?.architecture}`);
    return exact !== -1 ? exact : loose !== -1 ? loose : platforms.length;
  };
  const sorted = [...body.manifests].sort((a, b) => rank(a) - rank(b) || name(a).localeCompare(name(b)) || a.digest.localeCompare(b.digest));
  // Always our own encoding, so an index already in order and one reordered are byte-identical.
  const bytes = Buffer.from(JSON.stringify({ ...body, manifests: sorted }), 'utf8');
  if (bytes.equals(original)) return false;
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  writeFileSync(blobPath(dir, digest), bytes);
  layoutIndex.manifests = [{ ...root, digest, size: bytes.length }];
  writeFileSync(indexFile, JSON.stringify(layoutIndex));
  return true;
}
