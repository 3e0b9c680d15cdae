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
}

/**
 * Starts a real HAProxy on loopback with a generated config: one frontend, one roundrobin
 * backend holding `servers`, and the runtime API on a TCP port at admin level.
 */
export async function startHaproxy(options: { dir: string; backend?: string; servers: HaproxyServerSpec[]; name?: string; port?: number; adminPort?: number; unixSocket?: string }): Promise<RunningHaproxy> {
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
    ...options.servers.map((s) => `  server ${s.name} 127.0.0.1:${s.port} weight ${s.weight}`),
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
  return { url: `http://127.0.0.1:${port}`, admin: `127.0.0.1:${adminPort}`, adminPort, backend, process, stop: () => process.stop() };
}
