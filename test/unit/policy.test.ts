import { describe, expect, it } from '@jest/globals';
import { checkReleasePolicy, renderPolicySummary } from '../../src/core/policy/check.js';
import { checkRequirements, classifyRelease } from '../../src/core/policy/risk.js';
import { evaluateWindows, localTime } from '../../src/core/policy/windows.js';
import { validatePlanObject } from '../../src/core/plan/load.js';
import { policySchema, type Plan } from '../../src/core/plan/schema.js';
import { PlanError } from '../../src/core/errors.js';

const at = (iso: string) => Date.parse(iso);
const policy = (raw: unknown) => policySchema.parse(raw);

// Office hours in Berlin, Monday to Thursday, and a short Friday.
const berlin = policy({
  windows: {
    timeZone: 'Europe/Berlin',
    allow: [
      { days: ['mon', 'tue', 'wed', 'thu'], from: '09:00', to: '17:00' },
      { days: ['fri'], from: '09:00', to: '12:00' },
    ],
  },
});

function windowOutcome(p: ReturnType<typeof policy>, iso: string): string {
  const f = evaluateWindows(p, at(iso)).find((x) => x.rule === 'policy.windows');
  return f?.outcome ?? 'none';
}

describe('deploy windows in a time zone, across DST changes (injected instants)', () => {
  it('reads local wall-clock time with the zone offset of that day', () => {
    // Berlin is UTC+1 in winter, UTC+2 from 2026-03-29 01:00 UTC.
    expect(localTime(at('2026-03-27T08:30:00Z'), 'Europe/Berlin')).toMatchObject({ weekday: 'fri', clock: '09:30' });
    expect(localTime(at('2026-03-30T07:30:00Z'), 'Europe/Berlin')).toMatchObject({ weekday: 'mon', clock: '09:30' });
    // The hour that does not exist: 02:00–03:00 local is skipped.
    expect(localTime(at('2026-03-29T00:59:00Z'), 'Europe/Berlin').clock).toBe('01:59');
    expect(localTime(at('2026-03-29T01:00:00Z'), 'Europe/Berlin').clock).toBe('03:00');
  });

  it('allows 09:30 local on both sides of the spring change, though the UTC hour differs', () => {
    expect(windowOutcome(berlin, '2026-03-26T08:30:00Z')).toBe('allow'); // Thu 09:30 CET
    expect(windowOutcome(berlin, '2026-03-30T07:30:00Z')).toBe('allow'); // Mon 09:30 CEST
    // The same UTC instants a week apart mean 08:30 local after the change: refused.
    expect(windowOutcome(berlin, '2026-03-26T07:30:00Z')).toBe('refuse'); // Thu 08:30 CET
    expect(windowOutcome(berlin, '2026-03-30T06:30:00Z')).toBe('refuse'); // Mon 08:30 CEST
  });

  it('closes at 17:00 local in autumn, before and after the clocks go back', () => {
    // 2026-10-25 01:00 UTC: CEST → CET.
    expect(windowOutcome(berlin, '2026-10-22T14:59:00Z')).toBe('allow'); // Thu 16:59 CEST
    expect(windowOutcome(berlin, '2026-10-22T15:00:00Z')).toBe('refuse'); // Thu 17:00 CEST
    expect(windowOutcome(berlin, '2026-10-26T15:59:00Z')).toBe('allow'); // Mon 16:59 CET
    expect(windowOutcome(berlin, '2026-10-26T16:00:00Z')).toBe('refuse'); // Mon 17:00 CET
  });

  it('refuses Friday afternoon and the weekend, naming the time, the windows and when the next one opens', () => {
    const [f] = evaluateWindows(berlin, at('2026-03-27T13:30:00Z')); // Fri 14:30 CET
    expect(f).toMatchObject({ rule: 'policy.windows', outcome: 'refuse', overridable: true });
    expect(f!.measured).toBe('now fri 2026-03-27 14:30 Europe/Berlin is outside every deploy window');
    expect(f!.limit).toContain('mon,tue,wed,thu 09:00–17:00; fri 09:00–12:00');
    // The next window is Monday 09:00 local, which is after the spring change (07:00 UTC).
    expect(f!.proceed).toContain('the next window opens mon 2026-03-30 09:00 Europe/Berlin');
    expect(f!.proceed).toContain('reason');
  });

  it('handles New York falling back: 09:00 local is 13:00 UTC before and 14:00 UTC after', () => {
    const ny = policy({ windows: { timeZone: 'America/New_York', allow: [{ days: ['fri', 'mon'], from: '09:00', to: '10:00' }] } });
    expect(windowOutcome(ny, '2026-10-30T13:00:00Z')).toBe('allow'); // Fri 09:00 EDT
    expect(windowOutcome(ny, '2026-11-02T13:00:00Z')).toBe('refuse'); // Mon 08:00 EST
    expect(windowOutcome(ny, '2026-11-02T14:00:00Z')).toBe('allow'); // Mon 09:00 EST
  });
});

describe('freezes', () => {
  const frozen = policy({
    timeZone: 'Europe/Berlin',
    freezes: [
      { from: '2026-12-21', to: '2027-01-04', reason: 'year-end freeze' },
      { from: '2026-11-24T14:00Z', to: '2026-11-24T18:00Z', reason: 'incident INC-42' },
    ],
  });
  const outcome = (iso: string) =>
    evaluateWindows(frozen, at(iso))
      .filter((f) => f.outcome === 'refuse')
      .map((f) => f.rule);

  it('reads dates as whole local days, inclusive of the last one', () => {
    expect(outcome('2026-12-20T22:59:00Z')).toEqual([]); // 23:59 on the 20th in Berlin
    expect(outcome('2026-12-20T23:00:00Z')).toEqual(['policy.freezes[0]']); // 00:00 on the 21st
    expect(outcome('2027-01-04T22:59:00Z')).toEqual(['policy.freezes[0]']); // 23:59 on the 4th
    expect(outcome('2027-01-04T23:00:00Z')).toEqual([]);
  });

  it('reads instants with an offset as instants', () => {
    expect(outcome('2026-11-24T13:59:00Z')).toEqual([]);
    expect(outcome('2026-11-24T14:00:00Z')).toEqual(['policy.freezes[1]']);
    const [f] = evaluateWindows(frozen, at('2026-11-24T15:00:00Z')).filter((x) => x.outcome === 'refuse');
    expect(f!.limit).toBe('freeze: incident INC-42');
  });
});

const plan = (extra: Record<string, unknown>): Plan =>
  validatePlanObject(
    {
      service: 'orders',
      environment: 'production',
      steps: [5, 25, 50, 100],
      analysis: { bake: '5m', interval: '30s', checks: [{ name: 'errors', query: 'x{track="{{track}}"}', max: 0.01 }] },
      ...extra,
    },
    'rollout.yml',
  ).plan;

describe('risk classes from what changed', () => {
  const risk = policy({
    risk: {
      rules: [
        { class: 'high', paths: ['src/payments/**'] },
        { class: 'high', migrations: 'contract' },
        { class: 'medium', paths: ['src/**'] },
      ],
      require: { high: { judge: 'mann-whitney', minBake: '15m', approvalAbove: 50 }, medium: { minBake: '5m' } },
    },
  }).risk!;

  it('takes the highest class any rule matches, and says which rule', () => {
    expect(classifyRelease(risk, { paths: ['README.md'], source: 'input', migrations: 'none' }).class).toBe('low');
    expect(classifyRelease(risk, { paths: ['src/api/orders.ts'], source: 'input', migrations: 'none' }).class).toBe('medium');
    const high = classifyRelease(risk, { paths: ['src/api/orders.ts', 'src/payments/card.ts'], source: 'input', migrations: 'none' });
    expect(high.class).toBe('high');
    expect(high.because.join('\n')).toContain('policy.risk.rules[0] (high): 1 changed path(s) match src/payments/** (e.g. src/payments/card.ts)');
    expect(classifyRelease(risk, { paths: ['docs/x.md'], source: 'input', migrations: 'contract' }).class).toBe('high');
  });

  it('treats unknown changes as high risk: it never guesses low', () => {
    const unknown = classifyRelease(risk, { source: 'no successful deployment recorded', migrations: 'none' });
    expect(unknown).toEqual({ class: 'high', because: ['the changed paths are unknown (no successful deployment recorded): treated as high risk'] });
  });

  it('refuses a plan weaker than the class requires, naming each missing piece; none of it is overridable', () => {
    const findings = checkRequirements({ class: 'high', because: [] }, risk.require.high, { plan: plan({}) });
    const refused = findings.filter((f) => f.outcome === 'refuse');
    expect(refused.map((f) => f.rule)).toEqual(['policy.risk.require.high.judge', 'policy.risk.require.high.minBake']);
    expect(refused[0]!.proceed).toBe('set analysis.judge: mann-whitney (with its checks) in the plan');
    expect(refused[1]).toMatchObject({ measured: 'analysis.bake: 5m', limit: 'a high-risk release needs a bake of at least 15m at the first step', overridable: false });
    const strong = plan({ analysis: { judge: 'mann-whitney', bake: '15m', interval: '30s', checks: [{ name: 'latency', query: 'x{track="{{track}}"}', direction: 'increase' }] } });
    expect(checkRequirements({ class: 'high', because: [] }, risk.require.high, { plan: strong }).filter((f) => f.outcome === 'refuse')).toEqual([]);
    // Without a step at 50 the ramp cannot stop there for the approval.
    const noStop = plan({
      steps: [10, 100],
      analysis: { judge: 'mann-whitney', bake: '15m', interval: '30s', checks: [{ name: 'latency', query: 'x{track="{{track}}"}', direction: 'increase' }] },
    });
    expect(checkRequirements({ class: 'high', because: [] }, risk.require.high, { plan: noStop }).find((f) => f.outcome === 'refuse')?.rule).toBe(
      'policy.risk.require.high.approvalAbove',
    );
  });
});

describe('a risk class that asks for a statistical judge', () => {
  const require = (judge: string) => policy({ risk: { rules: [{ class: 'high', paths: ['**'] }], require: { high: { judge } } } }).risk!.require.high;
  const withJudge = (judge: string) =>
    plan({
      analysis: { judge, bake: '15m', interval: '30s', checks: [{ name: 'latency', query: 'x{track="{{track}}"}', direction: 'increase', allowedIncrease: 0.05, maxRatio: 1.2 }] },
    });
  const refused = (judge: string, needed: string) =>
    checkRequirements({ class: 'high', because: [] }, require(needed), { plan: withJudge(judge) })
      .filter((f) => f.outcome === 'refuse')
      .map((f) => f.limit);

  it('takes either statistical judge for `statistical`, and only the named one otherwise', () => {
    expect(refused('paired', 'statistical')).toEqual([]);
    expect(refused('mann-whitney', 'statistical')).toEqual([]);
    expect(refused('threshold', 'statistical')).toEqual(['a high-risk release needs analysis.judge: mann-whitney or paired']);
    expect(refused('paired', 'paired')).toEqual([]);
    expect(refused('paired', 'mann-whitney')).toEqual(['a high-risk release needs analysis.judge: mann-whitney']);
  });
});

describe('checkReleasePolicy: overrides', () => {
  const windowed = { windows: { timeZone: 'UTC', allow: [{ days: ['mon'], from: '09:00', to: '10:00' }] } };
  const friday = at('2026-03-27T18:00:00Z');

  it('refuses outside the windows without a reason, and records who overrode what with one', async () => {
    const refused = await checkReleasePolicy({ plan: plan({ policy: windowed }), time: friday });
    expect(refused.allowed).toBe(false);
    expect(refused.refused.map((f) => f.rule)).toEqual(['policy.windows']);
    const allowed = await checkReleasePolicy({ plan: plan({ policy: windowed }), time: friday, override: { by: 'alice', reason: 'hotfix for INC-42' } });
    expect(allowed).toMatchObject({ allowed: true, refused: [], override: { by: 'alice', reason: 'hotfix for INC-42', rules: ['policy.windows'] } });
    expect(renderPolicySummary(allowed)).toContain('**Override** by `alice`: hotfix for INC-42 (rules: policy.windows)');
  });

  it('a reason never overrides the risk class: the plan must be made strong enough', async () => {
    const p = plan({ policy: { ...windowed, risk: { rules: [{ class: 'high', paths: ['**'] }], require: { high: { minBake: '15m' } } } } });
    const d = await checkReleasePolicy({ plan: p, time: friday, changes: { paths: ['a.ts'], source: 'input', migrations: 'none' }, override: { by: 'alice', reason: 'urgent' } });
    expect(d.allowed).toBe(false);
    expect(d.refused.map((f) => f.rule)).toEqual(['policy.risk.require.high.minBake']);
    expect(d.override?.rules).toEqual(['policy.windows']);
  });

  it('refuses when the error budget is configured but there is no backend to measure it (fail closed)', async () => {
    const p = plan({ policy: { errorBudget: { objective: 99.9, errorRatio: 'slo:sli_error:ratio_rate{{window}}' } } });
    const d = await checkReleasePolicy({ plan: p, time: friday });
    expect(d.refused[0]).toMatchObject({ rule: 'policy.errorBudget', outcome: 'refuse' });
  });
});

describe('policy section validation', () => {
  const bad = (raw: unknown) => {
    try {
      validatePlanObject({ service: 'orders', environment: 'production', policy: raw }, 'rollout.yml');
    } catch (err) {
      return (err as PlanError).problems;
    }
    return [];
  };
  it('names the field and what was expected', () => {
    expect(bad({ windows: { timeZone: 'Mars/Olympus', allow: [{ days: ['mon'], from: '09:00', to: '17:00' }] } })).toEqual([
      'policy.windows.timeZone: expected an IANA time zone such as Europe/Berlin or UTC, got "Mars/Olympus"',
    ]);
    expect(bad({ windows: { allow: [{ days: ['mon'], from: '17:00', to: '09:00' }] } })[0]).toContain('policy.windows.allow[0].to: expected from before to');
    expect(bad({ errorBudget: { objective: 99.9 } })[0]).toContain('policy.errorBudget: expected errorRatio, or total with good or errors');
    expect(bad({ errorBudget: { objective: 99.9, errorRatio: 'x', burnRateAlerts: [{ long: '5m', short: '1h', factor: 14.4 }] } })[0]).toContain(
      'policy.errorBudget.burnRateAlerts[0].short: expected a short window shorter than the long one',
    );
    expect(bad({ freezes: [{ from: 'christmas', to: '2026-12-26', reason: 'x' }] })[0]).toContain('policy.freezes[0].from: expected a date');
  });
  it('defaults to the SRE workbook burn-rate pairs and a 28-day period', () => {
    const p = policySchema.parse({ errorBudget: { objective: 99.9, errorRatio: 'x' } });
    expect(p.errorBudget).toMatchObject({
      period: 28 * 86_400_000,
      minRemaining: 0,
      burnRateAlerts: [
        { long: 3_600_000, short: 300_000, factor: 14.4 },
        { long: 21_600_000, short: 1_800_000, factor: 6 },
      ],
    });
  });
});
