import { parsePlanText } from '../../src/core/plan/load.js';
import { PlanError } from '../../src/core/errors.js';

const plan = `
service: orders
environment: production
traffic: { provider: haproxy, admin: 127.0.0.1:9999, backend: orders }
smoke:
  - { name: live, url: http://canary.internal/health, timout: 5s }
notify: { slack: "\${SLACK_WEBHOOK_URL}" }
flags: { provider: unleash, url: http://unleash:4242, token: "\${UNLEASH_TOKEN}", killSwitches: [new-checkout] }
analysis: { bake: soon, checks: [{ name: e, query: q, max: 1 }] }
extra: true
`;

describe('lenient plan loading: rollback validates only what moves traffic', () => {
  it('keeps the traffic section and leaves out each broken section, listing every problem', () => {
    const loaded = parsePlanText(plan, 'rollout.yml', { require: ['traffic'], reads: ['flags', 'notify', 'analysis', 'smoke'], lenient: true, env: {} });
    expect(loaded.plan.traffic).toMatchObject({ provider: 'haproxy', backend: 'orders' });
    for (const section of ['smoke', 'notify', 'flags', 'analysis'] as const) expect(loaded.plan[section]).toBeUndefined();
    expect(loaded.problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^notify\.slack \(line 7\): environment variable SLACK_WEBHOOK_URL is not set \(notify left out\)$/),
        expect.stringMatching(/^flags\.token \(line 8\): environment variable UNLEASH_TOKEN is not set \(flags left out\)$/),
        expect.stringMatching(/^smoke\[0\]\.timout \(line 6\): unknown key .*\(smoke left out\)$/),
        expect.stringMatching(/^analysis\.bake.*\(analysis left out\)$/),
        'extra: unknown key (left out)',
      ]),
    );
    // The kill switches a broken flags section names are kept aside, so each can be reported.
    expect(loaded.leftOut?.flags).toMatchObject({ killSwitches: ['new-checkout'] });
  });

  it('still fails on a broken traffic section, naming the field', () => {
    const broken = plan.replace('backend: orders', 'backend: ""');
    expect(() => parsePlanText(broken, 'rollout.yml', { require: ['traffic'], lenient: true, env: {} })).toThrow(PlanError);
    expect(() => parsePlanText(broken, 'rollout.yml', { require: ['traffic'], lenient: true, env: {} })).toThrow(/traffic\.backend/);
  });

  it('without lenient, the same plan fails as before', () => {
    expect(() => parsePlanText(plan, 'rollout.yml', { require: ['traffic'], reads: ['flags', 'notify'], env: {} })).toThrow(PlanError);
  });
});
