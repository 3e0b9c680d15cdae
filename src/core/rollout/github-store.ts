import { randomBytes } from 'node:crypto';
import { UserError } from '../errors.js';
import { GitHubRequestError, type GitHubClient } from '../github/client.js';
import { keySegment, RolloutConflictError, type RolloutDocument, type RolloutStore, type StoreCallOptions, type StoredRecord } from './store.js';

/** The file in each record commit's tree that holds the rollout document. */
export const STATE_FILE = 'state.json';

/** A commit sha: SHA-1 today, SHA-256 in repositories created with it. */
const COMMIT_SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/**
 * The rollout record in the repository itself: the ref `refs/rollgate/<service>/<environment>`
 * points at a commit whose tree holds `state.json`. Every write is a new commit whose parent is
 * the revision that was read, and the ref moves only by fast-forward (`force: false`), so GitHub
 * refuses a writer whose read is stale (`422 Update is not a fast forward`): compare-and-swap on
 * GitHub's side, durable beyond any runner, and `git log refs/rollgate/<service>/<environment>`
 * is the rollout's audit log. The ref is outside branches and tags, so no workflow, protection
 * rule or checkout sees it. Needs `contents: write`.
 *
 * Calls: read = 2 (matching-refs, contents at the commit), write = 3 (tree with the file inline,
 * commit, ref update or create).
 */
export class GitHubRolloutStore implements RolloutStore {
  readonly kind = 'github';
  readonly location: string;
  /** The ref without `refs/`, as the git refs endpoints take it. */
  readonly ref: string;

  constructor(
    private readonly octokit: GitHubClient,
    private readonly repository: { owner: string; repo: string },
    key: { service: string; environment: string },
  ) {
    this.ref = `rollgate/${keySegment(key.service, 'service')}/${keySegment(key.environment, 'environment')}`;
    this.location = `refs/${this.ref} in ${repository.owner}/${repository.repo}`;
  }

  async read(options: StoreCallOptions = {}): Promise<StoredRecord | undefined> {
    const sha = await this.currentCommit(options.signal);
    if (sha === undefined) return undefined;
    const file = await this.call(() =>
      this.octokit.request('GET /repos/{owner}/{repo}/contents/{path}', { ...this.repository, path: STATE_FILE, ref: sha, request: { signal: options.signal } }),
    ).catch((err: unknown) => {
      if (err instanceof GitHubRequestError && err.status === 404) throw this.damaged(sha, `the commit has no ${STATE_FILE}`);
      throw err;
    });
    const data = file.data;
    if (Array.isArray(data) || data.type !== 'file' || !('content' in data) || data.encoding !== 'base64')
      throw this.damaged(sha, `${STATE_FILE} is not a file GitHub returns whole`);
    let document: unknown;
    try {
      document = JSON.parse(Buffer.from(data.content, 'base64').toString('utf8'));
    } catch (err) {
      throw this.damaged(sha, `${STATE_FILE} is not JSON (${(err as Error).message})`);
    }
    if (typeof document !== 'object' || document === null || Array.isArray(document)) throw this.damaged(sha, `${STATE_FILE} is not a JSON object`);
    return { document: document as RolloutDocument, revision: sha };
  }

  async write(document: RolloutDocument, expected: string | undefined, message: string, options: StoreCallOptions = {}): Promise<StoredRecord> {
    if (typeof document !== 'object' || document === null || Array.isArray(document)) throw new TypeError('a rollout document is a JSON object');
    // A revision this store never hands out cannot be current; GitHub would only say "invalid sha".
    if (expected !== undefined && !COMMIT_SHA.test(expected))
      throw new RolloutConflictError(this.location, `expected revision ${JSON.stringify(expected)} is not a commit of this record`);
    const stored = JSON.parse(JSON.stringify(document)) as RolloutDocument;
    const signal = options.signal;
    const request = { signal };

    // The blob travels inside the tree request: one call fewer than POST git/blobs first.
    const tree = await this.call(() =>
      this.octokit.request('POST /repos/{owner}/{repo}/git/trees', {
        ...this.repository,
        tree: [{ path: STATE_FILE, mode: '100644', type: 'blob', content: `${JSON.stringify(stored, null, 2)}\n` }],
        request,
      }),
    );
    // The write id makes every commit unique: two writers storing the same document from the
    // same parent in the same second would otherwise make the same commit, and both "win".
    const commit = await this.call(() =>
      this.octokit.request('POST /repos/{owner}/{repo}/git/commits', {
        ...this.repository,
        message: `${message}\n\nRollgate-Write-Id: ${randomBytes(8).toString('hex')}\n`,
        tree: tree.data.sha,
        parents: expected === undefined ? [] : [expected],
        request,
      }),
    ).catch((err: unknown) => {
      // The parent is the revision that was read; GitHub not knowing it means it is not this record's.
      if (expected !== undefined && err instanceof GitHubRequestError && err.status === 422 && /parent|sha/i.test(err.apiMessage))
        throw new RolloutConflictError(this.location, `expected revision ${expected}, which GitHub does not know as a commit (${err.apiMessage})`);
      throw err;
    });
    const sha = commit.data.sha;

    if (expected === undefined) await this.createRef(sha, signal);
    else await this.moveRef(sha, expected, signal);
    return { document: structuredClone(stored), revision: sha };
  }

  /** The commit the ref points at; undefined when there is no such ref. */
  private async currentCommit(signal: AbortSignal | undefined): Promise<string | undefined> {
    // matching-refs answers 200 with an empty list when the ref is missing, and 404 only when the
    // repository is not there for this token: GET git/ref's 404 would be both, and "no record"
    // for a repository the token cannot see would let a rollback find nothing to roll back.
    const refs = await this.call(() => this.octokit.request('GET /repos/{owner}/{repo}/git/matching-refs/{ref}', { ...this.repository, ref: this.ref, request: { signal } }));
    // A prefix match: refs/rollgate/orders/production-eu also matches refs/rollgate/orders/production.
    const mine = refs.data.find((r) => r.ref === `refs/${this.ref}`);
    if (!mine) return undefined;
    if (mine.object.type !== 'commit') throw this.damaged(mine.object.sha, `the ref points at a ${mine.object.type}, not a commit`);
    return mine.object.sha;
  }

  private async createRef(sha: string, signal: AbortSignal | undefined): Promise<void> {
    try {
      await this.call(() => this.octokit.request('POST /repos/{owner}/{repo}/git/refs', { ...this.repository, ref: `refs/${this.ref}`, sha, request: { signal } }));
    } catch (err) {
      if (!(err instanceof GitHubRequestError && err.status === 422 && /already exists/i.test(err.apiMessage))) throw err;
      // A create retried after a 5xx whose first attempt did land finds its own commit there.
      const now = await this.currentCommit(signal);
      if (now === sha) return;
      throw new RolloutConflictError(
        this.location,
        `expected no record, but another writer created it first (now at ${now ?? 'a commit since removed'}; GitHub: ${err.apiMessage})`,
      );
    }
  }

  private async moveRef(sha: string, expected: string, signal: AbortSignal | undefined): Promise<void> {
    try {
      await this.call(() => this.octokit.request('PATCH /repos/{owner}/{repo}/git/refs/{ref}', { ...this.repository, ref: this.ref, sha, force: false, request: { signal } }));
    } catch (err) {
      if (err instanceof GitHubRequestError && err.status === 422 && /not a fast.?forward/i.test(err.apiMessage))
        throw new RolloutConflictError(this.location, `expected revision ${expected}, but another writer moved the record on (GitHub: ${err.apiMessage})`);
      if (err instanceof GitHubRequestError && err.status === 422 && /does not exist/i.test(err.apiMessage))
        throw new RolloutConflictError(this.location, `expected revision ${expected}, but there is no record any more (GitHub: ${err.apiMessage})`);
      throw err;
    }
  }

  /** Runs one request; an empty repository (GitHub: 409 to every git data call) becomes an error saying what to do. */
  private async call<T>(request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (err) {
      if (err instanceof GitHubRequestError && err.status === 409)
        throw new UserError(
          `the rollout record ${this.location} cannot be kept: GitHub answered 409 (${err.apiMessage}); the repository needs at least one commit before rollgate can keep refs in it (push any commit, e.g. a README)`,
        );
      throw err;
    }
  }

  private damaged(sha: string, detail: string): UserError {
    // Never "no record": that would let a second rollout start over traffic that is moving.
    return new UserError(
      `the rollout record ${this.location} (commit ${sha}) is damaged: ${detail}. Check which version each slot serves, then repair the record with a commit that fast-forwards the ref, or delete the ref`,
    );
  }
}
