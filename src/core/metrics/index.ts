import { systemClock, type Clock } from '../clock.js';
import { UserError } from '../errors.js';
import type { MetricsConfig } from '../plan/schema.js';
import { PrometheusProvider } from './prometheus.js';
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
    case 'newrelic':
    case 'cloudwatch':
    case 'web':
      throw new UserError(`metrics provider ${config.provider} is not implemented yet`);
  }
}
