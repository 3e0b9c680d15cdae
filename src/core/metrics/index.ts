import { systemClock, type Clock } from '../clock.js';
import type { MetricsConfig } from '../plan/schema.js';
import { DatadogProvider } from './datadog.js';
import { NewRelicProvider } from './newrelic.js';
import { PrometheusProvider } from './prometheus.js';
import { WebProvider } from './web.js';
import type { MetricsProvider } from './provider.js';

export type { MetricsProvider, QueryOutcome, RangeOutcome, RangeQuery, SeriesPoint } from './provider.js';
export { describeOutcome } from './provider.js';

/** The metrics provider the plan's `metrics` section names. */
export function createMetricsProvider(config: MetricsConfig, options: { clock?: Clock } = {}): MetricsProvider {
  const clock = options.clock ?? systemClock;
  switch (config.provider) {
    case 'prometheus':
      return new PrometheusProvider(config, clock);
    case 'datadog':
      return new DatadogProvider(config, clock);
    case 'newrelic':
      return new NewRelicProvider(config, clock);
    case 'cloudwatch':
      // The AWS SDK is most of a bundle's start-up time: load it only when a plan uses CloudWatch.
      return deferred('cloudwatch', async () => new (await import('./cloudwatch.js')).CloudWatchProvider(config, clock));
    case 'web':
      return new WebProvider(config, clock);
  }
}

/** A provider whose module loads on first use; construction errors surface from that first query. */
function deferred(name: string, load: () => Promise<MetricsProvider>): MetricsProvider {
  let loading: Promise<MetricsProvider> | undefined;
  const provider = () => (loading ??= load());
  return {
    name,
    query: async (query, options) => (await provider()).query(query, options),
    queryRange: async (query, range, options) => (await provider()).queryRange(query, range, options),
  };
}
