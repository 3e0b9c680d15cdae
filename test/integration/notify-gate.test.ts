import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { FakeClock } from '../../src/core/clock.js';
import { runMetricsGateAction } from '../../src/core/rollout/metrics-gate.js';
import { MemoryRuntime } from '../../src/core/runtime.js';
import { tempDir } from '../../harness/process.js';
import { startReceiver, type HttpReceiver } from './flags-http-receiver.js';

// A gate that fails tells people which check failed and by how much. The metrics come from a
// real HTTP JSON endpoint through the `web` provider; the Slack side is a receiver answering as
// incoming webhooks do (https://api.slack.com/messaging/webhooks).
let metrics: HttpReceiver;
let slack: HttpReceiver;
let dir: { path: string; remove: () => void };

beforeAll(async () => {
  dir = tempDir('rollgate-notify-gate-');
  metrics = await startReceiver((req) => {
    const query = new URL(req.url, 'http://x').searchParams.get('query') ?? '';
    return { status: 200, body: { value: query.includes('canary') ? 0.2 : 0.01 } };
  });
  slack = await startReceiver(() => ({ status: 200, body: 'ok' }));
});
afterAll(async () => {
  await metrics.close();
  await slack.close();
  dir.remove();
});

function writePlan(on: string[]): string {
  const file = join(dir.path, `plan-${on.join('-')}.yml`);
  writeFileSync(
    file,
    stringify({
      service: 'orders',
      environment: 'production',
      metrics: { provider: 'web', url: `${metrics.url}/api/metric`, jsonPath: '$.value' },
      analysis: { interval: '1s', bake: '2s', checks: [{ name: 'error-rate', query: 'error_ratio{track="{{track}}"}', max: 0.05 }] },
      notify: { slack: `${slack.url}/services/T0/B0/x`, on },
    }),
  );
  return file;
}

test('a failed metrics-gate posts the failing check with canary and stable values and its limit', async () => {
  slack.requests.length = 0;
  const runtime = new MemoryRuntime({ plan: writePlan(['gate-failure']) }, { GITHUB_SERVER_URL: 'https://github.com', GITHUB_REPOSITORY: 'acme/orders', GITHUB_RUN_ID: '9' });
  const result = await runMetricsGateAction(runtime, { clock: new FakeClock(Date.UTC(2026, 0, 1)) });
  expect(result.ok).toBe(false);
  expect(slack.requests).toHaveLength(1);
  const body = JSON.parse(slack.requests[0]!.body) as { text: string; blocks: { type: string; text?: { text: string }; fields?: { text: string }[] }[] };
  expect(body.blocks[0]?.text?.text).toBe('❌ orders failed its gate');
  expect(body.blocks[1]?.fields?.map((f) => f.text)).toContain('*Verdict*\nfail');
  const checks = body.blocks.find((b) => b.text?.text.startsWith('*Failing checks*'))?.text?.text ?? '';
  expect(checks).toMatch(/^\*Failing checks\*\n• `error-rate`: canary 0\.2, stable 0\.01 \(limit [^)]*0\.05[^)]*\)/);
  expect(body.blocks.at(-1)?.type).toBe('context');
  expect(JSON.stringify(body.blocks.at(-1))).toContain('https://github.com/acme/orders/actions/runs/9');
});

test('a plan that asks only for rollbacks is not told about gate failures', async () => {
  slack.requests.length = 0;
  const result = await runMetricsGateAction(new MemoryRuntime({ plan: writePlan(['rollback']) }), { clock: new FakeClock(Date.UTC(2026, 0, 1)) });
  expect(result.ok).toBe(false);
  expect(slack.requests).toHaveLength(0);
});
