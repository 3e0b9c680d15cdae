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
});
