import { appendFileSync } from 'node:fs';
import * as core from '@actions/core';
import { describeError, isUserError } from './errors.js';
import { stopRunningCommands } from './exec.js';

/** Where an annotation points: a file and line in the repository. */
export interface AnnotationTarget {
  file?: string;
  line?: number;
  title?: string;
}

/**
 * What an action needs from the world it runs in: inputs, outputs, the job summary, logs,
 * secrets. One implementation speaks the GitHub runner's contract (which also works from a
 * terminal, where GITHUB_OUTPUT and GITHUB_STEP_SUMMARY are unset); tests use `MemoryRuntime`.
 */
export interface ActionRuntime {
  /** The input's trimmed value, or undefined when it is unset or empty. */
  getInput(name: string): string | undefined;
  setOutput(name: string, value: string): void;
  /** Appends Markdown to the job summary (printed to the terminal outside GitHub). */
  appendSummary(markdown: string): void;
  info(message: string): void;
  warning(message: string, target?: AnnotationTarget): void;
  error(message: string, target?: AnnotationTarget): void;
  debug(message: string): void;
  /** Runs `fn` inside a collapsed log group. */
  group<T>(title: string, fn: () => Promise<T>): Promise<T>;
  /** Registers a value that must never appear in logs, summaries or outputs. */
  setSecret(value: string): void;
  /** Replaces every registered secret in `text` with `***`. */
  redact(text: string): string;
  /** Environment variables, for `${VAR}` interpolation in plans. */
  readonly env: NodeJS.ProcessEnv;
  /**
   * Fires when the action is interrupted (SIGINT, SIGTERM: Ctrl-C, a cancelled workflow run).
   * Waits and calls that take it stop; the action then leaves its record in a state the next run
   * understands. Its reason is an `Interrupted` naming the signal.
   */
  readonly signal: AbortSignal;
}

/** Why `ActionRuntime.signal` fired: the process got SIGINT or SIGTERM. */
export class Interrupted extends Error {
  override readonly name = 'Interrupted';
  constructor(readonly received: 'SIGINT' | 'SIGTERM') {
    super(`interrupted by ${received}`);
  }
  /** The exit status a shell expects after this signal: 128 + its number. */
  get exitCode(): number {
    return this.received === 'SIGINT' ? 130 : 143;
  }
}

/** Writes to stdout or stderr that never throw and never stop the action: a reader that went away (`| head -1`) loses lines, nothing else. */
function write(stream: NodeJS.WriteStream, text: string): void {
  if (stream.destroyed || !stream.writable) return;
  try {
    stream.write(text);
  } catch {
    /* best-effort: see ignoreClosedPipes */
  }
}

let pipesGuarded = false;

/**
 * A closed stdout or stderr (EPIPE) is emitted as an 'error' event, which without a listener
 * ends the process — in the middle of a traffic change. Logging is best-effort: the listener
 * swallows the error and the action goes on.
 */
export function ignoreClosedPipes(): void {
  if (pipesGuarded) return;
  pipesGuarded = true;
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
}

/**
 * The pieces of a secret that may be printed on their own: for a URL (a webhook with its token in
 * the path), its password, path and long path or query parts, since servers echo the path they
 * could not serve ("no such hook: /services/…") and a whole-URL mask would not catch that.
 */
export function secretParts(value: string): string[] {
  const parts = [value];
  if (!/^https?:\/\//i.test(value)) return parts;
  try {
    const url = new URL(value);
    if (url.password) parts.push(url.password, decodeURIComponent(url.password));
    const path = `${url.pathname}${url.search}`;
    if (path.length >= 8) parts.push(path, url.pathname);
    const pieces = [...url.pathname.split('/'), ...[...url.searchParams.values()]];
    // Long pieces are the token-like ones; short ones ("services", "v1") would mask ordinary words.
    for (const piece of pieces) if (piece.length >= 16) parts.push(piece);
  } catch {
    /* not a URL after all: the whole value is still masked */
  }
  return [...new Set(parts)];
}

abstract class RedactingRuntime {
  private readonly secrets = new Set<string>();
  setSecret(value: string): void {
    // One-character secrets would redact every occurrence of a letter: the runner ignores them too.
    for (const part of secretParts(value)) if (part.length >= 3) this.secrets.add(part);
  }
  redact(text: string): string {
    let out = text;
    for (const secret of [...this.secrets].sort((a, b) => b.length - a.length)) out = out.split(secret).join('***');
    return out;
  }
}

/** The GitHub runner's contract: INPUT_* variables, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, workflow commands. */
export class RunnerRuntime extends RedactingRuntime implements ActionRuntime {
  readonly env: NodeJS.ProcessEnv;
  private readonly onRunner: boolean;
  private readonly interruption = new AbortController();
  readonly signal = this.interruption.signal;
  constructor(env: NodeJS.ProcessEnv = process.env) {
    super();
    this.env = env;
    this.onRunner = env.GITHUB_ACTIONS === 'true';
  }
  /** Fires `signal` (once; later calls are ignored). */
  interrupt(received: 'SIGINT' | 'SIGTERM'): void {
    if (!this.signal.aborted) this.interruption.abort(new Interrupted(received));
  }
  getInput(name: string): string | undefined {
    const value = this.env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`];
    const trimmed = value?.trim();
    return trimmed ? trimmed : undefined;
  }
  override setSecret(value: string): void {
    super.setSecret(value);
    if (this.onRunner && value) for (const part of secretParts(value)) if (part.length >= 3) core.setSecret(part);
  }
  setOutput(name: string, value: string): void {
    // The runner's contract, whole: the GITHUB_OUTPUT file (the CLI provides one and prints it),
    // else a workflow command on stdout, which @github/local-action also reads.
    core.setOutput(name, this.redact(value));
  }
  appendSummary(markdown: string): void {
    const safe = this.redact(markdown);
    const file = this.env.GITHUB_STEP_SUMMARY;
    if (file) appendFileSync(file, `${safe}\n`);
    else write(process.stdout, `\n${safe}\n`);
  }
  info(message: string): void {
    write(process.stdout, `${this.redact(message)}\n`);
  }
  warning(message: string, target?: AnnotationTarget): void {
    if (this.onRunner) core.warning(this.redact(message), toProperties(target));
    else write(process.stdout, `warning: ${where(target)}${this.redact(message)}\n`);
  }
  error(message: string, target?: AnnotationTarget): void {
    if (this.onRunner) core.error(this.redact(message), toProperties(target));
    else write(process.stderr, `error: ${where(target)}${this.redact(message)}\n`);
  }
  debug(message: string): void {
    if (this.onRunner) core.debug(this.redact(message));
    else if (this.env.ROLLGATE_DEBUG) write(process.stdout, `debug: ${this.redact(message)}\n`);
  }
  async group<T>(title: string, fn: () => Promise<T>): Promise<T> {
    if (!this.onRunner) {
      this.info(`── ${title}`);
      return fn();
    }
    core.startGroup(this.redact(title));
    try {
      return await fn();
    } finally {
      core.endGroup();
    }
  }
}

function toProperties(target?: AnnotationTarget): core.AnnotationProperties | undefined {
  if (!target) return undefined;
  return { file: target.file, startLine: target.line, title: target.title };
}

function where(target?: AnnotationTarget): string {
  if (!target?.file) return '';
  return target.line ? `${target.file}:${target.line}: ` : `${target.file}: `;
}

/** Records everything an action did, for tests of the orchestration without a runner. */
export class MemoryRuntime extends RedactingRuntime implements ActionRuntime {
  readonly outputs: Record<string, string> = {};
  readonly logs: { level: 'info' | 'warning' | 'error' | 'debug'; message: string; target?: AnnotationTarget }[] = [];
  summary = '';
  private readonly interruption = new AbortController();
  readonly signal = this.interruption.signal;
  /** Fires `signal` as SIGINT or SIGTERM would on a real runner. */
  interrupt(received: 'SIGINT' | 'SIGTERM'): void {
    if (!this.signal.aborted) this.interruption.abort(new Interrupted(received));
  }
  constructor(
    private readonly inputs: Record<string, string> = {},
    readonly env: NodeJS.ProcessEnv = {},
  ) {
    super();
  }
  getInput(name: string): string | undefined {
    const trimmed = this.inputs[name]?.trim();
    return trimmed ? trimmed : undefined;
  }
  setOutput(name: string, value: string): void {
    this.outputs[name] = this.redact(value);
  }
  appendSummary(markdown: string): void {
    this.summary += `${this.redact(markdown)}\n`;
  }
  info(message: string): void {
    this.logs.push({ level: 'info', message: this.redact(message) });
  }
  warning(message: string, target?: AnnotationTarget): void {
    this.logs.push({ level: 'warning', message: this.redact(message), target });
  }
  error(message: string, target?: AnnotationTarget): void {
    this.logs.push({ level: 'error', message: this.redact(message), target });
  }
  debug(message: string): void {
    this.logs.push({ level: 'debug', message: this.redact(message) });
  }
  async group<T>(title: string, fn: () => Promise<T>): Promise<T> {
    this.info(`── ${title}`);
    return fn();
  }
  /** Every line the action logged, joined, for assertions. */
  text(): string {
    return this.logs.map((l) => l.message).join('\n');
  }
}

/**
 * `input bake: …` as the CLI user typed it: `--bake: …`. `renamed` maps an input to the flag a
 * CLI command gives it (`backtest-from=from,…`, as the CLI passes it in ROLLGATE_CLI_FLAGS).
 */
export function asFlags(message: string, renamed = ''): string {
  const flags = new Map(
    renamed
      .split(',')
      .filter(Boolean)
      .map((pair) => pair.split('=') as [string, string]),
  );
  return message.replace(/\binput ([a-z][a-z0-9-]*)\b/g, (_, input: string) => `--${flags.get(input) ?? input}`);
}

/** What an action's core function reports back: success decides the exit status. */
export interface ActionResult {
  ok: boolean;
  /** Why the action failed, shown as the step's failure message. */
  failure?: string;
}

/**
 * Runs one action the way every entry does: user errors become a plain failure message,
 * anything else is a bug and keeps its stack trace. Sets the process exit code.
 *
 * On a real runner it also owns the process's edges: a closed stdout never stops the action,
 * and SIGINT/SIGTERM fire `runtime.signal`, stop every command the action started (deploy
 * scripts, kubectl, with their process groups) and end with exit status 130/143 once the
 * action has finished what cannot be left half-done. A second signal exits at once.
 */
export async function runAction(name: string, body: (runtime: ActionRuntime) => Promise<ActionResult>, runtime: ActionRuntime = new RunnerRuntime()): Promise<ActionResult> {
  const release = runtime instanceof RunnerRuntime ? watchProcess(runtime) : undefined;
  let result: ActionResult;
  try {
    result = await body(runtime);
  } catch (err) {
    if (isUserError(err)) {
      // At a terminal an input is a flag: say so in the terms the person typed.
      result = { ok: false, failure: runtime.env.ROLLGATE_CLI === '1' ? asFlags(describeError(err), runtime.env.ROLLGATE_CLI_FLAGS) : describeError(err) };
    } else if (runtime.signal.aborted && err === runtime.signal.reason) {
      result = { ok: false };
    } else {
      const stack = err instanceof Error && err.stack ? err.stack : String(err);
      result = { ok: false, failure: `${name}: internal error (please report it): ${stack}` };
    }
  } finally {
    release?.();
  }
  const interrupted = runtime.signal.aborted && runtime.signal.reason instanceof Interrupted ? runtime.signal.reason : undefined;
  if (interrupted) {
    // Whatever the body made of it, an interrupted action did not finish what it was asked to.
    result = { ok: false, failure: `${name}: ${interrupted.message}${result.failure ? `: ${result.failure}` : ''}` };
    runtime.error(result.failure ?? interrupted.message);
    process.exitCode = interrupted.exitCode;
    return result;
  }
  if (!result.ok) {
    runtime.error(result.failure ?? `${name} failed`);
    process.exitCode = 1;
  }
  return result;
}

/** How long an interrupted action gets to finish what it is doing before the process exits anyway. */
export const INTERRUPT_GRACE_MS = 30_000;

/** Installs the pipe guard and the signal handlers for one action; returns their removal. */
function watchProcess(runtime: RunnerRuntime): () => void {
  ignoreClosedPipes();
  const onSignal = (received: 'SIGINT' | 'SIGTERM') => {
    if (runtime.signal.aborted) {
      // A second Ctrl-C: the person wants out now.
      process.exit(received === 'SIGINT' ? 130 : 143);
    }
    runtime.interrupt(received);
    runtime.info(`${received} received: stopping the commands this action started, then finishing up (send it again to exit at once)`);
    // A signal handler cannot wait: a failure to stop a command is said, never lost.
    stopRunningCommands('SIGTERM').catch((err: unknown) => runtime.warning(`could not stop every command this action started: ${describeError(err)}`));
    setTimeout(() => process.exit(received === 'SIGINT' ? 130 : 143), INTERRUPT_GRACE_MS).unref();
  };
  const onInt = () => onSignal('SIGINT');
  const onTerm = () => onSignal('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return () => {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  };
}
