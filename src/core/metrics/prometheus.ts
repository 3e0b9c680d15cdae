import { systemClock, type Clock } from '../clock.js';
import { ProviderError } from '../errors.js';
import { parse as parseYaml } from 'yaml';
import { httpRequest, safeUrl } from '../http.js';
import type { MetricsConfig } from '../plan/schema.js';
import { outcomeOf, type MetricsProvider, type QueryOutcome, type RangeOutcome, type RangeQuery, type SeriesPoint } from './provider.js';

export type PrometheusConfig = Extract<MetricsConfig, { provider: 'prometheus' }>;

/** A sample as Prometheus' HTTP API encodes it: [unix seconds, "value"]. */
type Sample = [number, string];

interface ApiAnswer {
  status?: unknown;
  errorType?: unknown;
  error?: unknown;
  data?: { resultType?: unknown; result?: unknown };
}

const SYSTEM = 'prometheus';

/** Reads Prometheus' sample text: "NaN", "+Inf" and "-Inf" are values it really sends. */
export function parseSampleValue(text: string): QueryOutcome {
  if (text === 'NaN') return { kind: 'nan' };
  if (text === '+Inf' || text === 'Inf') return { kind: 'infinite', sign: 1 };
  if (text === '-Inf') return { kind: 'infinite', sign: -1 };
  const value = Number(text);
  if (Number.isNaN(value)) throw new ProviderError(SYSTEM, `unexpected sample value ${JSON.stringify(text)}`);
  return outcomeOf(value);
}

function isSample(v: unknown): v is Sample {
  return Array.isArray(v) && v.length === 2 && typeof v[0] === 'number' && typeof v[1] === 'string';
}

function shorten(query: string): string {
  const flat = query.replace(/\s+/g, ' ').trim();
  return flat.length > 160 ? `${flat.slice(0, 160)}…` : flat;
}

/** The Prometheus HTTP API: instant queries for the threshold gate, range queries for the statistical judge. */
export class PrometheusProvider implements MetricsProvider {
  readonly name = SYSTEM;
  private readonly base: string;
  private readonly headers: Record<string, string>;

  constructor(
    private readonly config: PrometheusConfig,
    private readonly clock: Clock = systemClock,
  ) {
    this.base = config.address.replace(/\/+$/, '');
    const headers: Record<string, string> = { accept: 'application/json', ...(config.headers ?? {}) };
    if (config.bearerToken) headers.authorization = `Bearer ${config.bearerToken}`;
    if (config.basicAuth) headers.authorization = `Basic ${Buffer.from(`${config.basicAuth.username}:${config.basicAuth.password}`).toString('base64')}`;
    this.headers = headers;
  }

  /** Evaluates `query` at one instant (now, unless `time` is given in unix ms). */
  async query(query: string, options: { time?: number; signal?: AbortSignal } = {}): Promise<QueryOutcome> {
    const params: Record<string, string> = { query };
    if (options.time !== undefined) params.time = (options.time / 1000).toFixed(3);
    const data = await this.call('/api/v1/query', params, query, options.signal);
    switch (data.resultType) {
      case 'scalar':
        if (!isSample(data.result)) throw this.malformed(query);
        return parseSampleValue(data.result[1]);
      case 'vector': {
        if (!Array.isArray(data.result)) throw this.malformed(query);
        if (data.result.length === 0) return { kind: 'no-data' };
        if (data.result.length > 1) return { kind: 'many-series', count: data.result.length };
        const first: unknown = data.result[0];
        const value = typeof first === 'object' && first !== null ? (first as { value?: unknown }).value : undefined;
        if (!isSample(value)) throw this.malformed(query);
        return parseSampleValue(value[1]);
      }
      default:
        throw new ProviderError(SYSTEM, `query returned a ${String(data.resultType)}, expected an instant vector or a scalar: ${shorten(query)}`);
    }
  }

  /** Evaluates `query` over a time range, one point per step. */
  async queryRange(query: string, range: RangeQuery, options: { signal?: AbortSignal } = {}): Promise<RangeOutcome> {
    const params = {
      query,
      start: (range.start / 1000).toFixed(3),
      end: (range.end / 1000).toFixed(3),
      step: `${Math.max(0.001, range.stepMs / 1000)}`,
    };
    const data = await this.call('/api/v1/query_range', params, query, options.signal);
    if (data.resultType !== 'matrix' || !Array.isArray(data.result)) throw this.malformed(query);
    if (data.result.length === 0) return { kind: 'no-data' };
    if (data.result.length > 1) return { kind: 'many-series', count: data.result.length };
    const values: unknown = (data.result[0] as { values?: unknown }).values;
    if (!Array.isArray(values)) throw this.malformed(query);
    const points: SeriesPoint[] = values.map((v: unknown) => {
      if (!isSample(v)) throw this.malformed(query);
      const outcome = parseSampleValue(v[1]);
      const value = outcome.kind === 'value' ? outcome.value : outcome.kind === 'infinite' ? outcome.sign * Infinity : Number.NaN;
      return { time: Math.round(v[0] * 1000), value };
    });
    return { kind: 'series', points };
  }

  /**
   * The scrape interval of every job, from the running configuration (/api/v1/status/config):
   * a rate() window needs at least two scrapes in it.
   */
  async scrapeIntervals(options: { signal?: AbortSignal } = {}): Promise<{ job: string; intervalMs: number }[]> {
    const url = `${this.base}/api/v1/status/config`;
    const res = await httpRequest<{ status?: unknown; data?: { yaml?: unknown } } | string>(
      { url, headers: this.headers, timeoutMs: this.config.timeout, retries: this.config.retries, signal: options.signal, system: SYSTEM },
      this.clock,
    );
    const yaml = typeof res.data === 'object' && res.data !== null ? res.data.data?.yaml : undefined;
    if (res.status !== 200 || typeof yaml !== 'string') throw new ProviderError(SYSTEM, `GET ${safeUrl(url)}: HTTP ${res.status}, no configuration in the answer`);
    const config = parseYaml(yaml) as { global?: { scrape_interval?: unknown }; scrape_configs?: { job_name?: unknown; scrape_interval?: unknown }[] } | null;
    const fallback = promDurationMs(config?.global?.scrape_interval) ?? 60_000;
    return (config?.scrape_configs ?? []).map((job) => ({ job: String(job.job_name ?? '?'), intervalMs: promDurationMs(job.scrape_interval) ?? fallback }));
  }

  private malformed(query: string): ProviderError {
    return new ProviderError(SYSTEM, `unexpected answer shape for query ${shorten(query)}`);
  }

  private async call(path: string, params: Record<string, string>, query: string, signal?: AbortSignal): Promise<{ resultType: unknown; result: unknown }> {
    const url = `${this.base}${path}`;
    const res = await httpRequest<ApiAnswer | string>(
      { url, params, headers: this.headers, timeoutMs: this.config.timeout, retries: this.config.retries, signal, system: SYSTEM },
      this.clock,
    );
    const body = typeof res.data === 'object' && res.data !== null ? res.data : undefined;
    if (body?.status === 'error') {
      // 400 bad_data, 422 execution errors, 503 timeouts: Prometheus says why in `error`.
      const kind = typeof body.errorType === 'string' ? ` (${body.errorType})` : '';
      throw new ProviderError(SYSTEM, `query rejected${kind}: ${String(body.error)} — query: ${shorten(query)}`, res.status >= 500);
    }
    if (res.status === 401 || res.status === 403) throw new ProviderError(SYSTEM, `GET ${safeUrl(url)}: HTTP ${res.status} (check metrics.bearerToken, basicAuth or headers)`);
    if (res.status < 200 || res.status >= 300) {
      const tries = res.attempts > 1 ? ` after ${res.attempts} attempts` : '';
      throw new ProviderError(SYSTEM, `GET ${safeUrl(url)}: HTTP ${res.status}${tries}`, res.status >= 500);
    }
    if (!body || body.status !== 'success' || !body.data)
      throw new ProviderError(SYSTEM, `GET ${safeUrl(url)}: not a Prometheus API answer (is metrics.address the Prometheus base URL?)`);
    return { resultType: body.data.resultType, result: body.data.result };
  }
}

/** A Prometheus duration (`15s`, `1m`, `1h30m`, `1d`) in milliseconds; undefined when it is not one. */
function promDurationMs(value: unknown): number | undefined {
  if (typeof value !== 'string' || !/^(\d+(ms|s|m|h|d|w|y))+$/.test(value)) return undefined;
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 };
  let total = 0;
  for (const [, n, u] of value.matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)) total += Number(n) * (unit[u as string] ?? 0);
  return total;
}
