import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.js';
import { startPostgresServer, type PostgresServer } from './postgres-server.js';
import { startProcess, tempDir, waitFor, type ManagedProcess } from './process.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** A real Unleash server on a throwaway PostgreSQL, with an admin and a client API token. */
export interface UnleashServer {
  readonly url: string;
  /** Admin API token (`Authorization` header as is). */
  readonly adminToken: string;
  /** Client API token for the `production` environment. */
  readonly clientToken: string;
  readonly process: ManagedProcess;
  /** Creates a kill-switch flag in the default project. */
  createFlag(name: string): Promise<void>;
  /** Turns a flag on in an environment. */
  enable(name: string, environment: string): Promise<void>;
  /** Reads `environments[].enabled` from the Admin API. */
  adminState(name: string, environment: string): Promise<boolean | undefined>;
  /** Reads `enabled` from the client API, the way SDKs see it (production token). */
  clientState(name: string): Promise<boolean | undefined>;
  stop(): Promise<void>;
}

// Started from a file inside the install folder so `import 'unleash-server'` resolves there.
const STARTER = `import { start } from 'unleash-server';
const env = process.env;
await start({
  db: { host: '127.0.0.1', port: Number(env.ROLLGATE_PG_PORT), user: 'postgres', password: '', database: 'postgres', ssl: false },
  server: { host: '127.0.0.1', port: Number(env.ROLLGATE_UNLEASH_PORT) },
  authentication: {
    type: 'open-source',
    createAdminUser: false,
    initApiTokens: [
      { environment: '*', projects: ['*'], secret: env.ROLLGATE_UNLEASH_ADMIN_TOKEN, type: 'admin', tokenName: 'rollgate-admin' },
      { environment: 'production', projects: ['*'], secret: env.ROLLGATE_UNLEASH_CLIENT_TOKEN, type: 'client', tokenName: 'rollgate-client' },
    ],
  },
  telemetry: false,
  versionCheck: { enable: false },
  logLevel: 'warn',
});
`;

/** Installs unleash-server into its own folder if needed (scripts/ensure-unleash.sh) and returns that folder. */
export function ensureUnleashInstalled(): string {
  return execFileSync('bash', [join(root, 'scripts/ensure-unleash.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 600_000 }).trim();
}

/** Starts PostgreSQL and Unleash; resolves once `/health` answers. */
export async function startUnleash(): Promise<UnleashServer> {
  const installDir = ensureUnleashInstalled();
  const starter = join(installDir, 'start-rollgate.mjs');
  writeFileSync(starter, STARTER);
  const pg: PostgresServer = await startPostgresServer();
  const logs = tempDir('rollgate-unleash-');
  const port = await freePort();
  const adminToken = '*:*.rollgate-admin-token-for-tests';
  const clientToken = '*:production.rollgate-client-token-for-tests';
  const proc = startProcess('unleash', process.execPath, [starter], {
    cwd: installDir,
    logDir: logs.path,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'production',
      ROLLGATE_PG_PORT: String(pg.port),
      ROLLGATE_UNLEASH_PORT: String(port),
      ROLLGATE_UNLEASH_ADMIN_TOKEN: adminToken,
      ROLLGATE_UNLEASH_CLIENT_TOKEN: clientToken,
    },
  });
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await proc.stop();
    await pg.stop();
    logs.remove();
  };
  try {
    await waitFor(
      `unleash on ${url}`,
      async () => {
        if (proc.exited()) throw new Error(`unleash exited: ${proc.log().slice(-1500)}`);
        const res = await fetch(`${url}/health`).catch(() => undefined);
        return res?.ok === true;
      },
      90_000,
      250,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  const admin = async (method: string, path: string, body?: unknown): Promise<Response> => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { Authorization: adminToken, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok && res.status !== 404) throw new Error(`unleash ${method} ${path}: ${res.status} ${await res.text()}`);
    return res;
  };
  return {
    url,
    adminToken,
    clientToken,
    process: proc,
    async createFlag(name) {
      await admin('POST', '/api/admin/projects/default/features', { name, type: 'kill-switch' });
    },
    async enable(name, environment) {
      await admin('POST', `/api/admin/projects/default/features/${name}/environments/${environment}/on`);
    },
    async adminState(name, environment) {
      const res = await admin('GET', `/api/admin/projects/default/features/${name}`);
      if (res.status === 404) return undefined;
      const feature = (await res.json()) as { environments?: { name: string; enabled: boolean }[] };
      return feature.environments?.find((e) => e.name === environment)?.enabled;
    },
    async clientState(name) {
      const res = await fetch(`${url}/api/client/features/${name}`, { headers: { Authorization: clientToken } });
      if (res.status === 404) return undefined;
      if (!res.ok) throw new Error(`unleash client API: ${res.status} ${await res.text()}`);
      return ((await res.json()) as { enabled?: boolean }).enabled;
    },
    stop,
  };
}
