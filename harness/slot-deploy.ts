// A deploy script for the local stack: `deploy <stackDir> <slot> <version>` replaces whatever
// runs in a slot with a fresh sample service of that version (a real process on the slot's
// port, labelled track=<slot>), the way a real deploy replaces a pod or a VM's service.
// `serve …` is that service. Versions behave as `<stackDir>/stack.json` says (error rate,
// latency, readiness, or a deploy that fails).
import { spawn } from 'node:child_process';
import { openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSampleService, type Behaviour } from './sample-service.js';

/** What `<stackDir>/stack.json` holds. */
interface StackFile {
  service: string;
  /** Slot name → port. */
  slots: Record<string, number>;
  /**
   * Version → how it behaves; `deployFails` makes the deploy script exit 1, `deployFailsIn` makes
   * it exit 1 after replacing the process in that slot (a deploy that fails half-way), and
   * `deployDelayMs` makes it slow.
   */
  versions: Record<string, Partial<Behaviour> & { deployFails?: boolean; deployFailsIn?: string; deployDelayMs?: number }>;
  /** The `node --import …` loader that runs TypeScript. */
  loader: string;
}

const [command, ...args] = process.argv.slice(2);

async function deploy(stackDir: string, slot: string, version: string): Promise<void> {
  const stack = JSON.parse(readFileSync(join(stackDir, 'stack.json'), 'utf8')) as StackFile;
  const port = stack.slots[slot];
  if (!port) throw new Error(`no slot named ${slot} (slots: ${Object.keys(stack.slots).join(', ')})`);
  const { deployFails, deployFailsIn, deployDelayMs, ...behaviour } = stack.versions[version] ?? {};
  process.stdout.write(`deploying ${stack.service} ${version} to slot ${slot} (port ${port})\n`);
  if (deployDelayMs) await new Promise((r) => setTimeout(r, deployDelayMs));
  if (deployFails) {
    process.stderr.write(`deploy of ${version} failed: image ${version} cannot be pulled\n`);
    process.exit(1);
  }
  await stopSlot(stackDir, port);
  const log = openSync(join(stackDir, `${slot}.log`), 'a');
  const child = spawn(
    process.execPath,
    ['--import', stack.loader, fileURLToPath(import.meta.url), 'serve', stack.service, slot, version, String(port), JSON.stringify(behaviour)],
    {
      detached: true,
      stdio: ['ignore', log, log],
    },
  );
  child.unref();
  writeFileSync(join(stackDir, `${port}.pid`), String(child.pid));
  // The process is up once it answers liveness; readiness is the rollout's to wait for.
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health/live`)).ok) {
        process.stdout.write(`${version} is running in slot ${slot} (pid ${child.pid})\n`);
        if (deployFailsIn === slot) {
          process.stderr.write(`deploy of ${version} to ${slot} failed after the new process started: health registration timed out\n`);
          process.exit(1);
        }
        return;
      }
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${version} did not start in slot ${slot} within 15s`);
}

/** Stops the process in a slot (by its PID file) and waits until it has exited. */
async function stopSlot(stackDir: string, port: number): Promise<void> {
  // Keyed by port: blue/green are other names for the same two places.
  const pidFile = join(stackDir, `${port}.pid`);
  let pid: number | undefined;
  try {
    pid = Number(readFileSync(pidFile, 'utf8'));
  } catch {
    return;
  }
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    /* already gone */
  }
  rmSync(pidFile, { force: true });
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch {
      alive = false;
    }
    if (!alive) break;
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function serve(service: string, slot: string, version: string, port: string, behaviour: string): Promise<void> {
  const seed = [...`${slot}${version}`].reduce((s, c) => s + c.charCodeAt(0), 0);
  const sample = await startSampleService({ service, track: slot, version, port: Number(port), behaviour: JSON.parse(behaviour) as Partial<Behaviour>, seed });
  const stop = () => void sample.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (command === 'deploy') {
  deploy(args[0] as string, args[1] as string, args[2] as string).catch((err: Error) => {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  });
} else if (command === 'serve') {
  void serve(args[0] as string, args[1] as string, args[2] as string, args[3] as string, args[4] as string);
}
