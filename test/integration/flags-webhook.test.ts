import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { FakeClock } from '../../src/core/clock.js';
import { disableKillSwitches } from '../../src/core/flags/index.js';
import { validatePlanObject } from '../../src/core/plan/load.js';
import { MemoryRuntime } from '../../src/core/runtime.js';
import { startReceiver, type HttpReceiver } from './flags-http-receiver.js';

let hook: HttpReceiver;
beforeAll(async () => {
  hook = await startReceiver(() => ({ status: 202, body: { accepted: true } }));
});
afterAll(() => hook.close());

const plan = (url: string) =>
  validatePlanObject(
    {
      service: 'orders',
      environment: 'production',
      flags: { provider: 'webhook', url, headers: { 'X-Api-Key': 'k-123' }, environment: 'prod-eu', killSwitches: ['new-checkout-flow'] },
    },
    'rollout.yml',
  ).plan;

test('POSTs one JSON body per kill switch and reports it accepted but unverified', async () => {
  const runtime = new MemoryRuntime();
  const results = await disableKillSwitches(plan(`${hook.url}/hooks/flags`), { runtime, reason: 'p99 latency', clock: new FakeClock() });
  expect(results).toEqual([
    {
      flag: 'new-checkout-flow',
      provider: 'webhook',
      environment: 'prod-eu',
      outcome: 'unverified',
      state: 'unknown',
      detail: 'accepted by the webhook, which cannot be read back',
    },
  ]);
  const [req] = hook.requests;
  expect(req?.method).toBe('POST');
  expect(req?.url).toBe('/hooks/flags');
  expect(req?.headers['content-type']).toBe('application/json');
  expect(req?.headers['x-api-key']).toBe('k-123');
  expect(JSON.parse(req!.body)).toEqual({ event: 'kill-switch.off', flag: 'new-checkout-flow', environment: 'prod-eu', service: 'orders', reason: 'p99 latency' });
});

test('a receiver that refuses is a failed kill switch, and its URL path stays out of the report', async () => {
  hook.answer = () => ({ status: 403, body: 'forbidden' });
  const runtime = new MemoryRuntime();
  const results = await disableKillSwitches(plan(`${hook.url}/hooks/SECRETPATH`), { runtime, reason: 'r', clock: new FakeClock(), attempts: 2 });
  expect(results[0]?.outcome).toBe('failed');
  expect(results[0]?.detail).toMatch(/POST to 127\.0\.0\.1:\d+ answered 403: forbidden; gave up after trying 2 times/);
  expect(runtime.text()).not.toContain('SECRETPATH');
});
