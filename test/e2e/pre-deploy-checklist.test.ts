import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tempDir } from '../../harness/process.js';
import { COMMENT_MARKER } from '../../src/core/checklist/comment.js';
import { FAKE_REPOSITORY, startFakeGitHub, type FakeGitHub } from './pre-deploy-checklist-github.js';

// The bundled action, run the way the runner runs it: node dist/…/index.js with INPUT_* variables,
// GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files, from the checked-out repository as working directory.
const ROOT = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '../..');
const BUNDLE = join(ROOT, 'dist/pre-deploy-checklist/index.js');
const CLI = join(ROOT, 'bin/rollgate.js');
const BODIES = join(ROOT, 'test/fixtures/pr-bodies');

const PLAN = `service: orders
environment: production
analysis:
  checks:
    - { name: error-rate, query: 'sum(rate(errors{track="{{track}}"}[{{window}}]))', max: 0.05 }
steps: [5, 25, 100]
flags:
  provider: unleash
  url: \${UNLEASH_URL}
  token: \${UNLEASH_TOKEN}
  killSwitches: [new-checkout]
`;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
}

function readOutputs(file: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  const text = readFileSync(file, 'utf8');
  const re = /^([\w-]+)<<(\S+)\n([\s\S]*?)\n\2$/gm;
  for (const m of text.matchAll(re)) outputs[m[1] as string] = m[3] as string;
  return outputs;
}

describe('pre-deploy-checklist, bundled', () => {
  let repo: ReturnType<typeof tempDir>;
  let github: FakeGitHub;
  let baseSha: string;

  const git = (...args: string[]): string => {
    const r = spawnSync('git', args, { cwd: repo.path, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };
  const write = (path: string, text: string): void => {
    mkdirSync(dirname(join(repo.path, path)), { recursive: true });
    writeFileSync(join(repo.path, path), text);
  };
  const commit = (message: string): string => {
    git('add', '-A');
    git('commit', '-q', '-m', message);
    return git('rev-parse', 'HEAD');
  };

  // Asynchronous on purpose: the fake GitHub API answers from this same process.
  async function run(inputs: Record<string, string>, extraEnv: Record<string, string> = {}, argv: string[] = [BUNDLE]): Promise<Run> {
    const outDir = tempDir('rollgate-e2e-out-');
    const outputFile = join(outDir.path, 'output');
    const summaryFile = join(outDir.path, 'summary');
    writeFileSync(outputFile, '');
    writeFileSync(summaryFile, '');
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      GITHUB_OUTPUT: outputFile,
      GITHUB_STEP_SUMMARY: summaryFile,
      GITHUB_ACTIONS: 'true',
      ...extraEnv,
    };
    for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.toUpperCase()}`] = value;
    const r = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, argv, { cwd: repo.path, env, timeout: 60_000 });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (status) => resolve({ status, stdout, stderr }));
    });
    const result = { status: r.status, stdout: r.stdout, stderr: r.stderr, outputs: readOutputs(outputFile), summary: readFileSync(summaryFile, 'utf8') };
    outDir.remove();
    return result;
  }

  function pullRequestEvent(body: string): Record<string, string> {
    const file = join(repo.path, '..', `event-${Date.now()}-${Math.random()}.json`);
    writeFileSync(file, JSON.stringify({ action: 'synchronize', number: 7, pull_request: { number: 7, body, base: { sha: baseSha } } }));
    return { GITHUB_EVENT_NAME: 'pull_request', GITHUB_EVENT_PATH: file, GITHUB_REPOSITORY: FAKE_REPOSITORY, GITHUB_API_URL: github.url };
  }

  beforeAll(async () => {
    repo = tempDir('rollgate-e2e-repo-');
    mkdirSync(join(repo.path, 'work'));
    repo = { path: join(repo.path, 'work'), remove: repo.remove };
    git('init', '-q', '-b', 'main');
    git('config', 'user.email', 'dev@example.com');
    git('config', 'user.name', 'dev');
    write('.github/rollout.yml', PLAN);
    // Already shipped long ago: only the PR's own migrations are judged.
    write('db/migrations/000_init.sql', 'CREATE TABLE users (id bigint PRIMARY KEY, email text, legacy text);\n');
    write('db/migrations/001_drop_legacy.sql', 'ALTER TABLE users DROP COLUMN legacy;\n');
    baseSha = commit('base');
    github = await startFakeGitHub('ghs_e2etoken', 7, ['looks good to me']);
  });

  afterAll(async () => {
    await github?.stop();
    repo?.remove();
  });

  test('fails a PR whose migration blocks writes, annotating the line, and comments once', async () => {
    write('db/migrations/002_email_index.sql', "SET lock_timeout = '2s'; SET statement_timeout = '1min';\nCREATE INDEX users_email_idx ON users (email);\n");
    commit('add index');
    const body = readFileSync(join(BODIES, 'complete.md'), 'utf8');
    const r = await run({ 'github-token': 'ghs_e2etoken' }, pullRequestEvent(body));
    expect(r.status).toBe(1);
    expect(r.outputs.result).toBe('fail');
    const findings = JSON.parse(r.outputs.findings ?? '[]') as { file: string; line: number; rule: string }[];
    expect(findings.map((f) => [f.file, f.line, f.rule])).toEqual([['db/migrations/002_email_index.sql', 2, 'index-not-concurrent']]);
    expect(r.stdout).toMatch(/^::error title=rollgate%3A index-not-concurrent,file=db\/migrations\/002_email_index\.sql,line=2::creates index users_email_idx/m);
    const items = JSON.parse(r.outputs.items ?? '[]') as { id: string; state: string }[];
    expect(items.find((i) => i.id === 'db-compatible')?.state).toBe('contradicted');
    expect(r.summary).toContain('❌ contradicted by evidence');
    // The token appears only in the runner's own masking command.
    expect(r.stdout.split('\n').filter((l) => l.includes('ghs_e2etoken'))).toEqual(['::add-mask::ghs_e2etoken']);
    expect(github.comments.filter((c) => c.body.includes(COMMENT_MARKER))).toHaveLength(1);
  });

  test('passes once the migration is fixed, updating the same comment', async () => {
    const before = github.comments.find((c) => c.body.includes(COMMENT_MARKER));
    write('db/migrations/002_email_index.sql', "SET lock_timeout = '2s'; SET statement_timeout = '1min';\nCREATE INDEX CONCURRENTLY users_email_idx ON users (email);\n");
    commit('concurrently');
    const r = await run({ 'github-token': 'ghs_e2etoken' }, pullRequestEvent(readFileSync(join(BODIES, 'complete.md'), 'utf8')));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.outputs).toMatchObject({ result: 'pass', findings: '[]', irreversible: 'false' });
    const ours = github.comments.filter((c) => c.body.includes(COMMENT_MARKER));
    expect(ours).toHaveLength(1);
    expect(ours[0]?.id).toBe(before?.id);
    expect(ours[0]?.body).toContain('✅ pass');
  });

  test('a contract migration marks the PR irreversible and needs the last safe rollback point', async () => {
    write(
      'db/migrations/003_drop_status.sql',
      "SET lock_timeout = '2s'; SET statement_timeout = '1min';\n-- rollgate: contract reason=\"v42 stopped reading users.email\"\nALTER TABLE users DROP COLUMN email;\n",
    );
    commit('contract');
    const body = readFileSync(join(BODIES, 'complete.md'), 'utf8');
    const without = await run({ comment: 'false', 'base-ref': baseSha, body });
    expect(without.outputs.irreversible).toBe('true');
    expect(without.outputs.result).toBe('fail');
    expect(JSON.parse(without.outputs.items ?? '[]')).toContainEqual(expect.objectContaining({ id: 'runbook', state: 'contradicted' }));
    const withPoint = await run({
      comment: 'false',
      'base-ref': baseSha,
      body: body.replace('(owner: @payments-oncall)', '(owner: @payments-oncall); last safe rollback point: v41'),
    });
    expect(withPoint.outputs).toMatchObject({ result: 'pass', irreversible: 'true' });
  });

  test('a drop that application code still names is a warning listing file and line, and fails with strict-contract', async () => {
    write('src/orders/report.ts', "export const totals = 'SELECT id, note FROM orders';\n");
    write(
      'db/migrations/004_drop_note.sql',
      "SET lock_timeout = '2s'; SET statement_timeout = '1min';\n-- rollgate: allow drop-column reason=\"notes moved to the CRM\"\nALTER TABLE orders DROP COLUMN note;\n",
    );
    commit('drop note');
    const body = readFileSync(join(BODIES, 'complete.md'), 'utf8').replace('(owner: @payments-oncall)', '(owner: @payments-oncall); last safe rollback point: v41');
    const warned = await run({ comment: 'false', 'base-ref': baseSha, body });
    const findings = JSON.parse(warned.outputs.findings ?? '[]') as { file: string; line: number; rule: string; severity: string; message: string }[];
    expect(findings.map((f) => [f.file, f.line, f.rule, f.severity])).toEqual([['db/migrations/004_drop_note.sql', 3, 'code-still-references', 'warning']]);
    expect(findings[0]?.message).toContain('src/orders/report.ts:1');
    expect(warned.outputs.result).toBe('pass');
    expect(warned.stdout).toMatch(/^::warning title=rollgate%3A code-still-references,file=db\/migrations\/004_drop_note\.sql,line=3::/m);
    const strict = await run({ comment: 'false', 'base-ref': baseSha, body, 'strict-contract': 'true' });
    expect(strict.status).toBe(1);
    expect(strict.outputs.result).toBe('fail');
    expect(JSON.parse(strict.outputs.findings ?? '[]')).toEqual([expect.objectContaining({ rule: 'code-still-references', severity: 'error' })]);
    // Once the code stops naming the column, the same migration passes even when strict.
    write('src/orders/report.ts', "export const totals = 'SELECT id FROM orders';\n");
    commit('stop reading note');
    const clean = await run({ comment: 'false', 'base-ref': baseSha, body, 'strict-contract': 'true' });
    expect(clean.outputs).toMatchObject({ result: 'pass', findings: '[]' });
  });

  test('the CLI lints every migration with --all-migrations, from a laptop without GitHub', async () => {
    const r = await run({}, {}, [CLI, 'pre-deploy-checklist', '--body-file', join(BODIES, 'complete.md'), '--all-migrations', 'true']);
    expect(r.status).toBe(1);
    // The old, already-shipped drop is found now that every migration is linted.
    const findings = JSON.parse(r.outputs.findings ?? '[]') as { file: string; rule: string }[];
    expect(findings).toContainEqual(expect.objectContaining({ file: 'db/migrations/001_drop_legacy.sql', rule: 'drop-column' }));
  });

  test('bad inputs fail with a message naming the input, never a stack trace', async () => {
    const r = await run({ 'pg-version': 'fifteen', body: 'x' });
    expect(r.status).toBe(1);
    expect(r.stdout + r.stderr).toContain('input pg-version: expected a whole number from 9 to 30, got "fifteen"');
    expect(r.stdout + r.stderr).not.toMatch(/\n\s+at /);
    const missing = await run({ 'body-file': 'no/such/pr.md' });
    expect(missing.stdout + missing.stderr).toContain('input body-file: cannot read no/such/pr.md: ENOENT');
    const badRef = await run({ 'base-ref': 'no-such-ref', body: 'x' });
    expect(badRef.status).toBe(1);
    expect(badRef.stdout + badRef.stderr).toContain('git: cannot list the files changed since no-such-ref');
  });
});
