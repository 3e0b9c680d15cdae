import { CloudWatchClient, GetMetricDataCommand, type MetricDataQuery, type MetricDataResult } from '@aws-sdk/client-cloudwatch';
import { systemClock, type Clock } from '../clock.js';
import { ProviderError, describeError } from '../errors.js';
import type { MetricsConfig } from '../plan/schema.js';
import { outcomeOf, type MetricsProvider, type QueryOutcome, type RangeOutcome, type RangeQuery, type SeriesPoint } from './provider.js';

export type CloudWatchConfig = Extract<MetricsConfig, { provider: 'cloudwatch' }>;

const SYSTEM = 'cloudwatch';

/** The window an instant query looks back over: CloudWatch's standard metrics arrive once a minute. */
export const INSTANT_LOOKBACK_MS = 5 * 60_000;

/** Pages of GetMetricData followed before giving up; a bake window needs one or two. */
const MAX_PAGES = 20;

/** A CloudWatch period for a step: 1, 5, 10 or 30 seconds (high resolution), else whole minutes. */
export function cloudWatchPeriod(stepMs: number): number {
  const seconds = stepMs / 1000;
  if (seconds >= 60) return Math.max(60, Math.round(seconds / 60) * 60);
  return [1, 5, 10, 30].find((p) => p >= seconds) ?? 60;
}

/**
 * The check's query as a MetricDataQuery: JSON (a MetricDataQuery, or the shorthand
 * {Namespace, MetricName, Dimensions, Stat}) or else an expression (Metrics Insights SQL or
 * metric math).
 */
export function metricDataQuery(query: string, period: number): MetricDataQuery {
  const text = query.trim();
  if (!text.startsWith('{')) return { Id: 'rollgate', Expression: text, Period: period, ReturnData: true };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ProviderError(SYSTEM, `the query looks like JSON but does not parse: ${describeError(err)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ProviderError(SYSTEM, 'a JSON query must be an object');
  const o = parsed as Record<string, unknown>;
  if ('MetricStat' in o || 'Expression' in o) {
    const q = { ...o, Id: 'rollgate', ReturnData: true } as MetricDataQuery;
    if (q.MetricStat) q.MetricStat = { ...q.MetricStat, Period: q.MetricStat.Period ?? period };
    else q.Period = q.Period ?? period;
    return q;
  }
  if (typeof o.Namespace !== 'string' || typeof o.MetricName !== 'string')
    throw new ProviderError(SYSTEM, 'a JSON query needs MetricStat, Expression, or Namespace and MetricName');
  return {
    Id: 'rollgate',
    ReturnData: true,
    MetricStat: {
      Metric: { Namespace: o.Namespace, MetricName: o.MetricName, Dimensions: Array.isArray(o.Dimensions) ? (o.Dimensions as { Name: string; Value: string }[]) : undefined },
      Stat: typeof o.Stat === 'string' ? o.Stat : 'Average',
      Period: typeof o.Period === 'number' ? o.Period : period,
      Unit: typeof o.Unit === 'string' ? (o.Unit as never) : undefined,
    },
  };
}

function shorten(query: string): string {
  const flat = query.replace(/\s+/g, ' ').trim();
  return flat.length > 160 ? `${flat.slice(0, 160)}…` : flat;
}

/**
 * Amazon CloudWatch through the official client (GetMetricData, SigV4-signed). Credentials come
 * from the SDK's default chain: environment variables (as aws-actions/configure-aws-credentials
 * exports them after assuming an OIDC role), web identity token files, profiles.
 */
export class CloudWatchProvider implements MetricsProvider {
  readonly name = SYSTEM;
  private readonly client: CloudWatchClient;

  constructor(
    private readonly config: CloudWatchConfig,
    private readonly clock: Clock = systemClock,
  ) {
    this.client = new CloudWatchClient({
      region: config.region,
      endpoint: config.endpoint,
      maxAttempts: config.retries + 1,
      requestHandler: { requestTimeout: config.timeout, connectionTimeout: config.timeout },
    });
  }

  /** The newest datapoint in the few minutes up to `time` (default now). */
  async query(query: string, options: { time?: number; signal?: AbortSignal } = {}): Promise<QueryOutcome> {
    const end = options.time ?? this.clock.now();
    const range = await this.queryRange(query, { start: end - INSTANT_LOOKBACK_MS, end, stepMs: 60_000 }, options);
    switch (range.kind) {
      case 'no-data':
      case 'many-series':
        return range;
      case 'series': {
        return outcomeOf(range.points[range.points.length - 1]!.value);
      }
    }
  }

  /** Datapoints of `query` between start and end, one per period (the step rounded to a valid period). */
  async queryRange(query: string, range: RangeQuery, options: { signal?: AbortSignal } = {}): Promise<RangeOutcome> {
    const dataQuery = metricDataQuery(query, cloudWatchPeriod(range.stepMs));
    const series = new Map<string, SeriesPoint[]>();
    let nextToken: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const command = new GetMetricDataCommand({
        StartTime: new Date(range.start),
        EndTime: new Date(range.end),
        MetricDataQueries: [dataQuery],
        ScanBy: 'TimestampAscending',
        NextToken: nextToken,
      });
      let answer;
      try {
        answer = await this.client.send(command, { abortSignal: options.signal });
      } catch (err) {
        throw explain(err, query);
      }
      for (const result of answer.MetricDataResults ?? []) collect(series, result, query);
      nextToken = answer.NextToken;
      if (!nextToken) break;
    }
    if (series.size === 0) return { kind: 'no-data' };
    if (series.size > 1) return { kind: 'many-series', count: series.size };
    const points = [...series.values()][0]!.sort((a, b) => a.time - b.time);
    return points.length === 0 ? { kind: 'no-data' } : { kind: 'series', points };
  }
}

function collect(series: Map<string, SeriesPoint[]>, result: MetricDataResult, query: string): void {
  const messages = (result.Messages ?? []).map((m) => `${m.Code ?? ''} ${m.Value ?? ''}`.trim()).join('; ');
  switch (result.StatusCode) {
    case 'Forbidden':
      throw new ProviderError(SYSTEM, `not allowed to read this metric${messages ? `: ${messages}` : ''} (the role needs cloudwatch:GetMetricData) — query: ${shorten(query)}`);
    case 'InternalError':
      throw new ProviderError(SYSTEM, `CloudWatch reported an internal error${messages ? `: ${messages}` : ''} — query: ${shorten(query)}`, true);
    case 'Complete':
    case 'PartialData':
    case undefined:
      break;
  }
  const key = result.Label ?? result.Id ?? '';
  const points = series.get(key) ?? [];
  const times = result.Timestamps ?? [];
  const values = result.Values ?? [];
  if (times.length !== values.length) throw new ProviderError(SYSTEM, `answer has ${times.length} timestamps for ${values.length} values — query: ${shorten(query)}`);
  times.forEach((t, i) => points.push({ time: t.getTime(), value: values[i]! }));
  // A result with no datapoints still names the series: it counts as that series, empty.
  series.set(key, points);
}

/** Turns the SDK's errors into messages a release engineer can act on. */
function explain(err: unknown, query: string): ProviderError {
  if (err instanceof ProviderError) return err;
  const name = err instanceof Error ? err.name : '';
  const message = describeError(err);
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  if (name === 'CredentialsProviderError' || /Could not load credentials/i.test(message))
    return new ProviderError(
      SYSTEM,
      'no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or assume a role first (aws-actions/configure-aws-credentials with OIDC)',
    );
  if (
    /^(InvalidClientTokenId|UnrecognizedClient(Exception)?|InvalidSignature(Exception)?|SignatureDoesNotMatch|ExpiredToken(Exception)?|AccessDenied(Exception)?|MissingAuthenticationToken)$/.test(
      name,
    )
  )
    return new ProviderError(SYSTEM, `credentials rejected (${name}): ${message}`);
  if (/^(Throttling(Exception)?|ThrottledException|RequestLimitExceeded|TooManyRequestsException|LimitExceeded(Exception)?)$/.test(name) || status === 429)
    return new ProviderError(SYSTEM, `rate limited (${name || 'HTTP 429'}): ${message}`, true);
  if (/^(InvalidParameter\w*|MissingParameter\w*|ValidationError|ValidationException)$/.test(name))
    return new ProviderError(SYSTEM, `query rejected (${name}): ${message} — query: ${shorten(query)}`);
  if (name === 'AbortError') return new ProviderError(SYSTEM, 'cancelled');
  const http = status ? ` (HTTP ${status})` : '';
  return new ProviderError(SYSTEM, `GetMetricData failed${http}: ${name ? `${name}: ` : ''}${message}`, status === undefined || status >= 500);
}
