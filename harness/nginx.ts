import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { startProcess, waitFor, type ManagedProcess } from './process.js';

export interface RunningNginx {
  /** The server every request goes through. */
  url: string;
  /** The master's pid file, as set-weight.sh reads it. */
  pidFile: string;
  /** The prefix and configuration file, for `nginx -p … -c …`. */
  prefix: string;
  conf: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/**
 * Starts a real nginx (Debian's) on loopback, in the foreground, with every path inside `dir`:
 * one server proxying to the upstream defined in `upstreamFile` (included, so a recipe can
 * rewrite it and reload).
 */
export async function startNginx(options: { dir: string; upstream: string; upstreamFile: string }): Promise<RunningNginx> {
  const port = await freePort();
  const { dir } = options;
  const pidFile = join(dir, 'nginx.pid');
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    [
      'worker_processes 1;',
      `pid ${pidFile};`,
      `error_log ${join(dir, 'error.log')} notice;`,
      'events { worker_connections 256; }',
      'http {',
      '  access_log off;',
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${join(dir, `${t}_temp`)};`),
      `  include ${options.upstreamFile};`,
      `  server { listen 127.0.0.1:${port}; location / { proxy_pass http://${options.upstream}; proxy_next_upstream off; } }`,
      '}',
      '',
    ].join('\n'),
  );
  const process = startProcess('nginx', '/usr/sbin/nginx', ['-p', dir, '-c', conf, '-g', 'daemon off;'], { logDir: dir });
  const url = `http://127.0.0.1:${port}`;
  await waitFor('nginx', async () => (await fetch(`${url}/health/live`, { headers: { connection: 'close' } })).status > 0, 10_000, 50).catch((err: Error) => {
    throw new Error(`${err.message}\n${process.log()}`);
  });
  return { url, pidFile, prefix: dir, conf, process, stop: () => process.stop() };
}
