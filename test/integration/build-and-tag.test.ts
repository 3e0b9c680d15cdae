import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { requireBinary, tempDir } from '../../harness/process.js';
import { startRegistry, type LocalRegistry } from '../../harness/registry.js';
import { runCommand } from '../../src/core/exec.js';
import { runAction, MemoryRuntime } from '../../src/core/runtime.js';
import { runBuildAndTagAction } from '../../src/core/rollout/build-and-tag.js';
import { LedgerDeploymentRecords } from '../../src/core/github/index.js';

const fixture = fileURLToPath(new URL('../fixtures/build/app', import.meta.url));
const haveParts = requireBinary('docker-registry', 'docker-registry') && requireBinary('buildah', 'buildah') && requireBinary('skopeo', 'skopeo');
const suite = haveParts ? describe : describe.skip;

const SHA = '4f1c2d3e5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d';
const OTHER_SHA = '9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b';

suite('build-and-tag against a real registry with buildah', () => {
  let registry: LocalRegistry;
  let work: { path: string; remove: () => void };
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    registry = await startRegistry();
    work = tempDir('rollgate-build-test-');
    const storageConf = join(work.path, 'storage.conf');
    writeFileSync(storageConf, `[storage]\ndriver = "vfs"\ngraphroot = "${work.path}/graph"\nrunroot = "${work.path}/run"\n`);
    env = {
      ...process.env,
      CONTAINERS_STORAGE_CONF: storageConf,
      CONTAINERS_REGISTRIES_CONF: registry.registriesConf,
      STORAGE_DRIVER: 'vfs',
      BUILDAH_ISOLATION: 'chroot',
      SOURCE_DATE_EPOCH: '1700000000',
      RUNNER_TEMP: work.path,
      GITHUB_SERVER_URL: 'https://github.com',
      GITHUB_REPOSITORY: 'acme/orders',
    };
  });

  afterAll(async () => {
    await registry?.remove();
    work?.remove();
  });

  /** Runs the action the way the entry does, with a fresh in-memory runtime. */
  async function build(inputs: Record<string, string>) {
    const runtime = new MemoryRuntime({ builder: 'buildah', ...inputs }, env);
    const exit = process.exitCode;
    const result = await runAction('build-and-tag', (rt) => runBuildAndTagAction(rt), runtime);
    process.exitCode = exit;
    return { result, runtime };
  }

  /** A copy of the fixture app whose served file says `text`. */
  function appWith(text: string): string {
    const dir = join(work.path, `app-${Math.random().toString(36).slice(2)}`);
    cpSync(fixture, dir, { recursive: true });
    writeFileSync(join(dir, 'hello.txt'), text);
    return dir;
  }

  async function registryDigest(repo: string, tag: string): Promise<string | undefined> {
    const res = await fetch(`${registry.url}/v2/${repo}/manifests/${tag}`, {
      method: 'HEAD',
      headers: { Accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json' },
    });
    return res.status === 200 ? (res.headers.get('docker-content-digest') ?? undefined) : undefined;
  }

  async function tagList(repo: string): Promise<string[]> {
    const res = await fetch(`${registry.url}/v2/${repo}/tags/list`);
    if (res.status === 404) return [];
    return (((await res.json()) as { tags?: string[] }).tags ?? []).sort();
  }

  test('builds, pushes sha and semver tags, and the registry serves the reported digest with OCI labels', async () => {
    const image = `${registry.host}/acme/orders`;
    const { result, runtime } = await build({ image, context: fixture, sha: SHA, ref: 'refs/tags/v1.4.2' });
    expect(runtime.text()).not.toContain('internal error');
    expect(result).toEqual({ ok: true });
    const digest = runtime.outputs.digest!;
    expect(digest).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(runtime.outputs['image-ref']).toBe(`${image}@${digest}`);
    expect(runtime.outputs.version).toBe('1.4.2');
    expect(runtime.outputs.tags).toBe(`${image}:sha-4f1c2d3,${image}:v1.4.2`);
    expect(await registryDigest('acme/orders', 'sha-4f1c2d3')).toBe(digest);
    expect(await registryDigest('acme/orders', 'v1.4.2')).toBe(digest);
    expect(await registryDigest('acme/orders', digest)).toBe(digest);

    const inspect = await runCommand(['skopeo', 'inspect', '--tls-verify=false', `docker://${image}@${digest}`], { env, timeoutMs: 60_000 });
    expect(inspect.stderr).toBe('');
    const labels = (JSON.parse(inspect.stdout) as { Labels: Record<string, string> }).Labels;
    expect(labels).toMatchObject({
      'org.opencontainers.image.revision': SHA,
      'org.opencontainers.image.version': '1.4.2',
      'org.opencontainers.image.source': 'https://github.com/acme/orders',
      'org.opencontainers.image.created': '2023-11-14T22:13:20Z',
      'org.example.greeting': 'hello',
    });
    expect(runtime.summary).toMatch(/\| builder \| buildah \|/);
    expect(runtime.summary).toMatch(/\| build time \| \d+\.\d s \|/);
    expect(runtime.summary).toMatch(/\| size \| [\d.]+ (B|KiB) \(compressed\) \|/);
  });

  test('rebuilding the same commit is a no-op: same digest, every tag already there', async () => {
    const image = `${registry.host}/acme/orders`;
    const first = await runtime0();
    const { result, runtime } = await build({ image, context: fixture, sha: SHA, ref: 'refs/tags/v1.4.2' });
    expect(result.ok).toBe(true);
    expect(runtime.outputs.digest).toBe(first);
    expect(runtime.summary).toContain('| `sha-4f1c2d3` | immutable | already there (no-op) |');
    expect(runtime.summary).toContain('| `v1.4.2` | immutable | already there (no-op) |');
    expect(runtime.text()).not.toMatch(/uploading blob|pushing /);

    async function runtime0(): Promise<string> {
      const digest = await registryDigest('acme/orders', 'sha-4f1c2d3');
      expect(digest).toBeDefined();
      return digest!;
    }
  });

  test('a different image under an existing immutable tag is refused and the registry is unchanged', async () => {
    const image = `${registry.host}/acme/orders`;
    const before = await registryDigest('acme/orders', 'v1.4.2');
    const tagsBefore = await tagList('acme/orders');
    const { result, runtime } = await build({ image, context: appWith('a different build\n'), sha: SHA, ref: 'refs/tags/v1.4.2', 'floating-tags': 'latest' });
    expect(result.ok).toBe(false);
    expect(result.failure).toMatch(/refusing to move immutable tags of .*acme\/orders: sha-4f1c2d3 already points to sha256:.*; v1\.4\.2 already points to/);
    expect(result.failure).toContain('Nothing was pushed');
    expect(result.failure).not.toMatch(/\n\s+at /);
    expect(runtime.outputs).toEqual({});
    expect(await registryDigest('acme/orders', 'v1.4.2')).toBe(before);
    // Not even the floating tag was written: refusal happens before any upload.
    expect(await tagList('acme/orders')).toEqual(tagsBefore);
  });

  test('a floating tag named explicitly moves to the new build', async () => {
    const image = `${registry.host}/acme/payments`;
    const one = await build({ image, context: appWith('one\n'), sha: SHA, 'floating-tags': 'latest' });
    expect(one.result.ok).toBe(true);
    expect(one.runtime.outputs.version).toBe('0.0.0-sha.4f1c2d3');
    const two = await build({ image, context: appWith('two\n'), sha: OTHER_SHA, 'floating-tags': 'latest' });
    expect(two.result.ok).toBe(true);
    expect(two.runtime.outputs.digest).not.toBe(one.runtime.outputs.digest);
    expect(await registryDigest('acme/payments', 'latest')).toBe(two.runtime.outputs.digest);
    expect(await registryDigest('acme/payments', 'sha-4f1c2d3')).toBe(one.runtime.outputs.digest);
    expect(two.runtime.summary).toMatch(/\| `latest` \| floating \| moved from `sha256:/);
  });

  test('previous-image-ref is the last good digest from the ledger, verified in the registry', async () => {
    const image = `${registry.host}/acme/orders`;
    const good = await registryDigest('acme/orders', 'v1.4.2');
    const ledger = join(work.path, 'ledger.json');
    // Written by the same records module deploy-canary, ramp and rollback use.
    const records = new LedgerDeploymentRecords(ledger);
    const record = async (environment: string, version: string, state: 'success' | 'failure') => {
      const d = await records.create({ environment, ref: SHA, payload: { version, strategy: 'canary' } });
      await records.setStatus(d.id, { state });
    };
    await record('production', `${image}@${good}`, 'success');
    await record('production', `${image}:sha-0000000`, 'failure');
    await record('staging', `${image}:sha-1111111`, 'success');
    const { result, runtime } = await build({ image, context: appWith('next release\n'), sha: OTHER_SHA, environment: 'production', records: 'ledger', ledger });
    expect(result).toEqual({ ok: true });
    expect(runtime.outputs['previous-image-ref']).toBe(`${image}@${good}`);
    expect(runtime.summary).toContain(`\`${image}@${good}\` (from ledger ${ledger}, verified in the registry)`);
  });

  test('a recorded last good version that is gone from the registry fails before anything is built', async () => {
    const image = `${registry.host}/acme/orders`;
    const tagsBefore = await tagList('acme/orders');
    const { result, runtime } = await build({ image, context: appWith('never built\n'), sha: 'abcdef0123456789abcdef0123456789abcdef01', 'previous-version': 'v0.9.0' });
    expect(result.ok).toBe(false);
    expect(result.failure).toMatch(/previous-image-ref: v0\.9\.0 .* no longer exists in .*acme\/orders/);
    expect(runtime.outputs).toEqual({});
    expect(await tagList('acme/orders')).toEqual(tagsBefore);
  });

  test('registry down: a clear error naming the registry, and no outputs claiming success', async () => {
    const image = `${registry.host}/acme/inventory`;
    await registry.stop();
    try {
      const { result, runtime } = await build({ image, context: appWith('offline\n'), sha: SHA });
      expect(result.ok).toBe(false);
      expect(result.failure).toMatch(
        new RegExp(
          `registry ${registry.host.replace(/\./g, '\\.')}: HEAD http://${registry.host.replace(/\./g, '\\.')}/v2/acme/inventory/manifests/sha-4f1c2d3: connection refused`,
        ),
      );
      expect(result.failure).not.toMatch(/internal error|\n\s+at /);
      expect(runtime.outputs).toEqual({});
    } finally {
      await registry.restart();
    }
    expect(await tagList('acme/inventory')).toEqual([]);
  });

  test('several platforms push an image index whose platform images the registry serves, and a rebuild is a no-op', async () => {
    const image = `${registry.host}/acme/multi`;
    const inputs = { image, context: fixture, sha: SHA, platforms: 'linux/amd64,linux/arm64' };
    const { result, runtime } = await build(inputs);
    expect(result).toEqual({ ok: true });
    const digest = runtime.outputs.digest!;
    const res = await fetch(`${registry.url}/v2/acme/multi/manifests/sha-4f1c2d3`, { headers: { Accept: 'application/vnd.oci.image.index.v1+json' } });
    expect(res.headers.get('docker-content-digest')).toBe(digest);
    const index = (await res.json()) as { mediaType: string; manifests: { digest: string; platform: { architecture: string } }[] };
    expect(index.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(index.manifests.map((m) => m.platform.architecture).sort()).toEqual(['amd64', 'arm64']);
    for (const m of index.manifests) expect(await registryDigest('acme/multi', m.digest)).toBe(m.digest);
    // buildah adds platforms to the list in the order they finish: rebuilds must still match.
    for (let i = 0; i < 3; i++) {
      const again = await build(inputs);
      expect(again.result.failure).toBeUndefined();
      expect(again.runtime.outputs.digest).toBe(digest);
      expect(again.runtime.summary).toContain('already there (no-op)');
    }
  });

  test('a push that fails half-way is reported as a failure, and re-running completes it without moving anything', async () => {
    // A pass-through proxy in front of the real registry that refuses the second tag's manifest:
    // the blobs and the first tag land, then the registry "breaks".
    let failing = true;
    const proxy = createServer((req, res) => {
      if (failing && req.method === 'PUT' && /\/manifests\/v7\.0\.0$/.test(req.url ?? '')) {
        req.resume();
        req.on('end', () => res.writeHead(503, { 'content-type': 'application/json' }).end('{"errors":[{"code":"UNAVAILABLE","message":"storage offline"}]}'));
        return;
      }
      const upstream = httpRequest({ host: '127.0.0.1', port: registry.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      upstream.on('error', () => res.writeHead(502).end());
      req.pipe(upstream);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
    try {
      const host = `127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      const inputs = { image: `${host}/acme/half`, context: appWith('half\n'), sha: SHA, ref: 'refs/tags/v7.0.0' };
      const first = await build(inputs);
      expect(first.result.ok).toBe(false);
      expect(first.result.failure).toMatch(/push manifest .*acme\/half:v7\.0\.0: HTTP 503 \(UNAVAILABLE: storage offline\)/);
      expect(first.runtime.outputs).toEqual({});
      expect(await registryDigest('acme/half', 'v7.0.0')).toBeUndefined();

      failing = false;
      const second = await build(inputs);
      expect(second.result).toEqual({ ok: true });
      expect(second.runtime.summary).toContain('| `sha-4f1c2d3` | immutable | already there (no-op) |');
      expect(second.runtime.summary).toContain('| `v7.0.0` | immutable | pushed |');
      expect(await registryDigest('acme/half', 'v7.0.0')).toBe(second.runtime.outputs.digest);
    } finally {
      proxy.close();
    }
  });

  test('push: false builds without touching the registry and still reports the digest', async () => {
    const dir = appWith('local only\n');
    mkdirSync(join(dir, 'sub'));
    const { result, runtime } = await build({ image: '127.0.0.1:1/acme/local', context: dir, sha: SHA, push: 'false' });
    expect(result).toEqual({ ok: true });
    expect(runtime.outputs.pushed).toBe('false');
    expect(runtime.outputs['image-ref']).toMatch(/^127\.0\.0\.1:1\/acme\/local@sha256:[a-f0-9]{64}$/);
    expect(runtime.summary).toContain('not pushed (push: false)');
  });
});
