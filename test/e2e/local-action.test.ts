import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// GitHub's own local runner for JavaScript actions imports an entry and calls its exported run():
// every src/actions/<name>.ts must export one and must not run on import.
const ROOT = process.cwd();
const ACTIONS = ['build-and-tag', 'deploy-canary', 'metrics-gate', 'ramp', 'rollback', 'pre-deploy-checklist'];

describe('@github/local-action', () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'rollgate-local-action-'));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('runs metrics-gate from its TypeScript source and sees its outputs: an unreachable backend is an error verdict', () => {
    const env = join(work, '.env');
    writeFileSync(env, ['INPUT_PROMETHEUS-URL=http://127.0.0.1:1', 'INPUT_ERROR-RATE-THRESHOLD=1', 'INPUT_INTERVAL=200ms', 'INPUT_BAKE=1s', ''].join('\n'));
    const r = spawnSync(join(ROOT, 'node_modules/.bin/local-action'), ['run', 'actions/metrics-gate', '../../src/actions/metrics-gate.ts', env], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1' },
      timeout: 120_000,
    });
    const out = `${r.stdout}${r.stderr}`;
    expect(out).not.toContain('does not export a run() function');
    // local-action's table of the outputs it captured through @actions/core.
    expect(out).toMatch(/Action Outputs[\s\S]*'verdict'\s*│\s*'error'/);
    expect(out).toContain('connection refused');
  }, 150_000);

  it.each(ACTIONS)('%s exports run() and does nothing on import', async (name) => {
    const before = process.exitCode;
    const module = (await import(join(ROOT, 'src/actions', `${name}.ts`))) as { run?: unknown };
    expect(typeof module.run).toBe('function');
    expect(process.exitCode).toBe(before);
  });
});
