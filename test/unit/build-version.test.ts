import { describe, expect, test } from '@jest/globals';
import { buildIdentity, isValidTag, parseSha, semverFromRef } from '../../src/core/build/version.js';
import { parseBuildArgs } from '../../src/core/rollout/build-and-tag.js';
import { InputError } from '../../src/core/errors.js';

const SHA = 'ABCDEF0123456789abcdef0123456789abcdef01';

describe('semverFromRef', () => {
  test.each([
    ['refs/tags/v1.2.3', '1.2.3'],
    ['refs/tags/1.2.3', '1.2.3'],
    ['v2.0.0-rc.1', '2.0.0-rc.1'],
    ['refs/tags/v1.2.3+build.7', '1.2.3+build.7'],
  ])('%s is release %s', (ref, version) => expect(semverFromRef(ref)).toBe(version));

  test.each(['refs/heads/main', 'refs/heads/v1.2.3', 'refs/tags/release-5', 'refs/tags/v1.2', 'refs/tags/v01.2.3', 'refs/pull/7/merge', undefined])('%s is not a release', (ref) =>
    expect(semverFromRef(ref)).toBeUndefined(),
  );
});

describe('buildIdentity', () => {
  test('a branch build is version 0.0.0-sha.<short> with only the sha tag', () => {
    const id = buildIdentity({ sha: SHA, ref: 'refs/heads/main', createdEpoch: 0 });
    expect(id.version).toBe('0.0.0-sha.abcdef0');
    expect(id.immutableTags).toEqual(['sha-abcdef0']);
    expect(id.floatingTags).toEqual([]);
    expect(id.labels).toEqual({
      'org.opencontainers.image.revision': SHA.toLowerCase(),
      'org.opencontainers.image.version': '0.0.0-sha.abcdef0',
      'org.opencontainers.image.created': '1970-01-01T00:00:00Z',
    });
  });

  test('a semver tag build adds vX.Y.Z and labels source, version and created', () => {
    const id = buildIdentity({ sha: SHA, ref: 'refs/tags/v3.1.4', createdEpoch: 1_700_000_000, source: 'https://github.com/acme/orders' });
    expect(id.version).toBe('3.1.4');
    expect(id.immutableTags).toEqual(['sha-abcdef0', 'v3.1.4']);
    expect(id.labels['org.opencontainers.image.source']).toBe('https://github.com/acme/orders');
    expect(id.labels['org.opencontainers.image.created']).toBe('2023-11-14T22:13:20Z');
  });

  test('semver build metadata becomes a legal tag', () => {
    expect(buildIdentity({ sha: SHA, ref: 'refs/tags/v1.0.0+exp.sha.5114f85', createdEpoch: 0 }).immutableTags).toContain('v1.0.0_exp.sha.5114f85');
  });

  test('extra tags are immutable unless named as floating', () => {
    const id = buildIdentity({ sha: SHA, extraTags: ['stable-2026', 'latest'], floatingTags: ['latest', 'main'], createdEpoch: 0 });
    expect(id.immutableTags).toEqual(['sha-abcdef0', 'stable-2026']);
    expect(id.floatingTags).toEqual(['latest', 'main']);
  });

  test('a version tag can never be made floating', () => {
    expect(() => buildIdentity({ sha: SHA, ref: 'refs/tags/v1.0.0', floatingTags: ['v1.0.0'], createdEpoch: 0 })).toThrow(
      /input floating-tags: v1\.0\.0 is this build's version tag and can never float/,
    );
    expect(() => buildIdentity({ sha: SHA, floatingTags: ['sha-abcdef0'], createdEpoch: 0 })).toThrow(InputError);
  });

  test('invalid tags are refused naming the input', () => {
    expect(() => buildIdentity({ sha: SHA, extraTags: ['-bad'], createdEpoch: 0 })).toThrow(/input tags: "-bad" is not a valid image tag/);
    expect(() => buildIdentity({ sha: SHA, floatingTags: ['has space'], createdEpoch: 0 })).toThrow(/input floating-tags/);
    expect(isValidTag('a'.repeat(128))).toBe(true);
    expect(isValidTag('a'.repeat(129))).toBe(false);
  });

  test('a malformed sha is refused naming the input', () => {
    expect(() => parseSha('not-a-sha')).toThrow(/input sha: expected a git commit SHA/);
    expect(parseSha('ABCDEF0')).toBe('abcdef0');
  });
});

describe('parseBuildArgs', () => {
  test('one KEY=VALUE per line, commas kept in values', () => {
    expect(parseBuildArgs('GREETING=hi, there\n\n  NODE_ENV=production  ')).toEqual(['GREETING=hi, there', 'NODE_ENV=production']);
  });
  test('a line without KEY= is refused naming the input', () => {
    expect(() => parseBuildArgs('=oops')).toThrow(/input build-args: expected KEY=VALUE on each line, got "=oops"/);
  });
});
