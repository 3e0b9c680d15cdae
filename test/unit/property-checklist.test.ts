import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_ITEMS, resolveChecklist } from '../../src/core/checklist/items.js';
import { evaluateChecklist } from '../../src/core/checklist/evaluate.js';
import { readTaskItems } from '../../src/core/checklist/parse.js';
import { runPreDeployChecklistAction } from '../../src/core/rollout/pre-deploy-checklist.js';
import { MemoryRuntime, runAction } from '../../src/core/runtime.js';

const RUNS = { numRuns: 250 };
/** No single body may take longer than this: a parser that backtracks on hostile input is a hang. */
const PER_CASE_MS = 5000;

// Pieces people (and attackers) put in PR bodies: the checklist's own markers, near misses, shell and
// workflow syntax, markdown that nests or never closes, and control characters.
const fragment = fc.oneof(
  fc.constantFrom(
    ...DEFAULT_ITEMS.flatMap((i) => [
      `- [x] ${i.title} <!-- rollgate:${i.id} -->`,
      `- [ ] ${i.title} <!-- rollgate:${i.id} -->`,
      `* [X] <!-- rollgate:${i.id} --> N/A: not relevant here at all`,
    ]),
    '- [x] N/A:',
    '<!-- rollgate:',
    '<!-- rollgate:feature-flag',
    '-->',
    '```',
    '~~~',
    '    - [x] indented code, not a task <!-- rollgate:runbook -->',
    '> - [x] quoted <!-- rollgate:dashboards -->',
    '$(touch /tmp/pwned)',
    '`id`',
    '${{ github.token }}',
    '${{ secrets.PROD_KEY }}',
    "'; DROP TABLE users; --",
    'Last safe rollback point: v1.2.3',
    'Runbook: https://wiki.example.com/runbook',
    'flag: new-checkout-flow',
    '[link](javascript:alert(1))',
    '<details><summary>x</summary>',
    '\r',
    '\u0000',
    '\u202e',
    '- '.repeat(200),
    '['.repeat(500),
    '<!--'.repeat(100),
  ),
  fc.string({ maxLength: 60 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
);
const body = fc.array(fragment, { maxLength: 30 }).chain((parts) => fc.constantFrom('\n', '\r\n', ' ', '').map((sep) => parts.join(sep)));

function withDeadline<T>(work: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not finish within ${PER_CASE_MS} ms`)), PER_CASE_MS)));
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

describe('hostile and malformed PR bodies', () => {
  it('parsing and judging any body never throws, and every item gets exactly one state', () => {
    const lint = { files: ['db/migrations/1_add.sql'], findings: [], contracts: [], irreversible: false };
    fc.assert(
      fc.property(body, fc.boolean(), (text, migrationsChanged) => {
        const found = readTaskItems(text);
        const items = resolveChecklist(undefined);
        const results = evaluateChecklist(items, found, { plan: { ok: false, problem: 'no plan' }, migrationsChanged, lint });
        expect(results.map((r) => r.id)).toEqual(items.map((i) => i.id));
      }),
      RUNS,
    );
  });

  it('the pre-deploy-checklist action ends with a plain verdict on any body: no stack trace, no hang', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rollgate-prop-checklist-'));
    try {
      await fc.assert(
        fc.asyncProperty(body, async (text) => {
          const rt = new MemoryRuntime({ body: text, comment: 'false' }, { PATH: process.env.PATH });
          const exitCode = process.exitCode;
          const result = await withDeadline(
            runAction('pre-deploy-checklist', (r) => runPreDeployChecklistAction(r, { cwd: dir }), rt),
            'pre-deploy-checklist',
          );
          process.exitCode = exitCode;
          expect(typeof result.ok).toBe('boolean');
          if (!result.ok) {
            expect(result.failure).toBeTruthy();
            expect(result.failure).not.toMatch(/internal error|\n\s+at /);
          }
          expect(rt.text()).not.toMatch(/internal error|\n\s+at \S+ \(/);
        }),
        RUNS,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
