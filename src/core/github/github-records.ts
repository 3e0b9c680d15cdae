import type { GitHubClient } from './client.js';
import {
  fitDescription,
  parsePayload,
  type DeploymentRecord,
  type DeploymentRecords,
  type DeploymentState,
  type NewDeployment,
  type StatusRecord,
  type StatusUpdate,
} from './records.js';

export interface GitHubRecordsOptions {
  owner: string;
  repo: string;
  /** The run's page, linked from every status (`log_url`). */
  runUrl?: string;
  /** How many deployments `list` reads back (newest first); default 100, one page. */
  historyLimit?: number;
}

/** Deployment records kept as GitHub Deployments and deployment statuses. */
export class GitHubDeploymentRecords implements DeploymentRecords {
  readonly kind = 'github' as const;
  readonly location: string;
  constructor(
    private readonly octokit: GitHubClient,
    private readonly options: GitHubRecordsOptions,
  ) {
    this.location = `${options.owner}/${options.repo} on GitHub`;
  }

  async create(deployment: NewDeployment): Promise<DeploymentRecord> {
    const res = await this.octokit.rest.repos.createDeployment({
      owner: this.options.owner,
      repo: this.options.repo,
      ref: deployment.ref,
      environment: deployment.environment,
      // rollgate deploys exactly the commit it was given: no merging of the default branch, and
      // no commit-status checks (the workflow that runs rollgate is usually one of them).
      auto_merge: false,
      required_contexts: [],
      payload: { ...deployment.payload },
      description: deployment.description ? fitDescription(deployment.description) : undefined,
      transient_environment: false,
      production_environment: /^prod(uction)?$/i.test(deployment.environment),
    });
    if (res.status !== 201 || !('id' in res.data)) {
      // 202 means GitHub merged or queued instead of creating; with auto_merge false it should not happen.
      throw new Error(`GitHub did not create the deployment (HTTP ${res.status}: ${'message' in res.data ? res.data.message : 'no id'})`);
    }
    return toRecord(res.data);
  }

  async setStatus(id: number, update: StatusUpdate): Promise<void> {
    await this.octokit.rest.repos.createDeploymentStatus({
      owner: this.options.owner,
      repo: this.options.repo,
      deployment_id: id,
      state: update.state,
      description: update.description ? fitDescription(update.description) : undefined,
      log_url: this.options.runUrl,
      environment_url: update.environmentUrl,
    });
  }

  async list(environment: string): Promise<DeploymentRecord[]> {
    const res = await this.octokit.rest.repos.listDeployments({
      owner: this.options.owner,
      repo: this.options.repo,
      environment,
      per_page: Math.min(this.options.historyLimit ?? 100, 100),
    });
    // GitHub answers newest first; sorting again keeps the rule independent of that.
    return res.data.map(toRecord).sort(newestFirst);
  }

  async statuses(id: number): Promise<StatusRecord[]> {
    const res = await this.octokit.rest.repos.listDeploymentStatuses({ owner: this.options.owner, repo: this.options.repo, deployment_id: id, per_page: 100 });
    return res.data
      .map((s) => ({ state: s.state as DeploymentState, description: s.description ?? undefined, createdAt: s.created_at, id: s.id }))
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id - a.id)
      .map(({ state, description, createdAt }) => ({ state, description, createdAt }));
  }
}

interface ApiDeployment {
  id: number;
  environment: string;
  ref: string;
  created_at: string;
  payload: unknown;
  description?: string | null;
}

function toRecord(d: ApiDeployment): DeploymentRecord {
  return { id: d.id, environment: d.environment, ref: d.ref, createdAt: d.created_at, payload: parsePayload(d.payload), description: d.description ?? undefined };
}

/** Newest first by creation time, then by id (ids grow), so same-second deployments still order. */
export function newestFirst(a: { createdAt: string; id: number }, b: { createdAt: string; id: number }): number {
  return b.createdAt.localeCompare(a.createdAt) || b.id - a.id;
}
