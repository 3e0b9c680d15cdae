import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from '@jest/globals';
import { tempDir } from '../../harness/process.js';
import { orderIndexByPlatform, readLayout } from '../../src/core/build/layout.js';

const work = tempDir('rollgate-layout-');
afterAll(() => work.remove());

function blob(dir: string, content: string | Buffer): { digest: string; size: number } {
  const bytes = Buffer.isBuffer(content) ? content : Buffer.from(content);
  const hex = createHash('sha256').update(bytes).digest('hex');
  writeFileSync(join(dir, 'blobs', 'sha256', hex), bytes);
  return { digest: `sha256:${hex}`, size: bytes.length };
}

/** An OCI layout with one platform image per architecture, listed in the given order. */
function layout(archs: string[]): string {
  const dir = join(work.path, `layout-${Math.random().toString(36).slice(2)}`);
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  const children = archs.map((arch) => {
    const config = blob(dir, JSON.stringify({ architecture: arch, os: 'linux' }));
    const layer = blob(dir, Buffer.from(`layer for ${arch}`));
    const manifest = blob(
      dir,
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
      }),
    );
    return { mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, platform: { architecture: arch, os: 'linux' } };
  });
  const index = blob(dir, JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: children }));
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.index.v1+json', ...index }] }));
  return dir;
}

describe('OCI layouts', () => {
  test('an index is read with its platform manifests and their compressed size', () => {
    const image = readLayout(layout(['amd64', 'arm64']));
    expect(image.root.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(image.manifests.map((m) => m.descriptor.platform?.architecture)).toEqual(['amd64', 'arm64']);
    expect(image.sizeBytes).toBe(image.manifests.reduce((s, m) => s + m.config.size + m.layers[0]!.size, 0));
  });

  test('platforms that finished in another order give the same index digest once ordered', () => {
    const forward = layout(['amd64', 'arm64']);
    const reversed = layout(['arm64', 'amd64']);
    expect(readLayout(forward).root.digest).not.toBe(readLayout(reversed).root.digest);
    orderIndexByPlatform(forward, ['linux/amd64', 'linux/arm64']);
    expect(orderIndexByPlatform(reversed, ['linux/amd64', 'linux/arm64'])).toBe(true);
    expect(readLayout(reversed).root.digest).toBe(readLayout(forward).root.digest);
    expect(readLayout(reversed).manifests.map((m) => m.descriptor.platform?.architecture)).toEqual(['amd64', 'arm64']);
  });

  test('a corrupt blob is refused rather than pushed', () => {
    const dir = layout(['amd64']);
    const image = readLayout(dir);
    writeFileSync(join(dir, 'blobs', 'sha256', image.manifests[0]!.descriptor.digest.slice(7)), 'tampered');
    expect(() => readLayout(dir)).toThrow(/is corrupt/);
  });
});
