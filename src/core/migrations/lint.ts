import type { AlterTableCmd, ColumnDef, Constraint, Node, RangeVar } from 'libpg-query';
import type { MigrationSource } from './layouts.js';
import { RULES, type RuleId, type Severity } from './rules.js';
import { loadSqlParser, parseSql, type Directive, type Statement } from './sql.js';

/** One problem in one migration, pointing at the statement's first line. */
export interface Finding {
  file: string;
  line: number;
  rule: RuleId;
  severity: Severity;
  message: string;
}

/** A statement marked as the contract phase: after it ships, the old version cannot run again. */
export interface ContractStatement {
  file: string;
  line: number;
  reason: string;
}

export interface LintReport {
  /** The migrations that were linted, in the order they apply. */
  files: string[];
  findings: Finding[];
  contracts: ContractStatement[];
  /** True when any statement is a contract-phase change: rollback can no longer redeploy the old version. */
  irreversible: boolean;
}

export interface LintOptions {
  /** The PostgreSQL major version the migrations run on (some operations became safe in later versions). */
  pgVersion: number;
  /**
   * Whether the files are one change (a PR): a table created in one is new for the others.
   * False when linting a whole history, where each file is judged on its own.
   */
  oneChange?: boolean;
}

interface Hit {
  rule: RuleId;
  /** What the statement does, e.g. `drops column users.email`. */
  what: string;
  /** The existing table it touches, when known: exempt when the PR created it. */
  table?: string;
  index?: string;
}

/** What the linter learns while reading the PR's migrations in order. */
interface History {
  createdTables: Set<string>;
  createdIndexes: Set<string>;
  /** NOT VALID `col IS NOT NULL` checks by constraint name, waiting to be validated. */
  pendingNotNullChecks: Map<string, { table: string; column: string }>;
  /** `table.column` pairs proven non-null by a validated CHECK: SET NOT NULL skips its scan (PG 12+). */
  provenNotNull: Set<string>;
}

/** Lints migrations (in the order they apply) for changes that break a zero-downtime deploy. */
export async function lintMigrations(sources: readonly MigrationSource[], options: LintOptions): Promise<LintReport> {
  await loadSqlParser();
  const fresh = (): History => ({ createdTables: new Set(), createdIndexes: new Set(), pendingNotNullChecks: new Map(), provenNotNull: new Set() });
  let history = fresh();
  const findings: Finding[] = [];
  const contracts: ContractStatement[] = [];
  const files: string[] = [];
  for (const source of sources) {
    if (source.isDown) continue;
    files.push(source.file);
    if (options.oneChange === false) history = fresh();
    lintSource(source, options, history, findings, contracts);
  }
  return { files, findings, contracts, irreversible: contracts.length > 0 };
}

function finding(file: string, line: number, rule: RuleId, what: string): Finding {
  const r = RULES[rule];
  return { file, line, rule, severity: r.severity, message: `${what}: ${r.why}. Instead: ${r.instead} [${rule}]` };
}

function lintSource(source: MigrationSource, options: LintOptions, history: History, findings: Finding[], contracts: ContractStatement[]): void {
  const { file } = source;
  if (source.missingDown) findings.push(finding(file, 1, 'missing-down', `${source.layout} migration without a down migration`));
  const parsed = parseSql(source.upSql);
  if (!parsed.ok) {
    findings.push({
      file,
      line: parsed.line,
      rule: 'syntax-error',
      severity: 'error',
      message: `cannot parse SQL at line ${parsed.line}, column ${parsed.column}: ${parsed.message} [syntax-error]`,
    });
    return;
  }
  const reportDirectives = (directives: Directive[]): void => {
    for (const d of directives) if (d.kind === 'invalid') findings.push({ ...finding(file, d.line, 'invalid-directive', d.problem), message: `${d.problem} [invalid-directive]` });
  };
  let inTransaction = source.transaction === 'implicit';
  let lockTimeoutSet = false;
  let lockTimeoutWarned = false;
  for (const statement of parsed.statements) {
    reportDirectives(statement.directives);
    const contract = statement.directives.find((d): d is Extract<Directive, { kind: 'contract' }> => d.kind === 'contract');
    if (contract) contracts.push({ file, line: statement.line, reason: contract.reason });
    const allowed = new Set(statement.directives.flatMap((d) => (d.kind === 'allow' ? d.rules : [])));

    const tx = transactionChange(statement.node);
    if (tx !== undefined && source.transaction !== 'implicit') inTransaction = tx;
    if (setsLockTimeout(statement.node)) lockTimeoutSet = true;

    const hits = inspect(statement, options, history, inTransaction);
    for (const hit of hits) {
      const rule = RULES[hit.rule];
      if (rule.locking && hit.table && history.createdTables.has(hit.table)) continue;
      if (rule.locking && hit.index && history.createdIndexes.has(hit.index)) continue;
      if (allowed.has(hit.rule)) continue;
      if (contract && rule.contract) continue;
      findings.push(finding(file, statement.line, hit.rule, hit.what));
    }
    const locked = strongLockTarget(statement.node);
    if (locked && !history.createdTables.has(locked) && !lockTimeoutSet && !lockTimeoutWarned && !allowed.has('missing-lock-timeout')) {
      lockTimeoutWarned = true;
      findings.push(finding(file, statement.line, 'missing-lock-timeout', `locks ${display(locked)} without a lock_timeout set earlier in this migration`));
    }
    remember(statement.node, history);
  }
  reportDirectives(parsed.trailingDirectives);
}

function tableName(rel: RangeVar | undefined): string | undefined {
  if (!rel?.relname) return undefined;
  return `${rel.schemaname ?? 'public'}.${rel.relname}`;
}

function display(table: string | undefined): string {
  return table?.startsWith('public.') ? table.slice(7) : (table ?? '?');
}

function names(list: Node[] | undefined): string[] {
  return (list ?? []).flatMap((n) => ('String' in n && n.String.sval !== undefined ? [n.String.sval] : []));
}

function transactionChange(node: Node): boolean | undefined {
  if (!('TransactionStmt' in node)) return undefined;
  switch (node.TransactionStmt.kind) {
    case 'TRANS_STMT_BEGIN':
    case 'TRANS_STMT_START':
      return true;
    case 'TRANS_STMT_COMMIT':
    case 'TRANS_STMT_ROLLBACK':
    case 'TRANS_STMT_PREPARE':
    case 'TRANS_STMT_COMMIT_PREPARED':
    case 'TRANS_STMT_ROLLBACK_PREPARED':
      return false;
    default:
      return undefined;
  }
}

function setsLockTimeout(node: Node): boolean {
  if (!('VariableSetStmt' in node)) return false;
  const set = node.VariableSetStmt;
  if (set.name !== 'lock_timeout' || set.kind !== 'VAR_SET_VALUE') return false;
  const value = set.args?.[0];
  if (!value || !('A_Const' in value)) return true;
  const c = value.A_Const;
  // `SET lock_timeout = 0` switches the timeout off.
  if (c.ival !== undefined) return (c.ival.ival ?? 0) !== 0;
  if (c.sval !== undefined) return !/^0+(ms|s|min)?$/.test((c.sval.sval ?? '').trim());
  return true;
}

/** The existing table a statement takes an ACCESS EXCLUSIVE (or write-blocking) lock on, if any. */
function strongLockTarget(node: Node): string | undefined {
  if ('AlterTableStmt' in node && node.AlterTableStmt.objtype === 'OBJECT_TABLE') {
    // VALIDATE CONSTRAINT takes SHARE UPDATE EXCLUSIVE: reads and writes go on while it scans.
    const cmds = node.AlterTableStmt.cmds ?? [];
    if (cmds.length > 0 && cmds.every((c) => 'AlterTableCmd' in c && c.AlterTableCmd.subtype === 'AT_ValidateConstraint')) return undefined;
    return tableName(node.AlterTableStmt.relation);
  }
  if ('RenameStmt' in node && (node.RenameStmt.renameType === 'OBJECT_TABLE' || node.RenameStmt.renameType === 'OBJECT_COLUMN')) return tableName(node.RenameStmt.relation);
  if ('IndexStmt' in node && !node.IndexStmt.concurrent) return tableName(node.IndexStmt.relation);
  if ('CreateTrigStmt' in node) return tableName(node.CreateTrigStmt.relation);
  if ('DropStmt' in node && node.DropStmt.removeType === 'OBJECT_TABLE') {
    const first = node.DropStmt.objects?.[0];
    if (first && 'List' in first) return qualified(names(first.List.items));
  }
  return undefined;
}

function qualified(parts: string[]): string | undefined {
  if (parts.length === 0) return undefined;
  return parts.length === 1 ? `public.${parts[0]}` : parts.slice(-2).join('.');
}

const SERIAL_TYPES = new Set(['serial', 'bigserial', 'smallserial', 'serial2', 'serial4', 'serial8']);
// Functions whose value is the same for every row of one statement: PostgreSQL 11+ stores
// such a default once instead of rewriting the table. Anything else is treated as volatile.
const NON_VOLATILE_FUNCTIONS = new Set([
  'now',
  'transaction_timestamp',
  'statement_timestamp',
  'current_date',
  'lower',
  'upper',
  'length',
  'abs',
  'to_timestamp',
  'make_interval',
  'jsonb_build_object',
  'json_build_object',
  'jsonb_build_array',
  'json_build_array',
  'array_fill',
]);

/** The first function call in a default expression that may differ per row, if any. */
function volatileCall(expr: unknown): string | undefined {
  if (Array.isArray(expr)) {
    for (const e of expr) {
      const found = volatileCall(e);
      if (found) return found;
    }
    return undefined;
  }
  if (expr === null || typeof expr !== 'object') return undefined;
  for (const [key, value] of Object.entries(expr)) {
    if (key === 'FuncCall' && value && typeof value === 'object') {
      const fn = names((value as { funcname?: Node[] }).funcname).at(-1) ?? '?';
      if (!NON_VOLATILE_FUNCTIONS.has(fn)) return `${fn}()`;
    }
    const found = volatileCall(value);
    if (found) return found;
  }
  return undefined;
}

function constraintsOf(def: ColumnDef): Constraint[] {
  return (def.constraints ?? []).flatMap((n) => ('Constraint' in n ? [n.Constraint] : []));
}

/** `col IS NOT NULL`, the CHECK that lets SET NOT NULL skip its table scan. */
function notNullCheckColumn(c: Constraint): string | undefined {
  const expr = c.raw_expr;
  if (!expr || !('NullTest' in expr) || expr.NullTest.nulltesttype !== 'IS_NOT_NULL') return undefined;
  const arg = expr.NullTest.arg;
  if (!arg || !('ColumnRef' in arg)) return undefined;
  return names(arg.ColumnRef.fields).at(-1);
}

function inspectAlterCommand(cmd: AlterTableCmd, table: string | undefined, options: LintOptions, history: History): Hit[] {
  const t = display(table);
  const hits: Hit[] = [];
  switch (cmd.subtype) {
    case 'AT_DropColumn':
      hits.push({ rule: 'drop-column', what: `drops column ${t}.${cmd.name ?? '?'}`, table });
      break;
    case 'AT_AlterColumnType':
      hits.push({ rule: 'alter-column-type', what: `changes the type of ${t}.${cmd.name ?? '?'}`, table });
      break;
    case 'AT_SetNotNull': {
      const proven = options.pgVersion >= 12 && history.provenNotNull.has(`${table}.${cmd.name}`);
      if (!proven) hits.push({ rule: 'set-not-null', what: `sets ${t}.${cmd.name ?? '?'} NOT NULL`, table });
      break;
    }
    case 'AT_AddColumn': {
      const def = cmd.def && 'ColumnDef' in cmd.def ? cmd.def.ColumnDef : undefined;
      if (!def) break;
      const col = `${t}.${def.colname ?? '?'}`;
      const constraints = constraintsOf(def);
      const defaultExpr = constraints.find((c) => c.contype === 'CONSTR_DEFAULT')?.raw_expr;
      const typeName = names(def.typeName?.names).at(-1) ?? '';
      const notNull = constraints.some((c) => c.contype === 'CONSTR_NOTNULL' || c.contype === 'CONSTR_PRIMARY');
      const generated = constraints.some((c) => c.contype === 'CONSTR_IDENTITY' || c.contype === 'CONSTR_GENERATED');
      if (notNull && defaultExpr === undefined && !generated && !SERIAL_TYPES.has(typeName))
        hits.push({ rule: 'add-column-required', what: `adds ${col} NOT NULL without a default`, table });
      if (SERIAL_TYPES.has(typeName)) hits.push({ rule: 'add-column-volatile-default', what: `adds ${col} as ${typeName} (a per-row nextval() default)`, table });
      else if (generated) hits.push({ rule: 'add-column-volatile-default', what: `adds ${col} as an identity or stored generated column (computed for every row)`, table });
      else if (defaultExpr !== undefined) {
        const call = volatileCall(defaultExpr);
        if (options.pgVersion < 11) hits.push({ rule: 'add-column-volatile-default', what: `adds ${col} with a default on PostgreSQL ${options.pgVersion}`, table });
        else if (call) hits.push({ rule: 'add-column-volatile-default', what: `adds ${col} with default ${call}, computed for every existing row`, table });
      }
      for (const c of constraints) {
        if (c.contype === 'CONSTR_UNIQUE' || c.contype === 'CONSTR_PRIMARY')
          hits.push({ rule: 'unique-or-pk-constraint', what: `adds ${col} with a ${c.contype === 'CONSTR_UNIQUE' ? 'UNIQUE' : 'PRIMARY KEY'} constraint`, table });
      }
      break;
    }
    case 'AT_AddConstraint': {
      const c = cmd.def && 'Constraint' in cmd.def ? cmd.def.Constraint : undefined;
      if (!c) break;
      const name = c.conname ? ` ${c.conname}` : '';
      if ((c.contype === 'CONSTR_FOREIGN' || c.contype === 'CONSTR_CHECK') && !c.skip_validation)
        hits.push({ rule: 'constraint-not-valid', what: `adds ${c.contype === 'CONSTR_FOREIGN' ? 'FOREIGN KEY' : 'CHECK'} constraint${name} on ${t} without NOT VALID`, table });
      if ((c.contype === 'CONSTR_UNIQUE' || c.contype === 'CONSTR_PRIMARY') && !c.indexname)
        hits.push({ rule: 'unique-or-pk-constraint', what: `adds ${c.contype === 'CONSTR_UNIQUE' ? 'UNIQUE' : 'PRIMARY KEY'} constraint${name} on ${t} without USING INDEX`, table });
      break;
    }
    default:
      break;
  }
  return hits;
}

function inspect(statement: Statement, options: LintOptions, history: History, inTransaction: boolean): Hit[] {
  const node = statement.node;
  if ('AlterTableStmt' in node) {
    const stmt = node.AlterTableStmt;
    if (stmt.objtype !== 'OBJECT_TABLE') return [];
    const table = tableName(stmt.relation);
    return (stmt.cmds ?? []).flatMap((n) => ('AlterTableCmd' in n ? inspectAlterCommand(n.AlterTableCmd, table, options, history) : []));
  }
  if ('RenameStmt' in node) {
    const stmt = node.RenameStmt;
    const table = tableName(stmt.relation);
    if (stmt.renameType === 'OBJECT_COLUMN' && stmt.relationType === 'OBJECT_TABLE')
      return [{ rule: 'rename-column', what: `renames column ${display(table)}.${stmt.subname ?? '?'} to ${stmt.newname ?? '?'}`, table }];
    if (stmt.renameType === 'OBJECT_TABLE') return [{ rule: 'rename-table', what: `renames table ${display(table)} to ${stmt.newname ?? '?'}`, table }];
    return [];
  }
  if ('DropStmt' in node) {
    const stmt = node.DropStmt;
    const objects = (stmt.objects ?? []).flatMap((o) => ('List' in o ? [qualified(names(o.List.items))] : []));
    if (stmt.removeType === 'OBJECT_TABLE') return objects.map((table) => ({ rule: 'drop-table' as const, what: `drops table ${display(table)}`, table }));
    if (stmt.removeType === 'OBJECT_INDEX') {
      return objects.flatMap((index): Hit[] => {
        const hits: Hit[] = [{ rule: 'drop-index', what: `drops index ${display(index)}`, index }];
        if (!stmt.concurrent) hits.push({ rule: 'index-not-concurrent', what: `drops index ${display(index)} without CONCURRENTLY`, index });
        else if (inTransaction) hits.push({ rule: 'concurrent-in-transaction', what: `drops index ${display(index)} CONCURRENTLY inside a transaction` });
        return hits;
      });
    }
    return [];
  }
  if ('IndexStmt' in node) {
    const stmt = node.IndexStmt;
    const table = tableName(stmt.relation);
    const what = `${stmt.unique ? 'creates unique index' : 'creates index'}${stmt.idxname ? ` ${stmt.idxname}` : ''} on ${display(table)}`;
    if (!stmt.concurrent) return [{ rule: 'index-not-concurrent', what: `${what} without CONCURRENTLY`, table }];
    if (inTransaction) return [{ rule: 'concurrent-in-transaction', what: `${what} CONCURRENTLY inside a transaction` }];
    return [];
  }
  if ('ReindexStmt' in node) {
    const stmt = node.ReindexStmt;
    const concurrent = (stmt.params ?? []).some((p) => 'DefElem' in p && p.DefElem.defname === 'concurrently');
    const target = stmt.relation ? display(tableName(stmt.relation)) : (stmt.name ?? '');
    if (!concurrent) return [{ rule: 'index-not-concurrent', what: `reindexes ${target} without CONCURRENTLY`, table: tableName(stmt.relation) }];
    if (inTransaction) return [{ rule: 'concurrent-in-transaction', what: `reindexes ${target} CONCURRENTLY inside a transaction` }];
    return [];
  }
  if ('VacuumStmt' in node) {
    const stmt = node.VacuumStmt;
    const full = stmt.is_vacuumcmd && (stmt.options ?? []).some((o) => 'DefElem' in o && o.DefElem.defname === 'full');
    if (!full) return [];
    const rel = stmt.rels?.[0];
    const table = rel && 'VacuumRelation' in rel ? tableName(rel.VacuumRelation.relation) : undefined;
    return [{ rule: 'blocking-maintenance', what: `runs VACUUM FULL${table ? ` on ${display(table)}` : ''}`, table }];
  }
  if ('ClusterStmt' in node) {
    const table = tableName(node.ClusterStmt.relation);
    return [{ rule: 'blocking-maintenance', what: `runs CLUSTER${table ? ` on ${display(table)}` : ''}`, table }];
  }
  if ('UpdateStmt' in node && !node.UpdateStmt.whereClause) {
    const table = tableName(node.UpdateStmt.relation);
    return [{ rule: 'data-backfill-in-migration', what: `updates every row of ${display(table)}`, table }];
  }
  if ('DeleteStmt' in node && !node.DeleteStmt.whereClause) {
    const table = tableName(node.DeleteStmt.relation);
    return [{ rule: 'data-backfill-in-migration', what: `deletes every row of ${display(table)}`, table }];
  }
  if ('TruncateStmt' in node) {
    return (node.TruncateStmt.relations ?? []).flatMap((r) => {
      const table = 'RangeVar' in r ? tableName(r.RangeVar) : undefined;
      return [{ rule: 'data-backfill-in-migration' as const, what: `truncates ${display(table)}`, table }];
    });
  }
  return [];
}

/** Records what a statement created, so later statements in the same PR are judged with it known. */
function remember(node: Node, history: History): void {
  if ('CreateStmt' in node) {
    const t = tableName(node.CreateStmt.relation);
    if (t) history.createdTables.add(t);
  } else if ('CreateTableAsStmt' in node) {
    const t = tableName(node.CreateTableAsStmt.into?.rel);
    if (t) history.createdTables.add(t);
  } else if ('IndexStmt' in node && node.IndexStmt.idxname) {
    history.createdIndexes.add(`${node.IndexStmt.relation?.schemaname ?? 'public'}.${node.IndexStmt.idxname}`);
  } else if ('RenameStmt' in node && node.RenameStmt.renameType === 'OBJECT_TABLE') {
    const t = tableName(node.RenameStmt.relation);
    if (t && history.createdTables.has(t) && node.RenameStmt.newname) history.createdTables.add(`${node.RenameStmt.relation?.schemaname ?? 'public'}.${node.RenameStmt.newname}`);
  } else if ('AlterTableStmt' in node) {
    const table = tableName(node.AlterTableStmt.relation);
    for (const n of node.AlterTableStmt.cmds ?? []) {
      if (!('AlterTableCmd' in n)) continue;
      const cmd = n.AlterTableCmd;
      if (cmd.subtype === 'AT_AddConstraint' && cmd.def && 'Constraint' in cmd.def) {
        const c = cmd.def.Constraint;
        const column = c.contype === 'CONSTR_CHECK' ? notNullCheckColumn(c) : undefined;
        if (column && table && c.conname) {
          if (c.skip_validation) history.pendingNotNullChecks.set(c.conname, { table, column });
          else history.provenNotNull.add(`${table}.${column}`);
        }
      }
      if (cmd.subtype === 'AT_ValidateConstraint' && cmd.name) {
        const pending = history.pendingNotNullChecks.get(cmd.name);
        if (pending && pending.table === table) history.provenNotNull.add(`${pending.table}.${pending.column}`);
      }
    }
  }
}
