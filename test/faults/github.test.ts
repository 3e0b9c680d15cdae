import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { startCanaryStack, type CanaryStack } from '../../harness/canary-stack.js';
import { freePort } from '../../harness/ports.js';
import { requireBinary } from '../../harness/process.js';
import { DeploymentRecordHooks, recordHooks } from '../../src/core/github/record-hooks.js';
import { loadPlanFile } from '../../src/core/plan/load.js';
import { runDeployCanaryAction } from '../../src/core/rollout/deploy-canary.js';
import { noRolloutHooks, type RolloutHooks } from '../../src/core/rollout/hooks.js';
import { runRollbackAction } from '../../src/core/rollout/rollback.js';
import type { MemoryRuntime } from '../../src/core/runtime.js';
import { canaryShare, FaultTable, runStep } from './support.js';

const describeIf = requireBinary('haproxy', 'haproxy') ? describe : describe.skip;
const table = new FaultTable('Fault table: GitHub API (a local server answering as api.github.com does when it is down or rate-limited)');

type GitHubFault = 'down' | 'rate-limited';

/**
 * Answers every request the way GitHub's REST API documents its failures: 503 with a JSON
 * message when it is unavailable; 403 with x-ratelimit-remaining: 0 and a reset an hour away
 * when the primary rate limit is spent.
 */
async function startBrokenGitHub(): Promise<{ url: string; fault: GitHubFault; requests: string[]; close: () => Promise<void> }> {
  const state = { fault: 'down' as GitHubFault, requests: [] as string[] };
  const server: Server = createServer((req, res) => {
    state.requests.push(`${req.method} ${req.url}`);
    req.resume();
    if (state.fault === 'down') {
      res.writeHead(503, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify({ message: 'Service Unavailable', documentation_url: 'https://docs.github.com/rest' }));
      return;
    }
    const reset = Math.floor(Date.now() / 1000) + 3600;
    res.writeHead(403, {
      'content-type': 'application/json; charset=utf-8',
      'x-ratelimit-limit': '5000',
      'x-ratelimit-remaining': '0',
      'x-ratelimit-used': '5000',
      'x-ratelimit-reset': String(reset),
      'x-ratelimit-resource': 'core',
    });
    res.end(
      JSON.stringify({
        message: 'API rate limit exceeded for installation ID 1.',
        documentation_url: 'https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting',
      }),
    );
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${port}`,
    get fault() {
      return state.fault;
    },
    set fault(f: GitHubFault) {
      state.fault = f;
    },
    requests: state.requests,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describeIf('GitHub API down or rate-limited: traffic decisions never wait on it, and a missing record is reported loudly', () => {
  let stack: CanaryStack;
  let github: Awaited<ReturnType<typeof startBrokenGitHub>>;
  let plan: string;
  let run = 0;
  const env = (): NodeJS.ProcessEnv => ({
    ROLLGATE_STATE_DIR: join(stack.dir, 'state'),
    // The rollout record on shared storage: these cases break the deployment records alone.
    ROLLGATE_STORE: `file:${join(stack.dir, 'store')}`,
    ROLLGATE_RUN_ID: `gh-fault-${run}`,
    GITHUB_TOKEN: 'ghs_faultTestToken0123456789',
    GITHUB_REPOSITORY: 'acme/orders',
    GITHUB_API_URL: github.url,
    GITHUB_SHA: 'a'.repeat(40),
  });

  /**
   * The default record hooks. While GitHub is down the client's 5xx backoff is shortened so a test
   * waits milliseconds, not seconds; a rate limit keeps the real settings (the client's unit is
   * also the rate-limit wait's, and a reset an hour away must not be waited for).
   */
  const hooksFor = (rt: MemoryRuntime): RolloutHooks => {
    const loaded = loadPlanFile(plan, { env: rt.env });
    const client = github.fault === 'down' ? { retryBaseMs: 5 } : {};
    return { ...noRolloutHooks, ...recordHooks(DeploymentRecordHooks.forRun(rt, loaded.plan, loaded.file, client, stack.dir)) };
  };

  beforeAll(async () => {
    stack = await startCanaryStack({ versions: { v1: {}, v2: {} }, stableVersion: 'v1', metrics: false });
    github = await startBrokenGitHub();
    plan = stack.writePlan();
  }, 60_000);
  afterEach(async () => {
    // Whatever a test left, a rollback with records off restores stable.
    const cleanup = await runStep('rollback', (rt) => runRollbackAction(rt), { plan, records: 'none' }, env());
    expect(cleanup.result).toEqual({ ok: true });
  });
  afterAll(async () => {
    table.print();
    await github?.close();
    await stack?.stop();
  });

  it('deploy-canary with GitHub down and the rollout record on GitHub: refuses before anything moves; rollback still restores traffic, then fails loudly', async () => {
    run++;
    const deploy = await runStep('deploy-canary', (r) => runDeployCanaryAction(r), { plan, version: 'v2', weight: '30', records: 'none' }, env());
    expect(deploy.result).toEqual({ ok: true });
    expect(await canaryShare(stack.haproxy.adminPort)).toBe(30);
    github.fault = 'down';
    const onGitHub = { ...env(), ROLLGATE_STORE: 'github' };
    const refused = await runStep('deploy-canary', (r) => runDeployCanaryAction(r), { plan, version: 'v2', weight: '50' }, onGitHub);
    expect(refused.result.ok).toBe(false);
    expect(refused.result.failure).toMatch(/matching-refs\/rollgate%2Forders%2Flocal.*503/);
    expect(await canaryShare(stack.haproxy.adminPort)).toBe(30);
    const rollback = await runStep('rollback', (r) => runRollbackAction(r), { plan, reason: 'gate failed', records: 'none' }, onGitHub);
    expect(await canaryShare(stack.haproxy.adminPort)).toBe(0);
    expect(rollback.result.ok).toBe(false);
    expect(rollback.result.failure).toMatch(/rollout record could not be read or updated/);
    table.add({
      fault: 'GitHub API down (rollout record on GitHub)',
      phase: 'deploy-canary, then rollback',
      outcome: 'deploy-canary refuses before any change; rollback restores traffic from what HAProxy shows, then fails naming the record',
      canary: '30% (unchanged), then 0%',
    });
  });

  for (const fault of ['down', 'rate-limited'] as const) {
    it(`deploy-canary with GitHub ${fault}: the canary still gets its slice and the step says the record is missing`, async () => {
      run++;
      github.fault = fault;
      const before = github.requests.length;
      const { result, rt } = await runStep('deploy-canary', (r) => runDeployCanaryAction(r, { hooks: hooksFor(r) }), { plan, version: 'v2', weight: '10' }, env());
      expect(github.requests.length).toBeGreaterThan(before);
      const share = await canaryShare(stack.haproxy.adminPort);
      // The slice is not a promotion: keeping it is safe, and the gate and rollback that follow need no record.
      expect(share).toBe(10);
      const text = `${rt.text()}\n${rt.summary}`;
      expect(text).toMatch(fault === 'down' ? /503|Service Unavailable/ : /rate limit/i);
      expect(text).not.toContain('ghs_faultTestToken0123456789');
      table.add({
        fault: `GitHub API ${fault}`,
        phase: 'deploy-canary',
        outcome: result.ok ? 'slice kept; "record not written" warning in log and summary' : `step fails after the slice: ${result.failure?.slice(0, 60)}…`,
        canary: `${share}% (the gate or rollback follows)`,
      });
    });

    it(`rollback with GitHub ${fault}: traffic is restored first, then the step fails naming the record it could not write`, async () => {
      run++;
      const deploy = await runStep('deploy-canary', (r) => runDeployCanaryAction(r), { plan, version: 'v2', weight: '30', records: 'none' }, env());
      expect(deploy.result).toEqual({ ok: true });
      github.fault = fault;
      const { result, rt } = await runStep('rollback', (r) => runRollbackAction(r, { hooks: hooksFor(r) }), { plan, reason: 'gate failed' }, env());
      expect(rt.outputs['rolled-back']).toBe('true');
      expect(await canaryShare(stack.haproxy.adminPort)).toBe(0);
      expect(result.ok).toBe(false);
      expect(result.failure).toMatch(/^traffic was restored, but /);
      expect(result.failure).toMatch(/marking the deployment failed/);
      expect(`${rt.text()}\n${rt.summary}\n${result.failure}`).not.toContain('ghs_faultTestToken0123456789');
      table.add({
        fault: `GitHub API ${fault}`,
        phase: 'rollback',
        outcome: 'traffic restored first; step then fails: "traffic was restored, but marking the deployment failed …"',
        canary: '0%',
      });
    });
  }
});
