import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { globToRegExp, isMigrationPath, migrationOrder, readMigrationSource, type MigrationSource } from '../../src/core/migrations/layouts.js';
import { lintMigrations, type LintOptions, type LintReport } from '../../src/core/migrations/lint.js';
import { RULES, RULE_IDS } from '../../src/core/migrations/rules.js';

const RULES_DIR = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '../fixtures/migrations/rules');
const PG15: LintOptions = { pgVersion: 15 };

function source(file: string, sql: string, hasFile: (p: string) => boolean = () => false): MigrationSource {
  return readMigrationSource(file, sql, hasFile);
}

async function lint(sql: string, options: LintOptions = PG15, file = 'migrations/001_change.sql'): Promise<LintReport> {
  return lintMigrations([source(file, sql)], options);
}

function rules(report: LintReport): string[] {
  return report.findings.map((f) => f.rule);
}

const exampleRules = readdirSync(RULES_DIR, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name);

describe('every rule has a flagged example and a safe alternative', () => {
  test('the fixture set covers every SQL rule', () => {
    // Not SQL examples: these are about the file itself or the application code around it.
    const sqlRules = RULE_IDS.filter((r) => !['syntax-error', 'invalid-directive', 'unreadable-migration', 'code-still-references'].includes(r));
    expect([...exampleRules].sort()).toEqual([...sqlRules].sort());
  });

  test.each(exampleRules)('%s: the flagged example is reported, the safe alternative is clean', async (rule) => {
    const flagged = readFileSync(join(RULES_DIR, rule, 'flagged.sql'), 'utf8');
    const safe = readFileSync(join(RULES_DIR, rule, 'safe.sql'), 'utf8');
    // missing-down is about files, not SQL: the same SQL with and without its down migration.
    const file = rule === 'missing-down' ? 'migrations/7_add_locale.up.sql' : 'migrations/7_change.sql';
    const bad = await lintMigrations([source(file, flagged, () => false)], PG15);
    const good = await lintMigrations([source(file, safe, (p) => p === 'migrations/7_add_locale.down.sql')], PG15);
    expect(rules(bad)).toContain(rule);
    const finding = bad.findings.find((f) => f.rule === rule);
    expect(finding?.severity).toBe(RULES[rule as keyof typeof RULES].severity);
    expect(finding?.message).toContain('Instead:');
    expect(good.findings).toEqual([]);
  });
});

describe('statements and positions', () => {
  test('points each finding at the first line of its statement, after comments and multi-byte text', async () => {
    const report = await lint("-- café ☕ migration\nSET lock_timeout = '1s'; SET statement_timeout = '1min';\n\n/* ünïcode */\nALTER TABLE users\n  DROP COLUMN status;\n");
    expect(report.findings).toEqual([expect.objectContaining({ rule: 'drop-column', line: 5, file: 'migrations/001_change.sql', severity: 'error' })]);
  });

  test('reports unparseable SQL as an error with its line and column', async () => {
    const report = await lint('SELECT 1;\nALTER TABLE users ADD COLUMN;\n');
    expect(report.findings).toHaveLength(1);
    expect(report.findings[0]).toMatchObject({ rule: 'syntax-error', severity: 'error', line: 2 });
    expect(report.findings[0]?.message).toMatch(/line 2, column \d+: syntax error at or near ";"/);
  });

  test('parses what hand-written SQL parsers reject', async () => {
    const report = await lint(
      "SET lock_timeout = '2s'; SET statement_timeout = '1min';\nALTER TYPE mood ADD VALUE 'meh' AFTER 'ok';\nALTER TABLE orders VALIDATE CONSTRAINT orders_user_fk;\nALTER TABLE m DETACH PARTITION m_2020 CONCURRENTLY;\n",
    );
    expect(rules(report)).not.toContain('syntax-error');
  });
});

describe('rules in detail', () => {
  const L = "SET lock_timeout = '2s'; SET statement_timeout = '1min';\n";
  test.each([
    ['CLUSTER users USING users_pkey;', 'blocking-maintenance'],
    ['REINDEX TABLE users;', 'index-not-concurrent'],
    ['DROP INDEX orders_note_idx;', 'index-not-concurrent'],
    ['DELETE FROM audit_log;', 'data-backfill-in-migration'],
    ['TRUNCATE audit_log;', 'data-backfill-in-migration'],
    ['ALTER TABLE users ADD COLUMN n bigserial;', 'add-column-volatile-default'],
    ['ALTER TABLE users ADD COLUMN at timestamptz DEFAULT clock_timestamp();', 'add-column-volatile-default'],
    ['ALTER TABLE users ADD COLUMN n int GENERATED ALWAYS AS IDENTITY;', 'add-column-volatile-default'],
    ['ALTER TABLE users ADD COLUMN code text UNIQUE;', 'unique-or-pk-constraint'],
    ['ALTER TABLE users ADD CONSTRAINT age_ok CHECK (age > 0);', 'constraint-not-valid'],
    ['ALTER TABLE users ADD PRIMARY KEY (id);', 'unique-or-pk-constraint'],
  ])('%s → %s', async (sql, rule) => {
    expect(rules(await lint(L + sql))).toContain(rule);
  });

  test.each([
    'REINDEX TABLE CONCURRENTLY users;',
    'ALTER TABLE users ADD COLUMN at timestamptz DEFAULT now();',
    "ALTER TABLE users ADD COLUMN flags jsonb NOT NULL DEFAULT '{}';",
    'UPDATE users SET status = NULL WHERE id = 1;',
    'ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_idx;',
  ])('%s is safe', async (sql) => {
    expect((await lint(L + sql)).findings).toEqual([]);
  });

  test('a constant default is safe from PostgreSQL 11 on, and rewrites the table before', async () => {
    const sql = `${L}ALTER TABLE users ADD COLUMN plan text DEFAULT 'free';`;
    expect(rules(await lint(sql, { pgVersion: 11 }))).toEqual([]);
    expect(rules(await lint(sql, { pgVersion: 10 }))).toEqual(['add-column-volatile-default']);
  });

  test('SET NOT NULL after a validated IS NOT NULL check skips the scan only from PostgreSQL 12', async () => {
    const sql = readFileSync(join(RULES_DIR, 'set-not-null', 'safe.sql'), 'utf8');
    expect(rules(await lint(sql, { pgVersion: 12 }))).toEqual([]);
    expect(rules(await lint(sql, { pgVersion: 11 }))).toEqual(['set-not-null']);
  });

  test('lock_timeout = 0 does not count as a timeout', async () => {
    expect(rules(await lint("SET lock_timeout = 0; SET statement_timeout = '1min';\nALTER TABLE users ADD COLUMN x text;"))).toEqual(['missing-lock-timeout']);
  });

  test('VALIDATE CONSTRAINT alone needs no lock_timeout (it does not block writes)', async () => {
    expect((await lint('ALTER TABLE orders VALIDATE CONSTRAINT orders_user_fk;')).findings).toEqual([]);
  });

  test('warns about a missing lock_timeout once per file', async () => {
    const report = await lint('ALTER TABLE users ADD COLUMN a text;\nALTER TABLE users ADD COLUMN b text;');
    expect(rules(report)).toEqual(['missing-lock-timeout', 'missing-statement-timeout']);
    expect(report.findings[0]?.line).toBe(1);
  });
});

describe('tables created in the same change', () => {
  const create = 'CREATE TABLE invoices (id bigint, customer text);\n';
  const change =
    'ALTER TABLE invoices ADD COLUMN total numeric NOT NULL;\nCREATE INDEX invoices_customer_idx ON invoices (customer);\nALTER TABLE invoices ADD CONSTRAINT invoices_pk PRIMARY KEY (id);\n';

  test('are exempt from lock rules, in the same file and in later files of the PR', async () => {
    expect((await lint(create + change)).findings).toEqual([]);
    const report = await lintMigrations([source('migrations/1_create.sql', create), source('migrations/2_change.sql', change)], PG15);
    expect(report.findings).toEqual([]);
  });

  test('are not exempt when each file is judged alone (--all-migrations)', async () => {
    const report = await lintMigrations([source('migrations/1_create.sql', create), source('migrations/2_change.sql', change)], { pgVersion: 15, oneChange: false });
    expect(rules(report)).toEqual(expect.arrayContaining(['add-column-required', 'index-not-concurrent', 'unique-or-pk-constraint']));
  });
});

describe('directives', () => {
  test('allow silences one rule for one statement', async () => {
    const report = await lint(
      "SET lock_timeout = '2s'; SET statement_timeout = '1min';\n-- rollgate: allow index-not-concurrent reason=\"the table has 12 rows\"\nCREATE INDEX a ON users (email);\nCREATE INDEX b ON users (name);\n",
    );
    expect(report.findings.map((f) => [f.rule, f.line])).toEqual([['index-not-concurrent', 4]]);
  });

  test('allow does not silence a different rule', async () => {
    const report = await lint(
      "SET lock_timeout = '2s'; SET statement_timeout = '1min';\n-- rollgate: allow drop-index reason=\"unused for months\"\nALTER TABLE users DROP COLUMN status;\n",
    );
    expect(rules(report)).toEqual(['drop-column']);
  });

  test('a directive without a reason is itself an error, and silences nothing', async () => {
    const report = await lint("SET lock_timeout = '2s'; SET statement_timeout = '1min';\n-- rollgate: allow drop-column\nALTER TABLE users DROP COLUMN status;\n");
    expect(report.findings.map((f) => [f.rule, f.line])).toEqual([
      ['invalid-directive', 2],
      ['drop-column', 3],
    ]);
  });

  test('an unknown rule name is an error', async () => {
    expect(rules(await lint('-- rollgate: allow drop-colum reason="typo here"\nSELECT 1;'))).toEqual(['invalid-directive']);
  });

  test('a contract statement is allowed and marks the change irreversible', async () => {
    const report = await lint(
      "SET lock_timeout = '2s'; SET statement_timeout = '1min';\n-- rollgate: contract reason=\"old code stopped reading status in v42\"\nALTER TABLE users DROP COLUMN status;\n",
    );
    expect(report.findings).toEqual([]);
    expect(report.irreversible).toBe(true);
    expect(report.contracts).toEqual([{ file: 'migrations/001_change.sql', line: 3, reason: 'old code stopped reading status in v42' }]);
  });

  test('contract does not excuse a locking problem', async () => {
    const report = await lint(
      "SET lock_timeout = '2s'; SET statement_timeout = '1min';\n-- rollgate: contract reason=\"old code stopped reading it\"\nALTER TABLE users ALTER COLUMN email SET NOT NULL;\n",
    );
    expect(rules(report)).toEqual(['set-not-null']);
  });

  test('contract without a reason is an error and the change is not marked irreversible', async () => {
    const report = await lint('-- rollgate: contract\nALTER TABLE users DROP COLUMN status;\n');
    expect(rules(report)).toEqual(expect.arrayContaining(['invalid-directive', 'drop-column']));
    expect(report.irreversible).toBe(false);
  });
});

describe('layouts', () => {
  test.each([
    ['db/migration/V2__add_email.sql', true],
    ['src/main/resources/db/migration/V1_1__init.sql', true],
    ['migrations/000001_create_users.up.sql', true],
    ['migrations/000001_create_users.down.sql', true],
    ['db/migrations/20240101120000_add.sql', true],
    ['prisma/migrations/20240101_init/migration.sql', true],
    ['supabase/migrations/20240101_init.sql', true],
    ['drizzle/0001_brave_hulk.sql', true],
    ['migrations/0001_init.sql', true],
    ['db/queries/report.sql', false],
    ['README.md', false],
  ])('%s is a migration: %s', (path, expected) => {
    expect(isMigrationPath(path)).toBe(expected);
  });

  test('goose: only the Up section is linted, and CONCURRENTLY needs NO TRANSACTION', async () => {
    const text = '-- +goose Up\nCREATE INDEX CONCURRENTLY a ON users (email);\n-- +goose Down\nDROP INDEX a;\n';
    const report = await lintMigrations([source('db/migrations/20240101_a.sql', text)], PG15);
    expect(report.findings.map((f) => [f.rule, f.line])).toEqual([['concurrent-in-transaction', 2]]);
    const outside = await lintMigrations([source('db/migrations/20240101_a.sql', `-- +goose NO TRANSACTION\n${text}`)], PG15);
    expect(outside.findings).toEqual([]);
  });

  test('goose without a Down section is missing its down migration', async () => {
    const report = await lintMigrations(
      [source('db/migrations/20240101_a.sql', "-- +goose Up\nSET lock_timeout = '2s'; SET statement_timeout = '1min';\nALTER TABLE users ADD COLUMN x text;\n")],
      PG15,
    );
    expect(rules(report)).toEqual(['missing-down']);
  });

  test('dbmate: the down section is ignored; transaction:false allows CONCURRENTLY', async () => {
    const text = '-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY a ON users (email);\n-- migrate:down\nDROP TABLE users;\n';
    expect((await lintMigrations([source('db/migrations/20240101_a.sql', text)], PG15)).findings).toEqual([]);
    const inTx = text.replace(' transaction:false', '');
    expect(rules(await lintMigrations([source('db/migrations/20240101_a.sql', inTx)], PG15))).toEqual(['concurrent-in-transaction']);
  });

  test('golang-migrate down files are not linted', async () => {
    const report = await lintMigrations([source('migrations/1_a.down.sql', 'DROP TABLE users;')], PG15);
    expect(report.files).toEqual([]);
    expect(report.findings).toEqual([]);
  });

  test('orders versions numerically', () => {
    expect(['V10__c.sql', 'V2__b.sql', 'V1__a.sql'].sort(migrationOrder)).toEqual(['V1__a.sql', 'V2__b.sql', 'V10__c.sql']);
  });

  test('globs match extra migration paths', () => {
    expect(globToRegExp('sql/**/*.sql').test('sql/a/b/c.sql')).toBe(true);
    expect(globToRegExp('sql/**/*.sql').test('sql/c.sql')).toBe(true);
    expect(globToRegExp('sql/*.sql').test('sql/a/c.sql')).toBe(false);
  });
});

test('the layout corpus: each tool is recognised and only its up migrations are judged', async () => {
  const { existsSync } = await import('node:fs');
  const { listFiles } = await import('../../src/core/migrations/layouts.js');
  const root = join(RULES_DIR, '../layouts');
  const files = listFiles(root).filter(isMigrationPath).sort(migrationOrder);
  const sources = files.map((f) => readMigrationSource(f, readFileSync(join(root, f), 'utf8'), (p) => existsSync(join(root, p))));
  expect(Object.fromEntries(sources.map((s) => [s.file.split('/')[0], s.layout]))).toEqual({
    dbmate: 'dbmate',
    drizzle: 'drizzle',
    flyway: 'flyway',
    'golang-migrate': 'golang-migrate',
    goose: 'goose',
    prisma: 'prisma',
    supabase: 'supabase',
  });
  const report = await lintMigrations(sources, { pgVersion: 15, oneChange: false });
  const found: Record<string, string[]> = {};
  for (const f of report.findings) (found[f.file] ??= []).push(`${f.rule}:${f.line}`);
  expect(found).toEqual({
    'dbmate/db/migrations/20240201120000_rename_title.sql': ['rename-column:3'],
    'drizzle/drizzle/0003_wild_cat.sql': ['add-column-volatile-default:1', 'missing-lock-timeout:1', 'missing-statement-timeout:1', 'unique-or-pk-constraint:2', 'drop-table:3'],
    'golang-migrate/migrations/000003_orders_fk.up.sql': ['constraint-not-valid:2'],
    'golang-migrate/migrations/000004_orders_total.up.sql': ['missing-down:1', 'alter-column-type:2'],
    'goose/db/migrations/20240105093000_add_sku.sql': ['index-not-concurrent:4'],
    'prisma/prisma/migrations/20240301120000_add_orders/migration.sql': ['add-column-required:13', 'missing-lock-timeout:13', 'missing-statement-timeout:13'],
    'supabase/supabase/migrations/20240401000000_profiles.sql': ['data-backfill-in-migration:3', 'blocking-maintenance:4'],
  });
});

describe("defects found by running squawk's own tests", () => {
  const T = "SET lock_timeout = '2s'; SET statement_timeout = '1min';\n";

  test('option values are read, not only their presence', async () => {
    expect(rules(await lint(`${T}REINDEX (CONCURRENTLY false) INDEX users_pkey;`))).toEqual(['index-not-concurrent']);
    expect(rules(await lint(`${T}REINDEX (CONCURRENTLY) INDEX users_pkey;`))).toEqual([]);
    expect(rules(await lint(`${T}VACUUM (FULL false) users;`))).toEqual([]);
    expect(rules(await lint(`${T}VACUUM (FULL) users;`))).toEqual(['blocking-maintenance']);
  });

  test('NOT VALID then VALIDATE in one goose file (one transaction) keeps the ACCESS EXCLUSIVE lock through the scan', async () => {
    const body = `${T}ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;\nALTER TABLE orders VALIDATE CONSTRAINT orders_user_fk;\n`;
    const goose = await lintMigrations([source('db/migrations/20240101_fk.sql', `-- +goose Up\n${body}-- +goose Down\n`)], PG15);
    expect(goose.findings.map((f) => [f.rule, f.line])).toEqual([['validate-in-same-transaction', 4]]);
    expect(rules(await lint(`${T}BEGIN;\n${body}COMMIT;\n`))).toEqual(['validate-in-same-transaction']);
    expect(rules(await lint(body))).toEqual([]);
  });

  test('ADD COLUMN with an inline REFERENCES or CHECK is validated under the lock', async () => {
    expect(rules(await lint(`${T}ALTER TABLE orders ADD COLUMN buyer_id bigint REFERENCES users (id);`))).toEqual(['constraint-not-valid']);
    expect(rules(await lint(`${T}ALTER TABLE orders ADD COLUMN qty int CHECK (qty > 0);`))).toEqual(['constraint-not-valid']);
  });

  test.each([
    'LOCK TABLE users IN ACCESS EXCLUSIVE MODE;',
    'REINDEX TABLE CONCURRENTLY users;'.replace(' CONCURRENTLY', ''),
    "COMMENT ON COLUMN users.email IS 'login';",
    "CREATE TYPE mood AS ENUM ('sad', 'ok');",
  ])('missing-lock-timeout knows %s', async (sql) => {
    expect(rules(await lint(`SET statement_timeout = '1min';\n${sql}`))).toContain('missing-lock-timeout');
  });

  test('COMMENT ON a table or column created in the same file needs no lock_timeout', async () => {
    expect(rules(await lint("CREATE TABLE notes (id bigint, body text);\nCOMMENT ON COLUMN notes.body IS 'markdown';\nCOMMENT ON TABLE notes IS 'user notes';"))).toEqual([]);
    expect(rules(await lint("SET statement_timeout = '1min';\nCOMMENT ON COLUMN public.users.email IS 'login';"))).toEqual(['missing-lock-timeout']);
  });

  test('REINDEX SYSTEM is not told to use CONCURRENTLY, which PostgreSQL does not allow there', async () => {
    expect(rules(await lint(`${T}REINDEX SYSTEM app;`))).toEqual([]);
  });

  test('SET NOT NULL after validating a CHECK an earlier migration added is safe from PostgreSQL 12', async () => {
    const add = source('migrations/1_check.sql', `${T}ALTER TABLE users ADD CONSTRAINT users_email_nn CHECK (email IS NOT NULL) NOT VALID;\n`);
    const other = source('migrations/1_check.sql', `${T}ALTER TABLE users ADD CONSTRAINT users_email_nn CHECK (name IS NOT NULL) NOT VALID;\n`);
    const finish = source('migrations/2_finish.sql', `${T}ALTER TABLE users VALIDATE CONSTRAINT users_email_nn;\nALTER TABLE users ALTER COLUMN email SET NOT NULL;\n`);
    expect(rules(await lintMigrations([finish], { pgVersion: 12, repository: [add, finish] }))).toEqual([]);
    expect(rules(await lintMigrations([finish], { pgVersion: 11, repository: [add, finish] }))).toEqual(['set-not-null']);
    // The earlier CHECK is about another column: PostgreSQL still scans.
    expect(rules(await lintMigrations([finish], { pgVersion: 15, repository: [other, finish] }))).toEqual(['set-not-null']);
    // Without the VALIDATE the constraint proves nothing.
    const noValidate = source('migrations/2_finish.sql', `${T}ALTER TABLE users ALTER COLUMN email SET NOT NULL;\n`);
    expect(rules(await lintMigrations([noValidate], { pgVersion: 15, repository: [add, noValidate] }))).toEqual(['set-not-null']);
  });

  test('odd files: empty and whitespace-only are the same warning, a NUL byte is refused, a BOM is stripped', async () => {
    expect((await lint('')).findings.map((f) => [f.rule, f.severity])).toEqual([['empty-migration', 'warning']]);
    expect((await lint(' \n\t\n')).findings.map((f) => [f.rule, f.severity])).toEqual([['empty-migration', 'warning']]);
    expect((await lint('-- nothing yet\n')).findings.map((f) => f.rule)).toEqual(['empty-migration']);
    const nul = await lint(`${T}SELECT 1;\n\0\nDROP TABLE users;\n`);
    expect(nul.findings.map((f) => [f.rule, f.severity, f.line])).toEqual([['unreadable-migration', 'error', 3]]);
    expect(rules(await lint(`\uFEFF${T}ALTER TABLE users DROP COLUMN status;`))).toEqual(['drop-column']);
  });
});

describe('safety rules', () => {
  const T = "SET lock_timeout = '2s'; SET statement_timeout = '1min';\n";
  test.each([
    ['DROP DATABASE app;', 'drop-database'],
    ['ALTER TABLE users ALTER COLUMN email DROP NOT NULL;', 'drop-not-null'],
    ['ALTER TABLE events DETACH PARTITION events_2024;', 'detach-partition-not-concurrent'],
    ['CREATE DOMAIN amount AS numeric CHECK (VALUE > 0);', 'domain-constraint'],
    ['ALTER DOMAIN amount ADD CONSTRAINT amount_positive CHECK (VALUE > 0) NOT VALID;', 'domain-constraint'],
    ['TRUNCATE audit_log CASCADE;', 'truncate-cascade'],
    ['BEGIN;\nALTER TABLE users ADD COLUMN a text;', 'uncommitted-transaction'],
    ['BEGIN;\nBEGIN;\nSELECT 1;\nCOMMIT;', 'nested-transaction'],
    ['SELECT 1;\nCOMMIT;', 'nested-transaction'],
    [`CREATE TABLE "${'x'.repeat(64)}" (id bigint);`, 'identifier-too-long'],
    [`CREATE TABLE t_${'é'.repeat(31)} (id bigint);`, 'identifier-too-long'],
  ])('%s → %s', async (sql, rule) => {
    expect(rules(await lint(T + sql))).toContain(rule);
  });

  test.each([
    'ALTER TABLE events DETACH PARTITION events_2024 FINALIZE;',
    'BEGIN;\nSELECT 1;\nCOMMIT;\nBEGIN;\nSELECT 2;\nCOMMIT;',
    `CREATE TABLE t_${'x'.repeat(61)} (id bigint);`,
    'ALTER DOMAIN amount VALIDATE CONSTRAINT amount_positive;',
  ])('%s is none of them', async (sql) => {
    expect((await lint(T + sql)).findings).toEqual([]);
  });

  test('the message names the truncated identifier PostgreSQL keeps', async () => {
    const [f] = (await lint(`${T}CREATE TABLE ${'a'.repeat(70)} (id bigint);`)).findings;
    expect(f?.message).toContain(`stored as "${'a'.repeat(63)}"`);
  });

  test('a goose file that commits the transaction goose opened is nesting; its own NO TRANSACTION is not', async () => {
    const text = (header: string) => `-- +goose Up\n${header}${T}BEGIN;\nSELECT 1;\nCOMMIT;\n-- +goose Down\n`;
    expect(rules(await lintMigrations([source('db/migrations/20240101_a.sql', text(''))], PG15))).toEqual(['nested-transaction', 'nested-transaction']);
    expect((await lintMigrations([source('db/migrations/20240101_a.sql', text('-- +goose NO TRANSACTION\n'))], PG15)).findings).toEqual([]);
  });

  test('allow silences each new rule', async () => {
    const report = await lint(`${T}-- rollgate: allow truncate-cascade, data-backfill-in-migration reason="staging fixtures only"\nTRUNCATE audit_log CASCADE;`);
    expect(report.findings).toEqual([]);
  });
});
