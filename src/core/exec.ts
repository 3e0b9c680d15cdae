// Commands run here rather than through @actions/exec: a deploy or traffic script that hangs must
// be killed with everything it started (its process group), on a timeout or a cancelled run,
// and the toolkit only kills the direct child, leaving its children holding the slot.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { ProviderError } from './errors.js';

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** Each line of stdout and stderr as it arrives (for streaming into a log group). */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  input?: string;
  signal?: AbortSignal;
}

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

const MAX_CAPTURE = 1024 * 1024;

/** Process groups of the commands running now, so an interrupted action can stop what it started. */
const runningGroups = new Set<number>();

/**
 * Sends `signal` to every command this process started and that is still running, with its
 * whole process group (a deploy script's own children too). SIGTERM first lets a script clean
 * up; `graceMs` later, whatever is left gets SIGKILL. Resolves once none is left, or after that.
 */
export async function stopRunningCommands(signal: NodeJS.Signals = 'SIGTERM', graceMs = 3000): Promise<number> {
  const groups = [...runningGroups];
  for (const pid of groups) signalGroup(pid, signal);
  const deadline = Date.now() + graceMs;
  // The group outlives its leader when a script's children ignore SIGTERM: wait on the group.
  while (groups.some((pid) => signalGroup(pid, 0)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  for (const pid of groups) signalGroup(pid, 'SIGKILL');
  return groups.length;
}

/** Signals a process group (0: only asks whether any member is alive); false when none is. */
function signalGroup(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    if (process.platform !== 'win32') process.kill(-pid, signal);
    else process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs a program with an argument vector (never a shell string). Resolves with the exit code
 * whatever it is; throws a ProviderError when the program cannot start or outlives its timeout,
 * in which case its whole process group is killed.
 */
export function runCommand(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const [file, ...args] = argv;
  if (!file) return Promise.reject(new ProviderError('command', 'empty command'));
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: process.platform !== 'win32',
    });
    const pid = child.pid;
    if (pid !== undefined) runningGroups.add(pid);
    let stdout = '';
    let stderr = '';
    let settled = false;
    const partial = { stdout: '', stderr: '' };
    const kill = () => {
      try {
        if (child.pid && process.platform !== 'win32') process.kill(-child.pid, 'SIGKILL');
        else child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    };
    const timer =
      options.timeoutMs !== undefined
        ? setTimeout(() => {
            kill();
            finish(() => reject(new ProviderError('command', `${file} did not finish within ${Math.round(options.timeoutMs! / 1000)}s and was stopped`)));
          }, options.timeoutMs)
        : undefined;
    const onAbort = () => {
      kill();
      finish(() => reject(new ProviderError('command', `${file} was cancelled`)));
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    function finish(fn: () => void) {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      fn();
    }
    const collect = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      if (stream === 'stdout' && stdout.length < MAX_CAPTURE) stdout += text;
      if (stream === 'stderr' && stderr.length < MAX_CAPTURE) stderr += text;
      if (options.onLine) {
        const lines = (partial[stream] + text).split('\n');
        partial[stream] = lines.pop() ?? '';
        for (const line of lines) options.onLine(line, stream);
      }
    };
    child.stdout.on('data', collect('stdout'));
    child.stderr.on('data', collect('stderr'));
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (pid !== undefined) runningGroups.delete(pid);
      finish(() => reject(new ProviderError('command', err.code === 'ENOENT' ? missing(file, options.cwd) : `${file}: ${err.message}`)));
    });
    child.on('exit', () => {
      if (pid !== undefined) runningGroups.delete(pid);
    });
    child.on('close', (code, signal) => {
      for (const stream of ['stdout', 'stderr'] as const) if (partial[stream] && options.onLine) options.onLine(partial[stream], stream);
      finish(() => resolve({ exitCode: code ?? (signal ? 128 : 1), stdout, stderr }));
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

/**
 * What a spawn ENOENT means: Node reports a missing working directory exactly like a missing
 * program, and "sh: no such program" sends an engineer after the wrong thing.
 */
function missing(file: string, cwd: string | undefined): string {
  if (cwd !== undefined && !existsSync(cwd)) return `the working directory ${cwd} does not exist (the command ${file} was not run)`;
  return `${file}: no such program`;
}
