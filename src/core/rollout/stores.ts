import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { InputError } from '../errors.js';
import { CONTENTS_PERMISSION, createGitHubClient } from '../github/client.js';
import { githubAccess, repositoryParts } from '../github/factory.js';
import { getOptionalInput } from '../inputs.js';
import type { ActionRuntime } from '../runtime.js';
import { FileRolloutStore } from './file-store.js';
import { GitHubRolloutStore } from './github-store.js';
import { stateDirectory } from './rollout-state.js';
import type { RolloutStore } from './store.js';

/** The service and environment whose rollout record is opened. */
export interface RolloutKey {
  service: string;
  environment: string;
}

/** Where the rollout record lives, decided from the inputs before anything is opened. */
export type StoreChoice =
  | { kind: 'github'; owner: string; repo: string; token: string; tokenInput: string; explicit: boolean; from: string }
  | { kind: 'file'; dir: string; explicit: boolean; from: string };

/**
 * Decides where the rollout record lives. Precedence: the action input `store` (CLI `--store`),
 * else the environment variable ROLLGATE_STORE, else `auto`. Values:
 * - `auto`: the GitHub store when a token (input `github-token`, else GITHUB_TOKEN) and a
 *   repository (input `repository`, else GITHUB_REPOSITORY) are known, else `file`.
 * - `github`: the GitHub store (`refs/rollgate/<service>/<environment>`, needs `contents: write`);
 *   a missing token or repository is an error naming the input.
 * - `file`: `<ROLLGATE_STATE_DIR or ~/.rollgate/state>/store`. Runner-local: on GitHub-hosted
 *   runners it does not outlive the job.
 * - `file:<dir>`: that directory (relative to `cwd`, `~/` for the home directory), e.g. shared
 *   storage that every self-hosted runner mounts.
 * Errors name the input or variable the value came from.
 */
export function chooseRolloutStore(runtime: ActionRuntime, deps: { cwd: string }): StoreChoice {
  const fromInput = getOptionalInput(runtime, 'store');
  const fromEnv = runtime.env.ROLLGATE_STORE?.trim() || undefined;
  const from = fromInput !== undefined ? 'store' : fromEnv !== undefined ? 'ROLLGATE_STORE' : 'store';
  const value = fromInput ?? fromEnv ?? 'auto';
  const explicit = value !== 'auto';
  const defaultFile = (): StoreChoice => ({ kind: 'file', dir: join(stateDirectory(runtime.env), 'store'), explicit, from });

  if (value.toLowerCase().startsWith('file:')) {
    const raw = value.slice('file:'.length).trim();
    if (!raw) throw new InputError(from, 'file: needs a directory, e.g. file:/mnt/shared/rollgate');
    const home = raw === '~' || raw.startsWith('~/') ? join(homedir(), raw.slice(1)) : raw;
    return { kind: 'file', dir: isAbsolute(home) ? home : resolve(deps.cwd, home), explicit: true, from };
  }
  const mode = value.toLowerCase();
  switch (mode) {
    case 'file':
      return defaultFile();
    case 'auto':
    case 'github': {
      const { token, tokenInput, repository } = githubAccess(runtime);
      if (mode === 'auto' && (!token || !repository)) return defaultFile();
      if (!token) throw new InputError('github-token', `is required with ${from}: github (pass \${{ github.token }} and grant \`permissions: ${CONTENTS_PERMISSION}\`)`);
      return { kind: 'github', ...repositoryParts(repository), token, tokenInput, explicit, from };
    }
    default:
      throw new InputError(from, `expected auto | github | file | file:<directory>, got ${JSON.stringify(value)}`);
  }
}

/**
 * Opens the rollout record of `key` in the store the inputs choose (see `chooseRolloutStore`).
 * Every action that moves traffic calls this, so all jobs of a workflow change one record.
 * Warns when the record lands in a runner-local file on a GitHub runner without being asked to.
 * The GitHub store calls GITHUB_API_URL (GitHub Enterprise) when it is set.
 */
export function openRolloutStore(runtime: ActionRuntime, key: RolloutKey, deps: { cwd: string }): RolloutStore {
  const choice = chooseRolloutStore(runtime, deps);
  switch (choice.kind) {
    case 'file':
      if (!choice.explicit && onHostedRunner(runtime.env)) warnRunnerLocal(runtime, choice.dir);
      return new FileRolloutStore(choice.dir, key);
    case 'github': {
      const octokit = createGitHubClient({
        token: choice.token,
        tokenInput: choice.tokenInput,
        permission: CONTENTS_PERMISSION,
        baseUrl: runtime.env.GITHUB_API_URL,
        log: (m) => runtime.info(m),
      });
      return new GitHubRolloutStore(octokit, { owner: choice.owner, repo: choice.repo }, key);
    }
  }
}

/** A GitHub runner that is not known to be self-hosted: its disk is gone after the job. */
function onHostedRunner(env: NodeJS.ProcessEnv): boolean {
  return env.GITHUB_ACTIONS === 'true' && env.RUNNER_ENVIRONMENT !== 'self-hosted';
}

function warnRunnerLocal(runtime: ActionRuntime, dir: string): void {
  runtime.warning(
    `the rollout record is kept in ${dir} on this runner; on GitHub-hosted runners it does not outlive the job, ` +
      'so a later job (ramp, rollback) will not see this rollout. Set the input `store` to file:<directory> on storage every runner shares.',
  );
}
