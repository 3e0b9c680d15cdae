import { systemClock, type Clock } from '../clock.js';
import { ProviderError } from '../errors.js';
import { httpRequest, safeUrl } from '../http.js';
import type { MetricsConfig } from '../plan/schema.js';
import { outcomeOf, type MetricsProvider, type QueryOutcome, type RangeOutcome, type RangeQuery, type SeriesPoint } from './provider.js';

export type DatadogConfig = Extract<MetricsConfig, { provider: 'datadog' }>;

const SYSTEM = 'datadog';

/**
 * Datadog has no instant query: an instant value is the newest point of a short range ending
 * at the requested time. Five minutes covers Datadog's coarsest default rollup for such a range.
 */
export const INSTANT_LOOKBACK_MS = 5 * 60_000;

/** The API host for a Datadog site: `datadoghq.eu`, `app.datadoghq.eu` and `us3.datadoghq.com` all work. */
export function datadogApiBase(site: string): string {
  const host = site
    .replace(/^https?:\/\//, '')
    .replace(/\/.*$/, '')
    .replace(/^(app|api)\./, '');
  return `https://api.${host}`;
}

interface DatadogSeries {
  pointlist?: unknown;
  expression?: unknown;
}

interface DatadogAnswer {
  status?: unknown;
  error?: unknown;
  errors?: unknown;
  series?: unknown;
}

function shorten(query: string): string {
  const flat = query.replace(/\s+/g, ' ').trim();
  return flat.length > 160 ? `${flat.slice(0, 160)}…` : flat;
}

/** Datadog's metrics query API (`GET /api/v1/query`), authenticated with an API key and an application key. */
export class DatadogProvider implements MetricsProvider {
  readonly name = SYSTEM;
  private readonly base: string;

  constructor(
    private readonly config: DatadogConfig,
    private readonly clock: Clock = systemClock,
  ) {
    this.base = (config.address ?? datadogApiBase(config.site)).replace(/\/+$/, '');
  }

  /** The newest non-null point of `query` in the few minutes up to `time` (default now). */
  async query(query: string, options: { time?: number; signal?: AbortSignal } = {}): Promise<QueryOutcome> {
    const end = options.time ?? this.clock.now();
    const range = await this.queryRange(query, { start: end - INSTANT_LOOKBACK_MS, end, stepMs: INSTANT_LOOKBACK_MS }, options);
    switch (range.kind) {
      case 'no-data':
      case 'many-series':
        return range;
      case 'series': {
        const last = range.points[range.points.length - 1];
        return last === undefined ? { kind: 'no-data' } : outcomeOf(last.value);
      }
    }
  }

  /**
   * Points of `query` between start and end. Datadog picks the point interval itself from the
   * range's length; add `.rollup(avg, <seconds>)` to the query to fix it.
   */
  async queryRange(query: string, range: RangeQuery, options: { signal?: AbortSignal } = {}): Promise<RangeOutcome> {
    const params = { from: Math.floor(range.start / 1000), to: Math.ceil(range.end / 1000), query };
    const body = await this.call(params, query, options.signal);
    if (!Array.isArray(body.series)) throw this.malformed(query);
    const series = body.series as DatadogSeries[];
    if (series.length === 0) return { kind: 'no-data' };
    if (series.length > 1) return { kind: 'many-series', count: series.length };
    const pointlist = series[0]!.pointlist;
    if (!Array.isArray(pointlist)) throw this.malformed(query);
    const points: SeriesPoint[] = [];
    for (const entry of pointlist as unknown[]) {
      if (!Array.isArray(entry) || entry.length < 2 || typeof entry[0] !== 'number') throw this.malformed(query);
      const value: unknown = entry[1];
      // null marks an interval without data: absent, not a number to judge.
      if (value === null) continue;
      if (typeof value !== 'number') throw this.malformed(query);
      points.push({ time: Math.round(entry[0]), value });
    }
    return points.length === 0 ? { kind: 'no-data' } : { kind: 'series', points };
  }

  private malformed(query: string): ProviderError {
    return new ProviderError(SYSTEM, `unexpected answer shape for query ${shorten(query)}`);
  }

  private async call(params: Record<string, string | number>, query: string, signal?: AbortSignal): Promise<DatadogAnswer> {
    const url = `${this.base}/api/v1/query`;
    const res = await httpRequest<DatadogAnswer | string>(
      {
        url,
        params,
        headers: { accept: 'application/json', 'DD-API-KEY': this.config.apiKey, 'DD-APPLICATION-KEY': this.config.appKey },
        timeoutMs: this.config.timeout,
        retries: this.config.retries,
        signal,
        system: SYSTEM,
      },
      this.clock,
    );
    const body = typeof res.data === 'object' && res.data !== null ? res.data : undefined;
    const said = body ? errorText(body) : undefined;
    const because = said ? `: ${said}` : '';
    if (res.status === 401 || res.status === 403)
      throw new ProviderError(
        SYSTEM,
        `GET ${safeUrl(url)}: HTTP ${res.status}${because} (check metrics.apiKey, metrics.appKey and metrics.site; the application key needs the timeseries_query permission)`,
      );
    if (res.status === 429) {
      const reset = res.headers['x-ratelimit-reset'];
      const limit = res.headers['x-ratelimit-limit'];
      const period = res.headers['x-ratelimit-period'];
      const quota = limit && period ? ` (${limit} requests per ${period} s)` : '';
      const wait = reset ? `; resets in ${reset} s` : '';
      throw new ProviderError(SYSTEM, `rate limited${quota}${wait}, after ${res.attempts} attempt(s)`, true);
    }
    if (res.status === 400 || body?.status === 'error') throw new ProviderError(SYSTEM, `query rejected${because || ` (HTTP ${res.status})`} — query: ${shorten(query)}`);
    if (res.status < 200 || res.status >= 300) {
      const tries = res.attempts > 1 ? ` after ${res.attempts} attempts` : '';
      throw new ProviderError(SYSTEM, `GET ${safeUrl(url)}: HTTP ${res.status}${tries}${because}`, res.status >= 500);
    }
    if (!body) throw new ProviderError(SYSTEM, `GET ${safeUrl(url)}: not a Datadog API answer (is metrics.address right?)`);
    return body;
  }
}

// Datadog answers errors as {"errors": ["…"]} on most endpoints and {"status": "error", "error": "…"} on queries.
function errorText(body: DatadogAnswer): string | undefined {
  if (Array.isArray(body.errors) && body.errors.length > 0) return body.errors.map(String).join('; ');
  if (typeof body.error === 'string' && body.error) return body.error;
  return undefined;
}
