import { isAbsolute, join } from 'node:path';
import { InputError } from '../errors.js';
import { getOptionalInput } from '../inputs.js';
import type { ActionRuntime } from '../runtime.js';
import { createGitHubClient, type GitHubClientOptions } from './client.js';
import { GitHubDeploymentRecords } from './github-records.js';
import { DEFAULT_LEDGER_FILE, LedgerDeploymentRecords } from './ledger.js';
import type { DeploymentRecords } from './records.js';

/** Where records go: decided by the `records` input, or by whether a token is present. */
export type RecordsMode = 'auto' | 'github' | 'ledger' | 'none';

/** The run's page on GitHub, from the runner's environment; undefined outside a run. */
export function runUrlFrom(env: NodeJS.ProcessEnv): string | undefined {
  const { GITHUB_SERVER_URL: server, GITHUB_REPOSITORY: repo, GITHUB_RUN_ID: run } = env;
  return server && repo && run ? `${server.replace(/\/+$/, '')}/${repo}/actions/runs/${run}` : undefined;
}

/** The commit being deployed: GITHUB_SHA on a runner, `local` elsewhere. */
export function deployedRef(runtime: ActionRuntime): string {
  return getOptionalInput(runtime, 'ref') ?? runtime.env.GITHUB_SHA ?? 'local';
}

/** The token and repository this run may call GitHub with: inputs `github-token` and `repository`, else GITHUB_TOKEN and GITHUB_REPOSITORY. The token is registered as a secret. */
export function githubAccess(runtime: ActionRuntime): { token?: string; tokenInput: string; repository?: string } {
  const tokenInput = getOptionalInput(runtime, 'github-token') !== undefined ? 'github-token' : 'GITHUB_TOKEN';
  const token = getOptionalInput(runtime, 'github-token') ?? runtime.env.GITHUB_TOKEN?.trim();
  if (token) runtime.setSecret(token);
  return { token: token || undefined, tokenInput, repository: getOptionalInput(runtime, 'repository') ?? (runtime.env.GITHUB_REPOSITORY?.trim() || undefined) };
}

/** `owner/name` split in two; an InputError naming `repository` otherwise. */
export function repositoryParts(repository: string | undefined): { owner: string; repo: string } {
  const match = /^([^/\s]+)\/([^/\s]+)$/.exec(repository ?? '');
  if (!match) throw new InputError('repository', `expected owner/name (GITHUB_REPOSITORY on a runner), got ${JSON.stringify(repository ?? '')}`);
  return { owner: match[1]!, repo: match[2]! };
}

/**
 * Deployment records for this run: GitHub Deployments when a token (input `github-token`, else
 * GITHUB_TOKEN) and a repository (input `repository`, else GITHUB_REPOSITORY) are known, the
 * ledger file otherwise; none with `records: none`.
 */
export function deploymentRecordsFor(runtime: ActionRuntime, clientOverrides: Partial<GitHubClientOptions> = {}, cwd?: string): DeploymentRecords | undefined {
  const raw = (getOptionalInput(runtime, 'records') ?? 'auto').toLowerCase();
  if (!['auto', 'github', 'ledger', 'none'].includes(raw)) throw new InputError('records', `expected auto | github | ledger | none, got ${JSON.stringify(raw)}`);
  const mode = raw as RecordsMode;
  const { token, tokenInput, repository } = githubAccess(runtime);
  const runUrl = runUrlFrom(runtime.env);
  // A relative ledger path is the rollout's working directory's, like the plan's deploy command.
  const ledgerPath = getOptionalInput(runtime, 'ledger') ?? runtime.env.ROLLGATE_LEDGER ?? DEFAULT_LEDGER_FILE;
  const ledger = () => new LedgerDeploymentRecords(cwd && !isAbsolute(ledgerPath) ? join(cwd, ledgerPath) : ledgerPath, { runUrl });
  switch (mode) {
    case 'none':
      return undefined;
    case 'ledger':
      return ledger();
    case 'auto':
      // A token alone (a developer's GITHUB_TOKEN at a terminal) does not say which repository: the ledger then.
      if (!token || !repository) return ledger();
      return github();
    case 'github':
      if (!token) throw new InputError('github-token', 'is required with records: github (pass ${{ github.token }} and grant `permissions: deployments: write`)');
      return github();
  }
  function github(): DeploymentRecords {
    const { owner, repo } = repositoryParts(repository);
    const octokit = createGitHubClient({
      token: token!,
      tokenInput,
      baseUrl: runtime.env.GITHUB_API_URL,
      log: (m) => runtime.info(m),
      ...clientOverrides,
    });
    return new GitHubDeploymentRecords(octokit, { owner, repo, runUrl });
  }
}
