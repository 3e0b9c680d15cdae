import { describe, expect, test } from '@jest/globals';
import { buildMessage, runUrlFromEnv, slackPayload } from '../../src/core/notify/index.js';
import { escapeMrkdwn, formatValue } from '../../src/core/notify/slack.js';
import { validatePlanObject } from '../../src/core/plan/load.js';

const plan = validatePlanObject({ service: 'orders', environment: 'production' }, 'rollout.yml').plan;

describe('notification messages', () => {
  test('links to the run attempt from the runner environment, and to nothing outside a runner', () => {
    expect(runUrlFromEnv({ GITHUB_SERVER_URL: 'https://ghe.acme.com/', GITHUB_REPOSITORY: 'a/b', GITHUB_RUN_ID: '7', GITHUB_RUN_ATTEMPT: '2' })).toBe(
      'https://ghe.acme.com/a/b/actions/runs/7/attempts/2',
    );
    expect(runUrlFromEnv({})).toBeUndefined();
  });

  test('escapes Slack control characters so a reason cannot inject links or mentions', () => {
    const message = buildMessage(plan, { kind: 'rollback', reason: '<!channel> a & b <http://x|y>' }, {}, 0);
    const reason = slackPayload(message).blocks.find((b) => b.type === 'section' && b.text?.text.startsWith('*Reason*'));
    expect(reason).toEqual({ type: 'section', text: { type: 'mrkdwn', text: '*Reason*\n&lt;!channel&gt; a &amp; b &lt;http://x|y&gt;' } });
    expect(escapeMrkdwn('a<b>&')).toBe('a&lt;b&gt;&amp;');
  });

  test('keeps every block within Block Kit limits however long the input', () => {
    const long = 'x'.repeat(5000);
    const payload = slackPayload(
      buildMessage(plan, { kind: 'gate-failure', version: long, reason: long, failingChecks: Array.from({ length: 100 }, (_, i) => ({ name: `check-${i}`, canary: i })) }, {}, 0),
    );
    for (const block of payload.blocks) {
      if (block.type === 'header') expect(block.text.text.length).toBeLessThanOrEqual(150);
      if (block.type === 'section') {
        if (block.text) expect(block.text.text.length).toBeLessThanOrEqual(3000);
        for (const f of block.fields ?? []) expect(f.text.length).toBeLessThanOrEqual(2000);
      }
    }
  });

  test('shows values with four significant digits and tiny values in exponent form', () => {
    expect(formatValue(0.1234567)).toBe('0.1235');
    expect(formatValue(1234.5678)).toBe('1235');
    expect(formatValue(0.00001234)).toBe('1.23e-5');
    expect(formatValue(0)).toBe('0');
    expect(formatValue(Number.NaN)).toBe('NaN');
  });

  test('says why in the one-line text: the reason, else the failing checks', () => {
    const m = buildMessage(plan, { kind: 'gate-failure', failingChecks: [{ name: 'error-rate' }, { name: 'p99' }] }, {}, 0);
    expect(m.summary).toBe('orders failed its gate (orders in production): error-rate, p99 failed');
  });
});
