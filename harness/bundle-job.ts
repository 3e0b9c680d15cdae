import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from './process.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
let jobs = 0;

export interface BundleJob {
  /** Exit status; for a process ended by a signal, 128 + its number as a shell reports it. */
  code: number;
  /** stdout and stderr, interleaved as they arrived (only what was read before an early close). */
  output: string;
  outputs: Record<string, string>;
  summary: string;
}

/**
 * Runs one bundled action (`node dist/<name>/index.js`) as a job of its own on a fresh runner:
 * its own GITHUB_RUN_ID, an empty ROLLGATE_STATE_DIR and a fresh working directory, so nothing an
 * earlier step left on disk can help it. `runner: false` runs it as the CLI does (no GITHUB_*:
 * outputs and the summary go to stdout); `cli` starts it through `rollgate <action>` itself. `closeStdoutAfterFirstLine` is `| head -1`: the reader
 * goes away after one line. `started` gets the child, to signal it.
 */
export function runBundleJob(
  name: string,
  inputs: Record<string, string>,
  options: { env?: NodeJS.ProcessEnv; runner?: boolean; cli?: boolean; closeStdoutAfterFirstLine?: boolean; started?: (child: ChildProcess) => void } = {},
): Promise<BundleJob> {
  const job = ++jobs;
  const dir = tempDir(`rollgate-job-${name}-`);
  const cwd = join(dir.path, 'work');
  mkdirSync(cwd);
  const outputFile = join(dir.path, 'output');
  const summaryFile = join(dir.path, 'summary');
  writeFileSync(outputFile, '');
  writeFileSync(summaryFile, '');
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('GITHUB_') && !k.startsWith('INPUT_') && !k.startsWith('ROLLGATE_')) env[k] = v;
  Object.assign(env, {
    ROLLGATE_STATE_DIR: join(dir.path, 'state'),
    ROLLGATE_LEDGER: join(dir.path, 'ledger.json'),
    ...(options.runner === false
      ? {}
      : {
          GITHUB_ACTIONS: 'true',
          GITHUB_OUTPUT: outputFile,
          GITHUB_STEP_SUMMARY: summaryFile,
          GITHUB_RUN_ID: String(90_000 + job + process.pid * 100),
          GITHUB_REPOSITORY: 'acme/orders',
        }),
    ...options.env,
  });
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.toUpperCase()}`] = v;
  return new Promise((done) => {
    // `cli`: through `rollgate <action>` (dist/cli), which dispatches to the same bundle.
    const argv = options.cli ? [join(repo, 'dist', 'cli', 'index.js'), name] : [join(repo, 'dist', name, 'index.js')];
    const child = spawn(process.execPath, argv, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => {
      output += c.toString();
      // Closing the read end is what `head -1` does once it has its line: the next write gets EPIPE.
      if (options.closeStdoutAfterFirstLine && output.includes('\n')) child.stdout.destroy();
    });
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    options.started?.(child);
    child.on('close', (code, signal) => {
      const outputs: Record<string, string> = {};
      const text = readFileSync(outputFile, 'utf8');
      for (const m of text.matchAll(/^([\w-]+)<<(\S+)\n([\s\S]*?)\n\2$/gm)) outputs[m[1] as string] = m[3] as string;
      const summary = readFileSync(summaryFile, 'utf8');
      dir.remove();
      done({ code: code ?? (signal === 'SIGINT' ? 130 : signal === 'SIGTERM' ? 143 : 1), output, outputs, summary });
    });
  });
}
