import { systemClock, type Clock } from '../clock.js';
import type { MetricsConfig } from '../plan/schema.js';
import { CloudWatchProvider } from './cloudwatch.js';
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
      return new CloudWatchProvider(config, clock);
    case 'web':
      return new WebProvider(config, clock);
  }
}
