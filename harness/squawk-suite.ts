import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SQUAWK_DISAGREEMENTS, SQUAWK_RULES } from '../src/core/migrations/squawk-rules.js';
import { tempDir } from './process.js';

/** squawk's own rule tests as data: one SQL file per case, flagged or clean (see its SOURCE.md). */
export const SQUAWK_SUITE = join(dirname(fileURLToPath(import.meta.url)), '../../shared/peer-suites/squawk');
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const CHECKLIST_BUNDLE = join(ROOT, 'dist/pre-deploy-checklist/index.js');

/** One case of the suite, as its manifest describes it. */
export interface SquawkCase {
  file: string;
  squawkRule: string;
  expect: 'flag' | 'clean';
  pgVersion?: string;
  /** squawk ran it as if the tool wrapped it in a transaction. */
  assumeInTransaction?: boolean;
  /** The case switches that assumption off with squawk's own comment. */
  squawkDirective?: boolean;
}

export function readSquawkSuite(dir = SQUAWK_SUITE): SquawkCase[] {
  return JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as SquawkCase[];
}

/**
 * The case's SQL as a migration file rollgate reads the same way squawk ran it: a plain file, or,
 * when squawk assumed a transaction, a goose file (goose wraps each file in one), with goose's own
 * NO TRANSACTION where the case turns the assumption off.
 */
export function asMigration(c: SquawkCase, sql: string): string {
  if (!c.assumeInTransaction) return sql;
  return `-- +goose Up\n${c.squawkDirective ? '-- +goose NO TRANSACTION\n' : ''}${sql}\n-- +goose Down\n`;
}

/** A repository per PostgreSQL version, each case in `migrations/<squawk rule>/<case>.sql`. */
export function layOutSuite(cases: readonly SquawkCase[], root: string, dir = SQUAWK_SUITE): Map<string, { repo: string; cases: SquawkCase[] }> {
  const repos = new Map<string, { repo: string; cases: SquawkCase[] }>();
  for (const c of cases) {
    const version = c.pgVersion ?? 'default';
    let group = repos.get(version);
    if (!group) {
      group = { repo: join(root, `pg-${version}`), cases: [] };
      repos.set(version, group);
    }
    group.cases.push(c);
    const path = join(group.repo, 'migrations', c.file);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, asMigration(c, readFileSync(join(dir, c.file), 'utf8')));
  }
  return repos;
}

export interface BundleFinding {
  file: string;
  line: number;
  rule: string;
  severity: string;
  message: string;
}

/** Runs the bundled pre-deploy-checklist the way the runner does, linting every migration of `repo`. */
export async function runChecklistBundle(repo: string, inputs: Record<string, string>): Promise<{ status: number | null; findings: BundleFinding[]; stderr: string; ms: number }> {
  const out = tempDir('rollgate-squawk-out-');
  try {
    const outputFile = join(out.path, 'output');
    const summaryFile = join(out.path, 'summary');
    writeFileSync(outputFile, '');
    writeFileSync(summaryFile, '');
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, GITHUB_OUTPUT: outputFile, GITHUB_STEP_SUMMARY: summaryFile, GITHUB_ACTIONS: 'true' };
    for (const [name, value] of Object.entries({ 'all-migrations': 'true', body: 'peer suite', comment: 'false', ...inputs })) env[`INPUT_${name.toUpperCase()}`] = value;
    const started = performance.now();
    const r = await new Promise<{ status: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [CHECKLIST_BUNDLE], { cwd: repo, env, timeout: 120_000, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (status) => resolve({ status, stderr }));
    });
    const ms = performance.now() - started;
    const match = /^findings<<(\S+)\n([\s\S]*?)\n\1$/m.exec(readFileSync(outputFile, 'utf8'));
    return { status: r.status, stderr: r.stderr, findings: match ? (JSON.parse(match[2] as string) as BundleFinding[]) : [], ms };
  } finally {
    out.remove();
  }
}

/** What rollgate did with one case. */
export interface CaseOutcome {
  case: SquawkCase;
  /** rollgate rules reported on the file. */
  rules: string[];
  /** Whether a rule mapped to the case's squawk rule fired; undefined when rollgate does not cover that rule. */
  flagged?: boolean;
  /** flagged disagrees with the case's expectation. */
  wrong: boolean;
  /** The documented reason rollgate is right where it disagrees, if any. */
  disagreement?: string;
}

/** Judges every case against the mapping: flagged when any rollgate rule mapped to its squawk rule fired. */
export function judgeCases(cases: readonly SquawkCase[], findings: readonly BundleFinding[]): CaseOutcome[] {
  const byFile = new Map<string, Set<string>>();
  for (const f of findings) byFile.set(f.file, (byFile.get(f.file) ?? new Set()).add(f.rule));
  return cases.map((c) => {
    const rules = [...(byFile.get(`migrations/${c.file}`) ?? [])].sort();
    const coverage = SQUAWK_RULES[c.squawkRule];
    if (!coverage?.covered) return { case: c, rules, wrong: false };
    const flagged = coverage.rules.some((r) => rules.includes(r));
    return { case: c, rules, flagged, wrong: flagged !== (c.expect === 'flag'), disagreement: SQUAWK_DISAGREEMENTS[c.file] };
  });
}

export interface RuleRow {
  squawkRule: string;
  rollgate: string;
  flagCases: number;
  flagged: number;
  cleanCases: number;
  wronglyFlagged: number;
}

/** One row per squawk rule: how many `flag` cases rollgate flags and how many `clean` ones it wrongly flags. */
export function ruleTable(outcomes: readonly CaseOutcome[]): RuleRow[] {
  const rows = new Map<string, RuleRow>();
  for (const o of outcomes) {
    const code = o.case.squawkRule;
    const coverage = SQUAWK_RULES[code];
    const row = rows.get(code) ?? {
      squawkRule: code,
      rollgate: coverage?.covered ? coverage.rules.join(', ') : 'not covered',
      flagCases: 0,
      flagged: 0,
      cleanCases: 0,
      wronglyFlagged: 0,
    };
    if (o.case.expect === 'flag') {
      row.flagCases++;
      if (o.flagged) row.flagged++;
    } else {
      row.cleanCases++;
      if (o.flagged) row.wronglyFlagged++;
    }
    rows.set(code, row);
  }
  return [...rows.values()].sort((a, b) => a.squawkRule.localeCompare(b.squawkRule));
}

/** The per-rule table and its totals over covered rules, as Markdown. */
export function renderRuleTable(rows: readonly RuleRow[]): string {
  const lines = ['| squawk rule | rollgate rule(s) | flag cases flagged | clean cases wrongly flagged |', '| --- | --- | --- | --- |'];
  for (const r of rows) {
    const covered = r.rollgate !== 'not covered';
    lines.push(
      `| \`${r.squawkRule}\` | ${r.rollgate} | ${covered ? `${r.flagged} / ${r.flagCases}` : `— (${r.flagCases})`} | ${covered ? `${r.wronglyFlagged} / ${r.cleanCases}` : `— (${r.cleanCases})`} |`,
    );
  }
  const covered = rows.filter((r) => r.rollgate !== 'not covered');
  const sum = (f: (r: RuleRow) => number): number => covered.reduce((n, r) => n + f(r), 0);
  lines.push(
    `| **${covered.length} of ${rows.length} rules covered** | | **${sum((r) => r.flagged)} / ${sum((r) => r.flagCases)}** | **${sum((r) => r.wronglyFlagged)} / ${sum((r) => r.cleanCases)}** |`,
  );
  return lines.join('\n');
}
