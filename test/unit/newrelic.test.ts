import { afterEach, describe, expect, it } from '@jest/globals';
import { ProviderError } from '../../src/core/errors.js';
import { NERDGRAPH_ENDPOINTS, NewRelicProvider, type NewRelicConfig } from '../../src/core/metrics/newrelic.js';
import { createMetricsProvider } from '../../src/core/metrics/index.js';
import { metricsSchema } from '../../src/core/plan/schema.js';
import { recorded, startVendorServer, type VendorServer } from '../fixtures/vendors/server.js';

const servers: VendorServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function provider(answer: string, overrides: Partial<NewRelicConfig> = {}) {
  const server = await startVendorServer(() => recorded('newrelic', answer));
  servers.push(server);
  const config: NewRelicConfig = { provider: 'newrelic', accountId: '1234567', apiKey: 'NRAK-TEST', region: 'us', address: server.url, timeout: 5000, retries: 0, ...overrides };
  return { server, newrelic: new NewRelicProvider(config) };
}

interface GraphQlBody {
  query: string;
  variables: { accountId: number; nrql: string };
}

describe('newrelic metrics provider', () => {
  it('knows the US and EU NerdGraph endpoints', () => {
    expect(NERDGRAPH_ENDPOINTS.us).toBe('https://api.newrelic.com/graphql');
    expect(NERDGRAPH_ENDPOINTS.eu).toBe('https://api.eu.newrelic.com/graphql');
  });

  it('runs NRQL through NerdGraph with the user key and reads the one value', async () => {
    const { server, newrelic } = await provider('nrql-single');
    const outcome = await newrelic.query("SELECT average(duration) FROM Transaction WHERE appName = 'orders' AND tags.track = 'canary'", { time: 1_700_000_300_000 });
    expect(outcome).toEqual({ kind: 'value', value: 0.2134 });
    const seen = server.requests[0]!;
    expect(seen.method).toBe('POST');
    expect(seen.url.pathname).toBe('/graphql');
    expect(seen.headers['api-key']).toBe('NRAK-TEST');
    const body = JSON.parse(seen.body) as GraphQlBody;
    expect(body.variables.accountId).toBe(1234567);
    expect(body.variables.nrql).toBe("SELECT average(duration) FROM Transaction WHERE appName = 'orders' AND tags.track = 'canary' SINCE 1700000000000 UNTIL 1700000300000");
    expect(body.query).toMatch(/nrql\(query: \$nrql/);
  });

  it('leaves a query with its own SINCE as written', async () => {
    const { server, newrelic } = await provider('nrql-single');
    await newrelic.query('SELECT average(duration) FROM Transaction SINCE 5 minutes ago');
    expect((JSON.parse(server.requests[0]!.body) as GraphQlBody).variables.nrql).toBe('SELECT average(duration) FROM Transaction SINCE 5 minutes ago');
  });

  it('reads a percentile, which NRQL answers as an object', async () => {
    const { newrelic } = await provider('nrql-percentile');
    expect(await newrelic.query('SELECT percentile(duration, 99) FROM Transaction')).toEqual({ kind: 'value', value: 0.871 });
  });

  it('says no data when the aggregate is null', async () => {
    const { newrelic } = await provider('nrql-null');
    expect(await newrelic.query('SELECT average(duration) FROM Transaction')).toEqual({ kind: 'no-data' });
  });

  it('reports facets as several series', async () => {
    const { newrelic } = await provider('nrql-facet');
    expect(await newrelic.query('SELECT average(duration) FROM Transaction FACET tags.track')).toEqual({ kind: 'many-series', count: 2 });
  });

  it('reads a TIMESERIES over the bake window, skipping empty buckets', async () => {
    const { server, newrelic } = await provider('nrql-timeseries');
    const range = await newrelic.queryRange('SELECT average(duration) FROM Transaction', { start: 1_700_000_000_000, end: 1_700_000_240_000, stepMs: 60_000 });
    expect(range).toEqual({
      kind: 'series',
      points: [
        { time: 1_700_000_060_000, value: 0.201 },
        { time: 1_700_000_120_000, value: 0.219 },
        { time: 1_700_000_240_000, value: 0.207 },
      ],
    });
    expect((JSON.parse(server.requests[0]!.body) as GraphQlBody).variables.nrql).toBe(
      'SELECT average(duration) FROM Transaction SINCE 1700000000000 UNTIL 1700000240000 TIMESERIES 60 seconds',
    );
  });

  it('refuses a range query that already has its own time clauses', async () => {
    const { server, newrelic } = await provider('nrql-timeseries');
    await expect(newrelic.queryRange('SELECT average(duration) FROM Transaction TIMESERIES', { start: 0, end: 60_000, stepMs: 10_000 })).rejects.toThrow(
      /without SINCE, UNTIL or TIMESERIES/,
    );
    expect(server.requests).toHaveLength(0);
  });

  it('names the key and region when NerdGraph refuses the key', async () => {
    const { newrelic } = await provider('error-401');
    await expect(newrelic.query('SELECT count(*) FROM Transaction')).rejects.toThrow(/access denied: Unauthorized \(check metrics\.apiKey is a user key.*metrics\.region/);
  });

  it('treats a GraphQL FORBIDDEN error with HTTP 200 as an access problem', async () => {
    const { newrelic } = await provider('error-forbidden');
    await expect(newrelic.query('SELECT count(*) FROM Transaction')).rejects.toThrow(/access denied: Access denied\./);
  });

  it('reports a rate limit as retryable', async () => {
    const { server, newrelic } = await provider('error-429', { retries: 1 });
    const err = (await newrelic.query('SELECT count(*) FROM Transaction').catch((e: unknown) => e)) as ProviderError;
    expect(err.message).toMatch(/rate limited: Too many concurrent requests, after 2 attempt/);
    expect(err.retryable).toBe(true);
    expect(server.requests).toHaveLength(2);
  });

  it('passes on NRQL syntax errors', async () => {
    const { newrelic } = await provider('error-nrql');
    await expect(newrelic.query('SELECT averag(duration) FROM Transaction')).rejects.toThrow(/query rejected: NRQL Syntax Error/);
  });

  it('is what the plan gets for provider: newrelic', async () => {
    const server = await startVendorServer(() => recorded('newrelic', 'nrql-single'));
    servers.push(server);
    const provider = createMetricsProvider(metricsSchema.parse({ provider: 'newrelic', accountId: 42, apiKey: 'NRAK-X', region: 'eu', address: server.url, retries: 0 }));
    expect(provider.name).toBe('newrelic');
    expect(await provider.query('SELECT average(duration) FROM Transaction')).toEqual({ kind: 'value', value: 0.2134 });
  });
});
