import type { AlterTableCmd, ColumnDef, Constraint, Node, RangeVar } from 'libpg-query';
import { migrationOrder, type MigrationSource } from './layouts.js';
import { RULES, type RuleId, type Severity } from './rules.js';
import { loadSqlParser, MAX_IDENTIFIER_BYTES, parseSql, type Directive, type Statement } from './sql.js';

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

/** A drop or rename of something running code may still use: checked against the application code. */
export interface Removal {
  file: string;
  line: number;
  kind: 'table' | 'column';
  /** Schema-qualified table (the old name when renamed). */
  table: string;
  /** The column dropped or renamed (the old name), for `kind: 'column'`. */
  column?: string;
  /** What the statement does, e.g. `drops column users.email`. */
  what: string;
  /** A contract directive or an allow for `code-still-references` says code no longer needs it. */
  acknowledged: boolean;
}

export interface LintReport {
  /** The migrations that were linted, in the order they apply. */
  files: string[];
  findings: Finding[];
  contracts: ContractStatement[];
  /** True when any statement is a contract-phase change: rollback can no longer redeploy the old version. */
  irreversible: boolean;
  /** Every drop or rename of an existing table or column, for the application-code check (none when absent). */
  removals?: Removal[];
}

export interface LintOptions {
  /** The PostgreSQL major version the migrations run on (some operations became safe in later versions). */
  pgVersion: number;
  /**
   * Whether the files are one change (a PR): a table created in one is new for the others.
   * False when linting a whole history, where each file is judged on its own.
   */
  oneChange?: boolean;
  /**
   * Every migration of the repository, in the order they apply: read only for constraints defined
   * before a linted file (a CHECK validated now may have been added by an earlier migration).
   */
  repository?: readonly MigrationSource[] | (() => readonly MigrationSource[]);
}

interface Hit {
  rule: RuleId;
  /** What the statement does, e.g. `drops column users.email`. */
  what: string;
  /** The existing table it touches, when known: exempt when the PR created it. */
  table?: string;
  index?: string;
  /** For drops and renames: what running code may still name. */
  removal?: { kind: 'table' | 'column'; table: string; column?: string };
}

/** A `CHECK (col IS NOT NULL)` constraint, by `table.constraint`. */
/** Constraints by `table.constraint`; the column when it is a `CHECK (col IS NOT NULL)`. */
type DefinedConstraints = Map<string, { column?: string }>;

/** What the linter learns while reading the PR's migrations in order. */
interface History {
  createdTables: Set<string>;
  createdIndexes: Set<string>;
  /** Named constraints added in this change, validated or not. */
  constraints: DefinedConstraints;
  /** `table.column` pairs proven non-null by a validated CHECK: SET NOT NULL skips its scan (PG 12+). */
  provenNotNull: Set<string>;
  /**
   * Tables on which a constraint defined outside the linted migrations was validated: PostgreSQL
   * 12+ uses any valid `IS NOT NULL` check, and one we cannot see is given the benefit of the doubt.
   */
  validatedUnseen: Set<string>;
}

/** A constraint an earlier migration of the repository defines, by `table.constraint`. */
type EarlierConstraint = (key: string) => { column?: string } | undefined;

/** Where a file's transactions stand while its statements are read in order. */
interface TransactionState {
  /** The tool wraps the file in a transaction of its own (goose, dbmate). */
  readonly tool: boolean;
  open: boolean;
  /** Line of the BEGIN the file itself wrote and has not committed yet. */
  explicitBegin?: number;
  /** Constraints added NOT VALID in the open transaction, by `table.constraint`. */
  notValidInTransaction: Set<string>;
}

/** Lints migrations (in the order they apply) for changes that break a zero-downtime deploy. */
export async function lintMigrations(sources: readonly MigrationSource[], options: LintOptions): Promise<LintReport> {
  await loadSqlParser();
  const fresh = (): History => ({ createdTables: new Set(), createdIndexes: new Set(), constraints: new Map(), provenNotNull: new Set(), validatedUnseen: new Set() });
  let history = fresh();
  const report: Required<LintReport> = { files: [], findings: [], contracts: [], irreversible: false, removals: [] };
  const earlier = earlierChecks(options.repository ?? []);
  for (const source of sources) {
    if (source.isDown) continue;
    report.files.push(source.file);
    if (options.oneChange === false) history = fresh();
    lintSource(source, options, history, report, (key) => earlier(key, source.file));
  }
  report.irreversible = report.contracts.length > 0;
  return report;
}

function finding(file: string, line: number, rule: RuleId, what: string): Finding {
  const r = RULES[rule];
  return { file, line, rule, severity: r.severity, message: `${what}: ${r.why}. Instead: ${r.instead} [${rule}]` };
}

/**
 * The NOT NULL checks the repository's migrations define, read lazily (only a VALIDATE of a
 * constraint the linted files do not define needs them): the column for `table.constraint` if a
 * migration ordered before `file` adds it.
 */
function earlierChecks(repository: readonly MigrationSource[] | (() => readonly MigrationSource[])): (key: string, file: string) => { column?: string } | undefined {
  let defined: Map<string, { column?: string; file: string }> | undefined;
  return (key, file) => {
    if (!defined) {
      defined = new Map();
      for (const source of typeof repository === 'function' ? repository() : repository) {
        if (source.isDown || source.upSql.includes('\0')) continue;
        const parsed = parseSql(source.upSql);
        if (!parsed.ok) continue;
        const constraints: DefinedConstraints = new Map();
        for (const s of parsed.statements) collectConstraints(s.node, constraints);
        for (const [k, c] of constraints) if (!defined.has(k)) defined.set(k, { ...c, file: source.file });
      }
    }
    const found = defined.get(key);
    return found && migrationOrder(found.file, file) < 0 ? { column: found.column } : undefined;
  };
}

function lintSource(source: MigrationSource, options: LintOptions, history: History, report: Required<LintReport>, earlierCheck: EarlierConstraint): void {
  const { file } = source;
  const findings = report.findings;
  if (source.missingDown) findings.push(finding(file, 1, 'missing-down', `${source.layout} migration without a down migration`));
  const nul = source.upSql.indexOf('\0');
  if (nul >= 0) {
    const line = source.upSql.slice(0, nul).split('\n').length;
    findings.push(finding(file, line, 'unreadable-migration', `NUL byte at line ${line}; the rest of the file is not linted`));
    return;
  }
  if (source.upSql.trim() === '') {
    findings.push(finding(file, 1, 'empty-migration', 'empty migration'));
    return;
  }
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
  if (parsed.statements.length === 0) findings.push(finding(file, 1, 'empty-migration', 'the migration has only comments'));
  const reportDirectives = (directives: Directive[]): void => {
    for (const d of directives) if (d.kind === 'invalid') findings.push({ ...finding(file, d.line, 'invalid-directive', d.problem), message: `${d.problem} [invalid-directive]` });
  };
  const tx: TransactionState = { tool: source.transaction === 'implicit', open: source.transaction === 'implicit', notValidInTransaction: new Set() };
  const timeouts = { lock: false, statement: false, lockWarned: false, statementWarned: false };
  for (const statement of parsed.statements) {
    reportDirectives(statement.directives);
    const contract = statement.directives.find((d): d is Extract<Directive, { kind: 'contract' }> => d.kind === 'contract');
    if (contract) report.contracts.push({ file, line: statement.line, reason: contract.reason });
    const allowed = new Set(statement.directives.flatMap((d) => (d.kind === 'allow' ? d.rules : [])));

    const hits = [...transactionHits(statement, tx), ...inspect(statement, options, history, tx.open)];
    if (setsTimeout(statement.node, 'lock_timeout')) timeouts.lock = true;
    if (setsTimeout(statement.node, 'statement_timeout')) timeouts.statement = true;
    for (const name of statement.longIdentifiers)
      hits.push({ rule: 'identifier-too-long', what: `names "${name}" (${Buffer.byteLength(name, 'utf8')} bytes, stored as "${truncated(name)}")` });
    const validated = validatedInTransaction(statement.node, tx);
    if (validated) hits.push({ rule: 'validate-in-same-transaction', what: `validates ${validated} in the transaction that added it NOT VALID` });

    for (const hit of hits) {
      const rule = RULES[hit.rule];
      if (rule.locking && hit.table && history.createdTables.has(hit.table)) continue;
      if (rule.locking && hit.index && history.createdIndexes.has(hit.index)) continue;
      if (hit.removal)
        report.removals.push({ file, line: statement.line, ...hit.removal, what: hit.what, acknowledged: contract !== undefined || allowed.has('code-still-references') });
      if (allowed.has(hit.rule)) continue;
      if (contract && rule.contract) continue;
      findings.push(finding(file, statement.line, hit.rule, hit.what));
    }
    const locked = lockTarget(statement.node);
    if (locked && !(locked.table && history.createdTables.has(locked.table))) {
      if (!timeouts.lock && !timeouts.lockWarned && !allowed.has('missing-lock-timeout')) {
        timeouts.lockWarned = true;
        findings.push(finding(file, statement.line, 'missing-lock-timeout', `${locked.what} without a lock_timeout set earlier in this migration`));
      }
      if (!timeouts.statement && !timeouts.statementWarned && !allowed.has('missing-statement-timeout')) {
        timeouts.statementWarned = true;
        findings.push(finding(file, statement.line, 'missing-statement-timeout', `${locked.what} without a statement_timeout set earlier in this migration`));
      }
    }
    remember(statement.node, history, tx, earlierCheck);
  }
  if (!tx.tool && tx.open && tx.explicitBegin !== undefined) {
    const line = tx.explicitBegin;
    const silenced = parsed.statements.find((s) => s.line === line)?.directives.some((d) => d.kind === 'allow' && d.rules.includes('uncommitted-transaction'));
    if (!silenced) findings.push(finding(file, line, 'uncommitted-transaction', `the transaction begun at line ${line} is never committed`));
  }
  reportDirectives(parsed.trailingDirectives);
}

function truncated(name: string): string {
  const bytes = Buffer.from(name, 'utf8');
  let end = MAX_IDENTIFIER_BYTES;
  // PostgreSQL cuts at a character boundary.
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString('utf8');
}

/** Follows BEGIN / COMMIT / ROLLBACK, and reports those that nest or end a transaction the file does not own. */
function transactionHits(statement: Statement, tx: TransactionState): Hit[] {
  const node = statement.node;
  if (!('TransactionStmt' in node)) return [];
  const toolName = 'the transaction the migration tool wraps this file in';
  switch (node.TransactionStmt.kind) {
    case 'TRANS_STMT_BEGIN':
    case 'TRANS_STMT_START': {
      const nested = tx.open;
      if (!nested) {
        tx.open = true;
        tx.explicitBegin = statement.line;
      }
      if (tx.tool) return [{ rule: 'nested-transaction', what: nested ? `begins a transaction inside ${toolName}` : "begins a transaction of its own after ending the tool's" }];
      return nested ? [{ rule: 'nested-transaction', what: 'begins a transaction while one is already open' }] : [];
    }
    case 'TRANS_STMT_COMMIT':
    case 'TRANS_STMT_ROLLBACK':
    case 'TRANS_STMT_PREPARE': {
      const wasOpen = tx.open;
      tx.open = false;
      tx.explicitBegin = undefined;
      tx.notValidInTransaction.clear();
      if (tx.tool) return [{ rule: 'nested-transaction', what: wasOpen ? `ends ${toolName}` : 'ends a transaction that is not open' }];
      return wasOpen ? [] : [{ rule: 'nested-transaction', what: 'ends a transaction that is not open' }];
    }
    default:
      return [];
  }
}

/** `table.constraint` when the statement validates, in the same open transaction, a constraint added NOT VALID there. */
function validatedInTransaction(node: Node, tx: TransactionState): string | undefined {
  if (!tx.open || !('AlterTableStmt' in node)) return undefined;
  const table = tableName(node.AlterTableStmt.relation);
  for (const n of node.AlterTableStmt.cmds ?? []) {
    if (!('AlterTableCmd' in n) || n.AlterTableCmd.subtype !== 'AT_ValidateConstraint') continue;
    const key = `${table}.${n.AlterTableCmd.name ?? ''}`;
    if (tx.notValidInTransaction.has(key)) return `${display(table)}.${n.AlterTableCmd.name ?? '?'}`;
  }
  return undefined;
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

// An option written `(FULL)` is on; `(FULL false)`, `(FULL off)`, `(FULL 0)` are off.
function optionOn(options: Node[] | undefined, name: string): boolean {
  const d = (options ?? []).flatMap((o) => ('DefElem' in o && o.DefElem.defname === name ? [o.DefElem] : [])).at(-1);
  if (!d) return false;
  const arg = d.arg;
  if (!arg) return true;
  if ('String' in arg) return !/^(false|off|no|0)$/i.test(arg.String.sval ?? '');
  if ('Integer' in arg) return (arg.Integer.ival ?? 0) !== 0;
  if ('Boolean' in arg) return arg.Boolean.boolval === true;
  if ('A_Const' in arg) return !(arg.A_Const.boolval?.boolval === false || arg.A_Const.ival?.ival === 0);
  return true;
}

function setsTimeout(node: Node, setting: 'lock_timeout' | 'statement_timeout'): boolean {
  if (!('VariableSetStmt' in node)) return false;
  const set = node.VariableSetStmt;
  if (set.name?.toLowerCase() !== setting || set.kind !== 'VAR_SET_VALUE') return false;
  const value = set.args?.[0];
  if (!value || !('A_Const' in value)) return true;
  const c = value.A_Const;
  // `SET lock_timeout = 0` switches the timeout off.
  if (c.ival !== undefined) return (c.ival.ival ?? 0) !== 0;
  if (c.sval !== undefined) return !/^0+(ms|s|min)?$/.test((c.sval.sval ?? '').trim());
  return true;
}

function rangeVars(list: Node[] | undefined): (string | undefined)[] {
  return (list ?? []).map((n) => ('RangeVar' in n ? tableName(n.RangeVar) : undefined));
}

/**
 * What a statement locks beyond plain reads and writes, if anything: every schema change, explicit
 * LOCK, maintenance command and COMMENT waits in the lock queue. `table` is set when the object is a
 * table (exempt when the change created it). CONCURRENTLY index builds are left out on purpose:
 * they do not block writes while waiting, and a timeout midway leaves an INVALID index behind.
 */
function lockTarget(node: Node): { what: string; table?: string } | undefined {
  const on = (verb: string, table: string | undefined): { what: string; table?: string } => ({ what: `${verb} ${display(table)}`, table });
  if ('AlterTableStmt' in node) {
    // VALIDATE CONSTRAINT takes SHARE UPDATE EXCLUSIVE: reads and writes go on while it scans.
    const cmds = node.AlterTableStmt.cmds ?? [];
    if (cmds.length > 0 && cmds.every((c) => 'AlterTableCmd' in c && c.AlterTableCmd.subtype === 'AT_ValidateConstraint')) return undefined;
    return on('alters', tableName(node.AlterTableStmt.relation));
  }
  if ('RenameStmt' in node) return node.RenameStmt.relation ? on('renames in', tableName(node.RenameStmt.relation)) : { what: 'renames an object' };
  if ('IndexStmt' in node) return node.IndexStmt.concurrent ? undefined : on('indexes', tableName(node.IndexStmt.relation));
  if ('ReindexStmt' in node) return optionOn(node.ReindexStmt.params, 'concurrently') ? undefined : { what: 'reindexes', table: tableName(node.ReindexStmt.relation) };
  if ('CreateTrigStmt' in node) return on('adds a trigger to', tableName(node.CreateTrigStmt.relation));
  if ('DropStmt' in node) {
    if (node.DropStmt.removeType === 'OBJECT_INDEX' && node.DropStmt.concurrent) return undefined;
    const first = node.DropStmt.objects?.[0];
    const table = node.DropStmt.removeType === 'OBJECT_TABLE' && first && 'List' in first ? qualified(names(first.List.items)) : undefined;
    return table ? on('drops', table) : { what: 'drops an object' };
  }
  if ('LockStmt' in node) {
    const [table] = rangeVars(node.LockStmt.relations);
    return on('locks', table);
  }
  if ('VacuumStmt' in node) {
    const rel = node.VacuumStmt.rels?.[0];
    return { what: node.VacuumStmt.is_vacuumcmd ? 'vacuums' : 'analyzes', table: rel && 'VacuumRelation' in rel ? tableName(rel.VacuumRelation.relation) : undefined };
  }
  if ('ClusterStmt' in node) return on('clusters', tableName(node.ClusterStmt.relation));
  if ('TruncateStmt' in node) return on('truncates', rangeVars(node.TruncateStmt.relations)[0]);
  if ('CommentStmt' in node) {
    // A comment on a table or column created in this change waits for nobody.
    const { objtype, object } = node.CommentStmt;
    const parts = object && 'List' in object ? names(object.List.items) : [];
    const table = objtype === 'OBJECT_TABLE' ? qualified(parts) : objtype === 'OBJECT_COLUMN' ? qualified(parts.slice(0, -1)) : undefined;
    return table ? on('comments on', table) : { what: 'comments on an object' };
  }
  if ('CreateEnumStmt' in node || 'CompositeTypeStmt' in node || 'CreateRangeStmt' in node || 'AlterEnumStmt' in node) return { what: 'creates or alters a type' };
  if ('AlterDomainStmt' in node) return { what: 'alters a domain' };
  if ('RuleStmt' in node) return on('adds a rule to', tableName(node.RuleStmt.relation));
  if ('AlterObjectSchemaStmt' in node) return { what: 'moves an object to another schema', table: tableName(node.AlterObjectSchemaStmt.relation) };
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

const NO_ARGUMENT_FUNCTIONS = new Set(['now', 'transaction_timestamp', 'statement_timestamp']);

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
      const call = value as { funcname?: Node[]; args?: Node[] };
      const fn = names(call.funcname).at(-1) ?? '?';
      // now(123) is no function PostgreSQL knows: not the stable now() of the list.
      const arityOk = !NO_ARGUMENT_FUNCTIONS.has(fn) || (call.args ?? []).length === 0;
      if (!NON_VOLATILE_FUNCTIONS.has(fn) || !arityOk) return `${fn}()`;
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

function inspectAlterCommand(cmd: AlterTableCmd, table: string | undefined, options: LintOptions, history: History, inTransaction: boolean): Hit[] {
  const t = display(table);
  const hits: Hit[] = [];
  switch (cmd.subtype) {
    case 'AT_DropColumn':
      hits.push({ rule: 'drop-column', what: `drops column ${t}.${cmd.name ?? '?'}`, table, removal: table && cmd.name ? { kind: 'column', table, column: cmd.name } : undefined });
      break;
    case 'AT_DropNotNull':
      hits.push({ rule: 'drop-not-null', what: `drops NOT NULL from ${t}.${cmd.name ?? '?'}`, table });
      break;
    case 'AT_DetachPartition': {
      const partition = cmd.def && 'PartitionCmd' in cmd.def ? cmd.def.PartitionCmd : undefined;
      const name = display(tableName(partition?.name));
      if (!partition?.concurrent) hits.push({ rule: 'detach-partition-not-concurrent', what: `detaches partition ${name} from ${t} without CONCURRENTLY`, table });
      else if (inTransaction) hits.push({ rule: 'concurrent-in-transaction', what: `detaches partition ${name} from ${t} CONCURRENTLY inside a transaction` });
      break;
    }
    case 'AT_AlterColumnType':
      hits.push({ rule: 'alter-column-type', what: `changes the type of ${t}.${cmd.name ?? '?'}`, table });
      break;
    case 'AT_SetNotNull': {
      const proven = options.pgVersion >= 12 && (history.provenNotNull.has(`${table}.${cmd.name}`) || (table !== undefined && history.validatedUnseen.has(table)));
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
        // An inline REFERENCES or CHECK is validated against every existing row, under the ADD's lock.
        if ((c.contype === 'CONSTR_FOREIGN' || c.contype === 'CONSTR_CHECK') && !c.skip_validation)
          hits.push({
            rule: 'constraint-not-valid',
            what: `adds ${col} with an inline ${c.contype === 'CONSTR_FOREIGN' ? 'REFERENCES' : 'CHECK'} constraint (cannot be NOT VALID)`,
            table,
          });
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
        hits.push({
          rule: 'unique-or-pk-constraint',
          what: `adds ${c.contype === 'CONSTR_UNIQUE' ? 'UNIQUE' : 'PRIMARY KEY'} constraint${name} on ${t} without USING INDEX`,
          table,
        });
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
    return (stmt.cmds ?? []).flatMap((n) => ('AlterTableCmd' in n ? inspectAlterCommand(n.AlterTableCmd, table, options, history, inTransaction) : []));
  }
  if ('RenameStmt' in node) {
    const stmt = node.RenameStmt;
    const table = tableName(stmt.relation);
    if (stmt.renameType === 'OBJECT_COLUMN' && stmt.relationType === 'OBJECT_TABLE') {
      const removal = table && stmt.subname ? { kind: 'column' as const, table, column: stmt.subname } : undefined;
      return [{ rule: 'rename-column', what: `renames column ${display(table)}.${stmt.subname ?? '?'} to ${stmt.newname ?? '?'}`, table, removal }];
    }
    if (stmt.renameType === 'OBJECT_TABLE')
      return [{ rule: 'rename-table', what: `renames table ${display(table)} to ${stmt.newname ?? '?'}`, table, removal: table ? { kind: 'table', table } : undefined }];
    return [];
  }
  if ('DropStmt' in node) {
    const stmt = node.DropStmt;
    const objects = (stmt.objects ?? []).flatMap((o) => ('List' in o ? [qualified(names(o.List.items))] : []));
    if (stmt.removeType === 'OBJECT_TABLE')
      return objects.map((table) => ({
        rule: 'drop-table' as const,
        what: `drops table ${display(table)}`,
        table,
        removal: table ? { kind: 'table' as const, table } : undefined,
      }));
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
    // PostgreSQL cannot reindex system catalogs concurrently: there is no safer form to suggest.
    if (stmt.kind === 'REINDEX_OBJECT_SYSTEM') return [];
    const concurrent = optionOn(stmt.params, 'concurrently');
    const target = stmt.relation ? display(tableName(stmt.relation)) : (stmt.name ?? '');
    if (!concurrent) return [{ rule: 'index-not-concurrent', what: `reindexes ${target} without CONCURRENTLY`, table: tableName(stmt.relation) }];
    if (inTransaction) return [{ rule: 'concurrent-in-transaction', what: `reindexes ${target} CONCURRENTLY inside a transaction` }];
    return [];
  }
  if ('VacuumStmt' in node) {
    const stmt = node.VacuumStmt;
    const full = stmt.is_vacuumcmd && optionOn(stmt.options, 'full');
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
    const tables = rangeVars(node.TruncateStmt.relations);
    const hits: Hit[] = tables.map((table) => ({ rule: 'data-backfill-in-migration' as const, what: `truncates ${display(table)}`, table }));
    // Not exempt for new tables: CASCADE reaches tables that reference them, which need not be new.
    if (node.TruncateStmt.behavior === 'DROP_CASCADE') hits.push({ rule: 'truncate-cascade', what: `truncates ${tables.map(display).join(', ')} with CASCADE` });
    return hits;
  }
  if ('DropdbStmt' in node) return [{ rule: 'drop-database', what: `drops database ${node.DropdbStmt.dbname ?? '?'}` }];
  if ('CreateDomainStmt' in node) {
    const stmt = node.CreateDomainStmt;
    const kinds = (stmt.constraints ?? []).flatMap((c) =>
      'Constraint' in c && (c.Constraint.contype === 'CONSTR_CHECK' || c.Constraint.contype === 'CONSTR_NOTNULL')
        ? [c.Constraint.contype === 'CONSTR_CHECK' ? 'CHECK' : 'NOT NULL']
        : [],
    );
    if (kinds.length > 0) return [{ rule: 'domain-constraint', what: `creates domain ${names(stmt.domainname).join('.')} with ${[...new Set(kinds)].join(' and ')}` }];
    return [];
  }
  if ('AlterDomainStmt' in node) {
    const stmt = node.AlterDomainStmt;
    const c = stmt.def && 'Constraint' in stmt.def ? stmt.def.Constraint : undefined;
    // subtype C is ADD CONSTRAINT: every column of the domain, in every table, is checked.
    if (stmt.subtype !== 'C' || !c) return [];
    const domain = names(stmt.typeName).join('.');
    const hits: Hit[] = [{ rule: 'domain-constraint', what: `adds a constraint to domain ${domain}` }];
    if (!c.skip_validation)
      hits.push({ rule: 'constraint-not-valid', what: `adds constraint ${c.conname ?? ''} to domain ${domain} without NOT VALID, checking every column of that type` });
    return hits;
  }
  return [];
}

/** Named constraints a statement adds, by `table.constraint`, with the column when it is `CHECK (col IS NOT NULL)`. */
function collectConstraints(node: Node, into: DefinedConstraints): void {
  const add = (table: string | undefined, c: Constraint): void => {
    if (!table || !c.conname) return;
    const column = c.contype === 'CONSTR_CHECK' ? notNullCheckColumn(c) : undefined;
    into.set(`${table}.${c.conname}`, column ? { column } : {});
  };
  if ('CreateStmt' in node) {
    const table = tableName(node.CreateStmt.relation);
    for (const element of node.CreateStmt.tableElts ?? []) {
      if ('Constraint' in element) add(table, element.Constraint);
      if ('ColumnDef' in element) for (const c of constraintsOf(element.ColumnDef)) add(table, c);
    }
  } else if ('AlterTableStmt' in node) {
    const table = tableName(node.AlterTableStmt.relation);
    for (const n of node.AlterTableStmt.cmds ?? []) {
      if (!('AlterTableCmd' in n)) continue;
      const def = n.AlterTableCmd.def;
      if (n.AlterTableCmd.subtype === 'AT_AddConstraint' && def && 'Constraint' in def) add(table, def.Constraint);
    }
  }
}

/** Records what a statement created, so later statements in the same PR are judged with it known. */
function remember(node: Node, history: History, tx: TransactionState, earlierCheck: EarlierConstraint): void {
  if ('CreateStmt' in node) {
    const t = tableName(node.CreateStmt.relation);
    if (t) history.createdTables.add(t);
    collectConstraints(node, history.constraints);
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
        if (table && c.conname) {
          history.constraints.set(`${table}.${c.conname}`, column ? { column } : {});
          if (c.skip_validation && tx.open) tx.notValidInTransaction.add(`${table}.${c.conname}`);
        }
        if (column && table && !c.skip_validation) history.provenNotNull.add(`${table}.${column}`);
      }
      if (cmd.subtype === 'AT_ValidateConstraint' && cmd.name && table) {
        const key = `${table}.${cmd.name}`;
        const known = history.constraints.get(key) ?? earlierCheck(key);
        if (!known) history.validatedUnseen.add(table);
        else if (known.column) history.provenNotNull.add(`${table}.${known.column}`);
      }
    }
  }
}
