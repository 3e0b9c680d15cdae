import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.js';
import { startProcess, tempDir, waitFor, type ManagedProcess } from './process.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** GitHub's REST API description trimmed to the paths rollgate calls (Deployments, the rollout store's git refs and commits). */
export const GITHUB_REST_SPEC = join(root, 'test/fixtures/github/rest-api.openapi.json');

/** A Prism mock server answering from an OpenAPI description and validating every request. */
export interface PrismServer {
  readonly url: string;
  readonly process: ManagedProcess;
  stop(): Promise<void>;
}

/**
 * Starts Prism in mock mode on a free 127.0.0.1 port (~2 s on the trimmed description).
 * Without `--errors`: GitHub's own examples break its schemas in places, and a request
 * that breaks the schema still gets a 4xx with the reason in `sl-violations`.
 */
export async function startPrism(spec: string = GITHUB_REST_SPEC): Promise<PrismServer> {
  const port = await freePort();
  const dir = tempDir('rollgate-prism-');
  const cli = join(root, 'node_modules/@stoplight/prism-cli/dist/index.js');
  const proc = startProcess('prism', process.execPath, [cli, 'mock', '-h', '127.0.0.1', '-p', String(port), spec], { logDir: dir.path });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(
      'prism to listen',
      async () => {
        if (proc.exited()) throw new Error(`prism exited: ${proc.log().slice(-2000)}`);
        // Any HTTP answer means it is up; an unknown path gets a 404 from the router.
        const res = await fetch(`${url}/`, { headers: { accept: 'application/json' } });
        return res.status > 0;
      },
      60_000,
      200,
    );
  } catch (err) {
    await proc.stop();
    dir.remove();
    throw err;
  }
  return {
    url,
    process: proc,
    async stop() {
      await proc.stop();
      dir.remove();
    },
  };
}
