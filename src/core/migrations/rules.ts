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
  'data-backfill-in-migration',
  'missing-down',
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
    'a statement waiting for a strong lock queues every other query on the table behind it',
    'start the migration with `SET lock_timeout = \'2s\';` and retry the migration when it times out',
  ),
  'data-backfill-in-migration': rule(
    'data-backfill-in-migration',
    'warning',
    'a table-wide UPDATE, DELETE or TRUNCATE locks or rewrites many rows inside the deploy and cannot be rolled back by redeploying',
    'backfill in small batches from a job (`UPDATE … WHERE id BETWEEN … AND …`), outside the schema migration',
  ),
  'missing-down': rule(
    'missing-down',
    'warning',
    'without a down migration the schema change cannot be reverted with the tool that applied it',
    'add the matching down migration (`*.down.sql`, `-- +goose Down`, `-- migrate:down`)',
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
