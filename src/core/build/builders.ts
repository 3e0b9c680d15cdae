import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ProviderError, UserError } from '../errors.js';
import { runCommand, type RunOptions, type RunResult } from '../exec.js';
import { orderIndexByPlatform } from './layout.js';

/** Which program builds the image. */
export type BuilderKind = 'buildah' | 'docker';
/** The `builder` input: a kind, or `auto` to pick what this machine has. */
export type BuilderChoice = BuilderKind | 'auto';

/** Everything a builder needs to turn a context into an OCI layout. */
export interface BuildRequest {
  context: string;
  /** Path of the Dockerfile / Containerfile. */
  file: string;
  buildArgs: readonly string[];
  /** Empty: the builder's own platform. */
  platforms: readonly string[];
  labels: Record<string, string>;
  /** Seconds since the epoch used for every timestamp in the image, so rebuilds match. */
  epoch: number;
  /** Directory the OCI image layout is written to. */
  layoutDir: string;
}

/** A program that builds an image into an OCI layout. */
export interface ImageBuilder {
  readonly kind: BuilderKind;
  build(request: BuildRequest, onLine?: (line: string) => void): Promise<void>;
}

/** Runs one program; replaceable in tests of the selection logic. */
export type CommandRunner = (argv: readonly string[], options?: RunOptions) => Promise<RunResult>;

const BUILD_TIMEOUT_MS = 60 * 60_000;

function commonFlags(request: BuildRequest): string[] {
  const flags: string[] = ['--file', request.file];
  for (const [key, value] of Object.entries(request.labels)) flags.push('--label', `${key}=${value}`);
  for (const arg of request.buildArgs) flags.push('--build-arg', arg);
  return flags;
}

/**
 * The buildah commands for a request: build into local storage under a throw-away name,
 * copy it into the OCI layout, then drop the local copy. Several platforms make a manifest
 * list, pushed with all its images.
 */
export function buildahCommands(request: BuildRequest, localName: string): { build: string[][]; cleanup: string[][] } {
  const multi = request.platforms.length > 1;
  const build = [
    'buildah',
    'build',
    '--timestamp',
    String(request.epoch),
    ...commonFlags(request),
    ...(request.platforms.length ? ['--platform', request.platforms.join(',')] : []),
    ...(multi ? ['--manifest', localName] : ['--tag', localName]),
    request.context,
  ];
  const push = multi
    ? ['buildah', 'manifest', 'push', '--all', localName, `oci:${request.layoutDir}:build`]
    : ['buildah', 'push', localName, `oci:${request.layoutDir}:build`];
  const cleanup = multi ? [['buildah', 'manifest', 'rm', localName]] : [['buildah', 'rmi', localName]];
  return { build: [build, push], cleanup };
}

/**
 * The docker commands for a request: buildx writes the OCI layout directly (this needs a
 * builder with the OCI exporter, such as docker/setup-buildx-action's docker-container
 * driver). Attestations are off, because they would change the digest on every build.
 */
export function dockerCommands(request: BuildRequest): string[][] {
  return [
    [
      'docker',
      'buildx',
      'build',
      ...commonFlags(request),
      ...(request.platforms.length ? ['--platform', request.platforms.join(',')] : []),
      '--provenance=false',
      '--sbom=false',
      '--output',
      `type=oci,dest=${request.layoutDir},tar=false`,
      request.context,
    ],
  ];
}

async function runStep(argv: readonly string[], run: CommandRunner, env: NodeJS.ProcessEnv, onLine?: (line: string) => void): Promise<void> {
  const result = await run(argv, { env, timeoutMs: BUILD_TIMEOUT_MS, onLine: onLine ? (line) => onLine(line) : undefined });
  if (result.exitCode !== 0) {
    const tail = (result.stderr || result.stdout).trim().split('\n').slice(-12).join('\n');
    throw new ProviderError(argv[0]!, `\`${argv.slice(0, 3).join(' ')} …\` failed with exit code ${result.exitCode}${tail ? `:\n${tail}` : ''}`);
  }
}

/** buildah: daemonless, on GitHub's Ubuntu runners; honours STORAGE_DRIVER and BUILDAH_ISOLATION. */
export class BuildahBuilder implements ImageBuilder {
  readonly kind = 'buildah' as const;
  constructor(
    private readonly env: NodeJS.ProcessEnv = process.env,
    private readonly run: CommandRunner = runCommand,
  ) {}
  async build(request: BuildRequest, onLine?: (line: string) => void): Promise<void> {
    const localName = `localhost/rollgate-build-${randomBytes(6).toString('hex')}:build`;
    const { build, cleanup } = buildahCommands(request, localName);
    try {
      for (const argv of build) await runStep(argv, this.run, this.env, onLine);
      // Platforms join buildah's manifest list in the order they finish, so the index digest
      // would change between identical builds: put them in the requested order.
      if (request.platforms.length > 1) orderIndexByPlatform(request.layoutDir, request.platforms);
    } finally {
      for (const argv of cleanup) await this.run(argv, { env: this.env, timeoutMs: 120_000 }).catch(() => undefined);
    }
  }
}

/** docker buildx, where a Docker engine runs. */
export class DockerBuilder implements ImageBuilder {
  readonly kind = 'docker' as const;
  constructor(
    private readonly env: NodeJS.ProcessEnv = process.env,
    private readonly run: CommandRunner = runCommand,
  ) {}
  async build(request: BuildRequest, onLine?: (line: string) => void): Promise<void> {
    // buildx reads SOURCE_DATE_EPOCH for reproducible timestamps.
    const env = { ...this.env, SOURCE_DATE_EPOCH: String(request.epoch) };
    for (const argv of dockerCommands(request)) await runStep(argv, this.run, env, onLine);
  }
}

async function succeeds(argv: readonly string[], run: CommandRunner, env: NodeJS.ProcessEnv): Promise<boolean> {
  try {
    return (await run(argv, { env, timeoutMs: 20_000 })).exitCode === 0;
  } catch {
    return false;
  }
}

/** The builder for a choice; `auto` prefers buildah (no daemon needed), then docker with a running engine. */
export async function selectBuilder(choice: BuilderChoice, env: NodeJS.ProcessEnv = process.env, run: CommandRunner = runCommand): Promise<ImageBuilder> {
  switch (choice) {
    case 'buildah':
      if (!(await succeeds(['buildah', '--version'], run, env))) throw new UserError('input builder: buildah is not installed on this machine (apt-get install buildah)');
      return new BuildahBuilder(env, run);
    case 'docker':
      if (!(await succeeds(['docker', 'buildx', 'version'], run, env))) throw new UserError('input builder: docker buildx is not available on this machine');
      if (!(await succeeds(['docker', 'info', '--format', '{{.ServerVersion}}'], run, env)))
        throw new UserError('input builder: the docker client is installed but no Docker engine answers (is the daemon running?)');
      return new DockerBuilder(env, run);
    case 'auto':
      if (await succeeds(['buildah', '--version'], run, env)) return new BuildahBuilder(env, run);
      if ((await succeeds(['docker', 'buildx', 'version'], run, env)) && (await succeeds(['docker', 'info', '--format', '{{.ServerVersion}}'], run, env)))
        return new DockerBuilder(env, run);
      throw new UserError('input builder: no image builder found (auto looks for buildah, then docker buildx with a running engine): install buildah or set up Docker');
  }
}

/** Parses input `builder`. */
export function parseBuilderChoice(value: string | undefined): BuilderChoice {
  const v = (value ?? 'auto').toLowerCase();
  if (v === 'auto' || v === 'buildah' || v === 'docker') return v;
  throw new UserError(`input builder: expected auto | buildah | docker, got ${JSON.stringify(value)}`);
}

/** A fresh layout directory path under `parent` (the builder creates it). */
export function layoutDirIn(parent: string): string {
  return join(parent, 'oci-layout');
}
