import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { stringify } from 'yaml';
import { startHaproxy, type HaproxyHealthCheck, type RunningHaproxy } from './haproxy.js';
import { startLoad, type LoadResult } from './load.js';
import { tempDir } from './process.js';
import { startPrometheus, type PrometheusServer } from './prometheus.js';
import type { Behaviour } from './sample-service.js';
import { runCommand } from '../src/core/exec.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const loader = pathToFileURL(join(repo, 'node_modules/tsx/dist/loader.mjs')).href;
const deployScript = join(repo, 'harness/slot-deploy.ts');

export type VersionBehaviour = Partial<Behaviour> & { deployFails?: boolean; deployFailsIn?: string; deployDelayMs?: number };

/** The command line that runs one of the harness's TypeScript scripts with node, for plans' command templates. */
export function harnessScript(name: string): string {
  return `${process.execPath} --import ${loader} ${join(repo, 'harness', name)}`;
}

/**
 * A whole local target for a rollout: HAProxy in front of a stable and a canary slot, each slot
 * a real sample-service process put there by a deploy script, Prometheus scraping both at 1s,
 * and steady load through HAProxy. Everything listens on 127.0.0.1 free ports.
 */
export interface CanaryStack {
  dir: string;
  service: string;
  haproxy: RunningHaproxy;
  prometheus?: PrometheusServer;
  slots: Record<'stable' | 'canary', number>;
  /** The deploy command template a plan uses for this stack. */
  deployCommand: string;
  /** A plan for this stack; `extra` replaces top-level sections. */
  writePlan(extra?: Record<string, unknown>, name?: string): string;
  /** The version running in a slot now (from its /metrics-free JSON answer), or undefined. */
  versionIn(slot: 'stable' | 'canary'): Promise<string | undefined>;
  /** Changes a running slot's behaviour (error rate, latency, readiness). */
  setBehaviour(slot: 'stable' | 'canary', behaviour: Partial<Behaviour>): Promise<void>;
  stopLoad(): Promise<LoadResult | undefined>;
  stop(): Promise<void>;
}

/** Runs the stack's deploy script directly (the same script the plan's deploy command runs). */
export async function deploySlot(dir: string, slot: string, version: string): Promise<void> {
  const result = await runCommand([process.execPath, '--import', loader, deployScript, 'deploy', dir, slot, version], { timeoutMs: 30_000 });
  if (result.exitCode !== 0) throw new Error(`deploy ${version} to ${slot} failed: ${result.stderr}`);
}

/** Starts the stack with `stableVersion` in the stable slot and nothing in the canary slot yet. */
export async function startCanaryStack(options: {
  versions: Record<string, VersionBehaviour>;
  stableVersion?: string;
  service?: string;
  rps?: number;
  scrapeInterval?: string;
  /** Without Prometheus (and load) the stack starts in well under a second: for tests that judge nothing. */
  metrics?: boolean;
  /** HAProxy health-checks every server (`option httpchk`), e.g. `{ path: '/health/ready' }`. */
  healthCheck?: HaproxyHealthCheck;
  /** A third server in the backend, not part of the rollout, running this version at weight 0 (slot `third`). */
  thirdVersion?: string;
}): Promise<CanaryStack> {
  const dir = tempDir('rollgate-stack-');
  const service = options.service ?? 'orders';
  const slots = { stable: await slotPort(), canary: await slotPort() };
  const third = options.thirdVersion ? await slotPort() : undefined;
  const allPorts = [...Object.values(slots), ...(third ? [third] : [])];
  // Slot processes outlive their deploy script by design; never outlive the test run.
  process.once('exit', () => allPorts.forEach((port) => killSlot(dir.path, port)));
  // blue and green name the same two places, for blue-green plans against this stack.
  const named = { ...slots, blue: slots.stable, green: slots.canary, ...(third ? { third } : {}) };
  writeFileSync(join(dir.path, 'stack.json'), JSON.stringify({ service, slots: named, versions: options.versions, loader }));
  const started: { haproxy?: RunningHaproxy; prometheus?: PrometheusServer; load?: ReturnType<typeof startLoad> } = {};
  const stopAll = async () => {
    const result = await started.load?.stop();
    started.load = undefined;
    await started.prometheus?.stop();
    await started.haproxy?.stop();
    for (const port of allPorts) killSlot(dir.path, port);
    return result;
  };
  try {
    await deploySlot(dir.path, 'stable', options.stableVersion ?? 'v1');
    if (options.thirdVersion) await deploySlot(dir.path, 'third', options.thirdVersion);
    started.haproxy = await startHaproxy({
      dir: dir.path,
      backend: service,
      servers: [
        { name: 'stable', port: slots.stable, weight: 100 },
        { name: 'canary', port: slots.canary, weight: 0 },
        ...(third ? [{ name: 'third', port: third, weight: 0 }] : []),
      ],
      healthCheck: options.healthCheck,
    });
    if (options.metrics !== false)
      started.prometheus = await startPrometheus({
        targets: [`127.0.0.1:${slots.stable}`, `127.0.0.1:${slots.canary}`],
        scrapeInterval: options.scrapeInterval ?? '1s',
        waitForQuery: `http_requests_total{service="${service}",track="stable"}`,
      });
    if (options.metrics !== false) started.load = startLoad(started.haproxy.url, options.rps ?? 50);
  } catch (err) {
    await stopAll();
    dir.remove();
    throw err;
  }
  const haproxy = started.haproxy;
  const prometheusUrl = started.prometheus?.url ?? 'http://127.0.0.1:9';
  const deployCommand = `${process.execPath} --import ${loader} ${deployScript} deploy ${dir.path} {{slot}} {{version}}`;
  return {
    dir: dir.path,
    service,
    haproxy,
    prometheus: started.prometheus,
    slots,
    deployCommand,
    writePlan(extra = {}, name = 'rollout.yml') {
      const plan = {
        service,
        environment: 'local',
        strategy: 'canary',
        traffic: { provider: 'haproxy', admin: haproxy.admin, backend: service, stable: 'stable', canary: 'canary' },
        deploy: { command: deployCommand, timeout: '30s' },
        readiness: { url: `http://127.0.0.1:${slots.canary}/health/ready`, timeout: '10s', interval: '250ms' },
        smoke: [{ name: 'live', url: `http://127.0.0.1:${slots.canary}/health/live`, expectStatus: 200 }],
        metrics: { provider: 'prometheus', address: prometheusUrl },
        analysis: {
          interval: '2s',
          bake: '6s',
          window: '5s',
          minRequests: 5,
          failureLimit: 0,
          onInconclusive: 'fail',
          requests: `sum(increase(http_requests_total{service="${service}",track="{{track}}"}[{{window}}]))`,
          checks: [
            {
              name: 'error-rate',
              query: `sum(rate(http_requests_total{service="${service}",track="{{track}}",status=~"5.."}[{{window}}])) / sum(rate(http_requests_total{service="${service}",track="{{track}}"}[{{window}}]))`,
              max: 0.05,
              maxIncrease: 0.02,
            },
          ],
        },
        steps: [10, 50, 100],
        ...extra,
      };
      const file = join(dir.path, name);
      writeFileSync(file, stringify(plan));
      return file;
    },
    async versionIn(slot) {
      try {
        const res = await fetch(`http://127.0.0.1:${slots[slot]}/`);
        return ((await res.json()) as { version?: string }).version;
      } catch {
        return undefined;
      }
    },
    async setBehaviour(slot, behaviour) {
      const res = await fetch(`http://127.0.0.1:${slots[slot]}/admin/behaviour`, { method: 'POST', body: JSON.stringify(behaviour) });
      if (res.status !== 204) throw new Error(`could not change the ${slot} slot's behaviour: HTTP ${res.status}`);
    },
    stopLoad: async () => {
      const result = await started.load?.stop();
      started.load = undefined;
      return result;
    },
    async stop() {
      await stopAll();
      dir.remove();
    },
  };
}

/**
 * A port for a slot. A slot's port stays unbound between deploys (the canary slot until the
 * first one), so it must not come from the ephemeral range every other `listen(0)` draws from:
 * another test's server could be given it and answer this stack's readiness probes.
 */
async function slotPort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 10_000);
    const free = await new Promise<boolean>((resolve) => {
      const probe = createServer();
      probe.once('error', () => resolve(false));
      probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

/** Kills the sample service on a slot's port by the PID its deploy recorded. */
function killSlot(dir: string, port: number): void {
  const pidFile = join(dir, `${port}.pid`);
  if (!existsSync(pidFile)) return;
  try {
    process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
  } catch {
    /* already gone */
  }
  rmSync(pidFile, { force: true });
}
