import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A server process started for a test, the demo or a benchmark; stopped by PID. */
export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Everything the process printed so far (stdout and stderr). */
  log(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
  exited(): boolean;
}

const running = new Set<ManagedProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Leave nothing behind, even when a test run is interrupted.
  process.once('exit', () => {
    for (const p of running) {
      try {
        process.kill(-p.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  });
}

/** A fresh temporary directory, removed by the returned function. */
export function tempDir(prefix = 'rollgate-'): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Starts `command args` in its own process group, logging to a file in `logDir`. */
export function startProcess(
  name: string,
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; logDir: string; uid?: number; gid?: number },
): ManagedProcess {
  installExitHook();
  const logFile = join(options.logDir, `${name}.log`);
  const out = createWriteStream(logFile);
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    uid: options.uid,
    gid: options.gid,
  });
  child.stdout?.pipe(out, { end: false });
  child.stderr?.pipe(out, { end: false });
  if (!child.pid) throw new Error(`${name}: could not start ${command}`);
  let exited = false;
  const exitedPromise = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  child.once('error', () => (exited = true));
  const managed: ManagedProcess = {
    name,
    pid: child.pid,
    child,
    log: () => {
      try {
        return readFileSync(logFile, 'utf8');
      } catch {
        return '';
      }
    },
    exited: () => exited,
    async stop(signal = 'SIGTERM') {
      running.delete(managed);
      if (exited) return;
      try {
        process.kill(-child.pid!, signal);
      } catch {
        return;
      }
      const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 5000).unref());
      if ((await Promise.race([exitedPromise, timeout])) === 'timeout') {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          /* gone */
        }
        await exitedPromise;
      }
      out.end();
    },
  };
  running.add(managed);
  return managed;
}

/** Polls `probe` until it resolves true, or throws with `what` after `timeoutMs`. */
export async function waitFor(what: string, probe: () => Promise<boolean>, timeoutMs = 20_000, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await probe()) return;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${(lastError as Error).message})` : ''}`);
}

/** Whether a binary is on PATH (or an absolute path that exists). */
export function haveBinary(command: string): boolean {
  const paths = command.startsWith('/') ? [command] : (process.env.PATH ?? '').split(':').map((d) => join(d, command));
  return paths.some((p) => {
    try {
      readFileSync(p, { flag: 'r' });
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * For tests that need a real server: under CI a missing binary is a failure, never a skip.
 * Elsewhere the test is skipped with the reason printed.
 */
export function requireBinary(command: string, pkg: string): boolean {
  if (haveBinary(command)) return true;
  if (process.env.CI === 'true') throw new Error(`${command} is missing (Debian package ${pkg}): run scripts/ensure-system-deps.sh`);
  process.stderr.write(`skipping: ${command} not installed (Debian package ${pkg})\n`);
  return false;
}
