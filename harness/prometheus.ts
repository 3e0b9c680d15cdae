import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { startProcess, tempDir, waitFor, type ManagedProcess } from './process.js';

/** A real Prometheus on a loopback port with its own temporary TSDB. */
export interface PrometheusServer {
  readonly url: string;
  readonly port: number;
  readonly process: ManagedProcess;
  /** The TSDB directory (blocks written by promtool go here before start). */
  readonly dataDir: string;
  /** Stops Prometheus by PID; the temporary directory is removed unless it was given. */
  stop(): Promise<void>;
}

export interface StartPrometheusOptions {
  /** `host:port` targets scraped at /metrics. */
  targets?: string[];
  /** Scrape and rule evaluation interval, e.g. `1s`. */
  scrapeInterval?: string;
  /** A TSDB directory to serve (e.g. blocks made by `createBlocks`); a temporary one otherwise. */
  dataDir?: string;
  /** Waits until this query returns at least one series before resolving. */
  waitForQuery?: string;
  port?: number;
}

/** Starts `prometheus` scraping `targets`, waits for `/-/ready` (and optionally data), and returns it. */
export async function startPrometheus(options: StartPrometheusOptions = {}): Promise<PrometheusServer> {
  const dir = tempDir('rollgate-prometheus-');
  const dataDir = options.dataDir ?? join(dir.path, 'data');
  mkdirSync(dataDir, { recursive: true });
  const port = options.port ?? (await freePort());
  const interval = options.scrapeInterval ?? '1s';
  const config = [
    'global:',
    `  scrape_interval: ${interval}`,
    `  evaluation_interval: ${interval}`,
    'scrape_configs:',
    '  - job_name: services',
    `    scrape_timeout: ${interval}`,
    '    static_configs:',
    `      - targets: [${(options.targets ?? []).map((t) => `'${t}'`).join(', ')}]`,
    '',
  ].join('\n');
  const configFile = join(dir.path, 'prometheus.yml');
  writeFileSync(configFile, config);
  const proc = startProcess(
    'prometheus',
    'prometheus',
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${dataDir}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.enable-lifecycle',
      // Blocks made by promtool may be old; keep them.
      '--storage.tsdb.retention.time=3650d',
      '--log.level=warn',
    ],
    { logDir: dir.path, cwd: dir.path },
  );
  const url = `http://127.0.0.1:${port}`;
  const server: PrometheusServer = {
    url,
    port,
    process: proc,
    dataDir,
    async stop() {
      await proc.stop();
      if (!options.dataDir) dir.remove();
    },
  };
  try {
    await waitFor(`prometheus on ${url}/-/ready`, async () => {
      if (proc.exited()) throw new Error(`prometheus exited: ${proc.log().slice(-500)}`);
      return (await fetch(`${url}/-/ready`)).ok;
    });
    if (options.waitForQuery) await waitForSeries(url, options.waitForQuery);
  } catch (err) {
    await server.stop();
    throw err;
  }
  return server;
}

/** Polls an instant query until it returns at least one series with a number (first scrapes take seconds). */
export async function waitForSeries(url: string, query: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(
    `a value for ${query}`,
    async () => {
      const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(query)}`);
      const body = (await res.json()) as { data?: { result?: { value?: [number, string] }[] } };
      const first = body.data?.result?.[0]?.value?.[1];
      return first !== undefined && Number.isFinite(Number(first));
    },
    timeoutMs,
    250,
  );
}

/** Writes TSDB blocks for an OpenMetrics text (ending in `# EOF`) into `dataDir` with promtool. */
export function createBlocks(openMetrics: string, dataDir: string): void {
  mkdirSync(dataDir, { recursive: true });
  const input = join(dataDir, '..', `input-${Date.now()}.om`);
  writeFileSync(input, openMetrics.endsWith('# EOF\n') ? openMetrics : `${openMetrics.trimEnd()}\n# EOF\n`);
  execFileSync('promtool', ['tsdb', 'create-blocks-from', 'openmetrics', '--quiet', input, dataDir], { stdio: 'pipe' });
}
