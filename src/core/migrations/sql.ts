import { loadModule, parseSync, scanSync, hasSqlDetails, type Node } from 'libpg-query';
import { isRuleId, type RuleId } from './rules.js';

let loaded: Promise<void> | undefined;

/** Loads PostgreSQL's parser (WebAssembly) once per process; every parse needs it first. */
export function loadSqlParser(): Promise<void> {
  loaded ??= loadModule();
  return loaded;
}

/** A `-- rollgate: …` comment in front of a statement. */
export type Directive =
  { kind: 'allow'; rules: RuleId[]; reason: string; line: number } | { kind: 'contract'; reason: string; line: number } | { kind: 'invalid'; problem: string; line: number };

/** One statement of a migration, where it starts, and the directives written above it. */
export interface Statement {
  node: Node;
  /** 1-based line of the statement's first token. */
  line: number;
  directives: Directive[];
  /** Identifiers in the statement longer than PostgreSQL keeps (the parse tree holds them truncated). */
  longIdentifiers: string[];
}

/** PostgreSQL keeps NAMEDATALEN - 1 bytes of an identifier and silently drops the rest. */
export const MAX_IDENTIFIER_BYTES = 63;

export type ParsedSql = { ok: true; statements: Statement[]; trailingDirectives: Directive[] } | { ok: false; message: string; line: number; column: number };

/** Parses SQL text with PostgreSQL's own grammar; a syntax error comes back with its line and column. */
export function parseSql(text: string): ParsedSql {
  // libpg_query reports byte offsets into the UTF-8 text, not string indices.
  const bytes = Buffer.from(text, 'utf8');
  let result;
  try {
    result = parseSync(text);
  } catch (err) {
    const offset = hasSqlDetails(err) && err.sqlDetails ? Math.max(0, err.sqlDetails.cursorPosition) : 0;
    const { line, column } = position(bytes, offset);
    const message = err instanceof Error ? err.message : String(err);
    return { ok: false, message, line, column };
  }
  const long = longIdentifierTokens(text);
  const statements: Statement[] = [];
  let previousEnd = 0;
  for (const raw of result.stmts ?? []) {
    if (!raw.stmt) continue;
    const start = raw.stmt_location ?? 0;
    const gap = bytes.subarray(previousEnd, start).toString('utf8');
    const firstToken = start + leadingSpace(bytes, start);
    const end = raw.stmt_len ? start + raw.stmt_len : bytes.length;
    statements.push({
      node: raw.stmt,
      line: position(bytes, firstToken).line,
      directives: parseDirectives(gap, position(bytes, previousEnd).line),
      longIdentifiers: long.filter((t) => t.start >= start && t.start < end).map((t) => t.name),
    });
    previousEnd = end;
  }
  const tail = bytes.subarray(previousEnd).toString('utf8');
  return { ok: true, statements, trailingDirectives: parseDirectives(tail, position(bytes, previousEnd).line) };
}

// The scanner sees identifiers before the parser truncates them: unquoted ones fold to lower
// case, quoted ones lose their quotes and `""` stands for one `"`. The scanner's JSON output does
// not escape control characters inside comments and strings, so they are blanked first (one byte
// each, for one byte each: token offsets stay the same).
function longIdentifierTokens(text: string): { start: number; name: string }[] {
  // eslint-disable-next-line no-control-regex
  return scanSync(text.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, ' '))
    .tokens.filter((t) => t.tokenName === 'IDENT')
    .map((t) => ({ start: t.start, name: t.text.startsWith('"') ? t.text.slice(1, -1).replace(/""/g, '"') : t.text.toLowerCase() }))
    .filter((t) => Buffer.byteLength(t.name, 'utf8') > MAX_IDENTIFIER_BYTES);
}

function leadingSpace(bytes: Buffer, start: number): number {
  let n = 0;
  while (start + n < bytes.length && (bytes[start + n] === 0x20 || bytes[start + n] === 0x0a || bytes[start + n] === 0x0d || bytes[start + n] === 0x09)) n++;
  return n;
}

function position(bytes: Buffer, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(offset, bytes.length);
  for (let i = 0; i < end; i++) {
    if (bytes[i] === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: bytes.subarray(lineStart, end).toString('utf8').length + 1 };
}

const DIRECTIVE = /^\s*--\s*rollgate\s*:\s*(.*)$/i;
const REASON = /reason\s*=\s*(?:"([^"]*)"|'([^']*)')/i;

/** Reads the `-- rollgate:` comments in the text between two statements. */
export function parseDirectives(gap: string, firstLine: number): Directive[] {
  const directives: Directive[] = [];
  gap.split('\n').forEach((text, i) => {
    const match = DIRECTIVE.exec(text);
    if (!match) return;
    const line = firstLine + i;
    const body = (match[1] ?? '').trim();
    const reasonMatch = REASON.exec(body);
    const reason = (reasonMatch?.[1] ?? reasonMatch?.[2] ?? '').trim();
    const head = (reasonMatch ? body.slice(0, reasonMatch.index) : body).trim();
    const [verb, ...rest] = head.split(/[\s,]+/).filter(Boolean);
    if (verb === 'contract') {
      if (!reason) directives.push({ kind: 'invalid', problem: 'a contract directive needs reason="…" (why old code no longer needs what this removes)', line });
      else directives.push({ kind: 'contract', reason, line });
      return;
    }
    if (verb === 'allow') {
      const unknown = rest.filter((r) => !isRuleId(r));
      if (rest.length === 0) directives.push({ kind: 'invalid', problem: 'an allow directive names the rule it silences: `-- rollgate: allow <rule> reason="…"`', line });
      else if (unknown.length > 0) directives.push({ kind: 'invalid', problem: `unknown rule ${unknown.map((u) => JSON.stringify(u)).join(', ')} in allow directive`, line });
      else if (!reason) directives.push({ kind: 'invalid', problem: `allow ${rest.join(', ')} needs reason="…" (why it is safe here)`, line });
      else directives.push({ kind: 'allow', rules: rest.filter(isRuleId), reason, line });
      return;
    }
    directives.push({ kind: 'invalid', problem: `unknown directive ${JSON.stringify(verb ?? '')}: expected allow or contract`, line });
  });
  return directives;
}
