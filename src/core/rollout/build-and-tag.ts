import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseBuilderChoice, selectBuilder, layoutDirIn, type ImageBuilder } from '../build/builders.js';
import { ExplicitLastGood, registryClients, verifyRollbackArtifact, type LastGoodSource, type VerifiedRollbackArtifact } from '../build/last-good.js';
import { readLayout, type BuiltImage } from '../build/layout.js';
import { publishImage, type TagResult } from '../build/publish.js';
import { parseImageName, type RegistryClientOptions } from '../build/registry.js';
import { buildIdentity, parseSha, type BuildIdentity } from '../build/version.js';
import type { Clock } from '../clock.js';
import { InputError } from '../errors.js';
import { deploymentRecordsFor, effectiveState, type DeploymentRecords } from '../github/index.js';
import { runCommand } from '../exec.js';
import { getBooleanInput, getListInput, getOptionalInput, getRequiredInput } from '../inputs.js';
import type { ActionResult, ActionRuntime } from '../runtime.js';

/** What tests (and callers with their own records) may swap in. */
export interface BuildAndTagDeps {
  builder?: ImageBuilder;
  /** Overrides where the last good version comes from (e.g. GitHub Deployment records). */
  lastGood?: LastGoodSource;
  clock?: Clock;
}

/** The result of one build, as reported in outputs and the summary. */
export interface BuildReport {
  identity: BuildIdentity;
  image: string;
  digest: string;
  imageRef: string;
  sizeBytes: number;
  builder: string;
  buildMs: number;
  pushed: boolean;
  tags: TagResult[];
  previous?: VerifiedRollbackArtifact;
}

/** The `build-and-tag` action: build an immutable, versioned image, push it, and verify the rollback artifact. */
export async function runBuildAndTagAction(runtime: ActionRuntime, deps: BuildAndTagDeps = {}): Promise<ActionResult> {
  const env = runtime.env;
  const image = parseImageName(getRequiredInput(runtime, 'image'));
  const context = resolve(getOptionalInput(runtime, 'context') ?? '.');
  if (!existsSync(context) || !statSync(context).isDirectory()) throw new InputError('context', `${context} is not a directory`);
  const file = resolveDockerfile(context, getOptionalInput(runtime, 'file'));
  const buildArgs = parseBuildArgs(getOptionalInput(runtime, 'build-args'));
  const platforms = getListInput(runtime, 'platforms') ?? [];
  for (const p of platforms)
    if (!/^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/.test(p)) throw new InputError('platforms', `expected os/arch[/variant] such as linux/amd64, got ${JSON.stringify(p)}`);
  const push = getBooleanInput(runtime, 'push', true);
  const username = getOptionalInput(runtime, 'registry-username');
  const password = getOptionalInput(runtime, 'registry-password');
  if (password) runtime.setSecret(password);
  if (Boolean(username) !== Boolean(password)) throw new InputError(username ? 'registry-password' : 'registry-username', 'is required when the other registry credential is set');
  const builderChoice = parseBuilderChoice(getOptionalInput(runtime, 'builder'));
  const environment = getOptionalInput(runtime, 'environment');
  const previousVersion = getOptionalInput(runtime, 'previous-version');

  const sha = parseSha(getOptionalInput(runtime, 'sha') ?? env.GITHUB_SHA ?? (await gitOutput(context, ['rev-parse', 'HEAD'])) ?? missingSha());
  const epoch = await sourceDateEpoch(context, sha, env);
  const identity = buildIdentity({
    sha,
    ref: getOptionalInput(runtime, 'ref') ?? env.GITHUB_REF,
    extraTags: getListInput(runtime, 'tags'),
    floatingTags: getListInput(runtime, 'floating-tags'),
    source: getOptionalInput(runtime, 'source') ?? (env.GITHUB_REPOSITORY ? `${env.GITHUB_SERVER_URL ?? 'https://github.com'}/${env.GITHUB_REPOSITORY}` : undefined),
    createdEpoch: epoch,
  });

  const clientOptions: RegistryClientOptions = {
    credentials: username && password ? { username, password } : undefined,
    insecure: getBooleanInput(runtime, 'insecure-registry', false),
    clock: deps.clock,
  };
  const clientFor = registryClients(image.registry, clientOptions);

  // The rollback artifact is checked first: without one, nothing should be built or pushed.
  let previous: VerifiedRollbackArtifact | undefined;
  const lastGood = deps.lastGood ?? (previousVersion ? new ExplicitLastGood(previousVersion) : environment ? recordsSource(runtime) : undefined);
  if (lastGood) {
    if (!environment && !previousVersion) throw new InputError('environment', 'is required to find the last good version');
    previous = await verifyRollbackArtifact(lastGood, environment ?? '', image, clientFor);
    if (previous) runtime.info(`rollback artifact: ${previous.imageRef} (from ${previous.source}), still in the registry`);
    else runtime.warning(`no good version of ${image.name} is recorded for ${environment} in ${lastGood.description}: previous-image-ref is empty (first deployment?)`);
  }

  const builder = deps.builder ?? (await selectBuilder(builderChoice, env));
  const work = mkdtempSync(join(env.RUNNER_TEMP || tmpdir(), 'rollgate-build-'));
  try {
    const layoutDir = layoutDirIn(work);
    const started = Date.now();
    await runtime.group(`build ${image.name} with ${builder.kind}`, () =>
      builder.build({ context, file, buildArgs, platforms, labels: identity.labels, epoch, layoutDir }, (line) => runtime.info(line)),
    );
    const buildMs = Date.now() - started;
    const built: BuiltImage = readLayout(layoutDir);
    runtime.info(`built ${built.root.digest} in ${(buildMs / 1000).toFixed(1)} s`);

    let tags: TagResult[] = [];
    if (push) {
      tags = await runtime.group(`push ${image.name}`, () =>
        publishImage(clientFor(image), built, { immutable: identity.immutableTags, floating: identity.floatingTags }, (line) => runtime.info(line)),
      );
    } else {
      runtime.info('push: false — the image was built and not pushed');
    }
    const report: BuildReport = {
      identity,
      image: image.name,
      digest: built.root.digest,
      imageRef: `${image.name}@${built.root.digest}`,
      sizeBytes: built.sizeBytes,
      builder: builder.kind,
      buildMs,
      pushed: push,
      tags,
      previous,
    };
    setOutputs(runtime, report);
    runtime.appendSummary(buildSummary(report));
    return { ok: true };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * The last good version from the deployment records the other actions write: GitHub
 * Deployments with a token, the ledger file without (inputs `records`, `github-token`, `ledger`).
 */
export class RecordsLastGood implements LastGoodSource {
  readonly description: string;
  constructor(private readonly records: DeploymentRecords) {
    this.description = records.kind === 'ledger' ? `ledger ${records.location}` : `deployments of ${records.location}`;
  }
  async lastGoodVersion(environment: string): Promise<string | undefined> {
    // Newest first: the first deployment that ended in success is what serves as stable now.
    for (const deployment of await this.records.list(environment))
      if (deployment.payload.version && effectiveState(await this.records.statuses(deployment.id)) === 'success') return deployment.payload.version;
    return undefined;
  }
}

function recordsSource(runtime: ActionRuntime): LastGoodSource | undefined {
  const records = deploymentRecordsFor(runtime);
  return records ? new RecordsLastGood(records) : undefined;
}

function missingSha(): never {
  throw new InputError('sha', 'is required outside GitHub Actions (GITHUB_SHA is unset and the context is not a git checkout)');
}

/** The Dockerfile to use: input `file`, else `Dockerfile` or `Containerfile` in the context. */
function resolveDockerfile(context: string, file: string | undefined): string {
  if (file) {
    const path = resolve(file);
    if (!existsSync(path)) throw new InputError('file', `${file} does not exist`);
    return path;
  }
  for (const name of ['Dockerfile', 'Containerfile']) if (existsSync(join(context, name))) return join(context, name);
  throw new InputError('file', `no Dockerfile or Containerfile in ${context}: set input file`);
}

/** Input `build-args`: one KEY=VALUE per line (values may hold commas). */
export function parseBuildArgs(value: string | undefined): string[] {
  if (!value) return [];
  const args = value
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  for (const arg of args)
    if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(arg))
      throw new InputError('build-args', `expected KEY=VALUE on each line, got ${JSON.stringify(arg.length > 40 ? `${arg.slice(0, 40)}…` : arg)}`);
  return args;
}

async function gitOutput(cwd: string, args: string[]): Promise<string | undefined> {
  try {
    const res = await runCommand(['git', '-C', cwd, ...args], { timeoutMs: 10_000 });
    const out = res.stdout.trim();
    return res.exitCode === 0 && out ? out : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The time stamped into the image: SOURCE_DATE_EPOCH, else the commit's time, else 0. Never
 * the wall clock, so rebuilding a commit yields the same digest and re-running is a no-op.
 */
async function sourceDateEpoch(context: string, sha: string, env: NodeJS.ProcessEnv): Promise<number> {
  const fromEnv = env.SOURCE_DATE_EPOCH?.trim();
  if (fromEnv) {
    if (!/^\d+$/.test(fromEnv)) throw new InputError('SOURCE_DATE_EPOCH', `expected whole seconds since 1970, got ${JSON.stringify(fromEnv)}`);
    return Number(fromEnv);
  }
  const commitTime = await gitOutput(context, ['log', '-1', '--format=%ct', sha]);
  return commitTime && /^\d+$/.test(commitTime) ? Number(commitTime) : 0;
}

function setOutputs(runtime: ActionRuntime, report: BuildReport): void {
  runtime.setOutput('version', report.identity.version);
  runtime.setOutput('tags', [...report.identity.immutableTags, ...report.identity.floatingTags].map((t) => `${report.image}:${t}`).join(','));
  runtime.setOutput('digest', report.digest);
  runtime.setOutput('image-ref', report.imageRef);
  runtime.setOutput('previous-image-ref', report.previous?.imageRef ?? '');
  runtime.setOutput('size', String(report.sizeBytes));
  runtime.setOutput('builder', report.builder);
  runtime.setOutput('pushed', String(report.pushed));
}

/** Bytes for people: 1.2 MB. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

const OUTCOME_TEXT: Record<TagResult['outcome'], string> = { pushed: 'pushed', unchanged: 'already there (no-op)', moved: 'moved' };

/** The job summary: image, tags, digest, size, builder, build time, rollback artifact. */
export function buildSummary(report: BuildReport): string {
  const tagRows = report.pushed
    ? report.tags.map(
        (t) => `| \`${t.tag}\` | ${t.floating ? 'floating' : 'immutable'} | ${t.outcome === 'moved' ? `moved from \`${t.before?.slice(0, 19)}…\`` : OUTCOME_TEXT[t.outcome]} |`,
      )
    : [...report.identity.immutableTags, ...report.identity.floatingTags].map(
        (t) => `| \`${t}\` | ${report.identity.floatingTags.includes(t) ? 'floating' : 'immutable'} | not pushed (push: false) |`,
      );
  return [
    `### build-and-tag: ${report.image} ${report.identity.version}`,
    '',
    '| | |',
    '| --- | --- |',
    `| image | \`${report.image}\` |`,
    `| version | \`${report.identity.version}\` |`,
    `| digest | \`${report.digest}\` |`,
    `| image-ref | \`${report.imageRef}\` |`,
    `| size | ${formatBytes(report.sizeBytes)} (compressed) |`,
    `| builder | ${report.builder} |`,
    `| build time | ${(report.buildMs / 1000).toFixed(1)} s |`,
    `| rollback artifact | ${report.previous ? `\`${report.previous.imageRef}\` (from ${report.previous.source}, verified in the registry)` : 'none recorded'} |`,
    '',
    '| tag | kind | result |',
    '| --- | --- | --- |',
    ...tagRows,
    '',
  ].join('\n');
}
