import type { RuleId } from './rules.js';

/** How one squawk rule code relates to rollgate's rules. */
export type SquawkCoverage = { covered: true; rules: readonly RuleId[]; note?: string } | { covered: false; reason: string };

/**
 * squawk (the PostgreSQL migration linter) rule code → the rollgate rule(s) that report the same
 * problem, or why rollgate has no such rule. A squawk case counts as flagged by rollgate when any
 * of the listed rules reports the file. Read by the peer-suite test, the benchmark and the docs.
 */
export const SQUAWK_RULES: Readonly<Record<string, SquawkCoverage>> = {
  'adding-field-with-default': { covered: true, rules: ['add-column-volatile-default'] },
  'adding-foreign-key-constraint': { covered: true, rules: ['constraint-not-valid'] },
  'adding-not-nullable-field': { covered: true, rules: ['set-not-null'] },
  'adding-required-field': { covered: true, rules: ['add-column-required'] },
  'adding-serial-primary-key-field': { covered: true, rules: ['unique-or-pk-constraint'] },
  'ban-alter-domain-with-add-constraint': { covered: true, rules: ['domain-constraint', 'constraint-not-valid'] },
  'ban-char-field': { covered: false, reason: 'style: char(n) pads and wastes space, but deploys safely' },
  'ban-concurrent-index-creation-in-transaction': { covered: true, rules: ['concurrent-in-transaction'] },
  'ban-create-domain-with-constraint': { covered: true, rules: ['domain-constraint'] },
  'ban-drop-column': { covered: true, rules: ['drop-column'] },
  'ban-drop-database': { covered: true, rules: ['drop-database'] },
  'ban-drop-not-null': { covered: true, rules: ['drop-not-null'] },
  'ban-drop-table': { covered: true, rules: ['drop-table'] },
  'ban-truncate-cascade': { covered: true, rules: ['truncate-cascade'] },
  'ban-uncommitted-transaction': { covered: true, rules: ['uncommitted-transaction'] },
  'changing-column-type': { covered: true, rules: ['alter-column-type'] },
  'constraint-missing-not-valid': {
    covered: true,
    rules: ['constraint-not-valid', 'validate-in-same-transaction'],
    note: 'squawk also fires on NOT VALID followed by VALIDATE in one transaction; rollgate names that validate-in-same-transaction',
  },
  'disallowed-unique-constraint': { covered: true, rules: ['unique-or-pk-constraint'] },
  'identifier-too-long': { covered: true, rules: ['identifier-too-long'] },
  'prefer-bigint-over-int': { covered: false, reason: 'style: int overflow is a capacity question, not a deploy-safety one' },
  'prefer-bigint-over-smallint': { covered: false, reason: 'style: as prefer-bigint-over-int' },
  'prefer-identity': { covered: false, reason: 'style: serial and identity columns deploy the same way' },
  'prefer-repack': {
    covered: true,
    rules: ['blocking-maintenance'],
    note: 'squawk suggests REPACK only on PostgreSQL 19; rollgate flags VACUUM FULL and CLUSTER on every version',
  },
  'prefer-robust-stmts': { covered: false, reason: 'style: IF [NOT] EXISTS makes a re-run idempotent; the tools rollgate reads record what ran' },
  'prefer-text-field': { covered: false, reason: 'style: varchar(n) vs text; changing it later is what alter-column-type reports' },
  'prefer-timestamp-tz': { covered: false, reason: 'style: a data-modelling choice, safe to deploy' },
  'renaming-column': { covered: true, rules: ['rename-column'] },
  'renaming-table': { covered: true, rules: ['rename-table'] },
  'require-concurrent-index-creation': { covered: true, rules: ['index-not-concurrent'] },
  'require-concurrent-index-deletion': { covered: true, rules: ['index-not-concurrent'] },
  'require-concurrent-partition-detach': { covered: true, rules: ['detach-partition-not-concurrent'] },
  'require-concurrent-reindex': { covered: true, rules: ['index-not-concurrent'] },
  'require-enum-value-ordering': { covered: false, reason: 'style: ADD VALUE without BEFORE/AFTER appends, which is safe; order only matters to code that sorts by the enum' },
  'require-lock-timeout': { covered: true, rules: ['missing-lock-timeout'] },
  'require-statement-timeout': { covered: true, rules: ['missing-statement-timeout'] },
  'require-table-schema': { covered: false, reason: 'style: an unqualified name resolves through search_path, the same for every deploy' },
  'transaction-nesting': { covered: true, rules: ['nested-transaction'] },
};

/** Rule codes squawk reports that stand for several of the codes above. */
export const SQUAWK_ALIASES: Readonly<Record<string, readonly string[]>> = {
  'require-timeout-settings': ['require-lock-timeout', 'require-statement-timeout'],
};

/**
 * squawk cases where rollgate is right and squawk's test is not, by case file: the only
 * disagreements the peer-suite test accepts.
 */
export const SQUAWK_DISAGREEMENTS: Readonly<Record<string, string>> = {
  'adding-field-with-default/18-bad.sql':
    'a constant default on PostgreSQL 11: version 11 is the one that stopped rewriting the table for it (squawk compares the version with > 11)',
  'ban-concurrent-index-creation-in-transaction/4-ok.sql':
    'given as a goose file (how a tool that wraps each file in a transaction runs it), the lone CREATE INDEX CONCURRENTLY runs inside that transaction and PostgreSQL refuses it; squawk lets a single-statement file pass',
  'prefer-repack/6-ok.sql': 'CLUSTER takes an ACCESS EXCLUSIVE lock and rewrites the table on every PostgreSQL version; squawk only suggests REPACK from 19 on',
  'prefer-repack/7-ok.sql': 'VACUUM FULL takes an ACCESS EXCLUSIVE lock and rewrites the table on every PostgreSQL version; squawk only suggests REPACK from 19 on',
  'require-lock-timeout/19-bad.sql': 'the table is created earlier in the same file: no running query can hold or wait for a lock on it',
  'require-statement-timeout/19-bad.sql': 'the table is created earlier in the same file: no running query waits behind the change',
};

/** The squawk mapping as a Markdown table, for the docs. */
export function renderSquawkMapping(): string {
  const rows = ['| squawk rule | rollgate rule(s) | note |', '| --- | --- | --- |'];
  for (const [code, coverage] of Object.entries(SQUAWK_RULES)) {
    if (coverage.covered) rows.push(`| \`${code}\` | ${coverage.rules.map((r) => `\`${r}\``).join(', ')} | ${coverage.note ?? ''} |`);
    else rows.push(`| \`${code}\` | not covered | ${coverage.reason} |`);
  }
  return rows.join('\n');
}
