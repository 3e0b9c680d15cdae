import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock } from '../../src/core/clock.js';
import { PlanError } from '../../src/core/errors.js';
import { disableKillSwitches, verifyKillSwitchesExist } from '../../src/core/flags/index.js';
import { validatePlanObject } from '../../src/core/plan/load.js';
import { MemoryRuntime } from '../../src/core/runtime.js';
import { tempDir } from '../../harness/process.js';

// A real git repository with a bare remote: the commit must land on the remote.

const FLAGS = {
  $schema: 'https://flagd.dev/schema/v0/flags.json',
  flags: {
    'new-checkout-flow': {
      state: 'ENABLED',
      variants: { on: true, off: false },
      defaultVariant: 'on',
      targeting: { if: [{ '==': [{ var: 'tier' }, 'beta'] }, 'on', 'off'] },
    },
    'search-v2': { state: 'ENABLED', variants: { enabled: true, disabled: false }, defaultVariant: 'enabled' },
    'banner-colour': { state: 'ENABLED', variants: { red: 'red', blue: 'blue' }, defaultVariant: 'red' },
    unrelated: { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'on' },
  },
};

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' },
  }).trim();
}

describe('flagd-file kill switches', () => {
  let dir: { path: string; remove: () => void };
  let remote: string;
  let work: string;

  beforeEach(() => {
    dir = tempDir('rollgate-flagd-');
    remote = join(dir.path, 'remote.git');
    work = join(dir.path, 'work');
    git(dir.path, 'init', '--quiet', '--bare', '--initial-branch=main', remote);
    git(dir.path, 'clone', '--quiet', remote, work);
    git(work, 'checkout', '--quiet', '-B', 'main');
    mkdirSync(join(work, 'flags'));
    writeFileSync(join(work, 'flags/flags.json'), `${JSON.stringify(FLAGS, null, 2)}\n`);
    writeFileSync(join(work, 'README'), 'app\n');
    git(work, 'add', '.');
    git(work, 'commit', '--quiet', '-m', 'initial');
    git(work, 'push', '--quiet', 'origin', 'main');
  });
  afterEach(() => dir.remove());

  const plan = (killSwitches: string[], extra: Record<string, unknown> = {}) =>
    validatePlanObject({ service: 'orders', environment: 'production', flags: { provider: 'flagd-file', file: 'flags/flags.json', killSwitches, ...extra } }, 'rollout.yml').plan;

  test('turns flags off in the file, commits with a message naming the rollback, and the commit lands on the remote', async () => {
    // Someone else's unfinished work in the checkout must not be swept into the flag commit.
    writeFileSync(join(work, 'README'), 'half-edited\n');
    git(work, 'add', 'README');
    const runtime = new MemoryRuntime();
    const results = await disableKillSwitches(plan(['new-checkout-flow', 'search-v2', 'banner-colour']), {
      runtime,
      reason: 'error-rate 12% > 5%',
      clock: systemClock,
      cwd: work,
    });
    expect(results.map((r) => [r.flag, r.outcome])).toEqual([
      ['new-checkout-flow', 'off'],
      ['search-v2', 'off'],
      ['banner-colour', 'off'],
    ]);

    const onRemote = JSON.parse(git(dir.path, '--git-dir', remote, 'show', 'main:flags/flags.json')) as typeof FLAGS;
    expect(onRemote.flags['new-checkout-flow']).toEqual({ state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'off' });
    expect(onRemote.flags['search-v2'].defaultVariant).toBe('disabled');
    expect(onRemote.flags['banner-colour']).toEqual({ state: 'DISABLED', variants: { red: 'red', blue: 'blue' }, defaultVariant: 'red' });
    expect(onRemote.flags.unrelated).toEqual(FLAGS.flags.unrelated);

    const messages = git(dir.path, '--git-dir', remote, 'log', '--format=%B%x00', 'main');
    expect(messages).toContain('rollback(orders): turn off kill switch new-checkout-flow');
    expect(messages).toContain('Rollback of orders in production: error-rate 12% > 5%');
    const changed = git(dir.path, '--git-dir', remote, 'show', '--name-only', '--format=', 'main');
    expect(changed).toBe('flags/flags.json');
    expect(git(dir.path, '--git-dir', remote, 'show', 'main:README')).toBe('app');
    // The file keeps its layout: only the changed lines differ.
    expect(readFileSync(join(work, 'flags/flags.json'), 'utf8')).toMatch(/^\{\n {2}"\$schema"/);
  });

  test('is idempotent: a flag already off makes no new commit', async () => {
    const runtime = new MemoryRuntime();
    await disableKillSwitches(plan(['search-v2']), { runtime, reason: 'first', clock: systemClock, cwd: work });
    const head = git(dir.path, '--git-dir', remote, 'rev-parse', 'main');
    const again = await disableKillSwitches(plan(['search-v2']), { runtime, reason: 'second', clock: systemClock, cwd: work });
    expect(again[0]?.outcome).toBe('off');
    expect(git(dir.path, '--git-dir', remote, 'rev-parse', 'main')).toBe(head);
  });

  test('replays the flag commit on top when the remote moved since checkout', async () => {
    const other = join(dir.path, 'other');
    git(dir.path, 'clone', '--quiet', remote, other);
    writeFileSync(join(other, 'CHANGELOG'), 'a change pushed meanwhile\n');
    git(other, 'add', 'CHANGELOG');
    git(other, 'commit', '--quiet', '-m', 'meanwhile');
    git(other, 'push', '--quiet', 'origin', 'main');

    const results = await disableKillSwitches(plan(['new-checkout-flow']), { runtime: new MemoryRuntime(), reason: 'r', clock: systemClock, cwd: work });
    expect(results[0]?.outcome).toBe('off');
    const log = git(dir.path, '--git-dir', remote, 'log', '--format=%s', 'main').split('\n');
    expect(log.slice(0, 3)).toEqual(['rollback(orders): turn off kill switch new-checkout-flow', 'meanwhile', 'initial']);
  });

  test('reports a push that cannot land as failed on every try, without throwing', async () => {
    git(work, 'remote', 'set-url', 'origin', join(dir.path, 'gone.git'));
    // The second try finds the file already off locally: it must still not claim success.
    const results = await disableKillSwitches(plan(['new-checkout-flow']), { runtime: new MemoryRuntime(), reason: 'r', clock: systemClock, cwd: work, attempts: 2 });
    expect(results[0]?.outcome).toBe('failed');
    expect(results[0]?.detail).toMatch(/git (push|pull) .*failed/);
  });

  test('a flag left off but unpushed by an earlier run is pushed by the next one', async () => {
    const remoteUrl = git(work, 'remote', 'get-url', 'origin');
    git(work, 'remote', 'set-url', 'origin', join(dir.path, 'gone.git'));
    const first = await disableKillSwitches(plan(['new-checkout-flow']), { runtime: new MemoryRuntime(), reason: 'r', clock: systemClock, cwd: work, attempts: 1 });
    expect(first[0]?.outcome).toBe('failed');
    git(work, 'remote', 'set-url', 'origin', remoteUrl);
    const second = await disableKillSwitches(plan(['new-checkout-flow']), { runtime: new MemoryRuntime(), reason: 'r', clock: systemClock, cwd: work, attempts: 1 });
    expect(second[0]?.outcome).toBe('off');
    const onRemote = JSON.parse(git(dir.path, '--git-dir', remote, 'show', 'main:flags/flags.json')) as typeof FLAGS;
    expect(onRemote.flags['new-checkout-flow'].defaultVariant).toBe('off');
  });

  test('with push: false commits locally only', async () => {
    const before = git(dir.path, '--git-dir', remote, 'rev-parse', 'main');
    const results = await disableKillSwitches(plan(['unrelated'], { push: false }), { runtime: new MemoryRuntime(), reason: 'r', clock: systemClock, cwd: work });
    expect(results[0]?.outcome).toBe('off');
    expect(git(work, 'log', '-1', '--format=%s')).toBe('rollback(orders): turn off kill switch unrelated');
    expect(git(dir.path, '--git-dir', remote, 'rev-parse', 'main')).toBe(before);
  });

  test('refuses an unknown flag before the rollout', async () => {
    const verify = verifyKillSwitchesExist(plan(['new-checkout-flow', 'nope']), { runtime: new MemoryRuntime(), clock: systemClock, cwd: work, file: 'rollout.yml' });
    await expect(verify).rejects.toThrow(PlanError);
    await expect(verify).rejects.toThrow(/flags\.killSwitches\[1\]: flag "nope" does not exist in flag file flags\/flags\.json/);
  });
});
