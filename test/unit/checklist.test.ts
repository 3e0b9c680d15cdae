import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { evaluateChecklist, type ChecklistEvidence } from '../../src/core/checklist/evaluate.js';
import { DEFAULT_ITEMS, resolveChecklist } from '../../src/core/checklist/items.js';
import { lastSafeRollbackPoint, notApplicableReason, readTaskItems } from '../../src/core/checklist/parse.js';
import { renderChecklistReport } from '../../src/core/checklist/report.js';
import type { LintReport } from '../../src/core/migrations/lint.js';
import { validatePlanObject } from '../../src/core/plan/load.js';
import { InputError } from '../../src/core/errors.js';

const BODIES = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '../fixtures/pr-bodies');
const expected = JSON.parse(readFileSync(join(BODIES, 'expected.json'), 'utf8')) as Record<string, { result: 'pass' | 'fail'; items: Record<string, string> }>;

const planObject = {
  service: 'orders',
  environment: 'production',
  analysis: { checks: [{ name: 'error-rate', query: 'sum(rate(x{track="{{track}}"}[{{window}}]))', max: 0.05 }] },
  steps: [5, 25, 100],
  flags: { provider: 'webhook', url: 'http://127.0.0.1:1/flags', killSwitches: ['new-checkout'] },
};
const validPlan = (): ChecklistEvidence['plan'] => ({ ok: true, plan: validatePlanObject(planObject, '.github/rollout.yml').plan, file: '.github/rollout.yml' });
const noLint: LintReport = { files: [], findings: [], contracts: [], irreversible: false };

function evaluate(body: string, evidence: Partial<ChecklistEvidence> = {}, items = resolveChecklist(undefined)) {
  const results = evaluateChecklist(items, readTaskItems(body), { plan: validPlan(), migrationsChanged: false, lint: noLint, ...evidence });
  return { results, states: Object.fromEntries(results.map((r) => [r.id, r.state])), passed: results.every((r) => r.passed) };
}

const TICKED_ALL = readFileSync(join(BODIES, 'complete.md'), 'utf8');

describe('the PR body corpus', () => {
  test('every body in the corpus has an expected result', () => {
    const bodies = readdirSync(BODIES).filter((f) => f.endsWith('.md'));
    expect(bodies.sort()).toEqual(Object.keys(expected).sort());
  });

  test.each(Object.keys(expected))('%s', (file) => {
    const { states, passed } = evaluate(readFileSync(join(BODIES, file), 'utf8'));
    expect(states).toEqual(expected[file]?.items);
    expect(passed ? 'pass' : 'fail').toBe(expected[file]?.result);
  });
});

describe('reading task items', () => {
  test('finds the line of each item, across CRLF line endings', () => {
    const items = readTaskItems(readFileSync(join(BODIES, 'crlf.md'), 'utf8'));
    expect(items.get('feature-flag')?.line).toBe(3);
    expect(items.get('communication')?.line).toBe(8);
  });

  test('a marker on the next line of an item, or before its text, still belongs to it', () => {
    const items = readTaskItems('- [x] Runbook https://wiki.example.com/r\n  <!-- rollgate:runbook -->\n- [ ] <!-- rollgate:dashboards --> Dashboards\n');
    expect(items.get('runbook')).toMatchObject({ checked: true, links: ['https://wiki.example.com/r'], line: 1 });
    expect(items.get('dashboards')).toMatchObject({ checked: false, text: 'Dashboards', line: 3 });
  });

  test('a marker outside a task item does not count', () => {
    expect(readTaskItems('Runbook <!-- rollgate:runbook --> https://wiki.example.com\n\n- plain bullet <!-- rollgate:dashboards -->').size).toBe(0);
  });

  test('N/A reasons and rollback points are read from the item text', () => {
    expect(notApplicableReason('Dashboards N/A: nothing user visible changes')).toBe('nothing user visible changes');
    expect(notApplicableReason('Nothing applies here')).toBeUndefined();
    expect(notApplicableReason('(N/A — read-only change, no data touched)')).toBe('read-only change, no data touched');
    expect(lastSafeRollbackPoint('Runbook https://x, last safe rollback point: v41.2')).toBe('v41.2');
  });
});

describe('evidence over ticked boxes', () => {
  test('canary-plan is contradicted when the rollout plan is missing or invalid', () => {
    const { states } = evaluate(TICKED_ALL, { plan: { ok: false, problem: 'no rollout plan at .github/rollout.yml' } });
    expect(states['canary-plan']).toBe('contradicted');
    expect(states['feature-flag']).toBe('contradicted');
  });

  test('canary-plan needs steps and an abort threshold', () => {
    const { steps: _steps, ...withoutSteps } = planObject;
    const plan = validatePlanObject(withoutSteps, 'rollout.yml').plan;
    const { results } = evaluate(TICKED_ALL, { plan: { ok: true, plan, file: 'rollout.yml' } });
    expect(results.find((r) => r.id === 'canary-plan')).toMatchObject({ state: 'contradicted', reason: 'rollout.yml has no traffic steps' });
  });

  test('a ticked feature-flag needs a kill switch in the plan; N/A with a reason does not', () => {
    const { flags: _flags, ...withoutFlags } = planObject;
    const plan = validatePlanObject(withoutFlags, 'rollout.yml').plan;
    expect(evaluate(TICKED_ALL, { plan: { ok: true, plan, file: 'rollout.yml' } }).states['feature-flag']).toBe('contradicted');
    const na = TICKED_ALL.replace('Behind the `new-checkout` flag with a kill switch', 'N/A: a pure refactoring with no behaviour change');
    expect(evaluate(na, { plan: { ok: true, plan, file: 'rollout.yml' } }).states['feature-flag']).toBe('not-applicable');
  });

  test('db-compatible and backfill become required when migrations change', () => {
    const body = '- [x] Flag <!-- rollgate:feature-flag -->';
    const lint: LintReport = { files: ['migrations/1.sql'], findings: [], contracts: [], irreversible: false };
    const { states } = evaluate(body, { migrationsChanged: true, lint });
    expect(states['db-compatible']).toBe('missing');
    expect(states.backfill).toBe('missing');
  });

  test('db-compatible fails on a linter error even when ticked', () => {
    const lint: LintReport = {
      files: ['migrations/1.sql'],
      findings: [{ file: 'migrations/1.sql', line: 3, rule: 'drop-column', severity: 'error', message: 'drops column' }],
      contracts: [],
      irreversible: false,
    };
    const { results, passed } = evaluate(TICKED_ALL, { migrationsChanged: true, lint });
    expect(results.find((r) => r.id === 'db-compatible')).toMatchObject({ state: 'contradicted', reason: expect.stringContaining('migrations/1.sql:3 [drop-column]') });
    expect(passed).toBe(false);
  });

  test('an irreversible PR needs the last safe rollback point in the runbook item', () => {
    const lint: LintReport = {
      files: ['migrations/1.sql'],
      findings: [],
      contracts: [{ file: 'migrations/1.sql', line: 2, reason: 'v42 stopped reading it' }],
      irreversible: true,
    };
    expect(evaluate(TICKED_ALL, { migrationsChanged: true, lint }).states.runbook).toBe('contradicted');
    const withPoint = TICKED_ALL.replace('(owner: @payments-oncall)', '(owner: @payments-oncall), last safe rollback point: v1.41.0');
    const ok = evaluate(withPoint, { migrationsChanged: true, lint });
    expect(ok.states.runbook).toBe('ticked');
    expect(ok.passed).toBe(true);
  });
});

describe('checklist configuration', () => {
  test('items can be turned off, made to forbid N/A, and added', () => {
    const items = resolveChecklist('items:\n  dashboards: { required: false }\n  runbook: { allowNotApplicable: false }\n  security-review: { title: Security review done }\n');
    expect(items.map((i) => i.id)).toEqual([...DEFAULT_ITEMS.map((i) => i.id), 'security-review']);
    const body = `${TICKED_ALL}\n- [x] N/A: there is no runbook for this tiny service <!-- rollgate:runbook -->`;
    const { states } = evaluate(body.replace(/.*rollgate:runbook -->\n/, ''), {}, items);
    expect(states.dashboards).toBeUndefined();
    expect(states.runbook).toBe('contradicted');
    expect(states['security-review']).toBe('missing');
  });

  test('the checklist section of the plan applies first, the config input after it', () => {
    const plan = validatePlanObject({ ...planObject, checklist: { items: { dashboards: { required: false }, backfill: { required: 'always' } } } }, 'rollout.yml').plan;
    const fromPlan = resolveChecklist(undefined, plan.checklist);
    expect(fromPlan.find((i) => i.id === 'dashboards')?.required).toBe('never');
    expect(fromPlan.find((i) => i.id === 'backfill')?.required).toBe('always');
    const overridden = resolveChecklist('items: { dashboards: { required: true } }', plan.checklist);
    expect(overridden.find((i) => i.id === 'dashboards')?.required).toBe('always');
  });

  test('a bad checklist section in the plan names the field', () => {
    expect(() => validatePlanObject({ ...planObject, checklist: { items: { runbook: { required: 'sometimes' } } } }, 'rollout.yml')).toThrow(/checklist\.items\.runbook\.required/);
  });

  test('a bad config names the input and the field', () => {
    expect(() => resolveChecklist('items:\n  runbook: { requird: true }\n')).toThrow(InputError);
    expect(() => resolveChecklist('items:\n  runbook: { requird: true }\n')).toThrow(/input config.*items\.runbook/);
    expect(() => resolveChecklist('no-such-file.yml')).toThrow(/input config: no such file/);
  });
});

test('the report lists every item with its state and every finding', () => {
  const { results } = evaluate(readFileSync(join(BODIES, 'no-links.md'), 'utf8'));
  const lint: LintReport = {
    files: ['migrations/1.sql'],
    findings: [{ file: 'migrations/1.sql', line: 3, rule: 'drop-column', severity: 'error', message: 'drops column users.a | b: why [drop-column]' }],
    contracts: [{ file: 'migrations/1.sql', line: 3, reason: 'old code is gone' }],
    irreversible: true,
  };
  const md = renderChecklistReport(false, results, lint);
  for (const item of results) expect(md).toContain(`\`${item.id}\``);
  expect(md).toContain('❌ contradicted by evidence');
  expect(md).toContain('**Irreversible:**');
  expect(md).toContain('drops column users.a \\| b: why |');
});
