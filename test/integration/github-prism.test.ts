// Every request rollgate makes to GitHub, validated by Prism against GitHub's own published
// API description (test/fixtures/github/rest-api.openapi.json). A 4xx from Prism means the
// request breaks GitHub's schema: the test fails and prints Prism's `sl-violations`.
import Bottleneck from 'bottleneck';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { startPrism, type PrismServer } from '../../harness/prism.js';
import { DeploymentBookkeeping } from '../../src/core/github/bookkeeping.js';
import { CONTENTS_PERMISSION, createGitHubClient, type GitHubClient } from '../../src/core/github/client.js';
import { GitHubDeploymentRecords } from '../../src/core/github/github-records.js';
import { manualRollback } from '../../src/core/github/manual-rollback.js';
import { DeploymentRecordHooks } from '../../src/core/github/record-hooks.js';
import { GitHubRolloutStore } from '../../src/core/rollout/github-store.js';
import { MemoryRuntime } from '../../src/core/runtime.js';

interface Exchange {
  method: string;
  url: string;
  status: number;
  violations?: string;
  body?: string;
}

let prism: PrismServer;
const exchanges: Exchange[] = [];

/** Changes Prism's example answer to a request before the client sees it (its examples name other refs and files). */
let answerEdit: ((url: URL, body: unknown) => unknown) | undefined;

/** Records every exchange, so a test can assert none of them was refused by the schema. */
const recordingFetch: typeof fetch = async (input, init) => {
  const res = await fetch(input, init);
  const request = new Request(input, init);
  exchanges.push({
    method: request.method,
    url: request.url,
    status: res.status,
    violations: res.headers.get('sl-violations') ?? undefined,
    body: typeof init?.body === 'string' ? init.body : undefined,
  });
  if (!answerEdit || res.status >= 400 || request.method !== 'GET') return res;
  const edited = answerEdit(new URL(request.url), await res.json());
  return new Response(JSON.stringify(edited), { status: res.status, headers: res.headers });
};

function client(permission?: string): GitHubClient {
  return createGitHubClient({
    token: 'ghs_prismtesttoken',
    baseUrl: prism.url,
    fetch: recordingFetch,
    permission,
    retries: 0,
    // Prism answers 406 to GitHub's vendor media type.
    beforeRequest: (options) => {
      options.headers.accept = 'application/json';
    },
    // GitHub spaces writes by 1 s; Prism does not need it.
    throttle: { write: new Bottleneck.Group({ maxConcurrent: 1, minTime: 0 }) },
  });
}

function expectAllAccepted(since: number): void {
  const refused = exchanges.slice(since).filter((e) => e.status >= 400);
  if (refused.length) {
    const report = refused.map((e) => `${e.method} ${e.url} → ${e.status}\n  sl-violations: ${e.violations ?? '(none)'}\n  body: ${e.body ?? ''}`).join('\n');
    throw new Error(`Prism refused ${refused.length} request(s) against GitHub's API description:\n${report}`);
  }
  expect(exchanges.length).toBeGreaterThan(since);
}

const records = () => new GitHubDeploymentRecords(client(), { owner: 'acme', repo: 'orders', runUrl: 'https://github.com/acme/orders/actions/runs/42' });

beforeAll(async () => {
  prism = await startPrism();
}, 90_000);

afterAll(async () => {
  await prism?.stop();
});

describe('GitHub Deployments requests against the published API description', () => {
  it('creates a deployment with the payload, auto_merge false and no required contexts', async () => {
    const since = exchanges.length;
    const created = await records().create({
      environment: 'production',
      ref: 'a84d88e7554fc1fa21bcbc4efae3c782a70d2b9d',
      payload: { version: 'ghcr.io/acme/orders:1.4.0', strategy: 'canary', plan: '.github/rollout.yml', previousVersion: 'ghcr.io/acme/orders:1.3.9' },
      description: 'canary of 1.4.0',
    });
    expectAllAccepted(since);
    expect(typeof created.id).toBe('number');
    const sent = JSON.parse(exchanges[since]!.body!);
    expect(sent).toMatchObject({ auto_merge: false, required_contexts: [], environment: 'production', production_environment: true, transient_environment: false });
    expect(sent.payload).toEqual({ version: 'ghcr.io/acme/orders:1.4.0', strategy: 'canary', plan: '.github/rollout.yml', previousVersion: 'ghcr.io/acme/orders:1.3.9' });
  });

  it.each(['in_progress', 'success', 'failure', 'error'] as const)('sets a %s status with a run link and a description of at most 140 characters', async (state) => {
    const since = exchanges.length;
    await records().setStatus(7, {
      state,
      description: `canary 25%, gate passed ${'x'.repeat(300)}`,
      environmentUrl: state === 'success' ? 'https://orders.example.com' : undefined,
    });
    expectAllAccepted(since);
    const sent = JSON.parse(exchanges[since]!.body!);
    expect(sent.state).toBe(state);
    expect(sent.log_url).toBe('https://github.com/acme/orders/actions/runs/42');
    expect([...sent.description].length).toBeLessThanOrEqual(140);
    if (state === 'success') expect(sent.environment_url).toBe('https://orders.example.com');
  });

  it('reads deployments and statuses back in the shape the rollback target needs', async () => {
    const since = exchanges.length;
    const r = records();
    const list = await r.list('production');
    const statuses = await r.statuses(list[0]!.id);
    expectAllAccepted(since);
    expect(list.length).toBeGreaterThan(0);
    expect(list[0]).toMatchObject({ id: expect.any(Number), environment: expect.any(String), ref: expect.any(String), createdAt: expect.any(String) });
    expect(statuses[0]).toMatchObject({ state: expect.any(String), createdAt: expect.any(String) });
    expect(exchanges[since]!.url).toContain('environment=production');
  });

  it('drives the records of a whole rollout (start, steps, promotion, a rollback) with no request refused', async () => {
    const since = exchanges.length;
    const runtime = new MemoryRuntime({ irreversible: 'contract: drop orders.legacy_total' }, { GITHUB_SHA: 'a84d88e7554fc1fa21bcbc4efae3c782a70d2b9d' });
    const hooks = new DeploymentRecordHooks(
      runtime,
      records(),
      { service: 'orders', environment: 'production', environmentUrl: 'https://orders.example.com' },
      '.github/rollout.yml',
    );
    const event = { service: 'orders', environment: 'production', strategy: 'canary' as const, version: '1.4.0', weight: 5 };
    await hooks.deploymentStarted(event);
    await hooks.stepReached({ ...event, weight: 25 });
    await hooks.promoted({ ...event, weight: 100 });
    await hooks.rolledBack({ ...event, weight: 0, reason: 'error rate 7% over 5%', cause: 'failure' });
    expectAllAccepted(since);
    const id = runtime.outputs['deployment-id'];
    const posts = exchanges.slice(since).filter((e) => e.method === 'POST');
    expect(posts.map((e) => new URL(e.url).pathname)).toEqual(['/repos/acme/orders/deployments', ...Array(4).fill(`/repos/acme/orders/deployments/${id}/statuses`)]);
    expect(JSON.parse(posts[0]!.body!).payload).toMatchObject({
      version: '1.4.0',
      strategy: 'canary',
      plan: '.github/rollout.yml',
      irreversible: 'contract: drop orders.legacy_total',
    });
    expect(posts.slice(1).map((e) => JSON.parse(e.body!))).toEqual([
      expect.objectContaining({ state: 'in_progress', description: 'canary 5%' }),
      expect.objectContaining({ state: 'in_progress', description: 'canary 25%, gate passed' }),
      expect.objectContaining({ state: 'success', description: 'promoted 1.4.0 to 100%', environment_url: 'https://orders.example.com' }),
      expect.objectContaining({ state: 'failure', description: 'rolled back: error rate 7% over 5%' }),
    ]);
  });

  it('sends a manual rollback record (rollbackOf) the schema accepts', async () => {
    const since = exchanges.length;
    const runtime = new MemoryRuntime({}, {});
    const book = new DeploymentBookkeeping(runtime, records(), 'production');
    const redeployed: string[] = [];
    // Prism's example history is one deployment, so an explicit version is rolled back to.
    const outcome = await manualRollback(
      { to: '1.3.9', plan: { service: 'orders', environment: 'production', strategy: 'canary' }, planFile: '.github/rollout.yml' },
      book,
      async (v) => void redeployed.push(v),
      () => undefined,
    );
    expect(outcome.kind).toBe('rolled-back');
    expect(redeployed).toEqual(['1.3.9']);
    expectAllAccepted(since);
    const create = exchanges.slice(since).find((e) => e.method === 'POST' && e.url.endsWith('/deployments'))!;
    expect(JSON.parse(create.body!).payload).toMatchObject({ version: '1.3.9', rollbackOf: expect.any(Number) });
  });

  it('would catch a request that breaks the schema (the check above can fail)', async () => {
    const since = exchanges.length;
    // A state GitHub does not know, sent on purpose (the cast gets it past the typings).
    await expect(
      client().request('POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses', { owner: 'acme', repo: 'orders', deployment_id: 7, state: 'rolled-back' as 'success' }),
    ).rejects.toThrow(/422/);
    expect(() => expectAllAccepted(since)).toThrow(/sl-violations: .*state/);
  });
});

describe('GitHub rollout store requests against the published API description', () => {
  const key = { service: 'orders', environment: 'production' };
  const store = () => new GitHubRolloutStore(client(CONTENTS_PERMISSION), { owner: 'acme', repo: 'orders' }, key);
  const sha = /^[0-9a-f]{40}$/;
  afterEach(() => {
    answerEdit = undefined;
  });

  it('reads the record with two requests the schema accepts: the ref, then state.json at its commit', async () => {
    const since = exchanges.length;
    // Prism's examples list refs/heads/feature-a and a README; the first is renamed to the
    // record's ref and the file made a rollout document, so the read goes on to its second call.
    answerEdit = (url, body) => {
      if (url.pathname.includes('/git/matching-refs/')) return (body as { ref: string }[]).map((r, i) => (i === 0 ? { ...r, ref: 'refs/rollgate/orders/production' } : r));
      if (url.pathname.endsWith('/contents/state.json'))
        return { ...(body as object), type: 'file', encoding: 'base64', content: Buffer.from('{"phase":"canary"}').toString('base64') };
      return body;
    };
    const read = await store().read();
    expectAllAccepted(since);
    expect(read).toEqual({ document: { phase: 'canary' }, revision: expect.stringMatching(sha) });
    const calls = exchanges.slice(since).map((e) => new URL(e.url));
    expect(calls.map((u) => u.pathname)).toEqual(['/repos/acme/orders/git/matching-refs/rollgate%2Forders%2Fproduction', '/repos/acme/orders/contents/state.json']);
    expect(calls[1]!.searchParams.get('ref')).toBe(read!.revision);
  });

  it('creates the record (tree with state.json inline, a root commit, a new ref) with no request refused', async () => {
    const since = exchanges.length;
    const written = await store().write({ phase: 'canary', weight: 10 }, undefined, 'deploy-canary: 1.4.0 at 10%');
    expectAllAccepted(since);
    expect(written.revision).toMatch(sha);
    const sent = exchanges.slice(since).map((e) => ({ call: `${e.method} ${new URL(e.url).pathname}`, body: JSON.parse(e.body!) as Record<string, unknown> }));
    expect(sent.map((x) => x.call)).toEqual(['POST /repos/acme/orders/git/trees', 'POST /repos/acme/orders/git/commits', 'POST /repos/acme/orders/git/refs']);
    expect(sent[0]!.body).toEqual({ tree: [{ path: 'state.json', mode: '100644', type: 'blob', content: '{\n  "phase": "canary",\n  "weight": 10\n}\n' }] });
    expect(sent[1]!.body).toMatchObject({ parents: [], tree: expect.stringMatching(sha), message: expect.stringMatching(/^deploy-canary: 1\.4\.0 at 10%\n/) });
    expect(sent[2]!.body).toEqual({ ref: 'refs/rollgate/orders/production', sha: written.revision });
  });

  it('moves the record on by fast-forward only (force: false), its parent the revision read, with no request refused', async () => {
    const since = exchanges.length;
    const expected = '7638417db6d59f3c431d3e1f261cc637155684cd';
    await store().write({ phase: 'canary', weight: 50 }, expected, 'ramp: 50%');
    expectAllAccepted(since);
    const sent = exchanges.slice(since).map((e) => ({ call: `${e.method} ${new URL(e.url).pathname}`, body: JSON.parse(e.body!) as Record<string, unknown> }));
    expect(sent.map((x) => x.call)).toEqual([
      'POST /repos/acme/orders/git/trees',
      'POST /repos/acme/orders/git/commits',
      'PATCH /repos/acme/orders/git/refs/rollgate%2Forders%2Fproduction',
    ]);
    expect(sent[1]!.body).toMatchObject({ parents: [expected] });
    expect(sent[2]!.body).toEqual({ sha: expect.stringMatching(sha), force: false });
  });

  it('would catch a git data request that breaks the schema (a tree entry with a mode git does not know)', async () => {
    const since = exchanges.length;
    await expect(
      client().request('POST /repos/{owner}/{repo}/git/trees', {
        owner: 'acme',
        repo: 'orders',
        tree: [{ path: 'state.json', mode: '644' as '100644', type: 'blob', content: '{}' }],
      }),
    ).rejects.toThrow(/422/);
    expect(() => expectAllAccepted(since)).toThrow(/sl-violations: .*mode/);
  });
});
