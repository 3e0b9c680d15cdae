import { getOctokit } from '@actions/github';
import { ProviderError } from '../errors.js';

/** A comment on a pull request's conversation. */
export interface PullRequestComment {
  id: number;
  body: string;
}

/**
 * The three calls the checklist needs to keep one comment up to date. Small on purpose, so a
 * shared GitHub client can stand in for the Octokit one below.
 */
export interface PullRequestComments {
  list(): Promise<PullRequestComment[]>;
  create(body: string): Promise<PullRequestComment>;
  update(id: number, body: string): Promise<PullRequestComment>;
}

/** The hidden line that identifies rollgate's checklist comment among all others. */
export const COMMENT_MARKER = '<!-- rollgate:pre-deploy-checklist -->';

export interface PullRequestRef {
  owner: string;
  repo: string;
  number: number;
  /** GitHub's REST API root (GITHUB_API_URL on GitHub Enterprise). */
  baseUrl: string;
}

/** Pull request comments through Octokit, with the runner's token. */
export function octokitComments(token: string, pr: PullRequestRef): PullRequestComments {
  const octokit = getOctokit(token, { baseUrl: pr.baseUrl });
  const where = { owner: pr.owner, repo: pr.repo };
  const wrap = async <T>(what: string, call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (err) {
      const status = (err as { status?: number }).status;
      throw new ProviderError('github', `${what} failed${status ? ` (HTTP ${status})` : ''}: ${(err as Error).message}`);
    }
  };
  return {
    list: () =>
      wrap('listing PR comments', async () => {
        const all = await octokit.paginate(octokit.rest.issues.listComments, { ...where, issue_number: pr.number, per_page: 100 });
        return all.map((c) => ({ id: c.id, body: c.body ?? '' }));
      }),
    create: (body) =>
      wrap('creating the PR comment', async () => {
        const { data } = await octokit.rest.issues.createComment({ ...where, issue_number: pr.number, body });
        return { id: data.id, body: data.body ?? '' };
      }),
    update: (id, body) =>
      wrap('updating the PR comment', async () => {
        const { data } = await octokit.rest.issues.updateComment({ ...where, comment_id: id, body });
        return { id: data.id, body: data.body ?? '' };
      }),
  };
}

/**
 * Writes the checklist comment: updates the one carrying the marker (so every push edits the
 * same comment), or creates it the first time.
 */
export async function upsertChecklistComment(comments: PullRequestComments, body: string): Promise<{ action: 'created' | 'updated' | 'unchanged'; id: number }> {
  const text = body.includes(COMMENT_MARKER) ? body : `${COMMENT_MARKER}\n${body}`;
  const existing = (await comments.list()).find((c) => c.body.includes(COMMENT_MARKER));
  if (!existing) return { action: 'created', id: (await comments.create(text)).id };
  if (existing.body === text) return { action: 'unchanged', id: existing.id };
  return { action: 'updated', id: (await comments.update(existing.id, text)).id };
}
