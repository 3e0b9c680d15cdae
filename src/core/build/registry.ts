import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { systemClock, type Clock } from '../clock.js';
import { InputError, ProviderError } from '../errors.js';
import { httpRequest, safeUrl, type HttpRequest, type HttpResponse } from '../http.js';

/** An image repository split into the registry that serves it and the repository path. */
export interface ImageName {
  /** Host (and port) as written, e.g. `ghcr.io`, `127.0.0.1:5000`, `docker.io`. */
  registry: string;
  /** Repository path, e.g. `acme/orders`. */
  repository: string;
  /** The name as users write it, without tag or digest. */
  name: string;
}

/** What a reference resolves to: the manifest's digest and media type. */
export interface ManifestHead {
  digest: string;
  mediaType: string;
}

export interface RegistryCredentials {
  username: string;
  password: string;
}

export interface RegistryClientOptions {
  credentials?: RegistryCredentials;
  /** Plain HTTP instead of HTTPS; loopback registries always use it, as Docker does. */
  insecure?: boolean;
  timeoutMs?: number;
  clock?: Clock;
}

/** Every manifest format a registry may hold for one tag: single images and multi-platform indexes. */
export const MANIFEST_MEDIA_TYPES = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
] as const;

const REPOSITORY = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
export const DIGEST = /^sha256:[a-f0-9]{64}$/;

/** Parses input `image` (`ghcr.io/acme/orders`, `orders`, `127.0.0.1:5000/x`); tags and digests are refused. */
export function parseImageName(image: string, input = 'image'): ImageName {
  const text = image.trim();
  const slash = text.indexOf('/');
  const first = slash === -1 ? '' : text.slice(0, slash);
  const hasRegistry = first.includes('.') || first.includes(':') || first === 'localhost';
  const registry = hasRegistry ? first : 'docker.io';
  let repository = hasRegistry ? text.slice(slash + 1) : text;
  if (repository.includes('@') || /:[^/]*$/.test(repository))
    throw new InputError(input, `expected a repository without tag or digest (e.g. ghcr.io/acme/orders), got ${JSON.stringify(image)}: rollgate chooses the tags`);
  if (registry === 'docker.io' && !repository.includes('/')) repository = `library/${repository}`;
  if (!REPOSITORY.test(repository))
    throw new InputError(input, `expected a repository of lower-case letters, digits, separators and slashes (e.g. ghcr.io/acme/orders), got ${JSON.stringify(image)}`);
  return { registry, repository, name: text };
}

/** Splits a full reference (`repo:tag`, `repo@sha256:…`) into the image name and the tag or digest. */
export function parseReference(reference: string, input: string): { image: ImageName; reference: string } {
  const at = reference.indexOf('@');
  if (at !== -1) return { image: parseImageName(reference.slice(0, at), input), reference: reference.slice(at + 1) };
  const colon = reference.lastIndexOf(':');
  if (colon > reference.lastIndexOf('/')) return { image: parseImageName(reference.slice(0, colon), input), reference: reference.slice(colon + 1) };
  throw new InputError(input, `expected image:tag or image@sha256:…, got ${JSON.stringify(reference)}`);
}

function isLoopback(registry: string): boolean {
  const host = registry.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses a WWW-Authenticate header such as `Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="…"`. */
export function parseChallenge(header: string): Challenge | undefined {
  const match = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!match) return undefined;
  const params: Record<string, string> = {};
  for (const p of match[2]!.matchAll(/(\w+)=(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g)) params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!;
  return { scheme: match[1]!.toLowerCase(), params };
}

type Access = 'pull' | 'pull,push';

/**
 * One repository on a registry, spoken to over the OCI Distribution HTTP API. Handles the
 * token flow public registries use (401 with a Bearer challenge → token from the realm,
 * with the credentials as Basic auth) and plain Basic auth.
 */
export class RegistryClient {
  readonly image: ImageName;
  private readonly base: string;
  private readonly system: string;
  private readonly clock: Clock;
  private readonly timeoutMs: number;
  private readonly authorization = new Map<Access, string>();

  constructor(
    image: ImageName,
    private readonly options: RegistryClientOptions = {},
  ) {
    this.image = image;
    // Docker Hub's API lives on another host than the name users write.
    const host = image.registry === 'docker.io' ? 'registry-1.docker.io' : image.registry;
    this.base = `${options.insecure || isLoopback(image.registry) ? 'http' : 'https'}://${host}/v2/${image.repository}`;
    this.system = `registry ${image.registry}`;
    this.clock = options.clock ?? systemClock;
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** The digest a tag (or digest) points to, or undefined when the registry has no such manifest. */
  async resolve(reference: string): Promise<ManifestHead | undefined> {
    const res = await this.send({ method: 'HEAD', url: `${this.base}/manifests/${reference}`, headers: { Accept: MANIFEST_MEDIA_TYPES.join(', ') } }, 'pull');
    if (res.status === 404) return undefined;
    this.expect(res, [200], `look up ${this.image.name}:${reference}`);
    let digest = res.headers['docker-content-digest'];
    const mediaType = (res.headers['content-type'] ?? '').split(';')[0]!.trim();
    if (!digest || !DIGEST.test(digest)) {
      // Some registries omit the header on HEAD: fall back to hashing the manifest itself.
      const body = await this.getManifest(reference);
      digest = body.digest;
    }
    return { digest, mediaType };
  }

  /** A manifest's exact bytes, media type and digest. */
  async getManifest(reference: string): Promise<{ bytes: Buffer; mediaType: string; digest: string }> {
    const res = await this.send({ url: `${this.base}/manifests/${reference}`, headers: { Accept: MANIFEST_MEDIA_TYPES.join(', ') }, responseType: 'text' }, 'pull');
    this.expect(res, [200], `read manifest ${this.image.name}:${reference}`);
    const bytes = Buffer.from(String(res.data), 'utf8');
    return { bytes, mediaType: (res.headers['content-type'] ?? '').split(';')[0]!.trim(), digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}` };
  }

  /** Whether the repository already holds a blob, so it need not be uploaded again. */
  async hasBlob(digest: string): Promise<boolean> {
    const res = await this.send({ method: 'HEAD', url: `${this.base}/blobs/${digest}` }, 'pull,push');
    if (res.status === 404) return false;
    this.expect(res, [200], `check blob ${digest.slice(0, 19)}`);
    return true;
  }

  /** Uploads one blob from a file in a single request (a monolithic upload), then checks the registry's digest. */
  async uploadBlob(digest: string, file: string): Promise<void> {
    const size = statSync(file).size;
    const start = await this.send({ method: 'POST', url: `${this.base}/blobs/uploads/`, headers: { 'Content-Length': '0' } }, 'pull,push');
    this.expect(start, [202], `start upload of ${digest.slice(0, 19)}`);
    const location = start.headers.location;
    if (!location) throw new ProviderError(this.system, `start upload of ${digest.slice(0, 19)}: no Location header in the answer`);
    const target = new URL(location, this.base);
    target.searchParams.set('digest', digest);
    // A stream cannot be replayed, so this request is never retried below the upload.
    const res = await this.send(
      {
        method: 'PUT',
        url: target.toString(),
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) },
        body: createReadStream(file),
        retries: 0,
        timeoutMs: Math.max(this.timeoutMs, 600_000),
      },
      'pull,push',
    );
    this.expect(res, [201], `upload blob ${digest.slice(0, 19)}`);
  }

  /** Stores a manifest under a tag or its digest; the registry must confirm the same digest. */
  async putManifest(reference: string, bytes: Buffer, mediaType: string, digest: string): Promise<void> {
    const res = await this.send({ method: 'PUT', url: `${this.base}/manifests/${reference}`, headers: { 'Content-Type': mediaType }, body: bytes }, 'pull,push');
    this.expect(res, [201], `push manifest ${this.image.name}:${reference}`);
    const stored = res.headers['docker-content-digest'];
    if (stored && stored !== digest) throw new ProviderError(this.system, `push manifest ${this.image.name}:${reference}: the registry stored ${stored}, expected ${digest}`);
  }

  private expect(res: HttpResponse, ok: number[], what: string): void {
    if (ok.includes(res.status)) return;
    const detail = registryErrorDetail(res.data);
    switch (res.status) {
      case 401:
        throw new ProviderError(this.system, `${what}: authentication failed (HTTP 401)${detail}: check registry-username and registry-password`);
      case 403:
        throw new ProviderError(this.system, `${what}: access denied (HTTP 403)${detail}: the credentials lack ${ok.includes(201) || ok.includes(202) ? 'push' : 'pull'} permission on ${this.image.repository}`);
      default:
        throw new ProviderError(this.system, `${what}: HTTP ${res.status}${detail}`, res.status >= 500 || res.status === 429);
    }
  }

  /** Sends a request, answering an auth challenge once and caching the result per access level. */
  private async send(req: HttpRequest, access: Access): Promise<HttpResponse> {
    const withAuth = (auth: string | undefined): HttpRequest => ({
      retries: 2,
      timeoutMs: this.timeoutMs,
      ...req,
      system: this.system,
      headers: { ...(req.headers ?? {}), ...(auth ? { Authorization: auth } : {}) },
    });
    const cached = this.authorization.get(access);
    const res = await httpRequest(withAuth(cached), this.clock);
    if (res.status !== 401 || !res.headers['www-authenticate']) return res;
    if (req.body !== undefined && typeof (req.body as { pipe?: unknown }).pipe === 'function')
      throw new ProviderError(this.system, `${req.method ?? 'GET'} ${safeUrl(req.url)}: the registry asked to authenticate in the middle of an upload`);
    const auth = await this.authenticate(res.headers['www-authenticate'], access);
    this.authorization.set(access, auth);
    return httpRequest(withAuth(auth), this.clock);
  }

  private async authenticate(header: string, access: Access): Promise<string> {
    const challenge = parseChallenge(header);
    const creds = this.options.credentials;
    if (challenge?.scheme === 'basic') {
      if (!creds) throw new ProviderError(this.system, `the registry requires a login: set registry-username and registry-password`);
      return `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
    }
    if (challenge?.scheme !== 'bearer' || !challenge.params.realm)
      throw new ProviderError(this.system, `unsupported authentication challenge ${JSON.stringify(header.slice(0, 80))}`);
    const url = new URL(challenge.params.realm);
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
    url.searchParams.set('scope', `repository:${this.image.repository}:${access}`);
    const res = await httpRequest<unknown>(
      {
        url: url.toString(),
        headers: creds ? { Authorization: `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}` } : {},
        timeoutMs: this.timeoutMs,
        system: `${this.system} token service`,
      },
      this.clock,
    );
    if (res.status === 401 || res.status === 403)
      throw new ProviderError(this.system, `token service ${safeUrl(url.toString())} refused the ${creds ? 'credentials' : 'anonymous request'} (HTTP ${res.status}): check registry-username and registry-password`);
    if (res.status !== 200) throw new ProviderError(this.system, `token service ${safeUrl(url.toString())}: HTTP ${res.status}`, res.status >= 500);
    const body = (typeof res.data === 'object' && res.data !== null ? res.data : {}) as { token?: unknown; access_token?: unknown };
    const token = typeof body.token === 'string' ? body.token : typeof body.access_token === 'string' ? body.access_token : undefined;
    if (!token) throw new ProviderError(this.system, `token service ${safeUrl(url.toString())} answered without a token`);
    return `Bearer ${token}`;
  }
}

function registryErrorDetail(data: unknown): string {
  let body = data;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      return '';
    }
  }
  const errors = (body as { errors?: { code?: unknown; message?: unknown }[] } | null)?.errors;
  if (!Array.isArray(errors) || !errors.length) return '';
  return ` (${errors.map((e) => [e.code, e.message].filter((x) => typeof x === 'string').join(': ')).join('; ')})`;
}
