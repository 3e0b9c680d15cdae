import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import { runStep } from '../../harness/action-step.js';
import { tempDir } from '../../harness/process.js';
import { runPreDeployChecklistAction } from '../../src/core/rollout/pre-deploy-checklist.js';
import { LedgerDeploymentRecords } from '../../src/core/github/ledger.js';
import { findReleaseChanges } from '../../src/core/policy/changes.js';
import { MemoryRuntime } from '../../src/core/runtime.js';

// A real git repository: the PR's changed paths come from `git diff base...HEAD`, as on a runner.

describe('pre-deploy-checklist reports the release policy on the pull request', () => {
  let repo: ReturnType<typeof tempDir>;
  let base: string;
  const git = (...args: string[]): string => {
    const r = spawnSync('git', args, { cwd: repo.path, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(repo.path, path)), { recursive: true });
    writeFileSync(join(repo.path, path), text);
  };
  const commit = () => {
    git('add', '-A');
    git('commit', '-q', '-m', 'change');
    return git('rev-parse', 'HEAD');
  };
  const body = ['- [x] Rollback plan: https://wiki.example.com/rollback', '- [x] Dashboards: https://grafana.example.com/d/orders', '- [x] Feature flag: n/a'].join('\n');

  beforeAll(() => {
    repo = tempDir('rollgate-policy-pr-');
    git('init', '-q', '-b', 'main');
    git('config', 'user.email', 'dev@example.com');
    git('config', 'user.name', 'dev');
    write(
      '.github/rollout.yml',
      stringify({
        service: 'orders',
        environment: 'production',
        steps: [5, 50, 100],
        analysis: { bake: '5m', checks: [{ name: 'errors', query: 'x{track="{{track}}"}', max: 0.01 }] },
        policy: {
          windows: { timeZone: 'Europe/Berlin', allow: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], from: '00:00', to: '24:00' }] },
          risk: { rules: [{ class: 'high', paths: ['src/payments/**'] }], require: { high: { judge: 'mann-whitney', minBake: '15m' } } },
        },
      }),
    );
    write('src/payments/card.ts', 'export const v = 1;\n');
    write('README.md', 'orders\n');
    base = commit();
  });
  afterAll(() => repo?.remove());

  const run = () => runStep('pre-deploy-checklist', (r) => runPreDeployChecklistAction(r, { cwd: repo.path }), { 'base-ref': base, body, comment: 'false' }, {});

  it('fails a PR that touches payments while the plan is too weak for a high-risk release, saying what is missing', async () => {
    write('src/payments/card.ts', 'export const v = 2;\n');
    commit();
    const { result, rt } = await run();
    expect(result.ok).toBe(false);
    expect(result.failure).toContain('release policy: policy.risk.require.high.judge, policy.risk.require.high.minBake');
    expect(rt.summary).toContain('### release policy (checked again by deploy-canary): 🛑 refused');
    expect(rt.summary).toContain('Risk class: **high** — policy.risk.rules[0] (high): 1 changed path(s) match src/payments/** (e.g. src/payments/card.ts)');
    expect(rt.summary).toContain(
      '| policy.risk.require.high.minBake | 🛑 refuse | analysis.bake: 5m | a high-risk release needs a bake of at least 15m at the first step | set analysis.bake: 15m or longer in the plan |',
    );
    git('reset', '-q', '--hard', base);
  });

  it('says nothing against a PR that only changes the README', async () => {
    write('README.md', 'orders, the service\n');
    commit();
    const { rt, result } = await run();
    expect(result.failure ?? '').not.toContain('release policy');
    expect(rt.summary).toContain('### release policy (checked again by deploy-canary): ✅ allowed');
    expect(rt.summary).toContain('Risk class: **low**');
    git('reset', '-q', '--hard', base);
  });

  it('at deploy time, diffs the ref being deployed against the last good deployment from the records', async () => {
    const ledgerDir = tempDir('rollgate-policy-ledger-');
    const ledger = join(ledgerDir.path, 'ledger.json');
    const records = new LedgerDeploymentRecords(ledger);
    const inputs = (ref: string) => new MemoryRuntime({ ref, records: 'ledger', ledger });
    write('src/payments/card.ts', 'export const v = 3;\n');
    write('db/migrations/002_add.sql', 'ALTER TABLE t ADD COLUMN c int;\n');
    const head = commit();
    // Nothing good on record yet: the changes are unknown, so the release counts as high risk.
    const unknown = await findReleaseChanges(inputs(head), { environment: 'production', cwd: repo.path, irreversible: false });
    expect(unknown).toEqual({ source: `no successful deployment of production is recorded in ${ledger} to compare with`, migrations: 'none' });
    const good = await records.create({ environment: 'production', ref: base, payload: { version: 'v1', strategy: 'canary' } });
    await records.setStatus(good.id, { state: 'success' });
    const failed = await records.create({ environment: 'production', ref: 'f'.repeat(40), payload: { version: 'v1.1', strategy: 'canary' } });
    await records.setStatus(failed.id, { state: 'failure' });
    const changes = await findReleaseChanges(inputs(head), { environment: 'production', cwd: repo.path, irreversible: false });
    expect(changes.paths?.sort()).toEqual(['db/migrations/002_add.sql', 'src/payments/card.ts']);
    expect(changes.migrations).toBe('any');
    expect(changes.source).toBe(`git diff ${base.slice(0, 12)}..${head.slice(0, 12)} (last good deployment to this one)`);
    // An explicit list wins, and an irreversible release is a contract migration whatever the paths say.
    const listed = await findReleaseChanges(new MemoryRuntime({ 'changed-files': 'README.md' }), { environment: 'production', cwd: repo.path, irreversible: true });
    expect(listed).toEqual({ paths: ['README.md'], source: 'input changed-files', migrations: 'contract' });
    git('reset', '-q', '--hard', base);
    ledgerDir.remove();
  });
});
