import { readFile, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { ProviderError } from '../errors.js';
import { runCommand } from '../exec.js';
import type { FlagsConfig } from '../plan/schema.js';
import type { FlagExistence, FlagState, KillSwitchProvider, ProviderContext, TurnOffContext } from './provider.js';

type FlagdFileConfig = Extract<FlagsConfig, { provider: 'flagd-file' }>;

/** One flag in a flagd flag definition (https://flagd.dev/reference/flag-definitions/). */
interface FlagdFlag {
  state?: string;
  variants?: Record<string, unknown>;
  defaultVariant?: string;
  targeting?: unknown;
  [key: string]: unknown;
}

interface FlagdDocument {
  flags?: Record<string, FlagdFlag>;
  [key: string]: unknown;
}

const PUSH_ATTEMPTS = 3;

/**
 * A flagd / OpenFeature JSON flag file kept in the repository. Turning a flag off points its
 * default variant at the variant named `off` (or whose value is `false`) and drops its targeting
 * rules, which would otherwise still route users to `on`; a flag without such a variant is set
 * to `state: DISABLED`. The change is committed, and pushed unless `push: false`, so the
 * repository stays the source of truth for teams who deploy flags from Git.
 */
export class FlagdFileKillSwitches implements KillSwitchProvider {
  readonly kind = 'flagd-file' as const;
  readonly environment: string;
  private readonly path: string;

  constructor(
    private readonly config: FlagdFileConfig,
    private readonly context: ProviderContext,
  ) {
    this.environment = config.environment ?? context.planEnvironment;
    this.path = isAbsolute(config.file) ? config.file : resolve(context.cwd ?? process.cwd(), config.file);
  }

  async turnOff(flag: string, context: TurnOffContext): Promise<void> {
    const { doc, text } = await this.read();
    const definition = doc.flags?.[flag];
    if (!definition) throw new ProviderError('flagd-file', `${this.config.file}: flag ${flag} is not defined under "flags"`);
    if (flagState(definition) !== 'off') {
      switchOff(definition);
      await writeFile(this.path, serialise(doc, text));
    }
    // Also when the file already reads off: an earlier attempt may have written it but failed to
    // commit or push, and only the pushed commit turns the flag off for a GitOps deployment.
    await this.commitAndPush(flag, context);
  }

  async readState(flag: string): Promise<FlagState> {
    const { doc } = await this.read();
    const definition = doc.flags?.[flag];
    if (!definition) throw new ProviderError('flagd-file', `${this.config.file}: flag ${flag} is not defined under "flags"`);
    return flagState(definition);
  }

  async exists(flag: string): Promise<FlagExistence> {
    const { doc } = await this.read();
    return doc.flags?.[flag] ? 'exists' : 'missing';
  }

  private async read(): Promise<{ doc: FlagdDocument; text: string }> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new ProviderError('flagd-file', `${this.config.file}: ${code === 'ENOENT' ? 'no such file' : `cannot be read (${code ?? 'unknown error'})`}`);
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw new ProviderError('flagd-file', `${this.config.file}: not valid JSON (${(err as Error).message})`);
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new ProviderError('flagd-file', `${this.config.file}: expected a JSON object with "flags"`);
    return { doc: doc as FlagdDocument, text };
  }

  private async git(args: string[], cwd: string): Promise<{ exitCode: number; stdout: string; stderr: string }> {
    return runCommand(['git', ...args], { cwd, timeoutMs: this.config.timeout * 6, env: { ...process.env, GIT_TERMINAL_PROMPT: '0' } });
  }

  private async mustGit(args: string[], cwd: string): Promise<string> {
    const res = await this.git(args, cwd);
    if (res.exitCode !== 0) throw new ProviderError('flagd-file', `git ${args[0]} failed: ${(res.stderr || res.stdout).trim().split('\n').slice(-3).join(' ')}`);
    return res.stdout.trim();
  }

  private async commitAndPush(flag: string, context: TurnOffContext): Promise<void> {
    const dir = dirname(this.path);
    const top = await this.mustGit(['rev-parse', '--show-toplevel'], dir);
    const file = relative(top, this.path);
    // On a fresh runner git may have no identity; only then supply one, so a configured bot keeps its name.
    const identity = (await this.git(['config', 'user.email'], top)).stdout.trim() ? [] : ['-c', 'user.name=rollgate', '-c', 'user.email=rollgate@users.noreply.github.com'];
    const message = [
      `rollback(${context.service}): turn off kill switch ${flag}`,
      '',
      `Rollback of ${context.service} in ${this.environment}: ${context.reason}`,
      '',
      `The flag's default variant now serves "off" (or the flag is disabled); revert this commit to turn it back on.`,
    ].join('\n');
    const pending = await this.mustGit(['status', '--porcelain', '--', file], top);
    if (pending) {
      await this.mustGit(['add', '--', file], top);
      // Commit only the flag file, whatever else happens to be staged in the checkout.
      await this.mustGit([...identity, 'commit', '--only', '-m', message, '--', file], top);
    }
    if (!this.config.push) return;
    const branch = this.config.branch ?? (await this.git(['symbolic-ref', '--quiet', '--short', 'HEAD'], top)).stdout.trim();
    if (!branch) throw new ProviderError('flagd-file', 'the checkout is on a detached HEAD: set flags.branch to the branch the flag file lives on');
    for (let attempt = 1; ; attempt++) {
      // Pushing what is already there is a no-op, so an idempotent rerun costs one round trip.
      const push = await this.git(['push', 'origin', `HEAD:refs/heads/${branch}`], top);
      if (push.exitCode === 0) return;
      if (attempt >= PUSH_ATTEMPTS)
        throw new ProviderError('flagd-file', `git push to ${branch} failed after ${attempt} attempts: ${push.stderr.trim().split('\n').slice(-2).join(' ')}`);
      // Someone pushed in between: replay the flag commit on top of theirs and try again.
      await this.mustGit([...identity, 'pull', '--rebase', '--autostash', 'origin', branch], top);
      await this.context.clock.sleep(200 * attempt);
    }
  }
}

/** The variant that means "off": one named `off`, else one whose value is `false`. */
function offVariant(definition: FlagdFlag): string | undefined {
  const variants = definition.variants ?? {};
  if ('off' in variants) return 'off';
  return Object.keys(variants).find((name) => variants[name] === false);
}

function hasTargeting(definition: FlagdFlag): boolean {
  const t = definition.targeting;
  if (t === undefined || t === null) return false;
  return !(typeof t === 'object' && Object.keys(t).length === 0);
}

function flagState(definition: FlagdFlag): FlagState {
  if (definition.state === 'DISABLED') return 'off';
  const off = offVariant(definition);
  return off !== undefined && definition.defaultVariant === off && !hasTargeting(definition) ? 'off' : 'on';
}

function switchOff(definition: FlagdFlag): void {
  const off = offVariant(definition);
  if (off === undefined) {
    definition.state = 'DISABLED';
    return;
  }
  definition.defaultVariant = off;
  delete definition.targeting;
}

/** Writes JSON back with the file's own indentation and final newline, so the diff is only the change. */
function serialise(doc: FlagdDocument, original: string): string {
  const indent = /\n([ \t]+)"/.exec(original)?.[1] ?? '  ';
  return `${JSON.stringify(doc, null, indent)}${original.endsWith('\n') ? '\n' : ''}`;
}
