import { afterEach, describe, expect, it } from '@jest/globals';
import { ProviderError, UserError } from '../../src/core/errors.js';
import { WebProvider, parseJsonPath, selectJsonPath, type WebConfig } from '../../src/core/metrics/web.js';
import { createMetricsProvider } from '../../src/core/metrics/index.js';
import { metricsSchema } from '../../src/core/plan/schema.js';
import { recorded, startVendorServer, type VendorServer } from '../fixtures/vendors/server.js';

const servers: VendorServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function provider(answer: string, overrides: Partial<WebConfig> = {}) {
  const server = await startVendorServer(() => recorded('web', answer));
  servers.push(server);
  const config: WebConfig = { provider: 'web', url: `${server.url}/metrics`, method: 'GET', jsonPath: '$.data.ok', timeout: 5000, retries: 0, ...overrides };
  if (overrides.url) config.url = overrides.url.replace('SERVER', server.url);
  return { server, web: new WebProvider(config) };
}

describe('JSONPath subset', () => {
  const doc = {
    data: {
      'a.b': 1,
      list: [
        { k: 'x', v: 1 },
        { k: 'y', v: 2 },
        { k: 'z', v: 3, n: { deep: true } },
      ],
    },
  };

  it('selects by name, quoted name, index, negative index and wildcard', () => {
    expect(selectJsonPath(doc, "$.data['a.b']")).toEqual([1]);
    expect(selectJsonPath(doc, '$.data.list[0].v')).toEqual([1]);
    expect(selectJsonPath(doc, '$.data.list[-1].k')).toEqual(['z']);
    expect(selectJsonPath(doc, '$.data.list[*].v')).toEqual([1, 2, 3]);
    expect(selectJsonPath(doc, '$.data.list.*.k')).toEqual(['x', 'y', 'z']);
    expect(selectJsonPath(doc, '$')).toEqual([doc]);
  });

  it('filters array items by a field', () => {
    expect(selectJsonPath(doc, "$.data.list[?(@.k == 'y')].v")).toEqual([2]);
    expect(selectJsonPath(doc, '$.data.list[?(@.v != 1)].k')).toEqual(['y', 'z']);
    expect(selectJsonPath(doc, '$.data.list[?(@.n.deep == true)].k')).toEqual(['z']);
  });

  it('selects nothing for a path that does not exist', () => {
    expect(selectJsonPath(doc, '$.data.missing.v')).toEqual([]);
    expect(selectJsonPath(doc, '$.data.list[7]')).toEqual([]);
  });

  it('rejects what it cannot read, naming the plan field', () => {
    expect(() => parseJsonPath('data.ok')).toThrow(UserError);
    expect(() => parseJsonPath('data.ok')).toThrow(/metrics\.jsonPath "data\.ok": must start with \$/);
    expect(() => parseJsonPath('$..ok')).toThrow(/recursive descent/);
    expect(() => parseJsonPath('$.a[?(@.x > 1)]')).toThrow(/cannot read the bracket/);
  });
});

describe('web metrics provider', () => {
  it('reads a numeric string at the JSONPath and sends the query as a parameter', async () => {
    const { server, web } = await provider('instant', { headers: { Authorization: 'Bearer t0k' } });
    expect(await web.query('ratio{track="canary"}')).toEqual({ kind: 'value', value: 0.9987 });
    const seen = server.requests[0]!;
    expect(seen.url.pathname).toBe('/metrics');
    expect(seen.url.searchParams.get('query')).toBe('ratio{track="canary"}');
    expect(seen.headers.authorization).toBe('Bearer t0k');
  });

  it('fills {{query}} and the time placeholders into the URL', async () => {
    const { server, web } = await provider('series-pairs', { url: 'SERVER/api/{{query}}?from={{start}}&to={{end}}&step={{step}}', jsonPath: '$.result.values' });
    const range = await web.queryRange('latency canary', { start: 1_700_000_000_000, end: 1_700_000_090_000, stepMs: 30_000 });
    expect(range).toEqual({
      kind: 'series',
      points: [
        { time: 1_700_000_000_000, value: 0.21 },
        { time: 1_700_000_030_000, value: 0.19 },
        { time: 1_700_000_090_000, value: 0.23 },
      ],
    });
    const seen = server.requests[0]!;
    expect(seen.url.pathname).toBe('/api/latency%20canary');
    expect(Object.fromEntries(seen.url.searchParams)).toEqual({ from: '1700000000', to: '1700000090', step: '30' });
  });

  it('reads series of {timestamp, value} objects in millisecond time, picked by a filter, in time order', async () => {
    const { web } = await provider('series-objects', { jsonPath: "$.series[?(@.track == 'canary')].points" });
    expect(await web.queryRange('q', { start: 0, end: 1, stepMs: 1 })).toEqual({
      kind: 'series',
      points: [
        { time: 1_700_000_000_000, value: 0.22 },
        { time: 1_700_000_030_000, value: 0.24 },
      ],
    });
  });

  it('sends a POST body with the query filled in, escaped for JSON', async () => {
    const { server, web } = await provider('instant', { method: 'POST', body: '{"expr": "{{query}}", "at": {{time}}}' });
    await web.query('errors{track="canary"}', { time: 1_700_000_000_000 });
    expect(server.requests[0]!.method).toBe('POST');
    expect(JSON.parse(server.requests[0]!.body)).toEqual({ expr: 'errors{track="canary"}', at: 1_700_000_000 });
  });

  it('says no data when the path selects nothing, and many series when it selects several', async () => {
    const { web } = await provider('series-objects', { jsonPath: '$.series[*].missing' });
    expect(await web.query('q')).toEqual({ kind: 'no-data' });
    const numbers = await provider('series-objects', { jsonPath: '$.series[*].points[0].value' });
    expect(await numbers.web.query('q')).toEqual({ kind: 'many-series', count: 2 });
  });

  it('refuses a value that is not a number', async () => {
    const { web } = await provider('instant', { jsonPath: '$.meta.track' });
    await expect(web.query('q')).rejects.toThrow(/\$\.meta\.track selected "canary", expected a number/);
  });

  it('names the headers when the endpoint refuses access', async () => {
    const { web } = await provider('error-401');
    await expect(web.query('q')).rejects.toThrow(/HTTP 401 \(check metrics\.headers\)/);
  });

  it('reports a rate limit as retryable after retrying', async () => {
    const { server, web } = await provider('error-429', { retries: 1 });
    const err = (await web.query('q').catch((e: unknown) => e)) as ProviderError;
    expect(err.message).toMatch(/rate limited \(HTTP 429\) after 2 attempt/);
    expect(err.retryable).toBe(true);
    expect(server.requests).toHaveLength(2);
  });

  it('is what the plan gets for provider: web', async () => {
    const server = await startVendorServer(() => recorded('web', 'instant'));
    servers.push(server);
    const provider = createMetricsProvider(metricsSchema.parse({ provider: 'web', url: `${server.url}/m`, jsonPath: '$.data.ok', retries: 0 }));
    expect(provider.name).toBe('web');
    expect(await provider.query('q')).toEqual({ kind: 'value', value: 0.9987 });
  });
});
