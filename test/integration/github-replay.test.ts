// Prism keeps no state, so the logic that depends on history (the rollback target) and on
// failures (retries, rate limits, bad tokens, an unreachable API) is tested against a local
// HTTP server replaying recorded GitHub answers in GitHub's documented format.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import Bottleneck from 'bottleneck';
import { freePort } from '../../harness/ports.js';
import { ReplayServer } from '../../harness/replay-server.js';
import { tempDir } from '../../harness/process.js';
import { DeploymentBookkeeping } from '../../src/core/github/bookkeeping.js';
import { createGitHubClient, type GitHubClientOptions } from '../../src/core/github/client.js';
import { GitHubDeploymentRecords } from '../../src/core/github/github-records.js';
import { LedgerDeploymentRecords } from '../../src/core/github/ledger.js';
import { manualRollback } from '../../src/core/github/manual-rollback.js';
import { DeploymentRecordHooks } from '../../src/core/github/record-hooks.js';
import { chooseRollbackTarget, type DeploymentPayload, type DeploymentState } from '../../src/core/github/records.js';
import { isUserError } from '../../src/core/errors.js';
import { MemoryRuntime } from '../../src/core/runtime.js';

const server = new ReplayServer();
const logs: string[] = [];

function githubRecords(overrides: Partial<GitHubClientOptions> = {}): GitHubDeploymentRecords {
  const octokit = createGitHubClient({
    token: 'ghs_replaytoken',
    baseUrl: server.url,
    retryBaseMs: 20,
    log: (m) => logs.push(m),
    throttle: { write: new Bottleneck.Group({ maxConcurrent: 1, minTime: 0 }) },
    ...overrides,
  });
  return new GitHubDeploymentRecords(octokit, { owner: 'acme', repo: 'orders', runUrl: 'https://github.com/acme/orders/actions/runs/9' });
}

beforeAll(async () => server.start());
afterAll(async () => server.stop());
beforeEach(() => {
  server.reset();
  logs.length = 0;
});

// ── history scenarios: GitHub and the ledger must choose the same target ──────────────────
interface Past {
  version: string;
  /** Statuses oldest first, as they were posted. */
  states: DeploymentState[];
  rollbackOfIndex?: number;
  irreversible?: boolean;
}

const scenarios: { name: string; history: Past[]; current?: string; target?: string }[] = [
  {
    name: 'the success before the current one',
    history: [
      { version: 'v1', states: ['in_progress', 'success'] },
      { version: 'v2', states: ['in_progress', 'success'] },
    ],
    current: 'v2',
    target: 'v1',
  },
  {
    name: 'skips a failed canary that was already rolled back',
    history: [
      { version: 'v1', states: ['success'] },
      { version: 'v2', states: ['success'] },
      { version: 'v3', states: ['in_progress', 'failure'] },
    ],
    current: 'v2',
    target: 'v1',
  },
  {
    name: 'counts a success GitHub later marked inactive',
    history: [
      { version: 'v1', states: ['success'] },
      { version: 'v2', states: ['success', 'inactive'] },
      { version: 'v3', states: ['success'] },
    ],
    current: 'v3',
    target: 'v2',
  },
  {
    name: 'skips a redeploy of the current version',
    history: [
      { version: 'v1', states: ['success'] },
      { version: 'v2', states: ['success'] },
      { version: 'v2', states: ['success'] },
    ],
    current: 'v2',
    target: 'v1',
  },
  {
    name: 'does not return to a version a manual rollback left',
    history: [
      { version: 'v0', states: ['success'] },
      { version: 'v1', states: ['success'] },
      { version: 'v2', states: ['success'] },
      { version: 'v1', states: ['success'], rollbackOfIndex: 2 },
    ],
    current: 'v1',
    target: 'v0',
  },
  {
    name: 'nothing when the only earlier deployment failed',
    history: [
      { version: 'v1', states: ['error'] },
      { version: 'v2', states: ['success'] },
    ],
    current: 'v2',
  },
  { name: 'nothing with a single deployment', history: [{ version: 'v1', states: ['success'] }], current: 'v1' },
  { name: 'nothing with no history', history: [] },
];

/** The history as GitHub's API would answer it: deployments and statuses newest first. */
function replayHistory(history: Past[]): void {
  const at = (i: number, j = 0) => new Date(Date.UTC(2026, 0, 1, 10, i, j)).toISOString().replace('.000', '');
  const deployments = history.map((p, i) => ({
    url: `https://api.github.com/repos/acme/orders/deployments/${100 + i}`,
    id: 100 + i,
    node_id: `D_${i}`,
    sha: 'a84d88e7554fc1fa21bcbc4efae3c782a70d2b9d',
    ref: `ref-${p.version}`,
    task: 'deploy',
    payload: {
      version: p.version,
      strategy: 'canary',
      ...(p.rollbackOfIndex !== undefined ? { rollbackOf: 100 + p.rollbackOfIndex } : {}),
      ...(p.irreversible ? { irreversible: true } : {}),
    },
    original_environment: 'production',
    environment: 'production',
    description: null,
    creator: null,
    created_at: at(i),
    updated_at: at(i),
    statuses_url: '',
    repository_url: '',
  }));
  server.on('GET /repos/acme/orders/deployments', { status: 200, body: [...deployments].reverse() });
  history.forEach((p, i) => {
    const statuses = p.states.map((state, j) => ({
      id: 1000 * i + j,
      state,
      description: '',
      created_at: at(i, j + 1),
      updated_at: at(i, j + 1),
      creator: null,
      deployment_url: '',
      repository_url: '',
    }));
    server.on(`GET /repos/acme/orders/deployments/${100 + i}/statuses`, { status: 200, body: statuses.reverse() });
  });
}

async function ledgerWith(history: Past[], file: string): Promise<LedgerDeploymentRecords> {
  let t = Date.UTC(2026, 0, 1, 10);
  const ledger = new LedgerDeploymentRecords(file, { now: () => new Date((t += 1000)) });
  const ids: number[] = [];
  for (const p of history) {
    const payload: DeploymentPayload = { version: p.version, strategy: 'canary', ...(p.rollbackOfIndex !== undefined ? { rollbackOf: ids[p.rollbackOfIndex] } : {}) };
    const d = await ledger.create({ environment: 'production', ref: `ref-${p.version}`, payload });
    ids.push(d.id);
    for (const state of p.states) await ledger.setStatus(d.id, { state });
  }
  return ledger;
}

describe('rollback target from recorded histories', () => {
  it.each(scenarios)('$name (GitHub and the ledger agree)', async ({ history, current, target }) => {
    replayHistory(history);
    const dir = tempDir('rollgate-ledger-');
    try {
      const fromGitHub = await chooseRollbackTarget(githubRecords(), 'production');
      const fromLedger = await chooseRollbackTarget(await ledgerWith(history, `${dir.path}/ledger.json`), 'production');
      for (const choice of [fromGitHub, fromLedger]) {
        expect(choice.current?.payload.version).toBe(current);
        expect(choice.target?.payload.version).toBe(target);
        if (!target) expect(choice.reason).toMatch(/no (successful )?deployments?/);
      }
    } finally {
      dir.remove();
    }
  });
});

describe('manual rollback over a recorded history', () => {
  it('redeploys the last good version and records a deployment with rollbackOf', async () => {
    replayHistory(scenarios[1]!.history);
    server.on('POST /repos/acme/orders/deployments', { status: 201, body: { id: 555, environment: 'production', ref: 'ref-v1', created_at: '2026-01-01T11:00:00Z', payload: {} } });
    server.on('POST /repos/acme/orders/deployments/555/statuses', { status: 201, body: { id: 1, state: 'success' } });
    server.on('POST /repos/acme/orders/deployments/101/statuses', { status: 201, body: { id: 2, state: 'failure' } });
    const runtime = new MemoryRuntime();
    const book = new DeploymentBookkeeping(runtime, githubRecords(), 'production');
    const redeployed: string[] = [];
    const outcome = await manualRollback(
      { to: 'previous', plan: { service: 'orders', environment: 'production', strategy: 'canary' } },
      book,
      async (v) => void redeployed.push(v),
      () => undefined,
    );
    expect(outcome).toMatchObject({ kind: 'rolled-back', version: 'v1', deploymentId: 555 });
    expect(redeployed).toEqual(['v1']);
    const create = server.seen.find((s) => s.method === 'POST' && s.path.endsWith('/deployments'))!;
    expect(JSON.parse(create.body)).toMatchObject({ ref: 'ref-v1', payload: { version: 'v1', rollbackOf: 101, previousVersion: 'v2' } });
    expect(book.missing).toEqual([]);
  });

  it('changes nothing when there is no earlier good deployment', async () => {
    replayHistory(scenarios[5]!.history);
    const book = new DeploymentBookkeeping(new MemoryRuntime(), githubRecords(), 'production');
    const redeployed: string[] = [];
    const outcome = await manualRollback(
      { to: 'previous', plan: { service: 'orders', environment: 'production', strategy: 'canary' } },
      book,
      async (v) => void redeployed.push(v),
      () => undefined,
    );
    expect(outcome.kind).toBe('nothing-to-roll-back');
    expect(redeployed).toEqual([]);
    expect(server.seen.filter((s) => s.method === 'POST')).toEqual([]);
  });

  it('refuses to go back past an irreversible release and links the runbook', async () => {
    replayHistory([
      { version: 'v1', states: ['success'] },
      { version: 'v2', states: ['success'], irreversible: true },
    ]);
    const book = new DeploymentBookkeeping(new MemoryRuntime(), githubRecords(), 'production');
    const redeployed: string[] = [];
    const run = manualRollback(
      { to: 'previous', plan: { service: 'orders', environment: 'production', strategy: 'canary', runbook: 'https://wiki.example.com/orders/runbook' } },
      book,
      async (v) => void redeployed.push(v),
      () => undefined,
    );
    await expect(run).rejects.toThrow(/irreversible.*https:\/\/wiki\.example\.com\/orders\/runbook/);
    expect(redeployed).toEqual([]);
  });

  it('refuses when the plan marks the release irreversible, before reading anything', async () => {
    const book = new DeploymentBookkeeping(new MemoryRuntime(), githubRecords(), 'production');
    const run = manualRollback(
      {
        to: 'v1',
        plan: { service: 'orders', environment: 'production', strategy: 'canary', irreversible: 'dropped column orders.legacy_total', runbook: 'https://wiki.example.com/rb' },
      },
      book,
      async () => undefined,
      () => undefined,
    );
    await expect(run).rejects.toThrow(/dropped column orders\.legacy_total.*https:\/\/wiki\.example\.com\/rb/);
    expect(server.seen).toEqual([]);
  });
});

// ── faults ────────────────────────────────────────────────────────────────────────────────
const created = { status: 201, body: { id: 77, environment: 'production', ref: 'main', created_at: '2026-01-01T10:00:00Z', payload: {} } };
const newDeployment = { environment: 'production', ref: 'main', payload: { version: 'v2', strategy: 'canary' } };

describe('GitHub API faults', () => {
  it('retries 500s with backoff, then succeeds', async () => {
    server.on('POST /repos/acme/orders/deployments', { status: 500, body: { message: 'Server Error' } }, { status: 502, body: { message: 'Bad Gateway' } }, created);
    const record = await githubRecords().create(newDeployment);
    expect(record.id).toBe(77);
    expect(server.seen.map((s) => s.method)).toEqual(['POST', 'POST', 'POST']);
  });

  it('waits for a primary rate limit to reset, then retries', async () => {
    const reset = Math.ceil(Date.now() / 1000) + 1;
    server.on(
      'POST /repos/acme/orders/deployments',
      {
        status: 403,
        headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-limit': '1000', 'x-ratelimit-reset': String(reset) },
        body: { message: 'API rate limit exceeded for installation ID 1.' },
      },
      created,
    );
    const record = await githubRecords().create(newDeployment);
    expect(record.id).toBe(77);
    expect(server.seen).toHaveLength(2);
    // The wait is retryAfter × retryBaseMs (20 ms here), at least one unit.
    expect(server.seen[1]!.at - server.seen[0]!.at).toBeGreaterThanOrEqual(20);
    expect(logs.join('\n')).toMatch(/rate limit on POST .*: waiting \d+ s, then retrying/);
  });

  it('waits for a secondary rate limit (retry-after), then retries', async () => {
    server.on(
      'POST /repos/acme/orders/deployments',
      { status: 403, headers: { 'retry-after': '1' }, body: { message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.' } },
      created,
    );
    expect((await githubRecords().create(newDeployment)).id).toBe(77);
    expect(server.seen).toHaveLength(2);
    expect(logs.join('\n')).toMatch(/secondary rate limit/);
  });

  it('does not retry a 401 and names the token input and the permission', async () => {
    server.on('POST /repos/acme/orders/deployments', { status: 401, body: { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' } });
    const err = await githubRecords({ tokenInput: 'github-token' })
      .create(newDeployment)
      .catch((e: unknown) => e);
    expect(isUserError(err)).toBe(true);
    expect((err as Error).message).toMatch(/input github-token.*401: Bad credentials.*deployments: write/);
    expect((err as Error).stack ?? '').not.toContain('\n    at RequestError');
    expect(server.seen).toHaveLength(1);
  });

  it('does not retry a 403 without permission and names the permission needed', async () => {
    server.on('POST /repos/acme/orders/deployments', { status: 403, body: { message: 'Resource not accessible by integration' } });
    const err = await githubRecords()
      .create(newDeployment)
      .catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/403: Resource not accessible by integration.*lacks permission.*permissions: deployments: write/);
    expect(server.seen).toHaveLength(1);
  });

  it("does not retry a 422 and passes GitHub's reason on", async () => {
    server.on('POST /repos/acme/orders/deployments', { status: 422, body: { message: 'Validation Failed', errors: [{ message: 'No ref found for: nope' }] } });
    await expect(githubRecords().create({ ...newDeployment, ref: 'nope' })).rejects.toThrow(/422 Validation Failed: No ref found for: nope/);
    expect(server.seen).toHaveLength(1);
  });

  it('reports an unreachable API as a missing record and fails the run after the work is done', async () => {
    const closed = await freePort();
    const runtime = new MemoryRuntime();
    const octokit = createGitHubClient({ token: 'ghs_x', baseUrl: `http://127.0.0.1:${closed}`, retries: 1, retryBaseMs: 10 });
    const book = new DeploymentBookkeeping(runtime, new GitHubDeploymentRecords(octokit, { owner: 'acme', repo: 'orders' }), 'production');
    await book.finish(12, 'failure', 'rolled back: error rate 7% > 5%');
    const result = book.settle({ ok: true });
    expect(result.ok).toBe(false);
    expect(result.failure).toMatch(/could not be written/);
    expect(runtime.summary).toMatch(/Deployment records missing[\s\S]*status failure[\s\S]*gh api repos\/\{owner\}\/\{repo\}\/deployments\/12\/statuses -f state=failure/);
  });

  it('retries a record call without creating the deployment twice', async () => {
    server.on('POST /repos/acme/orders/deployments', created);
    server.on('POST /repos/acme/orders/deployments/77/statuses', { status: 422, body: { message: 'Validation Failed' } }, { status: 201, body: { id: 1, state: 'in_progress' } });
    server.on('GET /repos/acme/orders/deployments', { status: 200, body: [] });
    const runtime = new MemoryRuntime({}, { GITHUB_SHA: 'abc' });
    const hooks = new DeploymentRecordHooks(runtime, githubRecords(), { service: 'orders', environment: 'production' });
    const event = { service: 'orders', environment: 'production', strategy: 'canary' as const, version: 'v2', weight: 5 };
    await expect(hooks.deploymentStarted(event)).rejects.toThrow(/could not record status in_progress of deployment #77.*What to do: set it by hand/);
    await hooks.deploymentStarted(event);
    expect(server.seen.filter((s) => s.method === 'POST' && s.path.endsWith('/deployments'))).toHaveLength(1);
    expect(runtime.outputs['deployment-id']).toBe('77');
  });
});

describe('GitHub API faults, further 4xx', () => {
  it('does not retry other 4xx either (406, 409) and names the real path', async () => {
    server.on('POST /repos/acme/orders/deployments', { status: 409, body: { message: 'Conflict: merge conflict' } });
    await expect(githubRecords().create(newDeployment)).rejects.toThrow(/POST \/repos\/acme\/orders\/deployments: 409 Conflict/);
    server.on('GET /repos/acme/orders/deployments', { status: 406, body: { message: 'Unsupported media type' } });
    await expect(githubRecords().list('production')).rejects.toThrow(/406/);
    expect(server.seen).toHaveLength(2);
  });
});
