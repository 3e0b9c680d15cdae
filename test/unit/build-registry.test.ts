import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { tempDir } from '../../harness/process.js';
import { ExplicitLastGood, registryClients, verifyRollbackArtifact } from '../../src/core/build/last-good.js';
import { LedgerDeploymentRecords } from '../../src/core/github/index.js';
import { RecordsLastGood } from '../../src/core/rollout/build-and-tag.js';
import { parseChallenge, parseImageName, parseReference, RegistryClient } from '../../src/core/build/registry.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;

describe('image names', () => {
  test.each([
    ['ghcr.io/acme/orders', 'ghcr.io', 'acme/orders'],
    ['orders', 'docker.io', 'library/orders'],
    ['acme/orders', 'docker.io', 'acme/orders'],
    ['127.0.0.1:5000/acme/orders', '127.0.0.1:5000', 'acme/orders'],
    ['localhost/team/app', 'localhost', 'team/app'],
  ])('%s is %s / %s', (image, registry, repository) => {
    expect(parseImageName(image)).toMatchObject({ registry, repository });
  });

  test('a tag or digest in input image is refused: the action chooses the tags', () => {
    expect(() => parseImageName('ghcr.io/acme/orders:latest')).toThrow(/input image: expected a repository without tag or digest/);
    expect(() => parseImageName(`ghcr.io/acme/orders@${DIGEST}`)).toThrow(/input image/);
    expect(() => parseImageName('ghcr.io/Acme/Orders')).toThrow(/lower-case/);
  });

  test('references split into image and tag or digest, ports kept', () => {
    expect(parseReference(`127.0.0.1:5000/acme/orders@${DIGEST}`, 'x')).toMatchObject({ image: { registry: '127.0.0.1:5000', repository: 'acme/orders' }, reference: DIGEST });
    expect(parseReference('127.0.0.1:5000/acme/orders:v1', 'x')).toMatchObject({ image: { repository: 'acme/orders' }, reference: 'v1' });
    expect(() => parseReference('127.0.0.1:5000/acme/orders', 'previous-version')).toThrow(/input previous-version: expected image:tag or image@sha256/);
  });
});

describe('WWW-Authenticate challenges', () => {
  test('a ghcr.io-style Bearer challenge', () => {
    expect(parseChallenge('Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:acme/orders:pull"')).toEqual({
      scheme: 'bearer',
      params: { realm: 'https://ghcr.io/token', service: 'ghcr.io', scope: 'repository:acme/orders:pull' },
    });
  });
  test('a Basic challenge', () => {
    expect(parseChallenge('Basic realm="Registry Realm"')).toEqual({ scheme: 'basic', params: { realm: 'Registry Realm' } });
  });
});

/**
 * A registry that, like ghcr.io and Docker Hub, answers 401 with a Bearer challenge and hands
 * out tokens from a separate realm to clients with the right Basic credentials.
 */
function startTokenRegistry(): Promise<{ server: Server; port: number; tokenRequests: string[] }> {
  const tokenRequests: string[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const port = (server.address() as AddressInfo).port;
    if (url.pathname === '/token') {
      tokenRequests.push(url.search);
      if (req.headers.authorization !== `Basic ${Buffer.from('bot:s3cret-token').toString('base64')}`) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: `tok-${url.searchParams.get('scope')}` }));
      return;
    }
    if (req.headers.authorization !== 'Bearer tok-repository:acme/orders:pull') {
      res
        .writeHead(401, {
          'www-authenticate': `Bearer realm="http://127.0.0.1:${port}/token",service="test-registry",scope="repository:acme/orders:pull"`,
          'content-type': 'application/json',
        })
        .end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
      return;
    }
    if (url.pathname === '/v2/acme/orders/manifests/v1.0.0') {
      res.writeHead(200, { 'docker-content-digest': DIGEST, 'content-type': 'application/vnd.oci.image.manifest.v1+json' }).end();
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}');
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as AddressInfo).port, tokenRequests })));
}

describe('registry look-ups with the bearer token flow', () => {
  let registry: Awaited<ReturnType<typeof startTokenRegistry>>;
  beforeAll(async () => {
    registry = await startTokenRegistry();
  });
  afterAll(() => new Promise<void>((r) => registry.server.close(() => r())));

  test('answers the challenge with the credentials and reads the tag digest', async () => {
    const client = new RegistryClient(parseImageName(`127.0.0.1:${registry.port}/acme/orders`), { credentials: { username: 'bot', password: 's3cret-token' } });
    expect(await client.resolve('v1.0.0')).toEqual({ digest: DIGEST, mediaType: 'application/vnd.oci.image.manifest.v1+json' });
    expect(registry.tokenRequests.at(-1)).toBe('?service=test-registry&scope=repository%3Aacme%2Forders%3Apull');
    // The token is cached: a second look-up asks the token service nothing.
    const before = registry.tokenRequests.length;
    expect(await client.resolve('v9.9.9')).toBeUndefined();
    expect(registry.tokenRequests.length).toBe(before);
  });

  test('wrong credentials are a clear error naming the inputs, with no secret in it', async () => {
    const client = new RegistryClient(parseImageName(`127.0.0.1:${registry.port}/acme/orders`), { credentials: { username: 'bot', password: 'wrong-password' } });
    const err = await client.resolve('v1.0.0').catch((e: Error) => e);
    expect(String(err)).toMatch(/token service http:\/\/127\.0\.0\.1:\d+\/token refused the credentials \(HTTP 401\): check registry-username and registry-password/);
    expect(String(err)).not.toContain('wrong-password');
  });

  test("credentials are never sent to another registry than the image's own", () => {
    const clients = registryClients('ghcr.io', { credentials: { username: 'bot', password: 'x' } });
    const own = clients(parseImageName('ghcr.io/acme/orders')) as unknown as { options: { credentials?: unknown } };
    const other = clients(parseImageName('quay.io/acme/orders')) as unknown as { options: { credentials?: unknown } };
    expect(own.options.credentials).toBeDefined();
    expect(other.options.credentials).toBeUndefined();
  });

  test('the rollback artifact is pinned by digest when the recorded version is a tag that exists', async () => {
    const image = parseImageName(`127.0.0.1:${registry.port}/acme/orders`);
    const clients = registryClients(image.registry, { credentials: { username: 'bot', password: 's3cret-token' } });
    expect(await verifyRollbackArtifact(new ExplicitLastGood('v1.0.0'), 'production', image, clients)).toEqual({
      imageRef: `${image.name}@${DIGEST}`,
      recorded: 'v1.0.0',
      source: 'input previous-version',
    });
    await expect(verifyRollbackArtifact(new ExplicitLastGood('v0.1.0'), 'production', image, clients)).rejects.toThrow(
      /v0\.1\.0 \(last good in production, from input previous-version\) no longer exists/,
    );
  });
});

describe('deployment records as the source of the last good version', () => {
  const dir = tempDir('rollgate-ledger-');
  afterAll(() => dir.remove());

  async function deploy(records: LedgerDeploymentRecords, environment: string, version: string, state: 'success' | 'failure' | 'in_progress') {
    const d = await records.create({ environment, ref: 'abc1234', payload: { version, strategy: 'canary' } });
    await records.setStatus(d.id, { state: 'in_progress' });
    if (state !== 'in_progress') await records.setStatus(d.id, { state });
  }

  test('the newest deployment that ended in success wins; failed, running and other environments do not', async () => {
    const records = new LedgerDeploymentRecords(join(dir.path, 'ledger.json'));
    await deploy(records, 'production', 'img@old', 'success');
    await deploy(records, 'production', 'img@good', 'success');
    await deploy(records, 'staging', 'img@staging', 'success');
    await deploy(records, 'production', 'img@bad', 'failure');
    await deploy(records, 'production', 'img@canary', 'in_progress');
    const source = new RecordsLastGood(records);
    expect(source.description).toBe(`ledger ${join(dir.path, 'ledger.json')}`);
    expect(await source.lastGoodVersion('production')).toBe('img@good');
    expect(await source.lastGoodVersion('qa')).toBeUndefined();
  });

  test('a broken ledger is an error naming the file', async () => {
    const file = join(dir.path, 'broken.json');
    writeFileSync(file, '{ not json');
    await expect(new RecordsLastGood(new LedgerDeploymentRecords(file)).lastGoodVersion('production')).rejects.toThrow(/broken\.json: not a rollgate ledger/);
  });
});
