import { parseDuration } from '../../src/core/duration.js';
import { PlanError } from '../../src/core/errors.js';
import { getDurationInput } from '../../src/core/inputs.js';
import { parsePlanText } from '../../src/core/plan/load.js';
import { MemoryRuntime } from '../../src/core/runtime.js';

function problems(text: string): string[] {
  try {
    parsePlanText(text, '.github/rollout.yml', { env: {} });
  } catch (err) {
    expect(err).toBeInstanceOf(PlanError);
    return [...(err as PlanError).problems];
  }
  return [];
}

const plan = (body: string) => `service: orders\nenvironment: production\n${body}`;

describe('plans that could never be safe do not validate', () => {
  it.each([
    ['canary on haproxy, stable and canary both "blue"', 'traffic: { provider: haproxy, admin: "127.0.0.1:9999", backend: orders, stable: blue, canary: blue }', 'traffic.canary'],
    [
      'blue-green on haproxy, green named "blue"',
      'strategy: blue-green\ntraffic: { provider: haproxy, admin: "127.0.0.1:9999", backend: orders, blue: blue, green: blue }',
      'traffic.green',
    ],
    ['istio with one subset for both', 'traffic: { provider: istio, virtualService: orders, host: orders, stableSubset: v1, canarySubset: v1 }', 'traffic.canarySubset'],
    ['gateway-api with one Service for both', 'traffic: { provider: gateway-api, httpRoute: orders, stableBackend: orders, canaryBackend: orders }', 'traffic.canaryBackend'],
    ['service-selector with one colour for both', 'strategy: blue-green\ntraffic: { provider: service-selector, service: orders, blue: v1, green: v1 }', 'traffic.green'],
    [
      'kubernetes deploy with one Deployment for both',
      'traffic: { provider: gateway-api, httpRoute: orders, stableBackend: a, canaryBackend: b }\ndeploy: { kubernetes: { stableDeployment: orders, canaryDeployment: orders, container: app } }',
      'deploy.kubernetes.canaryDeployment',
    ],
  ])('refuses %s, naming the field', (_name, body, path) => {
    const found = problems(plan(body));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(new RegExp(`^${path.replace(/\./g, '\\.')} .*names the same`));
  });

  it('refuses a blue-green command plan that has no getWeight to read the live colour', () => {
    const found = problems(plan('strategy: blue-green\ntraffic: { provider: command, setWeight: "./set.sh {{weight}}" }'));
    expect(found).toEqual([expect.stringMatching(/^traffic\.getWeight: is required with strategy: blue-green/)]);
    expect(problems(plan('strategy: blue-green\ntraffic: { provider: command, setWeight: "./set.sh {{weight}}", getWeight: ./get.sh }'))).toEqual([]);
  });

  it('accepts different names for the two roles', () => {
    expect(problems(plan('traffic: { provider: haproxy, admin: "127.0.0.1:9999", backend: orders, stable: blue, canary: green }'))).toEqual([]);
  });
});

describe('durations that repeat a unit', () => {
  it.each(['1h1h', '30s30s', '30s1m', '1m1h', '5ms1s'])('refuses %s instead of summing it', (text) => {
    expect(parseDuration(text)).toBeUndefined();
    expect(() => getDurationInput(new MemoryRuntime({ bake: text }), 'bake')).toThrow(
      `input bake: expected a duration such as 500ms, 30s, 5m or 1h (each unit once, largest first`,
    );
    expect(problems(plan(`analysis: { bake: ${text}, interval: 1ms, checks: [{ name: e, query: q, max: 1 }] }`))).toEqual([
      expect.stringContaining('analysis.bake (line 3): expected a duration such as 500ms, 30s, 5m or 1h (each unit once, largest first'),
    ]);
  });
  it('still reads compound durations written largest first', () => {
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('1m30s500ms')).toBe(90_500);
  });
});
