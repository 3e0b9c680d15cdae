import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { startProcess, tempDir, waitFor, type ManagedProcess } from './process.js';

/** A CNCF Distribution registry (Debian `docker-registry`) on a loopback port, open and plain HTTP. */
export interface LocalRegistry {
  readonly port: number;
  /** `127.0.0.1:<port>`, the registry part of image names. */
  readonly host: string;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** A registries.conf marking this registry insecure, for buildah (CONTAINERS_REGISTRIES_CONF). */
  readonly registriesConf: string;
  readonly process: ManagedProcess;
  /** Stops the registry (by PID); its storage stays until `remove`. */
  stop(): Promise<void>;
  /** Starts it again on the same port and storage (after `stop`). */
  restart(): Promise<void>;
  /** Stops it and deletes its storage. */
  remove(): Promise<void>;
}

/**
 * Starts `docker-registry serve` with its own config (the packaged one enables auth and
 * binds :5000) and a temporary storage root, and waits until `/v2/` answers.
 */
export async function startRegistry(options: { binary?: string } = {}): Promise<LocalRegistry> {
  const dir = tempDir('rollgate-registry-');
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const storage = join(dir.path, 'storage');
  mkdirSync(storage);
  const config = join(dir.path, 'config.yml');
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: warn',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${storage}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: ${host}`,
      '  secret: rollgate-test-registry',
      '',
    ].join('\n'),
  );
  const registriesConf = join(dir.path, 'registries.conf');
  writeFileSync(registriesConf, `[[registry]]\nlocation = "${host}"\ninsecure = true\n`);
  const binary = options.binary ?? 'docker-registry';
  let current: ManagedProcess;
  const launch = async (): Promise<void> => {
    current = startProcess('docker-registry', binary, ['serve', config], { logDir: dir.path });
    await waitFor(`docker-registry on ${host}`, async () => {
      if (current.exited()) throw new Error(`docker-registry exited:\n${current.log().slice(-2000)}`);
      const res = await fetch(`http://${host}/v2/`);
      return res.status === 200;
    });
  };
  await launch();
  return {
    port,
    host,
    url: `http://${host}`,
    registriesConf,
    get process() {
      return current;
    },
    stop: () => current.stop(),
    restart: launch,
    async remove() {
      await current.stop();
      dir.remove();
    },
  };
}
