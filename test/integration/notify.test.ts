import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { FakeClock } from '../../src/core/clock.js';
import { notify } from '../../src/core/notify/index.js';
import { validatePlanObject } from '../../src/core/plan/load.js';
import { MemoryRuntime } from '../../src/core/runtime.js';
import { freePort } from '../../harness/ports.js';
import { startReceiver, type HttpReceiver } from './flags-http-receiver.js';

// Slack cannot run here: a local server answers as incoming webhooks are documented to.
// - Sending messages with incoming webhooks: https://api.slack.com/messaging/webhooks
//   (POST JSON with `text` and `blocks`, Content-type: application/json; answer 200 "ok")
// - Errors: https://api.slack.com/messaging/webhooks#handling_errors (400 invalid_payload,
//   403 action_prohibited, 404 no_service, 500 rollup_error …)
// - Block Kit: https://api.slack.com/reference/block-kit/blocks (header, section, context)

const RUN_ENV = { GITHUB_SERVER_URL: 'https://github.com', GITHUB_REPOSITORY: 'acme/orders', GITHUB_RUN_ID: '4242' };

const plan = (notifySection: Record<string, unknown>) =>
  validatePlanObject({ service: 'orders', environment: 'production', runbook: 'https://wiki.example.com/orders/runbook', notify: notifySection }, 'rollout.yml').plan;

const gateFailure = {
  kind: 'gate-failure' as const,
  version: 'ghcr.io/acme/orders:1.4.2',
  verdict: 'fail' as const,
  reason: 'canary failed at 25%',
  failingChecks: [{ name: 'error-rate', canary: 0.1234567, stable: 0.01, limit: 'max 0.05' }],
};

describe('notifications', () => {
  let slack: HttpReceiver;
  let hook: HttpReceiver;
  beforeAll(async () => {
    slack = await startReceiver(() => ({ status: 200, body: 'ok' }));
    hook = await startReceiver(() => ({ status: 204 }));
  });
  afterAll(async () => {
    await slack.close();
    await hook.close();
  });
  beforeEach(() => {
    slack.requests.length = 0;
    hook.requests.length = 0;
    slack.answer = () => ({ status: 200, body: 'ok' });
  });

  test('posts a Slack Block Kit message with service, version, verdict, failing checks with values, and the run link', async () => {
    const runtime = new MemoryRuntime({}, RUN_ENV);
    const results = await notify(plan({ slack: `${slack.url}/services/T000/B000/XXXX` }), gateFailure, { runtime, clock: new FakeClock(Date.UTC(2026, 0, 2)) });

    expect(results).toEqual([{ target: 'slack', ok: true, status: 200, attempts: 1, detail: `delivered to ${new URL(slack.url).host}` }]);
    expect(slack.requests).toHaveLength(1);
    const req = slack.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/services/T000/B000/XXXX');
    expect(req.headers['content-type']).toBe('application/json');
    expect(JSON.parse(req.body)).toEqual({
      text: 'orders failed its gate (orders ghcr.io/acme/orders:1.4.2 in production): canary failed at 25%',
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: '❌ orders failed its gate', emoji: true } },
        {
          type: 'section',
          fields: [
            { type: 'mrkdwn', text: '*Service*\norders' },
            { type: 'mrkdwn', text: '*Environment*\nproduction' },
            { type: 'mrkdwn', text: '*Version*\n`ghcr.io/acme/orders:1.4.2`' },
            { type: 'mrkdwn', text: '*Verdict*\nfail' },
          ],
        },
        { type: 'section', text: { type: 'mrkdwn', text: '*Reason*\ncanary failed at 25%' } },
        { type: 'section', text: { type: 'mrkdwn', text: '*Failing checks*\n• `error-rate`: canary 0.1235, stable 0.01 (limit max 0.05)' } },
        {
          type: 'context',
          elements: [{ type: 'mrkdwn', text: '<https://github.com/acme/orders/actions/runs/4242|View the run> · <https://wiki.example.com/orders/runbook|Runbook>' }],
        },
      ],
    });
  });

  test('sends the generic webhook the same message plus the structured event', async () => {
    const runtime = new MemoryRuntime({}, RUN_ENV);
    const killSwitches = [{ flag: 'new-checkout-flow', outcome: 'off', detail: 'turned off and read back off' }];
    const results = await notify(
      plan({ webhook: `${hook.url}/rollouts` }),
      { kind: 'rollback', version: '1.4.2', reason: 'manual', killSwitches },
      {
        runtime,
        clock: new FakeClock(Date.UTC(2026, 0, 2, 3, 4, 5)),
      },
    );
    expect(results[0]?.ok).toBe(true);
    const body = JSON.parse(hook.requests[0]!.body) as Record<string, unknown>;
    expect(body.text).toBe('orders rolled back (orders 1.4.2 in production): manual');
    expect(body.rollgate).toEqual({
      event: 'rollback',
      title: '⏪ orders rolled back',
      summary: 'orders rolled back (orders 1.4.2 in production): manual',
      service: 'orders',
      environment: 'production',
      version: '1.4.2',
      reason: 'manual',
      failingChecks: [],
      killSwitches,
      runUrl: 'https://github.com/acme/orders/actions/runs/4242',
      runbook: 'https://wiki.example.com/orders/runbook',
      at: '2026-01-02T03:04:05.000Z',
    });
  });

  test('retries a Slack outage and delivers once it answers', async () => {
    let calls = 0;
    slack.answer = () => (++calls < 3 ? { status: 500, body: 'rollup_error' } : { status: 200, body: 'ok' });
    const clock = new FakeClock();
    const results = await notify(plan({ slack: slack.url }), { kind: 'promotion', version: '1.4.2', verdict: 'pass' }, { runtime: new MemoryRuntime(), clock });
    expect(results[0]).toMatchObject({ ok: true, attempts: 3 });
    expect(slack.requests).toHaveLength(3);
    expect(clock.now()).toBeGreaterThan(0); // backed off between attempts
  });

  test('reports a refused message without retrying or throwing, and keeps the URL secret out of the log', async () => {
    slack.answer = () => ({ status: 400, body: 'invalid_payload' });
    const runtime = new MemoryRuntime();
    const results = await notify(plan({ slack: `${slack.url}/services/T000/B000/SECRETPART` }), gateFailure, { runtime, clock: new FakeClock() });
    expect(results[0]).toMatchObject({ ok: false, status: 400, attempts: 1 });
    expect(results[0]?.detail).toContain('invalid_payload');
    const warning = runtime.logs.find((l) => l.level === 'warning');
    expect(warning?.message).toMatch(/could not notify slack of gate-failure: 127\.0\.0\.1:\d+ answered 400 invalid_payload/);
    expect(runtime.text()).not.toContain('SECRETPART');
  });

  test('never throws when nothing listens, even after retries', async () => {
    const port = await freePort();
    const runtime = new MemoryRuntime();
    const results = await notify(plan({ slack: `http://127.0.0.1:${port}/services/T/B/SECRETPART`, webhook: `${hook.url}/x` }), gateFailure, {
      runtime,
      clock: new FakeClock(),
      retries: 2,
    });
    expect(results.map((r) => [r.target, r.ok])).toEqual([
      ['slack', false],
      ['webhook', true],
    ]);
    expect(results[0]?.detail).toMatch(/connection refused \(after 3 attempts\)/);
    expect(runtime.text()).not.toContain('SECRETPART');
  });

  test('sends only the events listed in notify.on', async () => {
    const results = await notify(plan({ slack: slack.url, on: ['rollback'] }), gateFailure, { runtime: new MemoryRuntime(), clock: new FakeClock() });
    expect(results).toEqual([]);
    expect(slack.requests).toHaveLength(0);
  });
});
