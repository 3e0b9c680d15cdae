import { readdirSync } from 'node:fs';
import { join, posix } from 'node:path';

/** The migration tools whose file layouts rollgate recognises. */
export type Layout = 'flyway' | 'golang-migrate' | 'goose' | 'dbmate' | 'prisma' | 'drizzle' | 'supabase' | 'plain';

/** How a tool runs a file: inside one transaction it opens itself, or statement by statement. */
export type TransactionMode = 'implicit' | 'none';

/** A migration file as rollgate reads it: only the part that migrates up, offsets kept. */
export interface MigrationSource {
  file: string;
  layout: Layout;
  /** The SQL to lint; the down section of single-file layouts is blanked out, lines kept. */
  upSql: string;
  /** Whether the tool wraps the file in a transaction of its own. */
  transaction: TransactionMode;
  /** True when the layout supports down migrations and this one has none. */
  missingDown: boolean;
  /** A down migration only, never linted. */
  isDown: boolean;
}

const GOOSE_ANNOTATION = /^\s*--\s*\+goose\s+(up|down)\b/i;
const DBMATE_ANNOTATION = /^\s*--\s*migrate:(up|down)\b(.*)$/i;

/** Whether a repository path is a SQL migration in one of the known layouts. */
export function isMigrationPath(path: string): boolean {
  const p = path.replace(/\\/g, '/');
  if (!p.toLowerCase().endsWith('.sql')) return false;
  const base = posix.basename(p);
  const dirs = posix.dirname(p).split('/');
  if (/^V[0-9][0-9._]*__.+\.sql$/.test(base)) return true;
  if (/\.(up|down)\.sql$/i.test(base)) return true;
  if (base === 'migration.sql' && dirs.includes('migrations')) return true;
  if (dirs.some((d) => d === 'migrations' || d === 'migration' || d === 'drizzle')) return true;
  if (dirs.join('/').endsWith('db/migrate')) return true;
  return false;
}

/** Reads one migration file's text into what the linter needs, per its layout. */
export function readMigrationSource(file: string, raw: string, hasFile: (path: string) => boolean): MigrationSource {
  // Editors on Windows save UTF-8 with a byte order mark; PostgreSQL's parser would choke on it.
  const text = raw.startsWith('\uFEFF') ? raw.slice(1) : raw;
  const p = file.replace(/\\/g, '/');
  const base = posix.basename(p);
  const lines = text.split('\n');

  if (lines.some((l) => GOOSE_ANNOTATION.test(l))) {
    const { sql, hasDown } = keepUpSection(lines, (l) => GOOSE_ANNOTATION.exec(l)?.[1]?.toLowerCase());
    const outside = lines.some((l) => /^\s*--\s*\+goose\s+NO\s+TRANSACTION\b/i.test(l));
    return { file, layout: 'goose', upSql: sql, transaction: outside ? 'none' : 'implicit', missingDown: !hasDown, isDown: false };
  }
  if (lines.some((l) => DBMATE_ANNOTATION.test(l))) {
    const { sql, hasDown } = keepUpSection(lines, (l) => DBMATE_ANNOTATION.exec(l)?.[1]?.toLowerCase());
    const upLine = lines.find((l) => DBMATE_ANNOTATION.exec(l)?.[1]?.toLowerCase() === 'up') ?? '';
    const outside = /transaction\s*:\s*false/i.test(upLine);
    return { file, layout: 'dbmate', upSql: sql, transaction: outside ? 'none' : 'implicit', missingDown: !hasDown, isDown: false };
  }
  const upDown = /^(.*)\.(up|down)\.sql$/i.exec(p);
  if (upDown) {
    const isDown = upDown[2]?.toLowerCase() === 'down';
    const partner = `${upDown[1]}.down.sql`;
    return {
      file,
      // golang-migrate and sqlx's reversible migrations share this naming.
      layout: 'golang-migrate',
      upSql: isDown ? '' : text,
      transaction: 'none',
      missingDown: !isDown && !hasFile(partner),
      isDown,
    };
  }
  let layout: Layout = 'plain';
  if (/^V[0-9][0-9._]*__/.test(base)) layout = 'flyway';
  else if (base === 'migration.sql') layout = 'prisma';
  else if (p.includes('supabase/migrations/')) layout = 'supabase';
  else if (p.split('/').includes('drizzle')) layout = 'drizzle';
  return { file, layout, upSql: text, transaction: 'none', missingDown: false, isDown: false };
}

// Blanks every line outside the Up section (keeping line numbers for annotations).
function keepUpSection(lines: string[], sectionOf: (line: string) => string | undefined): { sql: string; hasDown: boolean } {
  let section: string | undefined;
  let hasDown = false;
  const kept = lines.map((line) => {
    const marker = sectionOf(line);
    if (marker) {
      section = marker;
      if (marker === 'down') hasDown = true;
      return '';
    }
    return section === 'up' ? line : '';
  });
  return { sql: kept.join('\n'), hasDown };
}

/** Turns a glob (`**`, `*`, `?`) into a regular expression over slash-separated paths. */
export function globToRegExp(glob: string): RegExp {
  let out = '';
  const g = glob.replace(/\\/g, '/').replace(/^\.\//, '');
  for (let i = 0; i < g.length; i++) {
    const c = g[i] as string;
    if (c === '*' && g[i + 1] === '*') {
      i++;
      if (g[i + 1] === '/') {
        i++;
        out += '(?:.*/)?';
      } else out += '.*';
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else out += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

const SKIPPED_DIRS = new Set(['.git', 'node_modules', 'dist', 'vendor', '.venv', 'target', 'build']);

/** Every file under `root`, as slash-separated paths relative to it (skipping dependency and build folders). */
export function listFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, prefix: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) {
        if (!SKIPPED_DIRS.has(entry.name)) walk(join(dir, entry.name), `${prefix}${entry.name}/`);
      } else if (entry.isFile()) out.push(`${prefix}${entry.name}`);
    }
  };
  walk(root, '');
  return out;
}

/** Orders migrations the way the tools apply them: by path, numbers compared as numbers. */
export function migrationOrder(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}
