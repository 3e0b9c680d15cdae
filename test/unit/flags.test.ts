import { describe, expect, test } from '@jest/globals';
import { FakeClock } from '../../src/core/clock.js';
import { disableKillSwitches, formatFlagResults, killSwitchFailure, verifyKillSwitchesExist, type FlagResult } from '../../src/core/flags/index.js';
import { validatePlanObject } from '../../src/core/plan/load.js';
import { MemoryRuntime } from '../../src/core/runtime.js';

const planWithout = validatePlanObject({ service: 'orders', environment: 'production' }, 'rollout.yml').plan;

describe('kill switches', () => {
  test('a flag named for a manual rollback without a flags section is a failure, not silently skipped', async () => {
    const runtime = new MemoryRuntime();
    const results = await disableKillSwitches(planWithout, { runtime, names: ['new-checkout-flow'], reason: 'manual', clock: new FakeClock() });
    expect(results).toEqual([
      { flag: 'new-checkout-flow', provider: 'none', outcome: 'failed', detail: 'the plan has no `flags` section, so there is no flag service to turn it off in' },
    ]);
    expect(runtime.logs.filter((l) => l.level === 'error')).toHaveLength(1);
  });

  test('nothing to do when the plan names no kill switches', async () => {
    expect(await disableKillSwitches(planWithout, { runtime: new MemoryRuntime(), reason: 'r', clock: new FakeClock() })).toEqual([]);
    expect(await verifyKillSwitchesExist(planWithout, { runtime: new MemoryRuntime(), clock: new FakeClock() })).toEqual([]);
  });

  test('turns names given twice off once', async () => {
    const results = await disableKillSwitches(planWithout, { runtime: new MemoryRuntime(), names: ['a', 'a', 'b'], reason: 'r', clock: new FakeClock() });
    expect(results.map((r) => r.flag)).toEqual(['a', 'b']);
  });

  test('a webhook provider cannot check existence: a warning, not a refusal', async () => {
    const plan = validatePlanObject(
      { service: 'orders', environment: 'production', flags: { provider: 'webhook', url: 'http://127.0.0.1:9/flags', killSwitches: ['x'] } },
      'rollout.yml',
    ).plan;
    const runtime = new MemoryRuntime();
    expect(await verifyKillSwitchesExist(plan, { runtime, clock: new FakeClock() })).toEqual([{ flag: 'x', existence: 'unverifiable' }]);
    expect(runtime.logs.some((l) => l.level === 'warning' && l.message.includes('cannot check'))).toBe(true);
  });

  test('the summary has one row per flag and the failure names each flag that stayed on', () => {
    const results: FlagResult[] = [
      { flag: 'a', provider: 'unleash', environment: 'production', outcome: 'off', state: 'off', detail: 'turned off and read back off' },
      { flag: 'b|c', provider: 'unleash', environment: 'production', outcome: 'failed', detail: 'still reads on after turning it off' },
    ];
    const md = formatFlagResults(results);
    expect(md).toContain('| `a` | unleash | production | ✅ off | turned off and read back off |');
    expect(md).toContain('| `b\\|c` | unleash | production | ❌ failed | still reads on after turning it off |');
    expect(killSwitchFailure(results)).toBe('1 kill switch could not be turned off: b|c (still reads on after turning it off)');
    expect(killSwitchFailure(results.slice(0, 1))).toBeUndefined();
    expect(formatFlagResults([])).toBe('');
  });
});
