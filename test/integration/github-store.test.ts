// The GitHub rollout store over a stateful fake of GitHub's git data endpoints (fast-forward
// refs, content-addressed commits, trees, the contents of a file at a commit), and over recorded
// GitHub answers for the failures: a lost race, no record, an empty repository, a bad token, a
// missing permission, 5xx. Prism validates the same requests in github-prism.test.ts.
import { execFileSync } from 'node:child_process';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import Bottleneck from 'bottleneck';
import { GitDataFake } from '../../harness/github-git-fake.js';
import { ReplayServer } from '../../harness/replay-server.js';
import { isUserError } from '../../src/core/errors.js';
import { CONTENTS_PERMISSION, createGitHubClient, type GitHubClientOptions } from '../../src/core/github/client.js';
import { GitHubRolloutStore } from '../../src/core/rollout/github-store.js';
import { RolloutConflictError, type RolloutStore } from '../../src/core/rollout/store.js';
import { openRolloutStore } from '../../src/core/rollout/stores.js';
import { MemoryRuntime } from '../../src/core/runtime.js';
import { describeRolloutStoreContract } from '../contract/rollout-store-contract.js';

const key = { service: 'orders', environment: 'production' };
const REF = 'refs/rollgate/orders/production';

function storeAt(baseUrl: string, token: string, overrides: Partial<GitHubClientOptions> = {}, k = key, logs: string[] = []): GitHubRolloutStore {
  const octokit = createGitHubClient({
    token,
    baseUrl,
    permission: CONTENTS_PERMISSION,
    retries: 2,
    retryBaseMs: 10,
    log: (m) => logs.push(m),
    // Each store is another job: its own write queue, without GitHub's 1 s spacing.
    throttle: { write: new Bottleneck.Group({ maxConcurrent: 10, minTime: 0 }) },
    ...overrides,
  });
  return new GitHubRolloutStore(octokit, { owner: 'acme', repo: 'orders' }, k);
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  const outcome = await promise.then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  if (!outcome) throw new Error('expected the call to fail');
  return outcome;
}

describeRolloutStoreContract('GitHubRolloutStore over the git data fake', async () => {
  const fake = await new GitDataFake().start();
  return { open: () => storeAt(fake.url, fake.token), cleanup: () => fake.stop() };
});

describe('GitHubRolloutStore over the git data fake', () => {
  let fake: GitDataFake;
  beforeEach(async () => {
    fake = await new GitDataFake().start();
  });
  afterEach(async () => fake.stop());
  const store = (overrides: Partial<GitHubClientOptions> = {}, logs: string[] = []) => storeAt(fake.url, fake.token, overrides, key, logs);

  it('keeps the record under refs/rollgate/<service>/<environment>, one commit per write, its messages the audit log', async () => {
    const s = store();
    expect(s.location).toBe(`${REF} in acme/orders`);
    const first = await s.write({ phase: 'canary', weight: 10 }, undefined, 'deploy-canary: 1.4.0 at 10% (run 41)');
    const second = await s.write({ phase: 'canary', weight: 50 }, first.revision, 'ramp: 50%, gate passed (run 42)');
    expect(fake.refTarget(REF)).toBe(second.revision);
    const log = fake.log(REF);
    expect(log.map((c) => c.sha)).toEqual([second.revision, first.revision]);
    expect(log.map((c) => c.message.split('\n')[0])).toEqual(['ramp: 50%, gate passed (run 42)', 'deploy-canary: 1.4.0 at 10% (run 41)']);
    expect(log[1]!.parents).toEqual([]);
    expect(log[0]!.parents).toEqual([first.revision]);
    expect(JSON.parse(log[0]!.state!)).toEqual({ phase: 'canary', weight: 50 });
  });

  it('stores state.json as the blob git itself would hash', async () => {
    await store().write({ phase: 'canary', note: 'ünïcødé' }, undefined, 'record');
    const text = fake.log(REF)[0]!.state!;
    const blobSha = execFileSync('git', ['hash-object', '--stdin'], { input: text }).toString().trim();
    const read = await store().read();
    expect(read!.document).toEqual({ phase: 'canary', note: 'ünïcødé' });
    // The contents answer names the blob by the sha git computes for the same bytes.
    const res = await fetch(`${fake.url}/repos/acme/orders/contents/state.json?ref=${read!.revision}`, { headers: { authorization: `token ${fake.token}` } });
    expect(((await res.json()) as { sha: string }).sha).toBe(blobSha);
  });

  it('makes every commit unique, so two writers storing the same document from the same revision do not both win', async () => {
    const created = await store().write({ generation: 1 }, undefined, 'create');
    const results = await Promise.allSettled([0, 1, 2, 3].map(() => store().write({ generation: 2 }, created.revision, 'same change')));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(fake.log(REF)).toHaveLength(2);
  });

  it('loses no update when writers retry read-modify-write concurrently', async () => {
    const writers = 5;
    const perWriter = 4;
    const won: string[] = [];
    let conflicts = 0;
    await store().write({ counter: 0, by: [] }, undefined, 'create');
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        const s = store();
        for (let done = 0; done < perWriter;) {
          const current = (await s.read())!;
          const doc = current.document as { counter: number; by: string[] };
          try {
            const next = await s.write({ counter: doc.counter + 1, by: [...doc.by, `w${w}`] }, current.revision, `writer ${w} step ${done}`);
            won.push(next.revision);
            done++;
          } catch (err) {
            if (!(err instanceof RolloutConflictError)) throw err;
            conflicts++;
          }
        }
      }),
    );
    const final = (await store().read())!.document as { counter: number; by: string[] };
    expect(final.counter).toBe(writers * perWriter);
    expect(final.by).toHaveLength(writers * perWriter);
    // Every accepted write is in the history, in a single line of commits.
    const log = fake.log(REF);
    expect(log).toHaveLength(writers * perWriter + 1);
    expect(new Set(log.map((c) => c.sha))).toEqual(new Set([...won, log.at(-1)!.sha]));
    expect(conflicts).toBeGreaterThan(0);
  }, 60_000);

  it('escapes service and environment so every key has its own valid ref', async () => {
    const a = storeAt(fake.url, fake.token, {}, { service: 'a.b', environment: 'c/d' });
    const b = storeAt(fake.url, fake.token, {}, { service: 'a', environment: 'b.c/d' });
    const lock = storeAt(fake.url, fake.token, {}, { service: '..', environment: 'prod.lock' });
    expect(a.location).toBe('refs/rollgate/a%2Eb/c%2Fd in acme/orders');
    expect(b.location).toBe('refs/rollgate/a/b%2Ec%2Fd in acme/orders');
    expect(lock.ref).toBe('rollgate/%2E%2E/prod%2Elock');
    await a.write({ who: 'a' }, undefined, 'a');
    await b.write({ who: 'b' }, undefined, 'b');
    await expect(a.read()).resolves.toMatchObject({ document: { who: 'a' } });
    await expect(b.read()).resolves.toMatchObject({ document: { who: 'b' } });
    for (const ref of [a.ref, b.ref, lock.ref]) execFileSync('git', ['check-ref-format', `refs/${ref}`]);
    expect(() => storeAt(fake.url, fake.token, {}, { service: '', environment: 'p' })).toThrow(/service is empty/);
  });

  it('does not take the record of production-eu for the one of production', async () => {
    await storeAt(fake.url, fake.token, {}, { service: 'orders', environment: 'production-eu' }).write({ region: 'eu' }, undefined, 'eu');
    await expect(store().read()).resolves.toBeUndefined();
  });

  it('reports a damaged record instead of reading it as none', async () => {
    fake.setRef(REF, fake.commitFiles({ 'README.md': 'hand-made' }, [], 'by hand'));
    expect((await failure(store().read())).message).toMatch(/refs\/rollgate\/orders\/production in acme\/orders \(commit [0-9a-f]{40}\) is damaged: the commit has no state\.json/);
    fake.setRef(REF, fake.commitFiles({ 'state.json': '{"phase": "canary", trunc' }, [], 'truncated'));
    expect((await failure(store().read())).message).toMatch(/is damaged: state\.json is not JSON/);
    fake.setRef(REF, fake.commitFiles({ 'state.json': '[1, 2]' }, [], 'array'));
    expect((await failure(store().read())).message).toMatch(/is damaged: state\.json is not a JSON object/);
  });

  it('answers an empty repository with what to do, on read and on write, and writes nothing', async () => {
    fake.empty = true;
    for (const call of [store().read(), store().write({ phase: 'canary' }, undefined, 'deploy')]) {
      const err = await failure(call);
      expect(isUserError(err)).toBe(true);
      expect(err.message).toContain(`${REF} in acme/orders`);
      expect(err.message).toContain('409 (Git Repository is empty.)');
      expect(err.message).toContain('at least one commit');
    }
    expect(fake.refTarget(REF)).toBeUndefined();
  });

  it('names the token input and contents: write when the token is bad or may not write', async () => {
    const bad = await failure(storeAt(fake.url, 'ghs_revoked', { tokenInput: 'github-token' }).read());
    expect(bad.message).toMatch(/GitHub rejected the token in input github-token \(401: Bad credentials\).*permissions: contents: write/);
    const readOnly = storeAt(fake.url, fake.readOnlyToken, { tokenInput: 'GITHUB_TOKEN' });
    await expect(readOnly.read()).resolves.toBeUndefined();
    const refused = await failure(readOnly.write({ phase: 'canary' }, undefined, 'deploy'));
    expect(isUserError(refused)).toBe(true);
    expect(refused.message).toMatch(
      /GitHub refused POST \/repos\/acme\/orders\/git\/trees \(403: Resource not accessible by integration\): the token in input GITHUB_TOKEN lacks permission; the job needs `permissions: contents: write`/,
    );
    expect(fake.refTarget(REF)).toBeUndefined();
  });

  it('retries a 5xx on every call of a write and lands it exactly once', async () => {
    const logs: string[] = [];
    const created = await store().write({ generation: 1 }, undefined, 'create');
    for (const [method, part] of [
      ['GET', '/git/matching-refs/'],
      ['GET', '/contents/'],
      ['POST', '/git/trees'],
      ['POST', '/git/commits'],
      ['PATCH', '/git/refs/'],
    ])
      fake.faults.push({ matches: (m, p) => m === method && p.includes(part!), status: 502, body: { message: 'Server Error' } });
    const s = store({}, logs);
    const read = await s.read();
    const next = await s.write({ generation: 2 }, read!.revision, 'advance');
    expect(fake.faults).toEqual([]);
    expect(fake.requests.filter((r) => r.status === 502)).toHaveLength(5);
    expect(fake.log(REF).map((c) => c.sha)).toEqual([next.revision, created.revision]);
  });

  it('knows its own create when GitHub made the ref but the answer was lost', async () => {
    fake.faults.push({ matches: (m, p) => m === 'POST' && p.endsWith('/git/refs'), status: 502, afterApplying: true });
    const created = await store().write({ generation: 1 }, undefined, 'create');
    expect(fake.refTarget(REF)).toBe(created.revision);
    expect(fake.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/git/refs')).map((r) => r.status)).toEqual([502, 422]);
    // Someone else's create is still a conflict.
    await expect(store().write({ generation: 1 }, undefined, 'create again')).rejects.toBeInstanceOf(RolloutConflictError);
  });

  it('gives up after the retries with an error naming the call, and writes nothing', async () => {
    for (let i = 0; i < 3; i++) fake.faults.push({ matches: (m, p) => m === 'POST' && p.endsWith('/git/trees'), status: 503, body: { message: 'Service Unavailable' } });
    const err = await failure(store().write({ phase: 'canary' }, undefined, 'deploy'));
    expect(err.message).toMatch(/POST \/repos\/acme\/orders\/git\/trees: GitHub answered 503 after retries/);
    expect(fake.refTarget(REF)).toBeUndefined();
  });
});

describe('openRolloutStore with a token and a repository', () => {
  let fake: GitDataFake;
  beforeAll(async () => {
    fake = await new GitDataFake().start();
  });
  afterAll(async () => fake.stop());

  it.each([
    ['auto', {}],
    ['store: github', { store: 'github' }],
  ])('opens the GitHub store (%s) without the runner-local warning, and it keeps the record in the repository', async (_name, inputs) => {
    const runtime = new MemoryRuntime(inputs, {
      GITHUB_ACTIONS: 'true',
      GITHUB_TOKEN: fake.token,
      GITHUB_REPOSITORY: 'acme/orders',
      GITHUB_API_URL: fake.url,
      ROLLGATE_STATE_DIR: '/runner/tmp',
    });
    const s: RolloutStore = openRolloutStore(runtime, { service: 'orders', environment: `staging-${_name.length}` }, { cwd: '/srv' });
    expect(s.kind).toBe('github');
    expect(s).toBeInstanceOf(GitHubRolloutStore);
    expect(runtime.logs.filter((l) => l.level === 'warning')).toEqual([]);
    const written = await s.write({ phase: 'canary' }, undefined, 'deploy');
    expect(fake.refTarget(`refs/rollgate/orders/staging-${_name.length}`)).toBe(written.revision);
  });
});

// ── recorded GitHub answers ─────────────────────────────────────────────────────────────────
describe('GitHubRolloutStore over recorded GitHub answers', () => {
  const server = new ReplayServer();
  beforeAll(async () => server.start());
  afterAll(async () => server.stop());
  beforeEach(() => server.reset());

  const A = '3a0f86fb8db8eea7ccbb9a95f325ddbedfb25e15';
  const TREE = '8cd8d1ce4cbc2b02b8ce3b4e8b4f4a1c1c2b7d3e';
  const B = '7638417db6d59f3c431d3e1f261cc637155684cd';
  const api = 'https://api.github.com/repos/acme/orders';
  const refsPath = '/repos/acme/orders/git/matching-refs/rollgate%2Forders%2Fproduction';
  const refAt = (sha: string) => ({
    ref: REF,
    node_id: 'REF_kwDOAbCdEr9yZWZzL3JvbGxnYXRl',
    url: `${api}/git/${REF}`,
    object: { type: 'commit', sha, url: `${api}/git/commits/${sha}` },
  });
  const state = { phase: 'canary', weight: 10 };
  const contents = {
    type: 'file',
    encoding: 'base64',
    size: 40,
    name: 'state.json',
    path: 'state.json',
    content: `${Buffer.from(`${JSON.stringify(state, null, 2)}\n`).toString('base64')}\n`,
    sha: '95d09f2b10159347eece71399a7e2e907ea3df4f',
    url: `${api}/contents/state.json?ref=${A}`,
    git_url: `${api}/git/blobs/95d09f2b10159347eece71399a7e2e907ea3df4f`,
    html_url: `https://github.com/acme/orders/blob/${A}/state.json`,
    download_url: `https://raw.githubusercontent.com/acme/orders/${A}/state.json`,
    _links: {
      self: `${api}/contents/state.json?ref=${A}`,
      git: `${api}/git/blobs/95d09f2b10159347eece71399a7e2e907ea3df4f`,
      html: `https://github.com/acme/orders/blob/${A}/state.json`,
    },
  };
  const tree = {
    sha: TREE,
    url: `${api}/git/trees/${TREE}`,
    truncated: false,
    tree: [{ path: 'state.json', mode: '100644', type: 'blob', size: 40, sha: '95d09f2b10159347eece71399a7e2e907ea3df4f', url: `${api}/git/blobs/95d0` }],
  };
  const commit = (sha: string, parents: string[]) => ({
    sha,
    node_id: 'C_kwDOAbCdEtoAKDc2Mzg0MTdkYjZkNTlmM2M0MzFkM2UxZjI2MWNjNjM3MTU1Njg0Y2Q',
    url: `${api}/git/commits/${sha}`,
    html_url: `https://github.com/acme/orders/commit/${sha}`,
    author: { name: 'github-actions[bot]', email: '41898282+github-actions[bot]@users.noreply.github.com', date: '2026-12-01T23:41:07Z' },
    committer: { name: 'GitHub', email: 'noreply@github.com', date: '2026-12-01T23:41:07Z' },
    tree: { sha: TREE, url: `${api}/git/trees/${TREE}` },
    message: 'ramp: 50%',
    parents: parents.map((p) => ({ sha: p, url: `${api}/git/commits/${p}`, html_url: `https://github.com/acme/orders/commit/${p}` })),
    verification: { verified: false, reason: 'unsigned', signature: null, payload: null, verified_at: null },
  });
  const gitError = (status: number, message: string, doc: string) => ({
    status,
    body: { message, documentation_url: `https://docs.github.com/rest/${doc}`, status: String(status) },
  });
  const replayStore = (overrides: Partial<GitHubClientOptions> = {}) => storeAt(server.url, 'ghs_replaytoken', overrides);

  it('reads the record: the ref, then state.json at its commit', async () => {
    server.on(`GET ${refsPath}`, { status: 200, body: [refAt(A)] });
    server.on('GET /repos/acme/orders/contents/state.json', { status: 200, body: contents });
    await expect(replayStore().read()).resolves.toEqual({ document: state, revision: A });
    expect(server.seen.map((s) => `${s.method} ${s.path}`)).toEqual([`GET ${refsPath}`, 'GET /repos/acme/orders/contents/state.json']);
  });

  it('reads no record when GitHub lists no such ref', async () => {
    server.on(`GET ${refsPath}`, { status: 200, body: [] });
    await expect(replayStore().read()).resolves.toBeUndefined();
  });

  it('does not read a 404 (a repository the token cannot see) as no record', async () => {
    server.on(`GET ${refsPath}`, gitError(404, 'Not Found', 'git/refs#list-matching-references'));
    const err = await failure(replayStore().read());
    expect(err.message).toMatch(/not found \(404: Not Found\); check GITHUB_REPOSITORY and that the token in input github-token can see the repository/);
  });

  it('turns the 422 of a lost race into a RolloutConflictError naming the ref, having sent force: false and the read revision as parent', async () => {
    server.on('POST /repos/acme/orders/git/trees', { status: 201, body: tree });
    server.on('POST /repos/acme/orders/git/commits', { status: 201, body: commit(B, [A]) });
    server.on('PATCH /repos/acme/orders/git/refs/rollgate%2Forders%2Fproduction', gitError(422, 'Update is not a fast forward', 'git/refs#update-a-reference'));
    const s = replayStore();
    const err = await failure(s.write({ phase: 'canary', weight: 50 }, A, 'ramp: 50%'));
    expect(err).toBeInstanceOf(RolloutConflictError);
    expect(err.message).toBe(
      `rollout record ${REF} in acme/orders changed since it was read: expected revision ${A}, but another writer moved the record on (GitHub: Update is not a fast forward)`,
    );
    const sent = Object.fromEntries(server.seen.map((x) => [`${x.method} ${x.path.split('/').slice(4).join('/')}`, JSON.parse(x.body) as Record<string, unknown>]));
    expect(sent['POST git/trees']).toEqual({ tree: [{ path: 'state.json', mode: '100644', type: 'blob', content: '{\n  "phase": "canary",\n  "weight": 50\n}\n' }] });
    expect(sent['POST git/commits']).toMatchObject({ tree: TREE, parents: [A], message: expect.stringMatching(/^ramp: 50%\n\nRollgate-Write-Id: [0-9a-f]{16}\n$/) });
    expect(sent['PATCH git/refs/rollgate%2Forders%2Fproduction']).toEqual({ sha: B, force: false });
  });

  it('turns 422 Reference already exists into a RolloutConflictError when the ref is another writer’s', async () => {
    server.on('POST /repos/acme/orders/git/trees', { status: 201, body: tree });
    server.on('POST /repos/acme/orders/git/commits', { status: 201, body: commit(B, []) });
    server.on('POST /repos/acme/orders/git/refs', gitError(422, 'Reference already exists', 'git/refs#create-a-reference'));
    server.on(`GET ${refsPath}`, { status: 200, body: [refAt(A)] });
    const err = await failure(replayStore().write({ phase: 'canary' }, undefined, 'deploy'));
    expect(err).toBeInstanceOf(RolloutConflictError);
    expect(err.message).toContain(`${REF} in acme/orders`);
    expect(err.message).toContain(`another writer created it first (now at ${A}; GitHub: Reference already exists)`);
    expect(JSON.parse(server.seen.find((x) => x.path.endsWith('/git/refs'))!.body)).toEqual({ ref: REF, sha: B });
  });

  it('answers 409 on an empty repository with what to do', async () => {
    server.on(`GET ${refsPath}`, gitError(409, 'Git Repository is empty.', 'git/refs#list-matching-references'));
    const err = await failure(replayStore().read());
    expect(isUserError(err)).toBe(true);
    expect(err.message).toMatch(/409 \(Git Repository is empty\.\); the repository needs at least one commit/);
  });

  it.each([
    [401, 'Bad credentials', /GitHub rejected the token in input github-token \(401: Bad credentials\).*`permissions: contents: write`/],
    [
      403,
      'Resource not accessible by integration',
      /GitHub refused POST \/repos\/acme\/orders\/git\/trees \(403: Resource not accessible by integration\).*`permissions: contents: write`/,
    ],
  ] as const)('names the token and contents: write on a %i', async (status, message, expected) => {
    server.on('POST /repos/acme/orders/git/trees', gitError(status, message, 'git/trees#create-a-tree'));
    const err = await failure(replayStore().write({ phase: 'canary' }, undefined, 'deploy'));
    expect(isUserError(err)).toBe(true);
    expect(err.message).toMatch(expected);
    expect(server.seen).toHaveLength(1);
  });

  it('retries 5xx and a rate limit, then reads', async () => {
    const logs: string[] = [];
    server.on(
      `GET ${refsPath}`,
      { status: 502, body: { message: 'Server Error' } },
      { status: 403, headers: { 'retry-after': '0', 'x-ratelimit-remaining': '0' }, body: { message: 'API rate limit exceeded' } },
      { status: 200, body: [refAt(A)] },
    );
    server.on('GET /repos/acme/orders/contents/state.json', { status: 500, body: { message: 'Server Error' } }, { status: 200, body: contents });
    const octokit = createGitHubClient({ token: 'ghs_replaytoken', baseUrl: server.url, permission: CONTENTS_PERMISSION, retries: 2, retryBaseMs: 10, log: (m) => logs.push(m) });
    await expect(new GitHubRolloutStore(octokit, { owner: 'acme', repo: 'orders' }, key).read()).resolves.toEqual({ document: state, revision: A });
    expect(server.seen.map((s) => s.path.split('/').slice(4, 6).join('/'))).toEqual([
      'git/matching-refs',
      'git/matching-refs',
      'git/matching-refs',
      'contents/state.json',
      'contents/state.json',
    ]);
  });
});
