import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tempDir } from '../../harness/process.js';
import { codeReferenceFindings, columnSpellings, findCodeReferences, indexApplicationCode, isApplicationCode, tableSpellings } from '../../src/core/migrations/code-references.js';
import { listFiles, readMigrationSource } from '../../src/core/migrations/layouts.js';
import { lintMigrations } from '../../src/core/migrations/lint.js';

const T = "SET lock_timeout = '2s'; SET statement_timeout = '1min';\n";

describe('application code that still names what a migration removes', () => {
  let repo: ReturnType<typeof tempDir>;
  const write = (path: string, text: string): void => {
    mkdirSync(dirname(join(repo.path, path)), { recursive: true });
    writeFileSync(join(repo.path, path), text);
  };

  beforeAll(() => {
    repo = tempDir('rollgate-code-refs-');
    // Go with xorm: the struct field IsLegacy maps to column is_legacy.
    write('models/user.go', 'package models\n\ntype User struct {\n\tID       int64\n\tIsLegacy bool `xorm:"is_legacy"`\n}\n');
    write('web/src/api.ts', "export const q = 'SELECT email, nickname FROM users WHERE id = $1';\n");
    // Another table's column of the same name: not a use of users.status.
    write('billing/invoice.py', 'class Invoice:\n    status = "open"\n');
    write('web/src/admin.ts', "const blocked = await db('users').where({ status: 'blocked' });\n");
    // History and dependencies are not running code.
    write('db/migrations/001_init.sql', 'CREATE TABLE users (id bigint, nickname text, is_legacy bool, status text);\n');
    write('node_modules/orm/index.js', 'module.exports = { nickname: 1, users: 2 };\n');
    write('README.md', 'users have a nickname\n');
  });
  afterAll(() => repo.remove());

  const index = () => indexApplicationCode(repo.path, listFiles(repo.path));

  test('spellings code uses for columns and tables', () => {
    expect(columnSpellings('is_legacy')).toEqual(['is_legacy', 'isLegacy', 'IsLegacy']);
    expect(columnSpellings('user_id')).toEqual(['user_id', 'userId', 'UserId', 'UserID']);
    expect(tableSpellings('public.order_items')).toEqual(['order_items', 'order_item', 'OrderItem', 'orderItem', 'OrderItems']);
    expect(tableSpellings('categories')).toContain('Category');
  });

  test('only application source counts, never migrations, dependencies or docs', () => {
    expect(isApplicationCode('models/user.go')).toBe(true);
    expect(isApplicationCode('db/migrations/001_init.sql')).toBe(false);
    expect(isApplicationCode('models/migrations/v1_20/v290.go')).toBe(false);
    expect(isApplicationCode('README.md')).toBe(false);
    expect(index().files).toBe(4);
  });

  test('a column is found as written in SQL, and as an ORM field of its model', () => {
    expect(findCodeReferences(index(), { kind: 'column', table: 'public.users', column: 'nickname' })).toEqual([{ file: 'web/src/api.ts', line: 1 }]);
    expect(findCodeReferences(index(), { kind: 'column', table: 'public.users', column: 'is_legacy' })).toEqual([{ file: 'models/user.go', line: 5 }]);
  });

  test('a common column name is only blamed next to its table or inside its model, never as a mere word', () => {
    expect(findCodeReferences(index(), { kind: 'column', table: 'public.users', column: 'status' })).toEqual([{ file: 'web/src/admin.ts', line: 1 }]);
  });

  test('a dropped column still named by code is a warning listing file and line, an error when strict, silent under a contract', async () => {
    const drop = `${T}ALTER TABLE users DROP COLUMN nickname;\n`;
    const report = await lintMigrations([readMigrationSource('db/migrations/002_drop.sql', drop, () => false)], { pgVersion: 15 });
    const [warning] = codeReferenceFindings(report.removals ?? [], index(), { strict: false });
    expect(warning).toMatchObject({ file: 'db/migrations/002_drop.sql', line: 2, rule: 'code-still-references', severity: 'warning' });
    expect(warning?.message).toContain('still name nickname: web/src/api.ts:1');
    expect(codeReferenceFindings(report.removals ?? [], index(), { strict: true })[0]?.severity).toBe('error');
    const contract = `${T}-- rollgate: contract reason="v42 stopped reading nickname"\nALTER TABLE users DROP COLUMN nickname;\n`;
    const acknowledged = await lintMigrations([readMigrationSource('db/migrations/002_drop.sql', contract, () => false)], { pgVersion: 15 });
    expect(codeReferenceFindings(acknowledged.removals ?? [], index(), { strict: true })).toEqual([]);
  });

  test('renames are checked under the old name; a table created in the same change has no users yet', async () => {
    const sql = `${T}ALTER TABLE users RENAME COLUMN nickname TO handle;\nCREATE TABLE drafts (id bigint);\nDROP TABLE drafts;\n`;
    const report = await lintMigrations([readMigrationSource('db/migrations/003.sql', sql, () => false)], { pgVersion: 15 });
    expect(report.removals?.map((r) => [r.kind, r.table, r.column])).toEqual([['column', 'public.users', 'nickname']]);
  });

  test('a dropped table is found wherever code names it as a table: in SQL, a query builder, its model', async () => {
    const report = await lintMigrations([readMigrationSource('db/migrations/004.sql', `${T}DROP TABLE users;\n`, () => false)], { pgVersion: 15 });
    const [f] = codeReferenceFindings(report.removals ?? [], index(), { strict: false });
    expect(f?.message).toContain('still name users: models/user.go:3, web/src/admin.ts:1, web/src/api.ts:1:');
  });
});

describe('what does not count as a use', () => {
  let repo: ReturnType<typeof tempDir>;
  beforeAll(() => {
    repo = tempDir('rollgate-code-refs-noise-');
    const write = (path: string, text: string): void => {
      mkdirSync(dirname(join(repo.path, path)), { recursive: true });
      writeFileSync(join(repo.path, path), text);
    };
    write(
      'src/views.rs',
      [
        '// When the follower was added: published is kept',
        'community_follower::table.inner_join(community::table.on(community_follower::community_id.eq(community::id)))',
        'use crate::community_follower::ApubCommunityFollower;',
        'let form = person_actions::table.find(form.follower_id);',
        'let row = person_actions::table.select(person_actions::follower_id);',
        '',
      ].join('\n'),
    );
  });
  afterAll(() => repo.remove());

  test("comments, other tables' qualified columns and same-named modules are not uses; the table's own path is", () => {
    const index = indexApplicationCode(repo.path, listFiles(repo.path));
    expect(findCodeReferences(index, { kind: 'column', table: 'community_follower', column: 'id' })).toEqual([]);
    expect(findCodeReferences(index, { kind: 'column', table: 'community_follower', column: 'published' })).toEqual([]);
    expect(findCodeReferences(index, { kind: 'table', table: 'community_follower' })).toEqual([{ file: 'src/views.rs', line: 2 }]);
    expect(findCodeReferences(index, { kind: 'column', table: 'person_actions', column: 'follower_id' })).toEqual([{ file: 'src/views.rs', line: 5 }]);
  });
});
