// How often the application-code check (code-still-references) cries wolf, replayed over real
// applications' migration histories.
//
//   npx tsx bench/contract-history.ts <name> <git dir> <migration path regex> [<name> <git dir> <regex>]…
//
// For every migration that drops or renames a table or column, at the commit that added it:
// - "at the commit": the code of that same commit. These projects change migrations and code
//   together, with CI running the app against the migrated schema, so that code no longer uses
//   what the migration removed: every reference reported there is a false alarm (an upper bound;
//   some are dead code that really does name it).
// - "at the parent": the code just before, i.e. the migration shipped ahead of its code change
//   (the contract-too-early mistake). A reference reported there is what the check exists for.
// Prints a Markdown table and writes the figures to bench/results/contract-history.json.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findCodeReferences, indexCodeTexts, isApplicationCode, type CodeIndex } from '../src/core/migrations/code-references.js';
import { readMigrationSource } from '../src/core/migrations/layouts.js';
import { lintMigrations, type Removal } from '../src/core/migrations/lint.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

function git(gitDir: string, args: string[], input?: string): string {
  const r = spawnSync('git', ['--git-dir', gitDir, ...args], { encoding: 'utf8', input, maxBuffer: 1024 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Every application source file of a commit, read straight from the object store. */
function codeAt(gitDir: string, commit: string): CodeIndex {
  const entries = git(gitDir, ['ls-tree', '-r', '-z', commit])
    .split('\0')
    .filter(Boolean)
    .flatMap((line) => {
      const [meta, path] = line.split('\t') as [string, string];
      const [, type, sha] = meta.split(' ');
      return type === 'blob' && isApplicationCode(path) ? [{ path, sha: sha as string }] : [];
    });
  const r = spawnSync('git', ['--git-dir', gitDir, 'cat-file', '--batch'], { input: entries.map((e) => e.sha).join('\n') + '\n', maxBuffer: 2 * 1024 * 1024 * 1024 });
  const out = r.stdout;
  const texts: [string, string][] = [];
  let at = 0;
  for (const e of entries) {
    const headerEnd = out.indexOf(0x0a, at);
    const size = Number(out.subarray(at, headerEnd).toString('utf8').split(' ')[2]);
    texts.push([e.path, out.subarray(headerEnd + 1, headerEnd + 1 + size).toString('utf8')]);
    at = headerEnd + 1 + size + 1;
  }
  return indexCodeTexts(texts);
}

interface Replayed {
  migration: string;
  commit: string;
  removal: string;
  atCommit: { files: number; lines: number; first: string[] };
  atParent: { files: number; lines: number };
}

async function replay(name: string, gitDir: string, pattern: RegExp): Promise<{ name: string; migrations: number; withRemovals: number; results: Replayed[] }> {
  // The commit that first added each migration file, oldest first, with the path it had then.
  const log = git(gitDir, ['log', '--reverse', '--diff-filter=A', '--name-only', '--format=@%H %P', 'HEAD']);
  const added: { commit: string; parent: string; path: string }[] = [];
  let commit = '';
  let parent = '';
  for (const line of log.split('\n')) {
    if (line.startsWith('@')) [commit, parent] = line.slice(1).split(' ') as [string, string];
    else if (line && pattern.test(line) && parent) added.push({ commit, parent, path: line });
  }
  const results: Replayed[] = [];
  let withRemovals = 0;
  for (const m of added) {
    const sql = git(gitDir, ['show', `${m.commit}:${m.path}`]);
    const report = await lintMigrations([readMigrationSource(m.path, sql, () => true)], { pgVersion: 15 });
    const removals: Removal[] = report.removals ?? [];
    if (removals.length === 0) continue;
    withRemovals++;
    const now = codeAt(gitDir, m.commit);
    const before = codeAt(gitDir, m.parent);
    for (const r of removals) {
      const a = findCodeReferences(now, r);
      const b = findCodeReferences(before, r);
      results.push({
        migration: m.path,
        commit: m.commit.slice(0, 12),
        removal: r.what,
        // Places only, never the projects' code itself.
        atCommit: { files: new Set(a.map((x) => x.file)).size, lines: a.length, first: a.slice(0, 3).map((x) => `${x.file}:${x.line}`) },
        atParent: { files: new Set(b.map((x) => x.file)).size, lines: b.length },
      });
    }
  }
  return { name, migrations: added.length, withRemovals, results };
}

const args = process.argv.slice(2);
if (args.length < 3 || args.length % 3 !== 0) {
  console.error('usage: npx tsx bench/contract-history.ts <name> <git dir> <migration path regex> …');
  process.exit(2);
}
const all = [];
for (let i = 0; i < args.length; i += 3) all.push(await replay(args[i] as string, args[i + 1] as string, new RegExp(args[i + 2] as string)));

const rows = [
  '| application | migrations replayed | drops/renames | reported at the commit (false alarms) | reported at the parent (would have caught) |',
  '| --- | --- | --- | --- | --- |',
];
for (const a of all) {
  const n = a.results.length;
  const pct = (k: number): string => `${k} (${n ? Math.round((100 * k) / n) : 0}%)`;
  rows.push(
    `| ${a.name} | ${a.migrations} | ${n} in ${a.withRemovals} migrations | ${pct(a.results.filter((r) => r.atCommit.lines > 0).length)} | ${pct(a.results.filter((r) => r.atParent.lines > 0).length)} |`,
  );
}
console.log(rows.join('\n'));
for (const a of all)
  for (const r of a.results) if (r.atCommit.lines > 0) console.log(`- ${a.name} ${r.commit} ${r.migration}: ${r.removal} — still named at ${r.atCommit.first.join(', ')}`);
const out = join(ROOT, 'bench/results/contract-history.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(all, null, 1)}\n`);
