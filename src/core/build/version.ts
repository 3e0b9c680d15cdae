import { InputError } from '../errors.js';

/** What a build is called: the version string, its tags, and the OCI labels it carries. */
export interface BuildIdentity {
  /** The semver of a release tag (`1.2.3`), else `0.0.0-sha.<short sha>`. */
  version: string;
  /** The full commit SHA the image is built from. */
  revision: string;
  shortSha: string;
  /** Tags that, once pushed, never move: `sha-<short>`, `v<semver>`, and extra tags. */
  immutableTags: string[];
  /** Tags the caller named as floating (`latest`, `main`): they may move to a new digest. */
  floatingTags: string[];
  labels: Record<string, string>;
}

export interface IdentityInput {
  sha: string;
  /** The git ref that triggered the build (`refs/tags/v1.2.3`, `refs/heads/main`), if known. */
  ref?: string;
  extraTags?: readonly string[];
  floatingTags?: readonly string[];
  /** Repository URL for `org.opencontainers.image.source`. */
  source?: string;
  /** Seconds since the epoch, for `org.opencontainers.image.created` (commit time keeps rebuilds identical). */
  createdEpoch: number;
}

// Semantic Versioning 2.0.0, with an optional leading `v` as release tags are usually written.
const SEMVER =
  /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

// The OCI distribution spec's tag grammar.
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

/** The semver (without `v`) of a ref that is a release tag, else undefined. */
export function semverFromRef(ref: string | undefined): string | undefined {
  if (!ref) return undefined;
  // Only tags make releases: a branch called `v1.2.3` must not claim a release version.
  if (ref.startsWith('refs/') && !ref.startsWith('refs/tags/')) return undefined;
  const name = ref.replace(/^refs\/tags\//, '');
  return SEMVER.test(name) ? name.replace(/^v/, '') : undefined;
}

/** True when `tag` is a valid OCI tag. */
export function isValidTag(tag: string): boolean {
  return TAG.test(tag);
}

/** Validates a commit SHA given as input `field`, returning it lower-cased. */
export function parseSha(sha: string, field = 'sha'): string {
  const lower = sha.trim().toLowerCase();
  if (!/^[0-9a-f]{7,64}$/.test(lower)) throw new InputError(field, `expected a git commit SHA (7 to 64 hex digits), got ${JSON.stringify(sha)}`);
  return lower;
}

/** Derives version, tags and OCI labels from the commit and ref being built. */
export function buildIdentity(input: IdentityInput): BuildIdentity {
  const revision = parseSha(input.sha);
  const shortSha = revision.slice(0, 7);
  const semver = semverFromRef(input.ref);
  const version = semver ?? `0.0.0-sha.${shortSha}`;
  // `+build` metadata is legal semver but not a legal tag character.
  const versionTags = [`sha-${shortSha}`, ...(semver ? [`v${semver.replace(/\+/g, '_')}`] : [])];
  const floating = unique(input.floatingTags ?? []);
  for (const tag of floating) {
    checkTag(tag, 'floating-tags');
    if (versionTags.includes(tag)) throw new InputError('floating-tags', `${tag} is this build's version tag and can never float`);
  }
  const immutable = [...versionTags];
  for (const tag of input.extraTags ?? []) {
    checkTag(tag, 'tags');
    if (!floating.includes(tag)) immutable.push(tag);
  }
  const labels: Record<string, string> = {
    'org.opencontainers.image.revision': revision,
    'org.opencontainers.image.version': version,
    'org.opencontainers.image.created': new Date(input.createdEpoch * 1000).toISOString().replace(/\.000Z$/, 'Z'),
  };
  if (input.source) labels['org.opencontainers.image.source'] = input.source;
  return { version, revision, shortSha, immutableTags: unique(immutable), floatingTags: floating, labels };
}

function checkTag(tag: string, input: string): void {
  if (!isValidTag(tag)) throw new InputError(input, `${JSON.stringify(tag)} is not a valid image tag (letters, digits, _ . -, at most 128, not starting with . or -)`);
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}
