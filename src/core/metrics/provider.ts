/**
 * What one instant query returned. Only `value` is a number a gate may judge; the other
 * outcomes are named so the gate can report them instead of guessing.
 */
export type QueryOutcome =
  | { kind: 'value'; value: number }
  /** The query matched no series (e.g. no 5xx series exists yet, or no traffic). */
  | { kind: 'no-data' }
  /** The query matched several series where one was expected (a missing `sum`). */
  | { kind: 'many-series'; count: number }
  | { kind: 'nan' }
  | { kind: 'infinite'; sign: 1 | -1 };

export interface SeriesPoint {
  /** Unix time in milliseconds. */
  time: number;
  /** May be NaN or ±Infinity: range consumers decide (nanStrategy). */
  value: number;
}

/** What one range query returned. */
export type RangeOutcome = { kind: 'series'; points: SeriesPoint[] } | { kind: 'no-data' } | { kind: 'many-series'; count: number };

export interface RangeQuery {
  /** Unix milliseconds. */
  start: number;
  end: number;
  stepMs: number;
}

/**
 * A metrics backend. Transport and backend failures (unreachable, timeout, 5xx after retries,
 * a rejected query) throw ProviderError; what the data says is returned as an outcome.
 */
export interface MetricsProvider {
  readonly name: string;
  query(query: string, options?: { time?: number; signal?: AbortSignal }): Promise<QueryOutcome>;
  queryRange(query: string, range: RangeQuery, options?: { signal?: AbortSignal }): Promise<RangeOutcome>;
}

/** Classifies a number a backend returned: only a finite one is a value a gate may judge. */
export function outcomeOf(value: number): QueryOutcome {
  if (Number.isNaN(value)) return { kind: 'nan' };
  if (!Number.isFinite(value)) return { kind: 'infinite', sign: value > 0 ? 1 : -1 };
  return { kind: 'value', value };
}

/** A short, human description of an outcome for tables and messages. */
export function describeOutcome(outcome: QueryOutcome): string {
  switch (outcome.kind) {
    case 'value':
      return String(outcome.value);
    case 'no-data':
      return 'no data';
    case 'many-series':
      return `${outcome.count} series (expected 1)`;
    case 'nan':
      return 'NaN';
    case 'infinite':
      return outcome.sign > 0 ? '+Inf' : '-Inf';
  }
}
