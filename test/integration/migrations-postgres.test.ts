import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startPostgresServer, type PostgresServer } from '../../harness/postgres-server.js';
import { requireBinary } from '../../harness/process.js';

// Every flagged example and every safe alternative runs on a real PostgreSQL 15, so no rule
// recommends SQL that does not work and no example is invalid SQL.
const BIN = '/usr/lib/postgresql/15/bin';
const RULES_DIR = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '../fixtures/migrations/rules');
const rules = readdirSync(RULES_DIR, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name);

// Two flagged examples are not merely slow on a busy table: PostgreSQL refuses them outright.
const REFUSED: Record<string, RegExp> = {
  'add-column-required': /contains null values/,
  'concurrent-in-transaction': /cannot run inside a transaction block/,
};

const available = requireBinary(join(BIN, 'postgres'), 'postgresql-15');
const maybe = available ? describe : describe.skip;

maybe('rule examples on PostgreSQL 15', () => {
  let pg: PostgresServer;
  let databases = 0;

  function psql(database: string, args: string[]): { ok: boolean; output: string } {
    const run = spawnSync(join(BIN, 'psql'), ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', pg.host, '-p', String(pg.port), '-U', pg.user, '-d', database, ...args], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    return { ok: run.status === 0, output: `${run.stdout}${run.stderr}` };
  }

  /** A fresh copy of the example schema, so every example starts from the same tables and rows. */
  function freshDatabase(): string {
    const name = `example_${++databases}`;
    const created = psql('postgres', ['-c', `CREATE DATABASE ${name} TEMPLATE rules_base`]);
    if (!created.ok) throw new Error(created.output);
    return name;
  }

  beforeAll(async () => {
    pg = await startPostgresServer({ binDir: BIN });
    const version = psql('postgres', ['-tA', '-c', 'SHOW server_version_num']);
    expect(version.output.trim()).toMatch(/^15\d{4}$/);
    expect(psql('postgres', ['-c', 'CREATE DATABASE rules_base']).ok).toBe(true);
    const setup = psql('rules_base', ['-f', join(RULES_DIR, 'setup.sql')]);
    if (!setup.ok) throw new Error(setup.output);
  }, 60_000);

  afterAll(async () => {
    await pg?.stop();
  });

  test.each(rules)('%s: the safe alternative runs', (rule) => {
    const run = psql(freshDatabase(), ['-f', join(RULES_DIR, rule, 'safe.sql')]);
    expect(run.output).not.toMatch(/ERROR/);
    expect(run.ok).toBe(true);
  });

  test.each(rules)('%s: the flagged example is valid SQL that runs, or that PostgreSQL refuses for the reason the rule names', (rule) => {
    const run = psql(freshDatabase(), ['-f', join(RULES_DIR, rule, 'flagged.sql')]);
    const refused = REFUSED[rule];
    if (refused) {
      expect(run.ok).toBe(false);
      expect(run.output).toMatch(refused);
    } else {
      expect(run.output).not.toMatch(/ERROR/);
      expect(run.ok).toBe(true);
    }
  });

  test('the safe NOT NULL sequence really leaves the column NOT NULL', () => {
    const db = freshDatabase();
    expect(psql(db, ['-f', join(RULES_DIR, 'set-not-null', 'safe.sql')]).ok).toBe(true);
    const attnotnull = psql(db, ['-tA', '-c', "SELECT attnotnull FROM pg_attribute WHERE attrelid = 'users'::regclass AND attname = 'email'"]);
    expect(attnotnull.output.trim()).toBe('t');
  });

  const sql = (db: string, text: string): string => {
    const run = psql(db, ['-tA', '-c', text]);
    if (!run.ok) throw new Error(run.output);
    return run.output.trim();
  };

  test('uncommitted-transaction: the change of the flagged migration is rolled back when the session ends', () => {
    const flagged = freshDatabase();
    expect(psql(flagged, ['-f', join(RULES_DIR, 'uncommitted-transaction', 'flagged.sql')]).ok).toBe(true);
    expect(sql(flagged, "SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'nickname'")).toBe('0');
    const safe = freshDatabase();
    expect(psql(safe, ['-f', join(RULES_DIR, 'uncommitted-transaction', 'safe.sql')]).ok).toBe(true);
    expect(sql(safe, "SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'nickname'")).toBe('1');
  });

  test('nested-transaction: PostgreSQL ignores the inner BEGIN, only warning about it', () => {
    const run = psql(freshDatabase(), ['-f', join(RULES_DIR, 'nested-transaction', 'flagged.sql')]);
    expect(run.output).toMatch(/WARNING:\s+there is already a transaction in progress/);
  });

  test('identifier-too-long: the index exists under a truncated name, not the one the migration wrote', () => {
    const db = freshDatabase();
    const run = psql(db, ['-f', join(RULES_DIR, 'identifier-too-long', 'flagged.sql')]);
    expect(run.output).toMatch(/will be truncated/);
    const name = sql(db, "SELECT relname FROM pg_class WHERE relname LIKE 'users_lower_email_for%'");
    expect(Buffer.byteLength(name)).toBe(63);
  });

  const locksHeld = (db: string, table: string, statements: string): string[] =>
    sql(db, `BEGIN; ${statements}; SELECT string_agg(mode, ',' ORDER BY mode) FROM pg_locks WHERE relation = '${table}'::regclass AND pid = pg_backend_pid(); COMMIT;`)
      .split('\n')
      .filter((l) => l.includes('Lock'))
      .flatMap((l) => l.split(','));

  test('validate-in-same-transaction: in the ADD transaction VALIDATE scans under a write-blocking lock; after a commit only under SHARE UPDATE EXCLUSIVE', () => {
    // A FOREIGN KEY's ADD takes SHARE ROW EXCLUSIVE (blocks writes), a CHECK's ACCESS EXCLUSIVE (blocks reads too).
    const fk = 'ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID';
    expect(locksHeld(freshDatabase(), 'orders', `${fk}; ALTER TABLE orders VALIDATE CONSTRAINT orders_user_fk`)).toContain('ShareRowExclusiveLock');
    const check = 'ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total > 0) NOT VALID';
    expect(locksHeld(freshDatabase(), 'orders', `${check}; ALTER TABLE orders VALIDATE CONSTRAINT orders_total_positive`)).toContain('AccessExclusiveLock');
    const apart = freshDatabase();
    sql(apart, fk);
    const alone = locksHeld(apart, 'orders', 'ALTER TABLE orders VALIDATE CONSTRAINT orders_user_fk');
    expect(alone).toContain('ShareUpdateExclusiveLock');
    // Neither of these conflicts with the ROW EXCLUSIVE lock that INSERT, UPDATE and DELETE take.
    expect(alone.filter((m) => m !== 'ShareUpdateExclusiveLock' && m !== 'AccessShareLock')).toEqual([]);
  });

  test('detach-partition-not-concurrent: a plain DETACH holds ACCESS EXCLUSIVE on the partitioned table', () => {
    expect(locksHeld(freshDatabase(), 'events', 'ALTER TABLE events DETACH PARTITION events_2024')).toContain('AccessExclusiveLock');
  });

  test('truncate-cascade: CASCADE empties a table the statement never names', () => {
    const db = freshDatabase();
    sql(db, 'CREATE TABLE logins (user_id bigint REFERENCES users (id)); INSERT INTO logins SELECT id FROM users');
    sql(db, 'TRUNCATE users CASCADE');
    expect(sql(db, 'SELECT count(*) FROM logins')).toBe('0');
  });

  test('drop-not-null: afterwards the column takes NULLs that code written for NOT NULL never expected', () => {
    const db = freshDatabase();
    expect(psql(db, ['-c', 'INSERT INTO accounts (id, plan) VALUES (5000, NULL)']).ok).toBe(false);
    expect(psql(db, ['-f', join(RULES_DIR, 'drop-not-null', 'flagged.sql')]).ok).toBe(true);
    expect(psql(db, ['-c', 'INSERT INTO accounts (id, plan) VALUES (5000, NULL)']).ok).toBe(true);
  });
});
