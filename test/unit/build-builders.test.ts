import { describe, expect, test } from '@jest/globals';
import { buildahCommands, dockerCommands, DockerBuilder, parseBuilderChoice, selectBuilder, type BuildRequest, type CommandRunner } from '../../src/core/build/builders.js';
import type { RunResult } from '../../src/core/exec.js';

const request: BuildRequest = {
  context: '/src/app',
  file: '/src/app/Dockerfile',
  buildArgs: ['GREETING=hi there', 'MODE=prod'],
  platforms: [],
  labels: { 'org.opencontainers.image.revision': 'abc', 'org.opencontainers.image.version': '1.0.0' },
  epoch: 1_700_000_000,
  layoutDir: '/tmp/work/oci-layout',
};

/** A command runner standing in for programs this machine lacks (a Docker engine): exit codes by program. */
function machine(present: Record<string, boolean>): { run: CommandRunner; calls: { argv: readonly string[]; env?: NodeJS.ProcessEnv }[] } {
  const calls: { argv: readonly string[]; env?: NodeJS.ProcessEnv }[] = [];
  const run: CommandRunner = async (argv, options) => {
    calls.push({ argv, env: options?.env });
    const key = argv.slice(0, 2).join(' ');
    const ok = present[key] ?? present[argv[0]!] ?? false;
    const result: RunResult = { exitCode: ok ? 0 : 1, stdout: '', stderr: ok ? '' : `${key}: not available` };
    return result;
  };
  return { run, calls };
}

describe('buildah argument vectors', () => {
  test('single platform: build with a fixed timestamp, labels and build args, then copy into the OCI layout', () => {
    const { build, cleanup } = buildahCommands(request, 'localhost/tmp:build');
    expect(build).toEqual([
      [
        'buildah',
        'build',
        '--timestamp',
        '1700000000',
        '--file',
        '/src/app/Dockerfile',
        '--label',
        'org.opencontainers.image.revision=abc',
        '--label',
        'org.opencontainers.image.version=1.0.0',
        '--build-arg',
        'GREETING=hi there',
        '--build-arg',
        'MODE=prod',
        '--tag',
        'localhost/tmp:build',
        '/src/app',
      ],
      ['buildah', 'push', 'localhost/tmp:build', 'oci:/tmp/work/oci-layout:build'],
    ]);
    expect(cleanup).toEqual([['buildah', 'rmi', 'localhost/tmp:build']]);
  });

  test('several platforms build a manifest list and push all its images', () => {
    const { build, cleanup } = buildahCommands({ ...request, platforms: ['linux/amd64', 'linux/arm64'] }, 'localhost/tmp:build');
    expect(build[0]).toEqual(expect.arrayContaining(['--platform', 'linux/amd64,linux/arm64', '--manifest', 'localhost/tmp:build']));
    expect(build[0]).not.toContain('--tag');
    expect(build[1]).toEqual(['buildah', 'manifest', 'push', '--all', 'localhost/tmp:build', 'oci:/tmp/work/oci-layout:build']);
    expect(cleanup).toEqual([['buildah', 'manifest', 'rm', 'localhost/tmp:build']]);
  });
});

describe('docker buildx argument vectors', () => {
  test('writes an OCI layout directly, without attestations that would change the digest', () => {
    expect(dockerCommands({ ...request, platforms: ['linux/amd64', 'linux/arm64'] })).toEqual([
      [
        'docker',
        'buildx',
        'build',
        '--file',
        '/src/app/Dockerfile',
        '--label',
        'org.opencontainers.image.revision=abc',
        '--label',
        'org.opencontainers.image.version=1.0.0',
        '--build-arg',
        'GREETING=hi there',
        '--build-arg',
        'MODE=prod',
        '--platform',
        'linux/amd64,linux/arm64',
        '--provenance=false',
        '--sbom=false',
        '--output',
        'type=oci,dest=/tmp/work/oci-layout,tar=false',
        '/src/app',
      ],
    ]);
  });

  test('passes SOURCE_DATE_EPOCH so buildx stamps reproducible times', async () => {
    const { run, calls } = machine({ 'docker buildx': true });
    await new DockerBuilder({ PATH: '/usr/bin' }, run).build(request);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.env).toMatchObject({ PATH: '/usr/bin', SOURCE_DATE_EPOCH: '1700000000' });
  });

  test('a failed build names the command, its exit code and the end of its output', async () => {
    const { run } = machine({});
    await expect(new DockerBuilder({}, run).build(request)).rejects.toThrow(/docker: `docker buildx build …` failed with exit code 1:\ndocker buildx: not available/);
  });
});

describe('builder selection', () => {
  test('auto prefers buildah when it is installed', async () => {
    expect((await selectBuilder('auto', {}, machine({ buildah: true, docker: true }).run)).kind).toBe('buildah');
  });

  test('auto falls back to docker when buildah is missing and an engine answers', async () => {
    expect((await selectBuilder('auto', {}, machine({ docker: true }).run)).kind).toBe('docker');
  });

  test('auto with a docker client but no engine and no buildah says what is missing', async () => {
    await expect(selectBuilder('auto', {}, machine({ 'docker buildx': true, 'docker info': false }).run)).rejects.toThrow(/no image builder found/);
  });

  test('docker chosen explicitly without an engine is a clear error', async () => {
    await expect(selectBuilder('docker', {}, machine({ 'docker buildx': true, 'docker info': false }).run)).rejects.toThrow(/no Docker engine answers/);
  });

  test('a builder name outside the list is refused naming the input', () => {
    expect(() => parseBuilderChoice('kaniko')).toThrow(/input builder: expected auto \| buildah \| docker, got "kaniko"/);
    expect(parseBuilderChoice(undefined)).toBe('auto');
    expect(parseBuilderChoice('Docker')).toBe('docker');
  });
});
