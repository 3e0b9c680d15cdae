import { existsSync } from 'node:fs';
import { tempDir } from '../../harness/process.js';
import {
  judgeCases,
  layOutSuite,
  readSquawkSuite,
  renderRuleTable,
  ruleTable,
  runChecklistBundle,
  SQUAWK_SUITE,
  type BundleFinding,
  type CaseOutcome,
} from '../../harness/squawk-suite.js';
import { renderSquawkMapping, SQUAWK_DISAGREEMENTS, SQUAWK_RULES } from '../../src/core/migrations/squawk-rules.js';
import { RULE_IDS } from '../../src/core/migrations/rules.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

// squawk's own rule tests (340 cases), run through the bundled pre-deploy-checklist the way the
// runner runs it: one repository per PostgreSQL version, `all-migrations: true` so every file is
// judged on its own. A case is flagged when a rollgate rule mapped to its squawk rule fires.
const maybe = existsSync(join(SQUAWK_SUITE, 'manifest.json')) ? describe : describe.skip;
const DOCS = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '../../docs/pre-deploy-checklist.md');

maybe("squawk's rule tests through the bundled action", () => {
  const cases = readSquawkSuite();
  let outcomes: CaseOutcome[] = [];
  const findings: BundleFinding[] = [];

  beforeAll(async () => {
    const dir = tempDir('rollgate-squawk-suite-');
    try {
      const repos = layOutSuite(cases, dir.path);
      // The groups run two at a time: each is one node process linting up to ~320 files.
      const groups = [...repos];
      const runs: Promise<void>[] = [];
      for (let i = 0; i < 2; i++) {
        runs.push(
          (async () => {
            for (let g = groups.shift(); g; g = groups.shift()) {
              const [version, { repo }] = g;
              const r = await runChecklistBundle(repo, version === 'default' ? {} : { 'pg-version': version });
              if (r.stderr.trim() !== '') throw new Error(`bundle wrote to stderr for pg ${version}: ${r.stderr}`);
              findings.push(...r.findings);
            }
          })(),
        );
      }
      await Promise.all(runs);
      outcomes = judgeCases(cases, findings);
      console.log(`squawk ${cases.length} cases through dist/pre-deploy-checklist:\n\n${renderRuleTable(ruleTable(outcomes))}`);
    } finally {
      dir.remove();
    }
  }, 180_000);

  test('every case was linted: no file fails to parse or is skipped, but one PostgreSQL itself rejects', () => {
    // squawk's own parser accepts `m int array[]`; PostgreSQL's grammar (which rollgate uses) wants
    // `int[]`, `int array` or `int array[5]`. The case is about char fields, a rule rollgate lacks.
    expect(findings.filter((f) => f.rule === 'syntax-error').map((f) => [f.file, f.line])).toEqual([['migrations/ban-char-field/20-bad.sql', 14]]);
    expect(new Set(cases.map((c) => c.squawkRule))).toEqual(new Set(Object.keys(SQUAWK_RULES)));
  });

  test('every covered rule flags every flag case and no clean case, except the documented disagreements', () => {
    const wrong = outcomes.filter((o) => o.wrong && !o.disagreement).map((o) => `${o.case.file} (${o.case.expect}; rollgate: ${o.rules.join(', ') || 'nothing'})`);
    expect(wrong).toEqual([]);
  });

  test('each documented disagreement still disagrees, and there are only a handful', () => {
    const documented = Object.keys(SQUAWK_DISAGREEMENTS);
    expect(documented.length).toBeLessThanOrEqual(6);
    for (const file of documented) expect(outcomes.find((o) => o.case.file === file)?.wrong).toBe(true);
  });

  test('the mapping names only rules rollgate has, and the docs show it as the source says', () => {
    for (const coverage of Object.values(SQUAWK_RULES)) if (coverage.covered) for (const r of coverage.rules) expect(RULE_IDS).toContain(r);
    expect(readFileSync(DOCS, 'utf8')).toContain(renderSquawkMapping());
  });
});
