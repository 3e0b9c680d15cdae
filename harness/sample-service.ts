import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Histogram, Registry } from 'prom-client';

/** How a sample release behaves; changeable while it runs. */
export interface Behaviour {
  /** Share of requests answered 500, 0–1. */
  errorRate: number;
  /** Mean latency in ms; each request takes latencyMs × (0.5…1.5). */
  latencyMs: number;
  /** Whether /health/ready answers 200. */
  ready: boolean;
  /**
   * σ of log latency: when set, latency is lognormal with median latencyMs (0.5: p99 ≈ 3.2 ×
   * the median), the shape real request latencies have; otherwise latencyMs × (0.5…1.5).
   */
  latencySpread?: number;
  /**
   * Whether the 500 series exists (at 0) before the first error. Many real apps do not
   * initialise it: then a 5xx ratio has no series at all until something fails.
   */
  zeroErrorSeries?: boolean;
}

export interface SampleService {
  readonly port: number;
  readonly url: string;
  readonly track: string;
  readonly version: string;
  behaviour: Behaviour;
  /** Requests served since start (all paths but /metrics and /health). */
  served(): number;
  close(): Promise<void>;
}

/**
 * A real HTTP service instrumented with prom-client, standing in for one release of an app:
 * `http_requests_total{service,track,version,status}` and `http_request_duration_seconds`.
 * Its error rate, latency and readiness are set by the test (or `POST /admin/behaviour`).
 */
export async function startSampleService(options: {
  service?: string;
  track: string;
  version: string;
  port?: number;
  behaviour?: Partial<Behaviour>;
  /** Seeded so two runs make the same sequence of errors and latencies. */
  seed?: number;
  /** Create the 500 series at 0 at start (default), or only at the first 5xx, as most apps do. */
  precreateErrorSeries?: boolean;
}): Promise<SampleService> {
  const service = options.service ?? 'orders';
  const registry = new Registry();
  const labels = { service, track: options.track, version: options.version };
  const requests = new Counter({ name: 'http_requests_total', help: 'Requests served', labelNames: ['service', 'track', 'version', 'status'], registers: [registry] });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Request latency',
    labelNames: ['service', 'track', 'version'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 2.5, 5],
    registers: [registry],
  });
  // With both status series from the start a 5xx ratio is 0 rather than "no data"; apps that
  // create a series at its first event are what `precreateErrorSeries: false` stands for.
  requests.inc({ ...labels, status: '200' }, 0);
  if ((options.precreateErrorSeries ?? true) && options.behaviour?.zeroErrorSeries !== false) requests.inc({ ...labels, status: '500' }, 0);

  let state = options.seed ?? 1;
  const random = () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
  const behaviour: Behaviour = { errorRate: 0, latencyMs: 5, ready: true, ...options.behaviour };
  let served = 0;

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      void registry.metrics().then((body) => {
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(body);
      });
      return;
    }
    if (path === '/health/live') {
      res.writeHead(200).end('live');
      return;
    }
    if (path === '/health/ready') {
      res.writeHead(sample.behaviour.ready ? 200 : 503).end(sample.behaviour.ready ? 'ready' : 'not ready');
      return;
    }
    if (path === '/admin/behaviour' && req.method === 'POST') {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        try {
          Object.assign(sample.behaviour, JSON.parse(body) as Partial<Behaviour>);
          res.writeHead(204).end();
        } catch {
          res.writeHead(400).end('bad JSON');
        }
      });
      return;
    }
    served++;
    const { errorRate, latencyMs, latencySpread } = sample.behaviour;
    const delay =
      latencySpread === undefined
        ? latencyMs * (0.5 + random())
        : latencyMs * Math.exp(latencySpread * Math.sqrt(-2 * Math.log(Math.max(random(), 1e-12))) * Math.cos(2 * Math.PI * random()));
    const failed = random() < errorRate;
    setTimeout(() => {
      const status = failed ? 500 : 200;
      requests.inc({ ...labels, status: String(status) });
      duration.observe(labels, delay / 1000);
      res.writeHead(status, { 'content-type': 'application/json', 'x-track': options.track, 'x-version': options.version });
      res.end(JSON.stringify({ track: options.track, version: options.version, ok: !failed }));
    }, delay);
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const sample: SampleService = {
    port,
    url: `http://127.0.0.1:${port}`,
    track: options.track,
    version: options.version,
    behaviour,
    served: () => served,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return sample;
}
