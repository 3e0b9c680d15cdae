import { parsePlanText, validatePlanObject } from '../../src/core/plan/load.js';
import { PlanError } from '../../src/core/errors.js';

const BASE = `service: orders
environment: production
metrics:
  provider: prometheus
  address: http://127.0.0.1:9090
  headers: { Authorization: "Bearer \${PROM_TOKEN}" }
analysis:
  interval: 30s
  bake: 5m
  checks:
    - name: error-rate
      query: 'sum(rate(x{track="{{track}}"}[{{window}}]))'
      max: 0.05
`;

function problems(text: string, options = {}): string[] {
  try {
    parsePlanText(text, '.github/rollout.yml', { env: { PROM_TOKEN: 'sekret' }, ...options });
  } catch (err) {
    expect(err).toBeInstanceOf(PlanError);
    return [...(err as PlanError).problems];
  }
  return [];
}

describe('rollout plan', () => {
  it('accepts a plan with only metrics and analysis, converting durations to milliseconds', () => {
    const { plan } = parsePlanText(BASE, 'p.yml', { env: { PROM_TOKEN: 'sekret' }, require: ['metrics', 'analysis'] });
    expect(plan.analysis?.interval).toBe(30_000);
    expect(plan.analysis?.bake).toBe(300_000);
    expect(plan.analysis?.onInconclusive).toBe('fail');
    expect(plan.metrics?.provider === 'prometheus' && plan.metrics.headers?.Authorization).toBe('Bearer sekret');
  });

  it('names the field path, the line, the expectation and the value it got', () => {
    const text = BASE.replace('max: 0.05', 'max: 0.05\n    - name: p99\n      query: q\n      maxRatio: fast');
    expect(problems(text)).toEqual(['analysis.checks[1].maxRatio (line 16): expected a number > 0, got "fast"']);
  });

  it('rejects unknown keys so a typo cannot silently disable a check', () => {
    const text = BASE.replace('max: 0.05', 'mxa: 0.05');
    const found = problems(text);
    expect(found).toEqual([
      'analysis.checks[0].mxa (line 13): unknown key (a typo would silently disable what it configures)',
      'analysis.checks[0] (line 11): expected at least one limit (max, min, maxIncrease, maxDecrease, maxRatio, minRatio); a check without one can never fail',
    ]);
  });

  it('lists every problem at once', () => {
    const text = BASE.replace('interval: 30s', 'interval: 30').replace('environment: production\n', '');
    const found = problems(text);
    expect(found).toHaveLength(2);
    expect(found.join('\n')).toMatch(/environment: is required/);
    expect(found.join('\n')).toMatch(/analysis.interval \(line \d+\): expected a duration/);
  });

  it('fails on an unset environment variable in a section the action uses', () => {
    expect(problems(BASE, { env: {}, require: ['metrics'] })).toEqual(['metrics.headers.Authorization (line 6): environment variable PROM_TOKEN is not set']);
  });

  it('leaves out a section the action does not use when its variables are unset', () => {
    const text = `${BASE}notify:\n  webhook: \${SLACK_WEBHOOK_URL}\n`;
    const { plan } = parsePlanText(text, 'p.yml', { env: { PROM_TOKEN: 't' }, require: ['metrics', 'analysis'] });
    expect(plan.notify).toBeUndefined();
    expect(problems(text, { env: { PROM_TOKEN: 't' }, reads: ['notify'] })).toEqual(['notify.webhook (line 15): environment variable SLACK_WEBHOOK_URL is not set']);
  });

  it('reports every interpolated value as a secret', () => {
    const secrets: string[] = [];
    parsePlanText(BASE, 'p.yml', { env: { PROM_TOKEN: 'sekret' }, onSecret: (s) => secrets.push(s) });
    expect(secrets).toEqual(['sekret']);
  });

  it('names the input when an override is invalid', () => {
    expect(problems(BASE, { overrides: [{ path: ['analysis', 'bake'], value: 'soon', input: 'bake' }] })).toEqual([
      'input bake (analysis.bake): expected a duration such as 500ms, 30s, 5m or 1h (a bare number has no unit), got "soon"',
    ]);
  });

  it('requires the sections an action needs', () => {
    expect(problems('service: a\nenvironment: b\n', { require: ['traffic'] })).toEqual(['traffic: is required by this action']);
  });

  it('rejects steps that do not increase', () => {
    const { problems: found } = (() => {
      try {
        validatePlanObject({ service: 'a', environment: 'b', steps: [5, 50, 25] }, 'p.yml');
      } catch (err) {
        return err as PlanError;
      }
      throw new Error('expected a PlanError');
    })();
    expect(found).toEqual(['steps[2]: expected steps in increasing order (after 50), got 25']);
  });

  it('reports invalid YAML with its position', () => {
    expect(problems('service: [a\n')[0]).toMatch(/^line \d+, column \d+: invalid YAML/);
  });

  it('rejects an unknown traffic provider, listing the known ones', () => {
    expect(problems('service: a\nenvironment: b\ntraffic:\n  provider: envoy\n')[0]).toMatch(/^traffic.provider \(line 4\): expected provider: haproxy \| istio/);
  });
});
