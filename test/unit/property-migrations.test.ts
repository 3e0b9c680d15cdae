import fc from 'fast-check';
import { readMigrationSource } from '../../src/core/migrations/layouts.js';
import { lintMigrations } from '../../src/core/migrations/lint.js';
import { RULES } from '../../src/core/migrations/rules.js';
import { UserError } from '../../src/core/errors.js';

const RUNS = { numRuns: 250 };
const PER_CASE_MS = 5000;

// Statements and pieces of statements: the operations the rules judge, near misses, and what breaks
// naive SQL splitters (quotes, dollar quotes, comments that never close, directives, huge nesting).
const piece = fc.oneof(
  fc.constantFrom(
    'CREATE TABLE users (id bigint PRIMARY KEY, email text);',
    'ALTER TABLE users ADD COLUMN age int NOT NULL DEFAULT 0;',
    'ALTER TABLE users DROP COLUMN email;',
    'ALTER TABLE users RENAME COLUMN email TO mail;',
    'ALTER TABLE users ALTER COLUMN age TYPE bigint;',
    'ALTER TABLE users ADD CONSTRAINT c CHECK (age > 0) NOT VALID;',
    'ALTER TABLE users VALIDATE CONSTRAINT c;',
    'CREATE INDEX CONCURRENTLY i ON users (email);',
    'CREATE INDEX i ON users (email);',
    'DROP TABLE users;',
    "UPDATE users SET email = 'x';",
    "DO $$ BEGIN RAISE NOTICE 'a;b'; END $$;",
    "SELECT 'it''s; still one';",
    '-- rollgate: contract "old app no longer reads email"',
    '-- rollgate:',
    '-- +goose Up',
    '-- +goose Down',
    '-- migrate:up',
    '-- migrate:down',
    'BEGIN;',
    'COMMIT;',
    '/*',
    '*/',
    '$$',
    "'",
    '"',
    ';',
    '(((((((((((((((((((((((((((((((',
    '$(touch /tmp/pwned)',
    '`id`',
    '${{ github.token }}',
    '\u0000',
    '\r\n',
  ),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
);
const sql = fc.array(piece, { maxLength: 25 }).chain((parts) => fc.constantFrom('\n', ' ', '').map((sep) => parts.join(sep)));
const fileName = fc.constantFrom(
  'db/migrations/20240101000000_change.sql',
  'migrations/V2__change.sql',
  'migrations/0002_change.up.sql',
  'prisma/migrations/20240101_x/migration.sql',
  'sql/change.sql',
);

describe('hostile and malformed SQL migration files', () => {
  it('the linter reads any file: findings with known rules and real lines, or a plain user error; never a crash or a hang', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fileName, sql), { minLength: 1, maxLength: 3 }), fc.integer({ min: 9, max: 18 }), async (files, pgVersion) => {
        const sources = files.map(([file, text], i) => readMigrationSource(file.replace('change', `change${i}`).replace('20240101', `2024010${i + 1}`), text, () => false));
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('lint did not finish')), PER_CASE_MS)));
        try {
          const report = await Promise.race([lintMigrations(sources, { pgVersion, oneChange: true }), deadline]);
          for (const f of report.findings) {
            expect(Object.keys(RULES)).toContain(f.rule);
            expect(f.message.length).toBeGreaterThan(0);
            expect(f.message).not.toMatch(/\n\s+at /);
            const lines = (sources.find((s) => s.file === f.file)?.upSql ?? '').split('\n').length;
            expect(f.line).toBeGreaterThanOrEqual(1);
            expect(f.line).toBeLessThanOrEqual(lines);
          }
          expect(typeof report.irreversible).toBe('boolean');
        } catch (err) {
          expect(err).toBeInstanceOf(UserError);
          expect((err as Error).message).not.toMatch(/\n\s+at /);
        } finally {
          clearTimeout(timer);
        }
      }),
      RUNS,
    );
  });
});
