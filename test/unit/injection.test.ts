import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tempDir } from '../../harness/process.js';

// pre-deploy-checklist runs on untrusted pull requests. Everything an author controls (the PR body,
// the branch name, migration file names and contents) must reach no shell. Each hostile string
// below would create a file under `canaries/` if any shell ever expanded it.
const ROOT = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '../..');
const BUNDLE = join(ROOT, 'dist/pre-deploy-checklist/index.js');

describe('hostile PR bodies and branch names never reach a shell (pre-deploy-checklist, bundled)', () => {
  const repo = tempDir('rollgate-injection-');
  const canaries = join(repo.path, 'canaries');
  // No spaces: ${IFS} is how an attacker writes one where a shell would split words.
  const touch = (name: string) => `touch\${IFS}${join(canaries, name)}`;
  const hostile = [
    `$(${touch('dollar-paren')})`,
    `\`${touch('backtick')}\``,
    `\${{ github.token }}$(${touch('after-expression')})`,
    `a\n$(${touch('after-newline')})\n::set-output name=verdict::pass`,
    `"; ${touch('quote-break')}; echo "`,
    `'; ${touch('single-quote-break')}; echo '`,
    `| ${touch('pipe')}`,
    `&& ${touch('and')}`,
  ];
  const branch = `feat/$(${touch('branch')})\`${touch('branch-backtick')}\``;

  const git = (...args: string[]): string => {
    const r = spawnSync('git', args, { cwd: repo.path, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };
  const write = (path: string, text: string): void => {
    mkdirSync(dirname(join(repo.path, path)), { recursive: true });
    writeFileSync(join(repo.path, path), text);
  };

  beforeAll(() => {
    mkdirSync(canaries);
    git('init', '-q', '-b', 'main');
    git('config', 'user.email', 'ci@example.com');
    git('config', 'user.name', 'ci');
    write('README.md', 'base\n');
    git('add', '-A');
    git('commit', '-q', '-m', 'base');
    // The attacker's branch: its name, a migration file name and the SQL in it all carry payloads.
    git('branch', branch);
    git('checkout', '-q', branch);
    write(`db/migrations/20240101000000_$(${touch('file-name')}).sql`, `-- ${hostile.join('\n-- ')}\nALTER TABLE users ADD COLUMN note text;\n`);
    git('add', '-A');
    git('commit', '-q', '-m', `$(${touch('commit-message')})`);
  });
  afterAll(() => repo.remove());

  function runBundle(env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
    const outputFile = join(repo.path, '.out');
    const summaryFile = join(repo.path, '.summary');
    writeFileSync(outputFile, '');
    writeFileSync(summaryFile, '');
    const base: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('GITHUB_') && !k.startsWith('INPUT_')) base[k] = v;
    return new Promise((done) => {
      const child = spawn(process.execPath, [BUNDLE], {
        cwd: repo.path,
        env: { ...base, GITHUB_ACTIONS: 'true', GITHUB_OUTPUT: outputFile, GITHUB_STEP_SUMMARY: summaryFile, GITHUB_WORKSPACE: repo.path, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr.on('data', (c: Buffer) => (output += c.toString()));
      child.on('close', (code) => done({ code, output }));
    });
  }

  it('runs the whole check on a pull_request event carrying the payloads, and no canary file appears', async () => {
    const body = ['## Checklist', ...hostile.map((h) => `- [x] ${h} <!-- rollgate:feature-flag -->`), `- [ ] ${hostile[0]} <!-- rollgate:runbook -->`].join('\n');
    const event = join(repo.path, '.event.json');
    writeFileSync(event, JSON.stringify({ number: 7, pull_request: { number: 7, body, head: { ref: branch }, base: { sha: git('rev-parse', 'main'), ref: 'main' } } }));
    const run = await runBundle({ GITHUB_EVENT_NAME: 'pull_request', GITHUB_EVENT_PATH: event, GITHUB_HEAD_REF: branch, GITHUB_REF_NAME: branch, INPUT_COMMENT: 'false' });
    // The check ran to a verdict (it fails: the checklist is not complete), with no crash.
    expect(run.code).toBe(1);
    expect(run.output).not.toMatch(/internal error|\n\s+at /);
    // It did look at the attacker's migration, through git, with the hostile file name as plain data.
    expect(run.output).toMatch(/20240101000000_\$\(touch/);
    // A workflow command smuggled in on a new line must never start a line of the log, where the runner would obey it.
    expect(run.output.split('\n').filter((l) => l.startsWith('::set-output'))).toEqual([]);
    expect(readdirSync(canaries)).toEqual([]);
  });

  it('takes the branch name as base-ref and the body as an input, and still runs nothing', async () => {
    const run = await runBundle({ INPUT_BODY: hostile.join('\n'), 'INPUT_BASE-REF': 'main', 'INPUT_ALL-MIGRATIONS': 'false', GITHUB_HEAD_REF: branch });
    expect(run.output).not.toMatch(/internal error|\n\s+at /);
    const refRun = await runBundle({ INPUT_BODY: hostile.join('\n'), 'INPUT_BASE-REF': branch });
    expect(refRun.output).not.toMatch(/internal error|\n\s+at /);
    expect(readdirSync(canaries)).toEqual([]);
  });

  it('would have noticed: the same payload through a shell does create its canary file', () => {
    // Proves the canaries are live: without this, an empty directory could mean the payloads were wrong.
    spawnSync('/bin/sh', ['-c', `echo ${hostile[0]}`], { cwd: repo.path });
    expect(existsSync(join(canaries, 'dollar-paren'))).toBe(true);
  });
});
