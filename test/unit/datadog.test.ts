import { afterEach, describe, expect, it } from '@jest/globals';
import { ProviderError } from '../../src/core/errors.js';
import { DatadogProvider, datadogApiBase, type DatadogConfig } from '../../src/core/metrics/datadog.js';
import { createMetricsProvider } from '../../src/core/metrics/index.js';
import { metricsSchema } from '../../src/core/plan/schema.js';
import { recorded, startVendorServer, type VendorServer } from '../fixtures/vendors/server.js';

const servers: VendorServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function provider(answers: string[], overrides: Partial<DatadogConfig> = {}) {
  const server = await startVendorServer((_req, i) => recorded('datadog', answers[Math.min(i, answers.length - 1)]!));
  servers.push(server);
  const config: DatadogConfig = { provider: 'datadog', site: 'datadoghq.eu', address: server.url, apiKey: 'api-123', appKey: 'app-456', timeout: 5000, retries: 0, ...overrides };
  return { server, datadog: new DatadogProvider(config) };
}

describe('datadog metrics provider', () => {
  it('maps each Datadog site to its API host', () => {
    expect(datadogApiBase('datadoghq.com')).toBe('https://api.datadoghq.com');
    expect(datadogApiBase('datadoghq.eu')).toBe('https://api.datadoghq.eu');
    expect(datadogApiBase('app.datadoghq.eu')).toBe('https://api.datadoghq.eu');
    expect(datadogApiBase('us3.datadoghq.com')).toBe('https://api.us3.datadoghq.com');
    expect(datadogApiBase('https://us5.datadoghq.com/')).toBe('https://api.us5.datadoghq.com');
  });

  it('reads a series from /api/v1/query with both keys, skipping null points', async () => {
    const { server, datadog } = await provider(['query-ok']);
    const range = await datadog.queryRange('avg:trace.http.request.duration{service:orders,version:canary}', { start: 1_700_000_000_000, end: 1_700_000_300_000, stepMs: 60_000 });
    expect(range).toEqual({
      kind: 'series',
      points: [
        { time: 1_700_000_000_000, value: 0.212 },
        { time: 1_700_000_060_000, value: 0.198 },
        { time: 1_700_000_180_000, value: 0.225 },
        { time: 1_700_000_240_000, value: 0.204 },
      ],
    });
    const seen = server.requests[0]!;
    expect(seen.url.pathname).toBe('/api/v1/query');
    expect(seen.url.searchParams.get('from')).toBe('1700000000');
    expect(seen.url.searchParams.get('to')).toBe('1700000300');
    expect(seen.url.searchParams.get('query')).toBe('avg:trace.http.request.duration{service:orders,version:canary}');
    expect(seen.headers['dd-api-key']).toBe('api-123');
    expect(seen.headers['dd-application-key']).toBe('app-456');
  });

  it('answers an instant value with the newest point of the last five minutes', async () => {
    const { server, datadog } = await provider(['query-ok']);
    expect(await datadog.query('avg:x{*}', { time: 1_700_000_300_000 })).toEqual({ kind: 'value', value: 0.204 });
    expect(server.requests[0]!.url.searchParams.get('from')).toBe('1700000000');
  });

  it('says no data when the query matches no series', async () => {
    const { datadog } = await provider(['query-empty']);
    expect(await datadog.query('sum:errors{*}', { time: 1_700_000_300_000 })).toEqual({ kind: 'no-data' });
    expect(await datadog.queryRange('sum:errors{*}', { start: 0, end: 60_000, stepMs: 1000 })).toEqual({ kind: 'no-data' });
  });

  it('reports several series instead of picking one', async () => {
    const { datadog } = await provider(['query-many']);
    expect(await datadog.query('avg:system.load.1{*} by {host}')).toEqual({ kind: 'many-series', count: 2 });
  });

  it('names the keys when Datadog refuses them', async () => {
    const { datadog } = await provider(['error-403']);
    const err = await datadog.query('avg:x{*}').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as Error).message).toMatch(/HTTP 403: Forbidden.*metrics\.apiKey, metrics\.appKey/);
    expect((err as Error).message).not.toContain('api-123');
  });

  it('reports a rate limit with the quota and reset time after its retries', async () => {
    const { server, datadog } = await provider(['error-429'], { retries: 1 });
    const err = (await datadog.query('avg:x{*}').catch((e: unknown) => e)) as ProviderError;
    expect(err.message).toBe('datadog: rate limited (1600 requests per 3600 s); resets in 17 s, after 2 attempt(s)');
    expect(err.retryable).toBe(true);
    expect(server.requests).toHaveLength(2);
  });

  it('recovers when a rate limit lifts before the retries run out', async () => {
    const { datadog } = await provider(['error-429', 'query-ok'], { retries: 2 });
    expect(await datadog.query('avg:x{*}', { time: 1_700_000_300_000 })).toEqual({ kind: 'value', value: 0.204 });
  });

  it('passes on the reason a query was rejected', async () => {
    const { datadog } = await provider(['error-400']);
    await expect(datadog.query('avg:trace.http.request.duration{service:orders')).rejects.toThrow(/query rejected: Error parsing query.*scope_expr/);
  });

  it('is what the plan gets for provider: datadog', async () => {
    const server = await startVendorServer(() => recorded('datadog', 'query-ok'));
    servers.push(server);
    const provider = createMetricsProvider(metricsSchema.parse({ provider: 'datadog', site: 'datadoghq.eu', address: server.url, apiKey: 'k', appKey: 'a', retries: 0 }));
    expect(provider.name).toBe('datadog');
    expect(await provider.query('avg:x{*}', { time: 1_700_000_300_000 })).toEqual({ kind: 'value', value: 0.204 });
  });
});
