import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { startProcess, waitFor, type ManagedProcess } from './process.js';
import { connect } from 'node:net';

export interface HaproxyServerSpec {
  name: string;
  port: number;
  /** Initial weight from the config file (0–256). */
  weight: number;
  /** With `healthCheck`: false leaves this server unchecked (always UP for HAProxy). */
  check?: boolean;
}

/** `option httpchk` for the backend: HAProxy probes each server and takes failing ones out. */
export interface HaproxyHealthCheck {
  /** The path probed, e.g. /health/ready; 2xx/3xx is a pass. */
  path: string;
  /** Milliseconds between probes (HAProxy's `inter`); short in tests so DOWN shows quickly. */
  interMs?: number;
  rise?: number;
  fall?: number;
}

export interface RunningHaproxy {
  /** The frontend every request goes through. */
  url: string;
  /** The runtime API address, as a plan's `traffic.admin` names it. */
  admin: string;
  adminPort: number;
  backend: string;
  process: ManagedProcess;
  stop(): Promise<void>;
  /** Sends one runtime API command line (a person at the stats socket), returning the answer. */
  command(line: string): Promise<string>;
  /** HAProxy's status word for a server (UP, DOWN, MAINT, DRAIN, NOLB, `UP 1/2`, …). */
  status(server: string): Promise<string>;
  /** Waits until a server's status is exactly `wanted` (health checks take a few intervals). */
  waitForStatus(server: string, wanted: string, timeoutMs?: number): Promise<void>;
}

/**
 * Starts a real HAProxy on loopback with a generated config: one frontend, one roundrobin
 * backend holding `servers`, and the runtime API on a TCP port at admin level.
 */
export async function startHaproxy(options: {
  dir: string;
  backend?: string;
  servers: HaproxyServerSpec[];
  name?: string;
  port?: number;
  adminPort?: number;
  unixSocket?: string;
  healthCheck?: HaproxyHealthCheck;
}): Promise<RunningHaproxy> {
  const hc = options.healthCheck;
  const backend = options.backend ?? 'orders';
  const [port, adminPort] = [options.port ?? (await freePort()), options.adminPort ?? (await freePort())];
  const config = [
    'global',
    `  stats socket ipv4@127.0.0.1:${adminPort} level admin`,
    ...(options.unixSocket ? [`  stats socket ${options.unixSocket} level admin`] : []),
    '  maxconn 2000',
    'defaults',
    '  mode http',
    '  timeout connect 2s',
    '  timeout client 10s',
    '  timeout server 10s',
    '  option http-server-close',
    'frontend main',
    `  bind 127.0.0.1:${port}`,
    `  default_backend ${backend}`,
    `backend ${backend}`,
    '  balance roundrobin',
    ...(hc ? [`  option httpchk GET ${hc.path}`, `  default-server inter ${hc.interMs ?? 300} fall ${hc.fall ?? 2} rise ${hc.rise ?? 2}`] : []),
    ...options.servers.map((s) => `  server ${s.name} 127.0.0.1:${s.port} weight ${s.weight}${hc && s.check !== false ? ' check' : ''}`),
    '',
  ].join('\n');
  const name = options.name ?? 'haproxy';
  const file = join(options.dir, `${name}.cfg`);
  writeFileSync(file, config);
  const process = startProcess(name, 'haproxy', ['-db', '-f', file], { logDir: options.dir });
  await waitFor(
    'haproxy runtime API',
    () =>
      new Promise<boolean>((resolve) => {
        const s = connect({ host: '127.0.0.1', port: adminPort }, () => {
          s.end('show info\n');
          resolve(true);
        });
        s.on('error', () => resolve(false));
      }),
    10_000,
    50,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n${process.log()}`);
  });
  const status = async (server: string) => {
    const lines = (await runtimeCommand(adminPort, `show stat ${backend} 4 -1`)).split('\n');
    const header = (lines[0] ?? '').replace(/^# /, '').split(',');
    const row = lines.map((l) => l.split(',')).find((r) => r[header.indexOf('svname')] === server);
    return row?.[header.indexOf('status')] ?? 'missing';
  };
  return {
    url: `http://127.0.0.1:${port}`,
    admin: `127.0.0.1:${adminPort}`,
    adminPort,
    backend,
    process,
    stop: () => process.stop(),
    command: (line) => runtimeCommand(adminPort, line),
    status,
    waitForStatus: (server, wanted, timeoutMs = 15_000) => waitFor(`haproxy server ${server} ${wanted}`, async () => (await status(server)) === wanted, timeoutMs, 50),
  };
}

/** One line to HAProxy's runtime API; resolves with its answer. */
function runtimeCommand(adminPort: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let answer = '';
    const s = connect({ host: '127.0.0.1', port: adminPort }, () => s.end(`${line}\n`));
    s.setEncoding('utf8');
    s.on('data', (d: string) => (answer += d));
    s.on('close', () => resolve(answer));
    s.on('error', reject);
  });
}
