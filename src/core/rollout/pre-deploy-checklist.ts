import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { evaluateChecklist, type ChecklistEvidence, type ItemResult } from '../checklist/evaluate.js';
import { octokitComments, upsertChecklistComment, type PullRequestComments } from '../checklist/comment.js';
import { resolveChecklist } from '../checklist/items.js';
import { readTaskItems } from '../checklist/parse.js';
import { renderChecklistReport } from '../checklist/report.js';
import { describeError, InputError, isUserError, ProviderError } from '../errors.js';
import { runCommand } from '../exec.js';
import { getBooleanInput, getListInput, getNumberInput, getOptionalInput } from '../inputs.js';
import { codeReferenceFindings, indexApplicationCode } from '../migrations/code-references.js';
import { globToRegExp, isMigrationPath, listFiles, migrationOrder, readMigrationSource } from '../migrations/layouts.js';
import { lintMigrations, type LintReport } from '../migrations/lint.js';
import { loadPlanFile } from '../plan/load.js';
import type { ActionResult, ActionRuntime } from '../runtime.js';
import { DEFAULT_PLAN_FILE } from './plan-input.js';
import { reviewReleasePolicy } from '../policy/enforce.js';

/** The PostgreSQL major version assumed when `pg-version` is not set. */
export const DEFAULT_PG_VERSION = 15;

interface PullRequestEvent {
  number?: number;
  pull_request?: { number?: number; body?: string | null; base?: { sha?: string } };
}

export interface ChecklistDependencies {
  /** Builds the comment client; tests point it at a local server. */
  comments?: (token: string, pr: { owner: string; repo: string; number: number; baseUrl: string }) => PullRequestComments;
  cwd?: string;
}

/** The PR event the workflow was triggered by, if any (GITHUB_EVENT_PATH). */
function readEvent(runtime: ActionRuntime): { name: string | undefined; payload: PullRequestEvent } {
  const name = runtime.env.GITHUB_EVENT_NAME;
  const path = runtime.env.GITHUB_EVENT_PATH;
  if (!path || !existsSync(path)) return { name, payload: {} };
  try {
    return { name, payload: JSON.parse(readFileSync(path, 'utf8')) as PullRequestEvent };
  } catch (err) {
    throw new InputError('GITHUB_EVENT_PATH', `cannot read the event payload ${path}: ${describeError(err)}`);
  }
}

function readBody(runtime: ActionRuntime, event: PullRequestEvent): { body: string; source: string } {
  const inline = runtime.getInput('body');
  if (inline !== undefined) return { body: inline, source: 'input body' };
  const file = getOptionalInput(runtime, 'body-file');
  if (file !== undefined) {
    try {
      return { body: readFileSync(file, 'utf8'), source: file };
    } catch (err) {
      throw new InputError('body-file', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? describeError(err)}`);
    }
  }
  if (event.pull_request) return { body: event.pull_request.body ?? '', source: 'the pull request' };
  // Nothing to read is an empty checklist, which fails: deleting the checklist must not pass.
  return { body: '', source: 'nothing (no body, body-file or pull request event)' };
}

// PR checks often run without secrets (forks): a plan's ${VAR} must not make the checklist fail,
// so unset variables become harmless placeholders for the purpose of validation only.
function placeholderEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return new Proxy(env, { get: (target, key) => (typeof key === 'string' ? (target[key] ?? `http://unset-${key.toLowerCase()}.invalid`) : undefined) });
}

function readPlanEvidence(runtime: ActionRuntime, cwd: string): ChecklistEvidence['plan'] {
  const file = getOptionalInput(runtime, 'plan') ?? DEFAULT_PLAN_FILE;
  if (!existsSync(join(cwd, file)) && !existsSync(file)) return { ok: false, problem: `no rollout plan at ${file}` };
  try {
    const loaded = loadPlanFile(file, { env: placeholderEnv(runtime.env), cwd });
    return { ok: true, plan: loaded.plan, file };
  } catch (err) {
    if (!isUserError(err)) throw err;
    return { ok: false, problem: `the rollout plan does not validate: ${describeError(err)}` };
  }
}

async function changedFiles(baseRef: string, cwd: string): Promise<string[]> {
  const run = await runCommand(['git', 'diff', '--name-only', '-z', '--diff-filter=ACMR', `${baseRef}...HEAD`], { cwd, timeoutMs: 60_000 });
  if (run.exitCode !== 0)
    throw new ProviderError(
      'git',
      `cannot list the files changed since ${baseRef} (fetch it, e.g. actions/checkout with fetch-depth: 0): ${run.stderr.trim().split('\n')[0] ?? ''}`,
    );
  return run.stdout.split('\0').filter(Boolean);
}

/** Finds the migrations to lint: those the PR changed, or all of them; and every file of the checkout, read once on demand. */
async function collectMigrations(
  runtime: ActionRuntime,
  cwd: string,
  baseRef: string | undefined,
  all: boolean,
): Promise<{ files: string[]; scope: string; everyMigration: () => string[]; everyFile: () => string[] }> {
  const extra = (getListInput(runtime, 'migrations') ?? []).map(globToRegExp);
  const matches = (p: string): boolean => isMigrationPath(p) || extra.some((re) => re.test(p));
  let tree: string[] | undefined;
  const everyFile = (): string[] => (tree ??= listFiles(cwd));
  const everyMigration = (): string[] => everyFile().filter(matches).sort(migrationOrder);
  const found = { everyMigration, everyFile };
  if (all) return { files: everyMigration(), scope: 'all migrations', ...found };
  if (baseRef) return { files: (await changedFiles(baseRef, cwd)).filter(matches).sort(migrationOrder), scope: `migrations changed since ${baseRef}`, ...found };
  runtime.warning('no base-ref and no pull request: linting all migrations (set base-ref to lint only the changed ones)');
  return { files: everyMigration(), scope: 'all migrations', ...found };
}

/** The pre-deploy-checklist action: checklist with evidence, and the migration linter. */
export async function runPreDeployChecklistAction(runtime: ActionRuntime, deps: ChecklistDependencies = {}): Promise<ActionResult> {
  const cwd = deps.cwd ?? runtime.env.GITHUB_WORKSPACE ?? process.cwd();
  const { name: eventName, payload } = readEvent(runtime);
  const onPullRequest = payload.pull_request !== undefined;
  const pgVersion = getNumberInput(runtime, 'pg-version', { min: 9, max: 30, integer: true }) ?? DEFAULT_PG_VERSION;
  const all = getBooleanInput(runtime, 'all-migrations', false);
  const wantComment = getBooleanInput(runtime, 'comment', onPullRequest);
  const baseRef = getOptionalInput(runtime, 'base-ref') ?? payload.pull_request?.base?.sha;
  const plan = readPlanEvidence(runtime, cwd);
  const items = resolveChecklist(getOptionalInput(runtime, 'config'), plan.ok ? plan.plan.checklist : undefined);
  const { body, source } = readBody(runtime, payload);

  const strictContract = getBooleanInput(runtime, 'strict-contract', false);
  const { files, scope, everyMigration, everyFile } = await collectMigrations(runtime, cwd, baseRef, all);
  const read = (file: string) => readMigrationSource(file, readFileSync(join(cwd, file), 'utf8'), (p) => existsSync(join(cwd, p)));
  const sources = files.map(read);
  const lint: LintReport = await runtime.group(`lint ${scope}: ${sources.filter((s) => !s.isDown).length} file(s)`, async () => {
    const report = await lintMigrations(sources, { pgVersion, oneChange: !all, repository: () => (all ? sources : everyMigration().map(read)) });
    for (const f of report.files) runtime.info(f);
    // What the migrations drop or rename, looked up in the application code of this checkout.
    const removals = report.removals ?? [];
    if (removals.some((r) => !r.acknowledged)) {
      const index = indexApplicationCode(cwd, everyFile());
      runtime.info(`application code: ${index.files} source file(s) searched for ${removals.length} dropped or renamed name(s)`);
      report.findings.push(...codeReferenceFindings(removals, index, { strict: strictContract }));
    }
    return report;
  });
  for (const f of lint.findings) {
    const target = { file: f.file, line: f.line, title: `rollgate: ${f.rule}` };
    if (f.severity === 'error') runtime.error(f.message, target);
    else runtime.warning(f.message, target);
  }

  const found = readTaskItems(body);
  runtime.info(`checklist read from ${source}: ${found.size} marked item(s)`);
  const results: ItemResult[] = evaluateChecklist(items, found, {
    plan,
    migrationsChanged: lint.files.length > 0,
    lint,
  });
  for (const r of results) if (!r.passed) runtime.error(`checklist item ${r.id}: ${r.state}: ${r.reason}`);

  const lintErrors = lint.findings.filter((f) => f.severity === 'error').length;
  // The release policy deploy-canary will apply: a plan too weak for the PR's risk class fails here first.
  const policy = plan.ok ? await reviewReleasePolicy(plan.plan, { cwd, baseRef, irreversible: lint.irreversible, now: Date.now() }) : undefined;
  const passed = results.every((r) => r.passed) && lintErrors === 0 && !policy?.refused.length;
  runtime.setOutput('result', passed ? 'pass' : 'fail');
  runtime.setOutput('findings', JSON.stringify(lint.findings.map(({ file, line, rule, severity, message }) => ({ file, line, rule, severity, message }))));
  runtime.setOutput('items', JSON.stringify(results.map(({ id, state, reason }) => ({ id, state, reason }))));
  runtime.setOutput('irreversible', String(lint.irreversible));
  const report = [renderChecklistReport(passed, results, lint), policy?.markdown].filter(Boolean).join('\n\n');
  runtime.appendSummary(report);

  if (wantComment) await postComment(runtime, deps, payload, eventName, report);

  const failing = results.filter((r) => !r.passed).map((r) => r.id);
  const why = [
    failing.length ? `checklist item(s) not satisfied: ${failing.join(', ')}` : '',
    lintErrors ? `${lintErrors} migration error(s)` : '',
    policy?.refused.length ? `release policy: ${policy.refused.map((f) => f.rule).join(', ')}` : '',
  ]
    .filter(Boolean)
    .join('; ');
  return passed ? { ok: true } : { ok: false, failure: `pre-deploy checklist failed: ${why}` };
}

// The comment is a courtesy copy of the summary: failing to write it is a warning, never a
// different check result.
async function postComment(runtime: ActionRuntime, deps: ChecklistDependencies, payload: PullRequestEvent, eventName: string | undefined, report: string): Promise<void> {
  const token = getOptionalInput(runtime, 'github-token') ?? runtime.env.GITHUB_TOKEN;
  const number = payload.pull_request?.number ?? payload.number;
  const [owner, repo] = (runtime.env.GITHUB_REPOSITORY ?? '').split('/');
  if (!token || !number || !owner || !repo) {
    runtime.warning(`PR comment skipped: needs github-token, GITHUB_REPOSITORY and a pull request event (event: ${eventName ?? 'none'})`);
    return;
  }
  runtime.setSecret(token);
  const pr = { owner, repo, number, baseUrl: runtime.env.GITHUB_API_URL ?? 'https://api.github.com' };
  try {
    const comments = (deps.comments ?? octokitComments)(token, pr);
    const { action, id } = await upsertChecklistComment(comments, report);
    runtime.info(`PR comment ${id} ${action}`);
  } catch (err) {
    if (!isUserError(err)) throw err;
    runtime.warning(`PR comment not written: ${describeError(err)}`);
  }
}
