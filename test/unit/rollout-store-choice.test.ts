import { homedir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../../src/core/errors.js';
import { FileRolloutStore } from '../../src/core/rollout/file-store.js';
import { GitHubRolloutStore } from '../../src/core/rollout/github-store.js';
import { chooseRolloutStore, openRolloutStore } from '../../src/core/rollout/stores.js';
import { MemoryRuntime } from '../../src/core/runtime.js';

const key = { service: 'orders', environment: 'production' };
const cwd = '/srv/checkout';
const onGitHub = { GITHUB_ACTIONS: 'true', GITHUB_TOKEN: 'ghs_0123456789abcdef', GITHUB_REPOSITORY: 'acme/orders', ROLLGATE_STATE_DIR: '/runner/tmp/rollgate' };

function inputError(fn: () => unknown): InputError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return err as InputError;
  }
  throw new Error('expected an InputError');
}

describe('choosing the rollout store', () => {
  it('uses a file under the state directory when there is no token', () => {
    expect(chooseRolloutStore(new MemoryRuntime({}, { ROLLGATE_STATE_DIR: '/var/rollgate' }), { cwd })).toMatchObject({ kind: 'file', dir: '/var/rollgate/store' });
    expect(chooseRolloutStore(new MemoryRuntime({}, {}), { cwd })).toMatchObject({ kind: 'file', dir: join(homedir(), '.rollgate', 'state', 'store') });
  });

  it('chooses GitHub when a token and a repository are known', () => {
    expect(chooseRolloutStore(new MemoryRuntime({}, onGitHub), { cwd })).toMatchObject({ kind: 'github', owner: 'acme', repo: 'orders', tokenInput: 'GITHUB_TOKEN' });
    expect(chooseRolloutStore(new MemoryRuntime({ 'github-token': 't0ken-from-input', repository: 'acme/billing' }, {}), { cwd })).toMatchObject({
      kind: 'github',
      repo: 'billing',
      tokenInput: 'github-token',
    });
    // A developer's token at a terminal does not say which repository: the file store then.
    expect(chooseRolloutStore(new MemoryRuntime({}, { GITHUB_TOKEN: 'ghp_x' }), { cwd })).toMatchObject({ kind: 'file' });
  });

  it('takes the input before ROLLGATE_STORE, and ROLLGATE_STORE before auto', () => {
    const env = { ...onGitHub, ROLLGATE_STORE: 'file:/mnt/env' };
    expect(chooseRolloutStore(new MemoryRuntime({ store: 'file:/mnt/input' }, env), { cwd })).toMatchObject({ kind: 'file', dir: '/mnt/input', from: 'store' });
    expect(chooseRolloutStore(new MemoryRuntime({}, env), { cwd })).toMatchObject({ kind: 'file', dir: '/mnt/env', from: 'ROLLGATE_STORE' });
    expect(chooseRolloutStore(new MemoryRuntime({ store: 'file' }, onGitHub), { cwd })).toMatchObject({ kind: 'file', dir: '/runner/tmp/rollgate/store' });
  });

  it('resolves a relative directory against the working directory, and ~ against home', () => {
    expect(chooseRolloutStore(new MemoryRuntime({ store: 'file:.rollgate/state' }), { cwd })).toMatchObject({ dir: '/srv/checkout/.rollgate/state' });
    expect(chooseRolloutStore(new MemoryRuntime({ store: 'file:~/rollouts' }), { cwd })).toMatchObject({ dir: join(homedir(), 'rollouts') });
  });

  it('names the input or variable a bad value came from', () => {
    expect(inputError(() => chooseRolloutStore(new MemoryRuntime({ store: 'redis' }), { cwd })).message).toBe(
      'input store: expected auto | github | file | file:<directory>, got "redis"',
    );
    expect(inputError(() => chooseRolloutStore(new MemoryRuntime({}, { ROLLGATE_STORE: 'file:' }), { cwd })).input).toBe('ROLLGATE_STORE');
    expect(inputError(() => chooseRolloutStore(new MemoryRuntime({ store: 'github' }, { GITHUB_REPOSITORY: 'acme/orders' }), { cwd })).input).toBe('github-token');
    expect(inputError(() => chooseRolloutStore(new MemoryRuntime({ store: 'github', 'github-token': 'tok3n', repository: 'orders' }), { cwd })).input).toBe('repository');
  });

  it('never prints the token', () => {
    const runtime = new MemoryRuntime({}, onGitHub);
    openRolloutStore(runtime, key, { cwd });
    expect(runtime.redact(`token ${onGitHub.GITHUB_TOKEN}`)).toBe('token ***');
  });
});

describe('opening the rollout store', () => {
  it('opens the record of the service and environment in the chosen directory', () => {
    const store = openRolloutStore(new MemoryRuntime({ store: 'file:/mnt/shared/rollgate' }), key, { cwd });
    expect(store).toBeInstanceOf(FileRolloutStore);
    expect(store.location).toBe('/mnt/shared/rollgate/orders/production.json');
  });

  it('warns on a hosted runner when the record would stay on the runner, and not when a directory was chosen', () => {
    const auto = new MemoryRuntime({}, { GITHUB_ACTIONS: 'true', ROLLGATE_STATE_DIR: '/runner/tmp/rollgate' });
    expect(openRolloutStore(auto, key, { cwd }).kind).toBe('file');
    expect(auto.logs.filter((l) => l.level === 'warning').map((l) => l.message)).toEqual([expect.stringContaining('does not outlive the job')]);

    const shared = new MemoryRuntime({ store: 'file:/mnt/shared' }, onGitHub);
    openRolloutStore(shared, key, { cwd });
    expect(shared.logs.filter((l) => l.level === 'warning')).toEqual([]);

    const selfHosted = new MemoryRuntime({}, { GITHUB_ACTIONS: 'true', RUNNER_ENVIRONMENT: 'self-hosted' });
    openRolloutStore(selfHosted, key, { cwd });
    expect(selfHosted.logs.filter((l) => l.level === 'warning')).toEqual([]);
  });

  it.each([
    ['auto', {}],
    ['store: github', { store: 'github' }],
  ])('opens the GitHub store with a token and a repository (%s), and does not warn', (_name, inputs) => {
    const runtime = new MemoryRuntime(inputs, onGitHub);
    const store = openRolloutStore(runtime, key, { cwd });
    expect(store).toBeInstanceOf(GitHubRolloutStore);
    expect(store.location).toBe('refs/rollgate/orders/production in acme/orders');
    expect(runtime.logs.filter((l) => l.level === 'warning')).toEqual([]);
  });

  it('names contents: write when store: github has no token', () => {
    const err = inputError(() => openRolloutStore(new MemoryRuntime({ store: 'github' }, { GITHUB_REPOSITORY: 'acme/orders' }), key, { cwd }));
    expect(err.input).toBe('github-token');
    expect(err.message).toContain('permissions: contents: write');
  });
});
