import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parsePlanText } from '../../src/core/plan/load.js';

// The plan a reader copies from the README must be one rollgate accepts.
describe('the README', () => {
  const readme = readFileSync(join(process.cwd(), 'README.md'), 'utf8');
  const plans = [...readme.matchAll(/```yaml\n((?:#[^\n]*\n)*service:[\s\S]*?)```/g)].map((m) => m[1] as string);

  it('shows a full rollout plan', () => {
    expect(plans.length).toBeGreaterThan(0);
  });

  it.each(plans.map((p, i) => [i, p]))('plan example %i validates', (_i, text) => {
    const env = { PROM_TOKEN: 'token', UNLEASH_TOKEN: 'token', SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T0/B0/x' };
    const { plan } = parsePlanText(text as string, 'README.md', { env, require: ['traffic', 'deploy', 'metrics', 'analysis', 'steps'], reads: ['flags', 'notify'] });
    expect(plan.service).toBe('orders');
  });
});
