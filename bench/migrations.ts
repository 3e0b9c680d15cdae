// Migration linter benchmark and side-by-side comparison with squawk.
//   npx tsx bench/migrations.ts            both parts
//   npx tsx bench/migrations.ts compare    squawk agreement table on the project's corpus
//   npx tsx bench/migrations.ts perf       1,000 migration files: rollgate vs squawk wall time
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../harness/process.js';
import { isMigrationPath, listFiles, migrationOrder, readMigrationSource } from '../src/core/migrations/layouts.js';
import { lintMigrations } from '../src/core/migrations/lint.js';
import { RULE_IDS, type RuleId } from '../src/core/migrations/rules.js';
import { loadSqlParser } from '../src/core/migrations/sql.js';

const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const CORPUS = join(ROOT, 'test/fixtures/migrations');
const SQUAWK = join(ROOT, 'node_modules/.bin/squawk');

/** Which squawk rules say the same thing as a rollgate rule. */
const SQUAWK_EQUIVALENT: Record<string, RuleId> = {
  'ban-drop-column': 'drop-column',
  'ban-drop-table': 'drop-table',
  'renaming-column': 'rename-column',
  'renaming-table': 'rename-table',
  'adding-required-field': 'add-column-required',
  'adding-field-with-default': 'add-column-volatile-default',
  'changing-column-type': 'alter-column-type',
  'adding-not-nullable-field': 'set-not-null',
  'require-concurrent-index-creation': 'index-not-concurrent',
  'require-concurrent-index-deletion': 'index-not-concurrent',
  'ban-concurrent-index-creation-in-transaction': 'concurrent-in-transaction',
  'adding-foreign-key-constraint': 'constraint-not-valid',
  'constraint-missing-not-valid': 'constraint-not-valid',
  'disallowed-unique-constraint': 'unique-or-pk-constraint',
  'adding-serial-primary-key-field': 'unique-or-pk-constraint',
  'require-timeout-settings': 'missing-lock-timeout',
  'require-lock-timeout': 'missing-lock-timeout',
};

interface SquawkFinding {
  file: string;
  line: number;
  rule_name: string;
}

function runSquawk(files: string[], cwd: string): { findings: SquawkFinding[]; ms: number } {
  const started = performance.now();
  const r = spawnSync(SQUAWK, ['--reporter', 'json', '--pg-version=15.0', ...files], { cwd, encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 });
  const ms = performance.now() - started;
  if (r.status !== 0 && r.status !== 1) throw new Error(`squawk failed (${r.status}): ${r.stderr}`);
  const json = r.stdout.trim();
  return { findings: json ? (JSON.parse(json) as SquawkFinding[]) : [], ms };
}

async function lintFiles(files: string[], cwd: string): Promise<Map<string, Set<string>>> {
  const sources = files.map((f) => readMigrationSource(f, readFileSync(join(cwd, f), 'utf8'), (p) => existsSync(join(cwd, p))));
  // Each file judged on its own, as squawk does.
  const report = await lintMigrations(sources, { pgVersion: 15, oneChange: false });
  const byFile = new Map<string, Set<string>>();
  for (const f of report.findings) byFile.set(f.file, (byFile.get(f.file) ?? new Set()).add(f.rule));
  return byFile;
}

async function compare(): Promise<void> {
  const files = listFiles(CORPUS)
    .filter((f) => f.endsWith('.sql') && (f.startsWith('rules/') ? !f.endsWith('setup.sql') : isMigrationPath(f.replace(/^layouts\/[^/]+\//, ''))))
    .filter((f) => !f.endsWith('.down.sql'))
    .sort(migrationOrder);
  const ours = await lintFiles(files, CORPUS);
  const squawk = runSquawk(files, CORPUS);
  const theirs = new Map<string, Set<string>>();
  const squawkOnlyRules = new Map<string, number>();
  for (const f of squawk.findings) {
    const mapped = SQUAWK_EQUIVALENT[f.rule_name];
    if (mapped) theirs.set(f.file, (theirs.get(f.file) ?? new Set()).add(mapped));
    else squawkOnlyRules.set(f.rule_name, (squawkOnlyRules.get(f.rule_name) ?? 0) + 1);
  }
  const rows: string[] = ['| rollgate rule | both flag | only rollgate | only squawk | squawk rule(s) |', '| --- | --- | --- | --- | --- |'];
  const disagreements: string[] = [];
  for (const rule of RULE_IDS) {
    let both = 0;
    const onlyUs: string[] = [];
    const onlyThem: string[] = [];
    for (const file of files) {
      const a = ours.get(file)?.has(rule) ?? false;
      const b = theirs.get(file)?.has(rule) ?? false;
      if (a && b) both++;
      else if (a) onlyUs.push(file);
      else if (b) onlyThem.push(file);
    }
    const equivalents = Object.entries(SQUAWK_EQUIVALENT)
      .filter(([, r]) => r === rule)
      .map(([s]) => `\`${s}\``)
      .join(', ');
    if (both + onlyUs.length + onlyThem.length === 0) continue;
    rows.push(`| \`${rule}\` | ${both} | ${onlyUs.length} | ${onlyThem.length} | ${equivalents || '—'} |`);
    for (const f of onlyUs) disagreements.push(`- only rollgate: \`${rule}\` in \`${f}\``);
    for (const f of onlyThem) disagreements.push(`- only squawk: \`${rule}\` in \`${f}\``);
  }
  console.log(`## rollgate vs squawk ${readSquawkVersion()} on ${files.length} migrations of the project's corpus\n`);
  console.log(rows.join('\n'));
  console.log('\nDisagreements, file by file:\n');
  console.log(disagreements.join('\n'));
  console.log('\nsquawk rules with no rollgate counterpart (findings):', [...squawkOnlyRules].map(([r, n]) => `${r} ×${n}`).join(', '));
}

function readSquawkVersion(): string {
  return spawnSync(SQUAWK, ['--version'], { encoding: 'utf8' }).stdout.trim().replace(/^squawk /, '');
}

async function perf(): Promise<void> {
  const dir = tempDir('rollgate-bench-migrations-');
  try {
    // 1,000 files: the corpus repeated, each copy with its own version number.
    const corpus = listFiles(join(CORPUS, 'rules')).filter((f) => f.endsWith('.sql'));
    mkdirSync(join(dir.path, 'migrations'));
    for (let i = 0; i < 1000; i++) {
      const src = corpus[i % corpus.length] as string;
      copyFileSync(join(CORPUS, 'rules', src), join(dir.path, 'migrations', `${String(i).padStart(4, '0')}_${src.replace(/\//g, '_')}`));
    }
    const files = readdirSync(join(dir.path, 'migrations')).map((f) => `migrations/${f}`).sort(migrationOrder);
    const bytes = files.reduce((n, f) => n + readFileSync(join(dir.path, f)).length, 0);

    const coldStart = performance.now();
    await loadSqlParser();
    const parserMs = performance.now() - coldStart;
    const runs: number[] = [];
    let findings = 0;
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      const byFile = await lintFiles(files, dir.path);
      runs.push(performance.now() - t);
      findings = [...byFile.values()].reduce((n, s) => n + s.size, 0);
    }
    // The bundled action end to end: node start, wasm load, discovery, lint, report.
    const bundle = join(ROOT, 'dist/pre-deploy-checklist/index.js');
    const e2eStart = performance.now();
    const e2e = spawnSync(process.execPath, [bundle], { cwd: dir.path, env: { PATH: process.env.PATH, 'INPUT_ALL-MIGRATIONS': 'true', INPUT_BODY: 'x' }, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
    const e2eMs = performance.now() - e2eStart;
    const squawkRuns: number[] = [];
    let squawkFindings = 0;
    for (let i = 0; i < 3; i++) {
      const s = runSquawk(files, dir.path);
      squawkRuns.push(s.ms);
      squawkFindings = s.findings.length;
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
    const table = [
      `## Linting ${files.length} migration files (${Math.round(bytes / 1024)} KiB)\n`,
      '| tool | median wall time | notes |',
      '| --- | --- | --- |',
      `| rollgate linter (in process) | ${median(runs).toFixed(0)} ms | 5 runs: ${runs.map((r) => r.toFixed(0)).join(', ')} ms; parser load ${parserMs.toFixed(0)} ms once; ${findings} file×rule findings |`,
      `| rollgate bundled action, --all-migrations | ${e2eMs.toFixed(0)} ms | node start + wasm + discovery + lint + report (exit ${e2e.status}) |`,
      `| squawk ${readSquawkVersion()} | ${median(squawkRuns).toFixed(0)} ms | 3 runs: ${squawkRuns.map((r) => r.toFixed(0)).join(', ')} ms; ${squawkFindings} findings |`,
    ];
    console.log(table.join('\n'));
  } finally {
    dir.remove();
  }
}

const what = process.argv[2] ?? 'all';
if (what === 'all' || what === 'compare') await compare();
if (what === 'all' || what === 'perf') await perf();
