import { systemClock, type Clock } from '../clock.js';
import { ProviderError } from '../errors.js';
import { httpRequest, safeUrl } from '../http.js';
import type { MetricsConfig } from '../plan/schema.js';
import { outcomeOf, type MetricsProvider, type QueryOutcome, type RangeOutcome, type RangeQuery, type SeriesPoint } from './provider.js';

export type NewRelicConfig = Extract<MetricsConfig, { provider: 'newrelic' }>;

const SYSTEM = 'newrelic';

/** NerdGraph endpoints per data-centre region. */
export const NERDGRAPH_ENDPOINTS = { us: 'https://api.newrelic.com/graphql', eu: 'https://api.eu.newrelic.com/graphql' } as const;

/** The window an instant query without its own SINCE looks back over. */
export const INSTANT_LOOKBACK_MS = 5 * 60_000;

// Variables rather than string splicing: the NRQL text never has to be escaped into GraphQL.
const NRQL_DOCUMENT = 'query RollgateNrql($accountId: Int!, $nrql: Nrql!) { actor { account(id: $accountId) { nrql(query: $nrql, timeout: 60) { results } } } }';

/** Fields NRQL adds to results besides the selected values. */
const META_FIELDS = new Set(['beginTimeSeconds', 'endTimeSeconds', 'facet', 'timestamp', 'comparison']);

type NrqlRow = Record<string, unknown>;

interface GraphQlError {
  message?: unknown;
  extensions?: { errorClass?: unknown; code?: unknown };
}

interface NerdGraphAnswer {
  data?: { actor?: { account?: { nrql?: { results?: unknown } | null } | null } | null } | null;
  errors?: unknown;
}

function shorten(query: string): string {
  const flat = query.replace(/\s+/g, ' ').trim();
  return flat.length > 160 ? `${flat.slice(0, 160)}…` : flat;
}

/** The one selected value of an NRQL result row: a number, null (no data), or a one-number object such as percentile(x, 95). */
function rowValue(row: NrqlRow, query: string): number | null {
  const fields = Object.keys(row).filter((k) => !META_FIELDS.has(k));
  if (fields.length !== 1)
    throw new ProviderError(SYSTEM, `the query selects ${fields.length} values (${fields.join(', ') || 'none'}); select exactly one — query: ${shorten(query)}`);
  const value = row[fields[0]!];
  if (value === null || typeof value === 'number') return value;
  if (typeof value === 'object' && value !== null) {
    const inner = Object.values(value);
    if (inner.length === 1 && (typeof inner[0] === 'number' || inner[0] === null)) return inner[0] as number | null;
  }
  throw new ProviderError(SYSTEM, `the query's value ${fields[0]} is not a number — query: ${shorten(query)}`);
}

function facetCount(rows: readonly NrqlRow[]): number {
  return new Set(rows.filter((r) => 'facet' in r).map((r) => JSON.stringify(r.facet))).size;
}

/** New Relic: NRQL queries over the NerdGraph GraphQL API, authenticated with a user API key. */
export class NewRelicProvider implements MetricsProvider {
  readonly name = SYSTEM;
  private readonly endpoint: string;

  constructor(
    private readonly config: NewRelicConfig,
    private readonly clock: Clock = systemClock,
  ) {
    const base = config.address?.replace(/\/+$/, '');
    this.endpoint = base ? (base.endsWith('/graphql') ? base : `${base}/graphql`) : NERDGRAPH_ENDPOINTS[config.region];
  }

  /**
   * One value of an NRQL query. A query with its own SINCE runs as written; otherwise it
   * covers the few minutes up to `time` (default now).
   */
  async query(query: string, options: { time?: number; signal?: AbortSignal } = {}): Promise<QueryOutcome> {
    let nrql = query;
    if (!/\bSINCE\b/i.test(query)) {
      const end = Math.round(options.time ?? this.clock.now());
      nrql = `${query} SINCE ${end - INSTANT_LOOKBACK_MS} UNTIL ${end}`;
    }
    const rows = await this.run(nrql, query, options.signal);
    if (rows.length === 0) return { kind: 'no-data' };
    const facets = facetCount(rows);
    if (facets > 1 || rows.length > 1) return { kind: 'many-series', count: Math.max(facets, rows.length) };
    const value = rowValue(rows[0]!, query);
    if (value === null) return { kind: 'no-data' };
    return outcomeOf(value);
  }

  /** The query as a TIMESERIES over the range; rollgate adds SINCE, UNTIL and TIMESERIES itself. */
  async queryRange(query: string, range: RangeQuery, options: { signal?: AbortSignal } = {}): Promise<RangeOutcome> {
    if (/\b(SINCE|UNTIL|TIMESERIES)\b/i.test(query))
      throw new ProviderError(SYSTEM, `for range queries write the NRQL without SINCE, UNTIL or TIMESERIES (rollgate adds them for the bake window) — query: ${shorten(query)}`);
    const stepSeconds = Math.max(1, Math.round(range.stepMs / 1000));
    const nrql = `${query} SINCE ${Math.floor(range.start)} UNTIL ${Math.ceil(range.end)} TIMESERIES ${stepSeconds} seconds`;
    const rows = await this.run(nrql, query, options.signal);
    if (rows.length === 0) return { kind: 'no-data' };
    const facets = facetCount(rows);
    if (facets > 1) return { kind: 'many-series', count: facets };
    const points: SeriesPoint[] = [];
    for (const row of rows) {
      const value = rowValue(row, query);
      // A bucket without events is null: absent, not zero.
      if (value === null) continue;
      const at = typeof row.endTimeSeconds === 'number' ? row.endTimeSeconds : typeof row.beginTimeSeconds === 'number' ? row.beginTimeSeconds : undefined;
      if (at === undefined) throw new ProviderError(SYSTEM, `TIMESERIES rows carry no time — query: ${shorten(query)}`);
      points.push({ time: at * 1000, value });
    }
    return points.length === 0 ? { kind: 'no-data' } : { kind: 'series', points };
  }

  private async run(nrql: string, query: string, signal?: AbortSignal): Promise<NrqlRow[]> {
    const accountId = Number(this.config.accountId);
    if (!Number.isInteger(accountId)) throw new ProviderError(SYSTEM, `metrics.accountId must be a whole number, got ${JSON.stringify(this.config.accountId)}`);
    const res = await httpRequest<NerdGraphAnswer | string>(
      {
        method: 'POST',
        url: this.endpoint,
        headers: { 'content-type': 'application/json', accept: 'application/json', 'API-Key': this.config.apiKey },
        body: { query: NRQL_DOCUMENT, variables: { accountId, nrql } },
        timeoutMs: this.config.timeout,
        retries: this.config.retries,
        signal,
        system: SYSTEM,
      },
      this.clock,
    );
    const body = typeof res.data === 'object' && res.data !== null ? res.data : undefined;
    const errors = Array.isArray(body?.errors) ? (body.errors as GraphQlError[]) : [];
    const said = errors.map((e) => String(e.message ?? 'error')).join('; ');
    const because = said ? `: ${said}` : '';
    const classes = errors.map((e) => String(e.extensions?.errorClass ?? e.extensions?.code ?? ''));
    if (res.status === 401 || res.status === 403 || classes.some((c) => /UNAUTHORI[ZS]ED|FORBIDDEN/.test(c)))
      throw new ProviderError(
        SYSTEM,
        `POST ${safeUrl(this.endpoint)}: access denied${because} (check metrics.apiKey is a user key, NRAK-…, with access to account ${accountId}, and metrics.region)`,
      );
    if (res.status === 429 || classes.some((c) => /TOO_MANY_REQUESTS|RATE_LIMIT/.test(c)))
      throw new ProviderError(SYSTEM, `rate limited${because}, after ${res.attempts} attempt(s)`, true);
    if (res.status < 200 || res.status >= 300) {
      const tries = res.attempts > 1 ? ` after ${res.attempts} attempts` : '';
      throw new ProviderError(SYSTEM, `POST ${safeUrl(this.endpoint)}: HTTP ${res.status}${tries}${because}`, res.status >= 500);
    }
    // GraphQL reports failures (bad NRQL, unknown account) with HTTP 200 and an `errors` list.
    if (errors.length > 0) throw new ProviderError(SYSTEM, `query rejected${because} — query: ${shorten(query)}`);
    const results = body?.data?.actor?.account?.nrql?.results;
    if (body?.data?.actor?.account === null) throw new ProviderError(SYSTEM, `account ${accountId} is not visible to this API key`);
    if (!Array.isArray(results)) throw new ProviderError(SYSTEM, `POST ${safeUrl(this.endpoint)}: not a NerdGraph NRQL answer (is metrics.address right?)`);
    return results.filter((r): r is NrqlRow => typeof r === 'object' && r !== null);
  }
}
