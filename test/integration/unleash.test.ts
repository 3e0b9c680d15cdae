import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { systemClock } from '../../src/core/clock.js';
import { PlanError, ProviderError } from '../../src/core/errors.js';
import { disableKillSwitches, killSwitchFailure, verifyKillSwitchesExist } from '../../src/core/flags/index.js';
import { validatePlanObject } from '../../src/core/plan/load.js';
import { MemoryRuntime } from '../../src/core/runtime.js';
import { freePort } from '../../harness/ports.js';
import { requireBinary, waitFor } from '../../harness/process.js';
import { startUnleash, type UnleashServer } from '../../harness/unleash.js';

// A real Unleash (unleash-server 7.5, installed on demand by scripts/ensure-unleash.sh) on a
// throwaway PostgreSQL, started once for this file.
const havePostgres = requireBinary('/usr/lib/postgresql/15/bin/initdb', 'postgresql-15');
const maybe = havePostgres ? describe : describe.skip;

maybe('Unleash kill switches', () => {
  let unleash: UnleashServer;
  beforeAll(async () => {
    unleash = await startUnleash();
    for (const flag of ['new-checkout-flow', 'search-v2', 'already-off']) await unleash.createFlag(flag);
  }, 300_000);
  afterAll(async () => {
    await unleash?.stop();
  });

  const plan = (url: string, killSwitches: string[]) =>
    validatePlanObject({ service: 'orders', environment: 'production', flags: { provider: 'unleash', url, token: unleash.adminToken, killSwitches } }, 'rollout.yml').plan;

  test('turns every kill switch off in the environment, read back off through the Admin and the client API', async () => {
    await unleash.enable('new-checkout-flow', 'production');
    await unleash.enable('new-checkout-flow', 'development');
    await unleash.enable('search-v2', 'production');
    expect(await unleash.clientState('new-checkout-flow')).toBe(true);

    const runtime = new MemoryRuntime();
    const results = await disableKillSwitches(plan(unleash.url, ['new-checkout-flow', 'search-v2', 'already-off']), { runtime, reason: 'gate failed', clock: systemClock });

    expect(results.map((r) => [r.flag, r.outcome, r.state])).toEqual([
      ['new-checkout-flow', 'off', 'off'],
      ['search-v2', 'off', 'off'],
      ['already-off', 'off', 'off'],
    ]);
    expect(killSwitchFailure(results)).toBeUndefined();
    expect(await unleash.adminState('new-checkout-flow', 'production')).toBe(false);
    // SDKs read through the client API, which may serve from a cache refreshed on change events.
    await waitFor(
      'client API to serve new-checkout-flow and search-v2 off',
      async () => (await unleash.clientState('new-checkout-flow')) === false && (await unleash.clientState('search-v2')) === false,
      15_000,
      200,
    );
    // Only the plan's environment is touched.
    expect(await unleash.adminState('new-checkout-flow', 'development')).toBe(true);
  });

  test('verifies at deploy time that kill switches exist and refuses a typo, naming the field', async () => {
    const runtime = new MemoryRuntime();
    await expect(verifyKillSwitchesExist(plan(unleash.url, ['new-checkout-flow']), { runtime, clock: systemClock })).resolves.toEqual([
      { flag: 'new-checkout-flow', existence: 'exists' },
    ]);
    const typo = verifyKillSwitchesExist(plan(unleash.url, ['new-checkout-flow', 'new-chekout-flow']), { runtime, clock: systemClock, file: '.github/rollout.yml' });
    await expect(typo).rejects.toThrow(PlanError);
    await expect(typo).rejects.toThrow('.github/rollout.yml: flags.killSwitches[1]: flag "new-chekout-flow" does not exist in Unleash project default, environment production');
  });

  test('refuses a token Unleash does not accept, without printing it', async () => {
    const runtime = new MemoryRuntime();
    const bad = validatePlanObject(
      { service: 'orders', environment: 'production', flags: { provider: 'unleash', url: unleash.url, token: '*:*.wrong-token', killSwitches: ['search-v2'] } },
      'rollout.yml',
    ).plan;
    runtime.setSecret('*:*.wrong-token');
    const results = await disableKillSwitches(bad, { runtime, reason: 'r', clock: systemClock, attempts: 1 });
    expect(results[0]).toMatchObject({ outcome: 'failed' });
    expect(results[0]?.detail).toMatch(/answered 401/);
    expect(runtime.text()).not.toContain('wrong-token');
  });

  test('reports every flag failed when the flag server is down, and refuses to start a rollout', async () => {
    const down = `http://127.0.0.1:${await freePort()}`;
    const runtime = new MemoryRuntime();
    const results = await disableKillSwitches(plan(down, ['new-checkout-flow', 'search-v2']), { runtime, reason: 'r', clock: systemClock, attempts: 1 });
    expect(results.map((r) => r.outcome)).toEqual(['failed', 'failed']);
    expect(results[0]?.detail).toMatch(/could not turn it off: unleash: POST .* connection refused/);
    expect(killSwitchFailure(results)).toMatch(/^2 kill switches could not be turned off: new-checkout-flow/);
    await expect(verifyKillSwitchesExist(plan(down, ['new-checkout-flow']), { runtime, clock: systemClock })).rejects.toThrow(ProviderError);
  });
});
