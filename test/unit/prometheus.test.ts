import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FakeClock } from '../../src/core/clock.js';
import { ProviderError, UserError } from '../../src/core/errors.js';
import { createMetricsProvider } from '../../src/core/metrics/index.js';
import { parseSampleValue } from '../../src/core/metrics/prometheus.js';
import { metricsSchema } from '../../src/core/plan/schema.js';
import { freePort } from '../../harness/ports.js';

// Error paths a real Prometheus will not produce on demand (5xx, hangs, auth) are served by a
// local HTTP server answering in Prometheus' documented API format; what real Prometheus
// answers is covered in test/integration/metrics-gate.test.ts.

type Handler = (req: IncomingMessage, url: URL, res: ServerResponse) => void;
let server: Server;
let base: string;
let handler: Handler;
let seen: { path: string; params: URLSearchParams; headers: IncomingMessage['headers'] }[];

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
const vector = (values: string[]) => ({ status: 'success', data: { resultType: 'vector', result: values.map((v, i) => ({ metric: { i: String(i) }, value: [1700000000, v] })) } });

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    seen.push({ path: url.pathname, params: url.searchParams, headers: req.headers });
    handler(req, url, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});
beforeEach(() => {
  seen = [];
});

function provider(extra: Record<string, unknown> = {}) {
  return createMetricsProvider(metricsSchema.parse({ provider: 'prometheus', address: base, retries: 2, timeout: '2s', ...extra }), { clock: new FakeClock() });
}

describe('prometheus provider', () => {
  it('reads one series as a value and sends the query and evaluation time', async () => {
    handler = (_q, _u, res) => json(res, 200, vector(['0.25']));
    await expect(provider().query('sum(up)', { time: 1_700_000_000_500 })).resolves.toEqual({ kind: 'value', value: 0.25 });
    expect(seen[0]?.path).toBe('/api/v1/query');
    expect(seen[0]?.params.get('query')).toBe('sum(up)');
    expect(seen[0]?.params.get('time')).toBe('1700000000.500');
  });

  it('names zero series, several series, NaN and ±Inf instead of returning a number', async () => {
    const cases: [string[], unknown][] = [
      [[], { kind: 'no-data' }],
      [['1', '2', '3'], { kind: 'many-series', count: 3 }],
      [['NaN'], { kind: 'nan' }],
      [['+Inf'], { kind: 'infinite', sign: 1 }],
      [['-Inf'], { kind: 'infinite', sign: -1 }],
    ];
    for (const [values, expected] of cases) {
      handler = (_q, _u, res) => json(res, 200, vector(values));
      await expect(provider().query('q')).resolves.toEqual(expected);
    }
  });

  it('reads a scalar result', async () => {
    handler = (_q, _u, res) => json(res, 200, { status: 'success', data: { resultType: 'scalar', result: [1700000000, '42'] } });
    await expect(provider().query('scalar(1)')).resolves.toEqual({ kind: 'value', value: 42 });
  });

  it('reports a rejected query with Prometheus’ own error text, without retrying', async () => {
    handler = (_q, _u, res) => json(res, 400, { status: 'error', errorType: 'bad_data', error: '1:5: parse error: unexpected end of input' });
    const err = await provider()
      .query('sum(')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as Error).message).toBe('prometheus: query rejected (bad_data): 1:5: parse error: unexpected end of input — query: sum(');
    expect(seen).toHaveLength(1);
  });

  it('retries 5xx with backoff and succeeds when the server recovers', async () => {
    let calls = 0;
    handler = (_q, _u, res) => (++calls < 3 ? json(res, 503, { status: 'error', errorType: 'unavailable', error: 'busy' }) : json(res, 200, vector(['1'])));
    await expect(provider().query('q')).resolves.toEqual({ kind: 'value', value: 1 });
    expect(calls).toBe(3);
  });

  it('gives up after the configured retries on persistent 5xx', async () => {
    handler = (_q, _u, res) => {
      res.writeHead(502);
      res.end('bad gateway');
    };
    await expect(provider({ retries: 1 }).query('q')).rejects.toThrow(/HTTP 502 after 2 attempts/);
    expect(seen).toHaveLength(2);
  });

  it('times out a server that never answers', async () => {
    handler = () => undefined;
    await expect(provider({ timeout: '300ms', retries: 0 }).query('q')).rejects.toThrow(/no answer within 300 ms/);
  });

  it('fails with a retryable error when nothing listens', async () => {
    const port = await freePort();
    const p = createMetricsProvider(metricsSchema.parse({ provider: 'prometheus', address: `http://127.0.0.1:${port}`, retries: 1 }), { clock: new FakeClock() });
    const err = await p.query('q').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).retryable).toBe(true);
    expect((err as Error).message).toMatch(/connection refused \(after 2 attempts\)/);
  });

  it('sends custom headers, a bearer token or basic auth, and names the auth settings on 401', async () => {
    handler = (req, _u, res) => (req.headers.authorization === 'Bearer s3cret' && req.headers['x-org'] === 'acme' ? json(res, 200, vector(['1'])) : json(res, 401, {}));
    await expect(provider({ bearerToken: 's3cret', headers: { 'X-Org': 'acme' } }).query('q')).resolves.toEqual({ kind: 'value', value: 1 });
    await expect(provider({ bearerToken: 'wrong', headers: { 'X-Org': 'acme' } }).query('q')).rejects.toThrow(/HTTP 401 \(check metrics.bearerToken/);
    handler = (req, _u, res) => (req.headers.authorization === `Basic ${Buffer.from('ops:pw').toString('base64')}` ? json(res, 200, vector(['2'])) : json(res, 401, {}));
    await expect(provider({ basicAuth: { username: 'ops', password: 'pw' } }).query('q')).resolves.toEqual({ kind: 'value', value: 2 });
  });

  it('keeps a path prefix in the address', async () => {
    handler = (_q, _u, res) => json(res, 200, vector(['1']));
    const p = createMetricsProvider(metricsSchema.parse({ provider: 'prometheus', address: `${base}/prom/` }), { clock: new FakeClock() });
    await p.query('q');
    expect(seen[0]?.path).toBe('/prom/api/v1/query');
  });

  it('says so when the address is not a Prometheus API', async () => {
    handler = (_q, _u, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>login</html>');
    };
    await expect(provider().query('q')).rejects.toThrow(/not a Prometheus API answer/);
  });

  it('reads a range query as points in milliseconds, NaN kept for the consumer', async () => {
    handler = (_q, _u, res) =>
      json(res, 200, {
        status: 'success',
        data: {
          resultType: 'matrix',
          result: [
            {
              metric: {},
              values: [
                [1700000000, '1'],
                [1700000001, 'NaN'],
                [1700000002.5, '3'],
              ],
            },
          ],
        },
      });
    const out = await provider().queryRange('q', { start: 1_700_000_000_000, end: 1_700_000_002_000, stepMs: 1000 });
    expect(seen[0]?.path).toBe('/api/v1/query_range');
    expect(seen[0]?.params.get('step')).toBe('1');
    expect(out.kind).toBe('series');
    const points = out.kind === 'series' ? out.points : [];
    expect(points.map((p) => p.time)).toEqual([1_700_000_000_000, 1_700_000_001_000, 1_700_000_002_500]);
    expect(points[1]?.value).toBeNaN();
  });

  it('parses sample values strictly', () => {
    expect(parseSampleValue('1e-3')).toEqual({ kind: 'value', value: 0.001 });
    expect(() => parseSampleValue('abc')).toThrow(ProviderError);
  });

  it('refuses providers that are not built yet with a plain error', () => {
    const config = metricsSchema.parse({ provider: 'cloudwatch', region: 'eu-west-1' });
    let err: unknown;
    try {
      createMetricsProvider(config);
    } catch (e) {
      err = e;
    }
    // Another provider may be registered by now; either it builds or it says it is not implemented.
    if (err !== undefined) {
      expect(err).toBeInstanceOf(UserError);
      expect((err as Error).message).toBe('metrics provider cloudwatch is not implemented yet');
    }
  });
});
