import { afterAll, describe, expect, it } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError, PlanError } from '../../src/core/errors.js';
import { resolveMetricsGate, shortcutChecks } from '../../src/core/rollout/metrics-gate.js';
import { MemoryRuntime } from '../../src/core/runtime.js';
import { tempDir } from '../../harness/process.js';

const dir = tempDir('rollgate-gate-inputs-');
afterAll(() => dir.remove());

function plan(name: string, lines: string[]): string {
  const file = join(dir.path, name);
  writeFileSync(file, ['service: orders', 'environment: production', ...lines].join('\n'));
  return file;
}

const PLAN = [
  'metrics: { provider: prometheus, address: "http://prom:9090", bearerToken: abc }',
  'analysis:',
  '  interval: 30s',
  '  bake: 5m',
  '  checks:',
  '    - { name: error-rate, query: "errors{track=\\"{{track}}\\"}", max: 0.05, maxIncrease: 0.01 }',
];

function failure(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
}

describe('metrics-gate inputs', () => {
  it('turns the classic shortcut inputs into checks on the conventional metrics', () => {
    const checks = shortcutChecks({ errorRatePercent: 1, p95Ms: 300, p99Ms: 800, selector: 'service="orders"', trackLabel: 'slot' });
    expect(checks.map((c) => [c.name, c.max])).toEqual([
      ['error-rate', 0.01],
      ['latency-p95', 0.3],
      ['latency-p99', 0.8],
    ]);
    expect(checks[0]?.query).toBe(
      '(sum(rate(http_requests_total{service="orders",slot="{{track}}",status=~"5.."}[{{window}}])) or vector(0)) / sum(rate(http_requests_total{service="orders",slot="{{track}}"}[{{window}}]))',
    );
    expect(checks[2]?.query).toBe('histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{service="orders",slot="{{track}}"}[{{window}}])))');
  });

  it('overrides bake, interval, window and the Prometheus address for one run, keeping the plan’s auth', () => {
    const runtime = new MemoryRuntime({ plan: plan('a.yml', PLAN), bake: '2m', interval: '10s', window: '1m', 'prometheus-url': 'http://127.0.0.1:9090' });
    const { analysis, metrics } = resolveMetricsGate(runtime);
    expect([analysis.bake, analysis.interval, analysis.window]).toEqual([120_000, 10_000, 60_000]);
    expect(metrics).toMatchObject({ provider: 'prometheus', address: 'http://127.0.0.1:9090', bearerToken: 'abc' });
  });

  it('gives a plan check of the same name the shortcut’s threshold and adds the others', () => {
    const runtime = new MemoryRuntime({ plan: plan('b.yml', PLAN), 'error-rate-threshold': '2', 'latency-p99-ms': '500' });
    const { analysis } = resolveMetricsGate(runtime);
    expect(analysis.checks.map((c) => [c.name, c.max, c.query.slice(0, 6)])).toEqual([
      ['error-rate', 0.02, 'errors'],
      ['latency-p99', 0.5, 'histog'],
    ]);
    expect(analysis.checks[0]?.maxIncrease).toBe(0.01);
  });

  it('names the input when interval exceeds bake, or min-requests has no requests query', () => {
    const file = plan('c.yml', PLAN);
    const tooLong = failure(() => resolveMetricsGate(new MemoryRuntime({ plan: file, interval: '10m' })));
    expect(tooLong).toBeInstanceOf(InputError);
    expect(tooLong.message).toBe('input interval: expected interval (10m) ≤ bake (5m)');
    const noQuery = failure(() => resolveMetricsGate(new MemoryRuntime({ plan: file, 'min-requests': '100' })));
    expect(noQuery.message).toMatch(/^input min-requests: needs analysis\.requests in .*c\.yml/);
  });

  it('rejects malformed inputs by name', () => {
    const file = plan('d.yml', PLAN);
    expect(failure(() => resolveMetricsGate(new MemoryRuntime({ plan: file, 'error-rate-threshold': '1%' }))).message).toBe(
      'input error-rate-threshold: expected a number from 0 to 100, got "1%"',
    );
    expect(failure(() => resolveMetricsGate(new MemoryRuntime({ plan: file, bake: 'soon' }))).message).toMatch(/^input bake: expected a duration/);
    expect(failure(() => resolveMetricsGate(new MemoryRuntime({ plan: file, 'prometheus-url': 'prom:9090' }))).message).toMatch(/^input prometheus-url: expected a URL/);
    expect(failure(() => resolveMetricsGate(new MemoryRuntime({ plan: file, selector: '{job="x"}', 'error-rate-threshold': '1' }))).message).toMatch(
      /^input selector: expected label matchers without braces/,
    );
  });

  it('says which section is missing when the plan cannot drive a gate', () => {
    const err = failure(() => resolveMetricsGate(new MemoryRuntime({ plan: plan('e.yml', []) })));
    expect(err).toBeInstanceOf(PlanError);
    expect(err.message).toMatch(/e\.yml: analysis: is required by metrics-gate \(or set error-rate-threshold, latency-p95-ms or latency-p99-ms\)/);
    const noMetrics = failure(() => resolveMetricsGate(new MemoryRuntime({ plan: plan('f.yml', []), 'error-rate-threshold': '1' })));
    expect(noMetrics.message).toMatch(/f\.yml: metrics: is required by metrics-gate \(or set the prometheus-url input\)/);
  });

  it('needs the named plan file to exist even when shortcut inputs are given', () => {
    const err = failure(() => resolveMetricsGate(new MemoryRuntime({ plan: join(dir.path, 'missing.yml'), 'error-rate-threshold': '1', 'prometheus-url': 'http://p:9090' })));
    expect(err.message).toMatch(/missing\.yml: no such file/);
  });
});
