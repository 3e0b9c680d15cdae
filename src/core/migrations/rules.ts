/** How bad a finding is: errors fail the check, warnings are shown but pass. */
export type Severity = 'error' | 'warning';

/** The identifiers of every migration rule, plus the linter's own problems. */
export const RULE_IDS = [
  'drop-column',
  'drop-table',
  'rename-column',
  'rename-table',
  'add-column-required',
  'add-column-volatile-default',
  'alter-column-type',
  'set-not-null',
  'index-not-concurrent',
  'concurrent-in-transaction',
  'constraint-not-valid',
  'unique-or-pk-constraint',
  'blocking-maintenance',
  'drop-index',
  'missing-lock-timeout',
  'missing-statement-timeout',
  'data-backfill-in-migration',
  'validate-in-same-transaction',
  'drop-not-null',
  'drop-database',
  'detach-partition-not-concurrent',
  'domain-constraint',
  'truncate-cascade',
  'uncommitted-transaction',
  'nested-transaction',
  'identifier-too-long',
  'code-still-references',
  'missing-down',
  'empty-migration',
  'unreadable-migration',
  'syntax-error',
  'invalid-directive',
] as const;
export type RuleId = (typeof RULE_IDS)[number];

export interface Rule {
  id: RuleId;
  severity: Severity;
  /** One line: why this breaks a zero-downtime deploy. */
  why: string;
  /** The expand-and-contract way to get the same result. */
  instead: string;
  /** Whether a `-- rollgate: contract` statement may do this (the contract phase of expand-and-contract). */
  contract: boolean;
  /** Whether the rule is about locking an existing table (exempt for tables created in the same PR). */
  locking: boolean;
}

const rule = (id: RuleId, severity: Severity, why: string, instead: string, flags: { contract?: boolean; locking?: boolean } = {}): Rule => ({
  id,
  severity,
  why,
  instead,
  contract: flags.contract ?? false,
  locking: flags.locking ?? true,
});

/** The rule catalogue: every finding's message is built from its entry here. */
export const RULES: Record<RuleId, Rule> = {
  'drop-column': rule(
    'drop-column',
    'error',
    'the running (old) version still reads this column; its queries fail the moment it is gone',
    'stop reading and writing the column in code first, deploy, then drop it in a later migration marked `-- rollgate: contract reason="…"`',
    { contract: true },
  ),
  'drop-table': rule(
    'drop-table',
    'error',
    'the running (old) version still queries this table, and a rollback could not bring it back',
    'remove every use in code first, deploy, then drop it in a later migration marked `-- rollgate: contract reason="…"`',
    { contract: true },
  ),
  'rename-column': rule(
    'rename-column',
    'error',
    'the running (old) version still uses the old name: every query that names it fails at once',
    'add the new column, write both, backfill, switch reads, then drop the old column in a contract migration',
    { contract: true },
  ),
  'rename-table': rule(
    'rename-table',
    'error',
    'the running (old) version still uses the old name: every query that names it fails at once',
    'rename and, in the same transaction, `CREATE VIEW old_name AS SELECT * FROM new_name` so old code keeps working; drop the view in a contract migration',
    { contract: true },
  ),
  'add-column-required': rule(
    'add-column-required',
    'error',
    'NOT NULL without a default fails on a table with rows, and old code inserting without the column breaks',
    'add the column nullable (or with a constant default), backfill, add `CHECK (col IS NOT NULL) NOT VALID`, `VALIDATE CONSTRAINT`, then `SET NOT NULL`',
  ),
  'add-column-volatile-default': rule(
    'add-column-volatile-default',
    'error',
    'a default that must be computed per row (or any default before PostgreSQL 11) rewrites the whole table under an ACCESS EXCLUSIVE lock',
    'add the column without a default, `ALTER COLUMN … SET DEFAULT …` for new rows, and backfill existing rows in batches',
  ),
  'alter-column-type': rule(
    'alter-column-type',
    'error',
    'changing a column type rewrites the table under an ACCESS EXCLUSIVE lock, and old code may not read the new type',
    'add a column of the new type, write both, backfill in batches, switch reads, drop the old column in a contract migration',
    { contract: true },
  ),
  'set-not-null': rule(
    'set-not-null',
    'error',
    'SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock',
    'add `CHECK (col IS NOT NULL) NOT VALID`, then `VALIDATE CONSTRAINT` (no write lock), then `SET NOT NULL` (PostgreSQL 12+ skips the scan)',
  ),
  'index-not-concurrent': rule(
    'index-not-concurrent',
    'error',
    'building or dropping an index without CONCURRENTLY blocks writes to the table until it finishes',
    'use `CREATE INDEX CONCURRENTLY`, `DROP INDEX CONCURRENTLY` or `REINDEX … CONCURRENTLY`, outside a transaction',
  ),
  'concurrent-in-transaction': rule(
    'concurrent-in-transaction',
    'error',
    'CONCURRENTLY cannot run inside a transaction block: the migration fails when it is applied',
    'put the concurrent statement in its own migration that runs outside a transaction (goose `-- +goose NO TRANSACTION`, dbmate `transaction:false`, sqlx `-- no-transaction`)',
    { locking: false },
  ),
  'constraint-not-valid': rule(
    'constraint-not-valid',
    'error',
    'adding a FOREIGN KEY or CHECK validates every row while holding a lock that blocks writes',
    'add it with `NOT VALID` (instant), then `VALIDATE CONSTRAINT` in a separate statement (does not block writes)',
  ),
  'unique-or-pk-constraint': rule(
    'unique-or-pk-constraint',
    'error',
    'adding a UNIQUE or PRIMARY KEY constraint builds its index while blocking writes',
    '`CREATE UNIQUE INDEX CONCURRENTLY` first, then `ADD CONSTRAINT … UNIQUE USING INDEX` (or `PRIMARY KEY USING INDEX`)',
  ),
  'blocking-maintenance': rule(
    'blocking-maintenance',
    'error',
    'VACUUM FULL and CLUSTER rewrite the table under an ACCESS EXCLUSIVE lock: reads and writes stop',
    'run plain `VACUUM` (or pg_repack) outside the deploy, never in a migration',
  ),
  'drop-index': rule(
    'drop-index',
    'warning',
    'queries of the running version may rely on this index and slow down sharply without it',
    'check the index is unused (pg_stat_user_indexes.idx_scan) and drop it with `DROP INDEX CONCURRENTLY` after the new version is stable',
  ),
  'missing-lock-timeout': rule(
    'missing-lock-timeout',
    'warning',
    'a schema change waits for its lock as long as it takes, holding every lock the migration already has, and every conflicting query queues behind it',
    "start the migration with `SET lock_timeout = '2s';` and retry the migration when it times out",
  ),
  'missing-statement-timeout': rule(
    'missing-statement-timeout',
    'warning',
    'without a statement_timeout a slow schema change (a scan or a rewrite) keeps its lock for as long as it runs, and every query queued behind it waits as long',
    "start the migration with `SET statement_timeout = '1min';` (sized to what the change needs) so a runaway statement fails instead of stalling traffic",
  ),
  'data-backfill-in-migration': rule(
    'data-backfill-in-migration',
    'warning',
    'a table-wide UPDATE, DELETE or TRUNCATE locks or rewrites many rows inside the deploy and cannot be rolled back by redeploying',
    'backfill in small batches from a job (`UPDATE … WHERE id BETWEEN … AND …`), outside the schema migration',
  ),
  'validate-in-same-transaction': rule(
    'validate-in-same-transaction',
    'error',
    "VALIDATE CONSTRAINT in the transaction that added the constraint NOT VALID scans every row while still holding the ADD's lock (ACCESS EXCLUSIVE for a CHECK, SHARE ROW EXCLUSIVE for a FOREIGN KEY): writes, and for a CHECK reads too, stop until it ends",
    'commit between the two: `ADD CONSTRAINT … NOT VALID` in one migration (or transaction), `VALIDATE CONSTRAINT` in the next, where it only takes a SHARE UPDATE EXCLUSIVE lock',
  ),
  'drop-not-null': rule(
    'drop-not-null',
    'error',
    'the running (old) version relies on the column never being NULL: once new code writes NULLs, old code reading those rows breaks, and the constraint cannot come back while they exist',
    'ship code that handles NULL everywhere first, then drop NOT NULL in a later migration marked `-- rollgate: contract reason="…"`',
    { contract: true },
  ),
  'drop-database': rule(
    'drop-database',
    'error',
    'DROP DATABASE deletes every table and every row at once; no running version survives it and no rollback brings the data back',
    'never drop a database from a deploy migration: do it by hand, after a backup, once nothing connects to it',
    { locking: false },
  ),
  'detach-partition-not-concurrent': rule(
    'detach-partition-not-concurrent',
    'error',
    'DETACH PARTITION without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on the partitioned table: reads and writes on every partition wait until it finishes',
    '`ALTER TABLE … DETACH PARTITION … CONCURRENTLY` (PostgreSQL 14+), in a migration that runs outside a transaction',
  ),
  'domain-constraint': rule(
    'domain-constraint',
    'warning',
    'a constraint on a domain applies to every column of that type in every table: it cannot be changed per table, and tightening it later checks every one of those tables while holding their locks',
    'use a plain type and put the rule on each column: `ADD CONSTRAINT … CHECK (…) NOT VALID`, then `VALIDATE CONSTRAINT`',
    { locking: false },
  ),
  'truncate-cascade': rule(
    'truncate-cascade',
    'error',
    'TRUNCATE … CASCADE also empties every table with a foreign key to these (tables the statement does not name) under ACCESS EXCLUSIVE locks',
    'name every table to empty (without CASCADE, TRUNCATE refuses when one is missing), or delete the rows in batches from a job',
  ),
  'uncommitted-transaction': rule(
    'uncommitted-transaction',
    'error',
    'the migration opens a transaction it never commits: its changes are rolled back when the session ends, or the next migration runs inside it',
    'end every `BEGIN` with `COMMIT` in the same file',
    { locking: false },
  ),
  'nested-transaction': rule(
    'nested-transaction',
    'error',
    "a BEGIN inside a transaction is ignored, and a COMMIT or ROLLBACK inside the tool's transaction ends it early: the statements after it run outside the transaction the tool believes it holds, and a failure no longer undoes them",
    'let the tool own the transaction (no BEGIN/COMMIT in goose or dbmate files), or switch it off (`-- +goose NO TRANSACTION`, `-- migrate:up transaction:false`) and write one `BEGIN … COMMIT`',
    { locking: false },
  ),
  'identifier-too-long': rule(
    'identifier-too-long',
    'error',
    'PostgreSQL silently truncates identifiers to 63 bytes: the object gets another name than the one code and later migrations use, and two long names can collide',
    'choose a name of at most 63 bytes',
    { locking: false },
  ),
  'code-still-references': rule(
    'code-still-references',
    'warning',
    'application code in this change still names what the migration drops or renames: that code fails as soon as the migration runs',
    'remove those uses and deploy that first; drop or rename in a later migration marked `-- rollgate: contract reason="…"`',
    { locking: false },
  ),
  'missing-down': rule(
    'missing-down',
    'warning',
    'without a down migration the schema change cannot be reverted with the tool that applied it',
    'add the matching down migration (`*.down.sql`, `-- +goose Down`, `-- migrate:down`)',
    { locking: false },
  ),
  'empty-migration': rule(
    'empty-migration',
    'warning',
    'the migration has no statement (an unsaved buffer or a bad merge?); the tool still records it as applied',
    'write the intended SQL, or delete the file',
    { locking: false },
  ),
  'unreadable-migration': rule(
    'unreadable-migration',
    'error',
    'the file contains a NUL byte: PostgreSQL and the migration tools stop reading text there, so what follows would neither be linted nor run as written',
    'save the migration as plain UTF-8 text',
    { locking: false },
  ),
  'syntax-error': rule('syntax-error', 'error', 'PostgreSQL cannot parse this statement', 'fix the SQL so that PostgreSQL accepts it', { locking: false }),
  'invalid-directive': rule(
    'invalid-directive',
    'error',
    'a rollgate directive must say why it is safe, so reviewers can judge it',
    'write `-- rollgate: allow <rule> reason="…"` or `-- rollgate: contract reason="…"` with a reason',
    { locking: false },
  ),
};

/** Whether `id` names a rule. */
export function isRuleId(id: string): id is RuleId {
  return (RULE_IDS as readonly string[]).includes(id);
}
