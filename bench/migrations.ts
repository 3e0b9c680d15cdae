// Migration linter benchmark and side-by-side comparison with squawk.
//   npx tsx bench/migrations.ts            both parts
//   npx tsx bench/migrations.ts compare    squawk agreement table on the project's corpus
//   npx tsx bench/migrations.ts perf       1,000 migration files: rollgate vs squawk wall time
//   npx tsx bench/migrations.ts peer       squawk's own 340 test cases: rollgate's bundle vs squawk, same files
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../harness/process.js';
import { judgeCases, layOutSuite, readSquawkSuite, renderRuleTable, ruleTable, runChecklistBundle, type BundleFinding } from '../harness/squawk-suite.js';
import { isMigrationPath, listFiles, migrationOrder, readMigrationSource } from '../src/core/migrations/layouts.js';
import { lintMigrations } from '../src/core/migrations/lint.js';
import { SQUAWK_ALIASES, SQUAWK_RULES } from '../src/core/migrations/squawk-rules.js';
import { loadSqlParser } from '../src/core/migrations/sql.js';

const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const CORPUS = join(ROOT, 'test/fixtures/migrations');
const SQUAWK = join(ROOT, 'node_modules/.bin/squawk');

interface SquawkFinding {
  file: string;
  line: number;
  rule_name: string;
}

function runSquawk(files: string[], cwd: string, pgVersion = '15.0'): { findings: SquawkFinding[]; ms: number } {
  const started = performance.now();
  const r = spawnSync(SQUAWK, ['--reporter', 'json', `--pg-version=${pgVersion}`, ...files], { cwd, encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 });
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
  // squawk rule code → files it flagged, aliases spelled out as the codes they stand for.
  const theirs = new Map<string, Set<string>>();
  for (const f of squawk.findings) for (const code of SQUAWK_ALIASES[f.rule_name] ?? [f.rule_name]) theirs.set(code, (theirs.get(code) ?? new Set()).add(f.file));
  const rows: string[] = ['| squawk rule | rollgate rule(s) | both flag | only squawk | only rollgate |', '| --- | --- | --- | --- | --- |'];
  const disagreements: string[] = [];
  for (const [code, coverage] of Object.entries(SQUAWK_RULES)) {
    const flaggedBySquawk = theirs.get(code) ?? new Set<string>();
    if (!coverage.covered) {
      if (flaggedBySquawk.size > 0) rows.push(`| \`${code}\` | not covered | — | ${flaggedBySquawk.size} | — |`);
      continue;
    }
    const flaggedByUs = new Set(files.filter((f) => coverage.rules.some((r) => ours.get(f)?.has(r))));
    const both = [...flaggedBySquawk].filter((f) => flaggedByUs.has(f)).length;
    const onlyThem = [...flaggedBySquawk].filter((f) => !flaggedByUs.has(f));
    const onlyUs = [...flaggedByUs].filter((f) => !flaggedBySquawk.has(f));
    if (both + onlyThem.length + onlyUs.length === 0) continue;
    rows.push(`| \`${code}\` | ${coverage.rules.map((r) => `\`${r}\``).join(', ')} | ${both} | ${onlyThem.length} | ${onlyUs.length} |`);
    for (const f of onlyUs) disagreements.push(`- only rollgate (${code}): \`${f}\``);
    for (const f of onlyThem) disagreements.push(`- only squawk (${code}): \`${f}\``);
  }
  console.log(`## rollgate vs squawk ${readSquawkVersion()} on ${files.length} migrations of the project's corpus\n`);
  console.log(rows.join('\n'));
  console.log('\nDisagreements, file by file:\n');
  console.log(disagreements.join('\n'));
}

function readSquawkVersion(): string {
  return spawnSync(SQUAWK, ['--version'], { encoding: 'utf8' })
    .stdout.trim()
    .replace(/^squawk /, '');
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
    const files = readdirSync(join(dir.path, 'migrations'))
      .map((f) => `migrations/${f}`)
      .sort(migrationOrder);
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
    const e2e = spawnSync(process.execPath, [bundle], {
      cwd: dir.path,
      env: { PATH: process.env.PATH, 'INPUT_ALL-MIGRATIONS': 'true', INPUT_BODY: 'x' },
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
    });
    const e2eMs = performance.now() - e2eStart;
    const squawkRuns: number[] = [];
    let squawkFindings = 0;
    for (let i = 0; i < 3; i++) {
      const s = runSquawk(files, dir.path);
      squawkRuns.push(s.ms);
      squawkFindings = s.findings.length;
    }
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

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/** squawk's own test cases through rollgate's bundled action and through squawk, the same files, one process per PostgreSQL version each. */
async function peer(): Promise<void> {
  const cases = readSquawkSuite();
  const dir = tempDir('rollgate-bench-peer-');
  try {
    const groups = [...layOutSuite(cases, dir.path)];
    const ours: number[] = [];
    const theirs: number[] = [];
    let findings: BundleFinding[] = [];
    for (let run = 0; run < 3; run++) {
      let ms = 0;
      findings = [];
      for (const [version, { repo }] of groups) {
        const r = await runChecklistBundle(repo, version === 'default' ? {} : { 'pg-version': version });
        ms += r.ms;
        findings.push(...r.findings);
      }
      ours.push(ms);
      let squawkMs = 0;
      for (const [version, { repo }] of groups) {
        const files = listFiles(repo).filter((f) => f.endsWith('.sql'));
        squawkMs += runSquawk(files, repo, version === 'default' ? '15.0' : `${version}.0`).ms;
      }
      theirs.push(squawkMs);
    }
    console.log(`## squawk's ${cases.length} test cases, rollgate's bundle vs squawk ${readSquawkVersion()} on the same files\n`);
    console.log(renderRuleTable(ruleTable(judgeCases(cases, findings))));
    console.log('\n| tool | median wall time (3 runs) | runs |\n| --- | --- | --- |');
    console.log(
      `| rollgate bundled action (${groups.length} node processes, one per pg-version) | ${median(ours).toFixed(0)} ms | ${ours.map((r) => r.toFixed(0)).join(', ')} ms |`,
    );
    console.log(`| squawk (${groups.length} runs, one per --pg-version) | ${median(theirs).toFixed(0)} ms | ${theirs.map((r) => r.toFixed(0)).join(', ')} ms |`);
  } finally {
    dir.remove();
  }
}

const what = process.argv[2] ?? 'all';
if (what === 'peer') await peer();
if (what === 'all' || what === 'compare') await compare();
if (what === 'all') await peer();
if (what === 'all' || what === 'perf') await perf();
