import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { startProcess, tempDir, waitFor, type ManagedProcess } from './process.js';

/** A throwaway PostgreSQL cluster on 127.0.0.1, trusted local connections, stopped by PID. */
export interface PostgresServer {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
  readonly process: ManagedProcess;
  stop(): Promise<void>;
}

/** The newest installed PostgreSQL's bin directory (Debian layout), or undefined. */
export function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], 'bin') : undefined;
}

function postgresIds(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

/**
 * initdb + postgres in a temporary directory with durability off (tests need speed, not
 * crash safety). initdb refuses to run as root, so as root it runs as the `postgres` user.
 */
export async function startPostgresServer(options: { binDir?: string } = {}): Promise<PostgresServer> {
  const bin = options.binDir ?? postgresBinDir();
  if (!bin) throw new Error('PostgreSQL is not installed (Debian package postgresql-15): run scripts/ensure-system-deps.sh');
  const dir = tempDir('rollgate-pg-');
  const ids = postgresIds();
  const data = join(dir.path, 'data');
  const sockets = join(dir.path, 'run');
  mkdirSync(sockets);
  chmodSync(dir.path, 0o755);
  if (ids) {
    chownSync(dir.path, ids.uid, ids.gid);
    chownSync(sockets, ids.uid, ids.gid);
  }
  execFileSync(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--locale=C'], {
    stdio: 'pipe',
    uid: ids?.uid,
    gid: ids?.gid,
  });
  const port = await freePort();
  const proc = startProcess(
    'postgres',
    join(bin, 'postgres'),
    ['-D', data, '-p', String(port), '-k', sockets, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'],
    { logDir: dir.path, uid: ids?.uid, gid: ids?.gid },
  );
  await waitFor(
    `postgres on 127.0.0.1:${port}`,
    async () => {
      if (proc.exited()) throw new Error(`postgres exited: ${proc.log().slice(-500)}`);
      try {
        execFileSync(join(bin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres'], { stdio: 'pipe' });
        return true;
      } catch {
        return false;
      }
    },
    30_000,
    100,
  );
  return {
    host: '127.0.0.1',
    port,
    user: 'postgres',
    database: 'postgres',
    process: proc,
    async stop() {
      // SIGINT is PostgreSQL's "fast shutdown": clients are disconnected, no recovery needed.
      await proc.stop('SIGINT');
      dir.remove();
    },
  };
}
