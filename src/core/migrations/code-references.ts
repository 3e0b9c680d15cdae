import { readFileSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import type { Finding, Removal } from './lint.js';
import { RULES } from './rules.js';

/** A line of application code that names a dropped or renamed table or column. */
export interface CodeReference {
  file: string;
  line: number;
}

// Source code an application reads its database from: SQL strings, ORM models, query builders.
const CODE_EXTENSIONS = new Set([
  'ts',
  'tsx',
  'js',
  'jsx',
  'mjs',
  'cjs',
  'vue',
  'svelte',
  'go',
  'py',
  'rb',
  'erb',
  'java',
  'kt',
  'kts',
  'scala',
  'cs',
  'php',
  'rs',
  'ex',
  'exs',
  'heex',
  'sql',
  'prisma',
  'graphql',
  'gql',
]);
// Migrations name every table and column they ever touched; they are history, not running code.
const MIGRATION_DIRS = new Set(['migrations', 'migration', 'migrate', 'drizzle']);
const MAX_FILE_BYTES = 2 * 1024 * 1024;
const WORD = /[A-Za-z_][A-Za-z0-9_]*/g;

/** Every identifier-like word of the application's source files, with where it appears. */
export interface CodeIndex {
  files: number;
  /** word → file → lines (1-based, ascending). */
  words: Map<string, Map<string, number[]>>;
  /** The text of each file, by line, for the context around a word. */
  lines: Map<string, string[]>;
}

/** Whether a repository path is application source code (not a migration, not a dependency). */
export function isApplicationCode(path: string): boolean {
  const p = path.replace(/\\/g, '/');
  const ext = posix.extname(p).slice(1).toLowerCase();
  if (!CODE_EXTENSIONS.has(ext)) return false;
  const dirs = posix.dirname(p).split('/');
  if (dirs.some((d) => MIGRATION_DIRS.has(d.toLowerCase()))) return false;
  if (/\.min\.js$/.test(p) || /(^|\/)(package-lock|yarn\.lock)/.test(p)) return false;
  return true;
}

/** Reads the application's source files under `root` into a word index (files are repository paths). */
export function indexApplicationCode(root: string, files: readonly string[]): CodeIndex {
  const texts = function* (): Generator<[string, string]> {
    for (const file of files) {
      if (!isApplicationCode(file)) continue;
      const path = join(root, file);
      try {
        if (statSync(path).size > MAX_FILE_BYTES) continue;
        yield [file, readFileSync(path, 'utf8')];
      } catch {
        // Unreadable (a dangling link, a race with a checkout): nothing to search in it.
      }
    }
  };
  return indexCodeTexts(texts());
}

/** Builds the word index from `[repository path, text]` pairs of application source files. */
export function indexCodeTexts(texts: Iterable<[string, string]>): CodeIndex {
  const words = new Map<string, Map<string, number[]>>();
  const lines = new Map<string, string[]>();
  let count = 0;
  for (const [file, text] of texts) {
    if (!isApplicationCode(file) || text.length > MAX_FILE_BYTES || text.includes('\0')) continue;
    count++;
    const fileLines = text.split('\n');
    lines.set(file, fileLines);
    fileLines.forEach((lineText, i) => {
      for (const [word] of lineText.matchAll(WORD)) {
        let byFile = words.get(word);
        if (!byFile) words.set(word, (byFile = new Map()));
        const lines = byFile.get(file);
        if (!lines) byFile.set(file, [i + 1]);
        else if (lines.at(-1) !== i + 1) lines.push(i + 1);
      }
    });
  }
  return { files: count, words, lines };
}

const INITIALISMS = new Set(['id', 'url', 'uri', 'uid', 'uuid', 'ip', 'api', 'http', 'json', 'sql', 'html', 'sha']);

function pascal(snake: string, initialisms: boolean): string {
  return snake
    .split('_')
    .filter(Boolean)
    .map((part) => (initialisms && INITIALISMS.has(part) ? part.toUpperCase() : part.charAt(0).toUpperCase() + part.slice(1)))
    .join('');
}

/** The names code uses for a snake_case column: itself, camelCase, PascalCase (also Go-style `UserID`). */
export function columnSpellings(column: string): string[] {
  const p = pascal(column, false);
  return [...new Set([column, p.charAt(0).toLowerCase() + p.slice(1), p, pascal(column, true)])];
}

function singular(word: string): string {
  if (/ies$/.test(word)) return `${word.slice(0, -3)}y`;
  if (/(ses|xes|ches|shes)$/.test(word)) return word.slice(0, -2);
  if (/[^s]s$/.test(word)) return word.slice(0, -1);
  return word;
}

/** The names code uses for a table: itself, and its model names (`order_items` → `OrderItem`, `orderItem`). */
export function tableSpellings(table: string): string[] {
  const bare = table.includes('.') ? table.slice(table.lastIndexOf('.') + 1) : table;
  const one = singular(bare);
  const model = pascal(one, false);
  return [...new Set([bare, one, model, model.charAt(0).toLowerCase() + model.slice(1), pascal(bare, false)])];
}

const escape = (w: string): string => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
// A declaration that opens a model's scope: Prisma `model X {`, Go `type X struct`, a class,
// an interface, Diesel's `x (id) {`, `CREATE TABLE x`.
const DECLARATION = /^\s*(?:export\s+)?(?:(?:model|type|class|struct|interface|enum|pub\s+struct|create\s+table(?:\s+if\s+not\s+exists)?)\s+["'`]?\w+|\w+\s*\(\w+\)\s*\{)/i;
const COLUMN_CONTEXT_LINES = 5;
// Comments describe; they do not query. `#[` is a Rust attribute, not a comment.
const COMMENT = /^\s*(?:\/\/|--|\/\*|\*|#(?!\[)|<!--)/;
const SCOPE_LINES = 150;

/**
 * Whether a line names the table as a table: after FROM/JOIN/INTO/UPDATE/TABLE/REFERENCES, as a
 * quoted name (query builders, `@@map("x")`, `TableName()`), declaring its model, or as a Diesel
 * or ORM accessor (`x::table`, `prisma.model`). A bare word is not enough: `role`, `group` or
 * `url` are everyday variable names.
 */
function tableMentionPattern(table: string): { test: (line: string) => boolean } {
  const spellings = tableSpellings(table).map(escape).join('|');
  const bare = escape(table.slice(table.lastIndexOf('.') + 1));
  const model = tableSpellings(table)
    .filter((s) => /^[A-Z]/.test(s))
    .map(escape)
    .join('|');
  const camel = tableSpellings(table)
    .filter((s) => /^[a-z]/.test(s))
    .map(escape)
    .join('|');
  const sql = new RegExp(
    [
      `\\b(?:from|join|into|update|table|references|truncate)\\s+(?:only\\s+)?(?:\\w+\\.)?["'\`]?(?:${bare})\\b`,
      `["'\`](?:${spellings})["'\`]`,
      `\\b(?:model|type|class|struct|interface|enum)\\s+(?:${model})\\b`,
      `^\\s*(?:${bare})\\s*\\(\\w+\\)\\s*\\{`,
    ].join('|'),
    'i',
  );
  // Case matters here: a Diesel table path (`x::table`, `x::column`), not a module of the same
  // name (`x::Type`); a Prisma-style client accessor.
  const code = new RegExp(`\\b(?:${bare})::(?![A-Z{])|\\b(?:prisma|client|db|tx)\\.(?:${camel})\\b`);
  return { test: (line) => sql.test(line) || code.test(line) };
}

/**
 * Where the application still names what a removal takes away. A table counts where a line names
 * it as a table; a column where one of its spellings sits within a few lines of such a mention
 * (one SQL statement) or inside the declaration of the table's model, so the same column name in
 * another table, or an everyday word, is not blamed.
 */
export function findCodeReferences(index: CodeIndex, removal: Pick<Removal, 'kind' | 'table' | 'column'>): CodeReference[] {
  const table = tableMentionPattern(removal.table);
  const candidates = (spellings: string[]): Map<string, Set<number>> => {
    const found = new Map<string, Set<number>>();
    for (const s of spellings)
      for (const [file, lines] of index.words.get(s) ?? []) {
        const set = found.get(file) ?? new Set();
        for (const l of lines) set.add(l);
        found.set(file, set);
      }
    return found;
  };
  const refs: CodeReference[] = [];
  if (removal.kind === 'table' || !removal.column) {
    for (const [file, lines] of candidates(tableSpellings(removal.table))) {
      const text = index.lines.get(file) ?? [];
      for (const line of lines) if (!COMMENT.test(text[line - 1] ?? '') && table.test(text[line - 1] ?? '')) refs.push({ file, line });
    }
    return refs.sort(byPlace);
  }
  const own = new Set(tableSpellings(removal.table));
  // An occurrence qualified by something else (`community::id`, `form.follower_id`) is that
  // thing's; short qualifiers are let through, as SQL aliases (`u.email`) usually are.
  const column = new RegExp(`(?:(\\w+)(::|\\.))?\\b(?:${columnSpellings(removal.column).map(escape).join('|')})\\b`, 'g');
  const namesColumn = (lineText: string): boolean =>
    [...lineText.matchAll(column)].some((m) => {
      const qualifier = m[1];
      if (!qualifier || own.has(qualifier)) return true;
      return m[2] === '.' && qualifier.length <= 3;
    });
  for (const [file, lines] of candidates(columnSpellings(removal.column))) {
    const text = index.lines.get(file) ?? [];
    const mentions = (i: number): boolean => table.test(text[i] ?? '');
    for (const line of lines) {
      const i = line - 1;
      if (COMMENT.test(text[i] ?? '') || !namesColumn(text[i] ?? '')) continue;
      let near = false;
      for (let j = Math.max(0, i - COLUMN_CONTEXT_LINES); j <= Math.min(text.length - 1, i + COLUMN_CONTEXT_LINES) && !near; j++) near = mentions(j);
      if (!near) {
        // The nearest declaration above: the model whose body this line is in.
        for (let j = i; j >= Math.max(0, i - SCOPE_LINES); j--) {
          if (DECLARATION.test(text[j] ?? '')) {
            near = mentions(j);
            break;
          }
        }
      }
      if (near) refs.push({ file, line });
    }
  }
  return refs.sort(byPlace);
}

function byPlace(a: CodeReference, b: CodeReference): number {
  return a.file.localeCompare(b.file) || a.line - b.line;
}

const LISTED = 10;

/**
 * One finding per drop or rename that application code still names: a warning, or an error when
 * the contract must be strict. A `contract` (or `allow code-still-references`) directive with its
 * reason acknowledges it.
 */
export function codeReferenceFindings(removals: readonly Removal[], index: CodeIndex, options: { strict: boolean }): Finding[] {
  const rule = RULES['code-still-references'];
  const findings: Finding[] = [];
  for (const removal of removals) {
    if (removal.acknowledged) continue;
    const refs = findCodeReferences(index, removal);
    if (refs.length === 0) continue;
    const files = new Set(refs.map((r) => r.file)).size;
    const listed = refs
      .slice(0, LISTED)
      .map((r) => `${r.file}:${r.line}`)
      .join(', ');
    const more = refs.length > LISTED ? ` and ${refs.length - LISTED} more` : '';
    const name = removal.kind === 'table' ? removal.table.replace(/^public\./, '') : removal.column;
    findings.push({
      file: removal.file,
      line: removal.line,
      rule: 'code-still-references',
      severity: options.strict ? 'error' : 'warning',
      message: `${removal.what}, yet ${refs.length} line(s) in ${files} application file(s) still name ${name}: ${listed}${more}: ${rule.why}. Instead: ${rule.instead} [code-still-references]`,
    });
  }
  return findings;
}
