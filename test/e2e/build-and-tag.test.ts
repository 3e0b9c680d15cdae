import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { requireBinary, tempDir } from '../../harness/process.js';
import { startRegistry, type LocalRegistry } from '../../harness/registry.js';
import { runCommand } from '../../src/core/exec.js';
import { LedgerDeploymentRecords } from '../../src/core/github/index.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bundle = join(root, 'dist/build-and-tag/index.js');
const fixture = join(root, 'test/fixtures/build/app');
const standInDocker = join(root, 'test/fixtures/build/bin');
const haveParts = requireBinary('docker-registry', 'docker-registry') && requireBinary('buildah', 'buildah');
const suite = haveParts ? describe : describe.skip;

/** Reads the runner's GITHUB_OUTPUT file (`name<<delimiter … delimiter` blocks). */
function readOutputs(file: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  for (const m of text.matchAll(/^([\w-]+)<<(\S+)\n([\s\S]*?)\n\2$/gm)) outputs[m[1]!] = m[3]!;
  return outputs;
}

suite('build-and-tag bundle, run the way the runner runs it', () => {
  let registry: LocalRegistry;
  let work: { path: string; remove: () => void };
  let baseEnv: NodeJS.ProcessEnv;
  let run = 0;

  beforeAll(async () => {
    if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run node scripts/build.mjs build-and-tag`);
    registry = await startRegistry();
    work = tempDir('rollgate-build-e2e-');
    const storageConf = join(work.path, 'storage.conf');
    writeFileSync(storageConf, `[storage]\ndriver = "vfs"\ngraphroot = "${work.path}/graph"\nrunroot = "${work.path}/run"\n`);
    baseEnv = {
      PATH: process.env.PATH,
      HOME: work.path,
      CONTAINERS_STORAGE_CONF: storageConf,
      CONTAINERS_REGISTRIES_CONF: registry.registriesConf,
      STORAGE_DRIVER: 'vfs',
      BUILDAH_ISOLATION: 'chroot',
      GITHUB_ACTIONS: 'true',
      GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567',
      GITHUB_REF: 'refs/tags/v2.5.0',
      GITHUB_SERVER_URL: 'https://github.com',
      GITHUB_REPOSITORY: 'acme/orders',
      SOURCE_DATE_EPOCH: '1700000000',
      RUNNER_TEMP: work.path,
    };
  });

  afterAll(async () => {
    await registry?.remove();
    work?.remove();
  });

  async function runBundle(inputs: Record<string, string>, extraEnv: NodeJS.ProcessEnv = {}) {
    run++;
    const outputFile = join(work.path, `output-${run}`);
    const summaryFile = join(work.path, `summary-${run}`);
    writeFileSync(outputFile, '');
    writeFileSync(summaryFile, '');
    const env: NodeJS.ProcessEnv = { ...baseEnv, ...extraEnv, GITHUB_OUTPUT: outputFile, GITHUB_STEP_SUMMARY: summaryFile };
    for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.toUpperCase()}`] = value;
    // From another directory, as the runner starts it: the bundle must not rely on the repository.
    const result = await runCommand(['node', bundle], { cwd: work.path, env, timeoutMs: 120_000 });
    return { ...result, outputs: readOutputs(outputFile), summary: readFileSync(summaryFile, 'utf8') };
  }

  async function registryDigest(repo: string, tag: string): Promise<string | null> {
    const res = await fetch(`${registry.url}/v2/${repo}/manifests/${tag}`, {
      method: 'HEAD',
      headers: { Accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json' },
    });
    return res.status === 200 ? res.headers.get('docker-content-digest') : null;
  }

  test('buildah: pushes the release, sets every output and writes the job summary', async () => {
    const image = `${registry.host}/acme/orders`;
    const res = await runBundle({ image, context: fixture, 'build-args': 'GREETING=hi, e2e', 'floating-tags': 'latest' });
    expect(res.stdout + res.stderr).not.toContain('::error::');
    expect(res.exitCode).toBe(0);
    const digest = await registryDigest('acme/orders', 'v2.5.0');
    expect(digest).toMatch(/^sha256:/);
    expect(res.outputs).toEqual({
      version: '2.5.0',
      tags: `${image}:sha-0123456,${image}:v2.5.0,${image}:latest`,
      digest,
      'image-ref': `${image}@${digest}`,
      'previous-image-ref': '',
      size: expect.stringMatching(/^\d+$/),
      builder: 'buildah',
      pushed: 'true',
    });
    expect(await registryDigest('acme/orders', 'latest')).toBe(digest);
    expect(res.summary).toContain(`| digest | \`${digest}\` |`);
    expect(res.summary).toContain('| builder | buildah |');
  });

  test('without a token, the last good version comes from the ledger in the working directory', async () => {
    const image = `${registry.host}/acme/orders`;
    const good = await registryDigest('acme/orders', 'v2.5.0');
    expect(good).toMatch(/^sha256:/);
    const records = new LedgerDeploymentRecords(join(work.path, '.rollgate/ledger.json'));
    const d = await records.create({ environment: 'production', ref: 'abc', payload: { version: `${image}:v2.5.0`, strategy: 'canary' } });
    await records.setStatus(d.id, { state: 'success' });
    const res = await runBundle({ image, context: fixture, environment: 'production' }, { GITHUB_SHA: 'fedcba9876543210fedcba9876543210fedcba98', GITHUB_REF: 'refs/heads/main' });
    expect(res.stdout + res.stderr).not.toContain('::error::');
    expect(res.outputs['previous-image-ref']).toBe(`${image}@${good}`);
    expect(res.outputs.version).toBe('0.0.0-sha.fedcba9');
  });

  test('docker (buildx) path: the same action through the docker argument vector', async () => {
    const image = `${registry.host}/acme/docker-built`;
    const res = await runBundle({ image, context: fixture, builder: 'docker' }, { PATH: `${standInDocker}:${process.env.PATH}` });
    expect(res.stdout + res.stderr).not.toContain('::error::');
    expect(res.exitCode).toBe(0);
    expect(res.outputs.builder).toBe('docker');
    expect(res.outputs.digest).toBe(await registryDigest('acme/docker-built', 'sha-0123456'));
  });

  test('bad input fails with a plain message naming the input, no stack trace, no outputs', async () => {
    const res = await runBundle({ image: `${registry.host}/acme/orders:latest`, context: fixture });
    expect(res.exitCode).toBe(1);
    expect(res.stdout).toContain('::error::input image: expected a repository without tag or digest');
    expect(res.stdout + res.stderr).not.toMatch(/\n\s+at /);
    expect(res.outputs).toEqual({});
  });

  test('the registry password is masked and never printed', async () => {
    const res = await runBundle({ image: `${registry.host}/acme/masked`, context: fixture, 'registry-username': 'bot', 'registry-password': 'hunter2-very-secret' });
    expect(res.stdout + res.stderr).not.toContain('::error::');
    expect(res.exitCode).toBe(0);
    expect(res.stdout).toContain('::add-mask::hunter2-very-secret');
    expect((res.stdout + res.stderr).replace('::add-mask::hunter2-very-secret', '')).not.toContain('hunter2-very-secret');
    expect(res.summary).not.toContain('hunter2');
  });
});
