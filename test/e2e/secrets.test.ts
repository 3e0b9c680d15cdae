import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCanaryStack, type CanaryStack } from '../../harness/canary-stack.js';
import { freePort } from '../../harness/ports.js';
import { requireBinary } from '../../harness/process.js';
import { startBundle, type BundleRun } from '../faults/support.js';

// Every bundled action, run as the runner runs it, with secret values planted where secrets live:
// tokens, passwords, webhook URLs, and ${ENV} values interpolated into the plan. Afterwards every
// byte the actions wrote (stdout, stderr, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, ledgers, state,
// reports, error messages) is searched for each value.
const ready = requireBinary('haproxy', 'haproxy') && requireBinary('prometheus', 'prometheus');
const describeIf = ready ? describe : describe.skip;

const planted = (name: string) => `PLANTED${name}${randomBytes(8).toString('hex')}`;
const SECRETS = {
  GITHUB_TOKEN: `ghs_${planted('githubToken')}`,
  GITHUB_TOKEN_INPUT: `ghp_${planted('githubTokenInput')}`,
  PROM_PASSWORD: planted('promPassword'),
  PROM_TENANT: planted('promTenant'),
  SLACK_PATH: planted('slackPath'),
  FLAG_TOKEN: planted('flagToken'),
  REGISTRY_PASSWORD: planted('registryPassword'),
};

/** A GitHub API that has spent its rate limit (as api.github.com answers then): every record write fails fast. */
function rateLimitedGitHub(): Server {
  return createServer((req, res) => {
    req.resume();
    res.writeHead(403, {
      'content-type': 'application/json',
      'x-ratelimit-remaining': '0',
      'x-ratelimit-limit': '5000',
      'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 3600),
    });
    res.end(JSON.stringify({ message: 'API rate limit exceeded', documentation_url: 'https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting' }));
  });
}

/** A webhook receiver (Slack-style notifications and the flags webhook) that answers 500, so the failure paths run too. */
function failingReceiver(bodies: string[]): Server {
  return createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      bodies.push(`${req.method} ${req.url} ${JSON.stringify(req.headers)} ${body}`);
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`no such hook: ${req.url}`);
    });
  });
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((r) => server.listen(port, '127.0.0.1', r));
}

/** Every regular file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    const st = statSync(path);
    return st.isDirectory() ? filesUnder(path) : st.isFile() ? [path] : [];
  });
}

describeIf('secrets never appear in anything an action writes', () => {
  let stack: CanaryStack;
  let work: string;
  let github: Server;
  let receiver: Server;
  let githubUrl: string;
  let receiverUrl: string;
  const received: string[] = [];
  const runs: { name: string; run: BundleRun }[] = [];
  let n = 0;
  let plan: string;

  const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
    GITHUB_RUN_ID: '4242',
    GITHUB_REPOSITORY: 'acme/orders',
    GITHUB_SHA: 'b'.repeat(40),
    GITHUB_API_URL: githubUrl,
    GITHUB_TOKEN: SECRETS.GITHUB_TOKEN,
    ROLLGATE_STATE_DIR: join(work, 'state'),
    // The rollout record in a shared file store: the GitHub here is a rate-limited fake for the records.
    ROLLGATE_STORE: `file:${join(work, 'store')}`,
    ROLLGATE_LEDGER: join(work, 'ledger.json'),
    PROM_PASSWORD: SECRETS.PROM_PASSWORD,
    PROM_TENANT: SECRETS.PROM_TENANT,
    SLACK_WEBHOOK_URL: `${receiverUrl}/services/T0/B0/${SECRETS.SLACK_PATH}`,
    FLAG_TOKEN: SECRETS.FLAG_TOKEN,
    ...extra,
  });
  async function step(name: string, inputs: Record<string, string>, extra: NodeJS.ProcessEnv = {}): Promise<BundleRun> {
    const run = await startBundle(name, inputs, { dir: work, env: env(extra), tag: `${name}-${++n}` }).done;
    runs.push({ name: `${name} #${n}`, run });
    return run;
  }

  beforeAll(async () => {
    stack = await startCanaryStack({ versions: { v1: {}, v2: {}, v3: { errorRate: 0.5 } }, stableVersion: 'v1', rps: 50 });
    work = join(stack.dir, 'work');
    mkdirSync(work);
    const [ghPort, rcvPort] = [await freePort(), await freePort()];
    github = rateLimitedGitHub();
    receiver = failingReceiver(received);
    await Promise.all([listen(github, ghPort), listen(receiver, rcvPort)]);
    githubUrl = `http://127.0.0.1:${ghPort}`;
    receiverUrl = `http://127.0.0.1:${rcvPort}`;
    plan = stack.writePlan({
      metrics: {
        provider: 'prometheus',
        address: stack.prometheus!.url,
        headers: { 'X-Scope-OrgID': '${PROM_TENANT}' },
        basicAuth: { username: 'rollgate', password: '${PROM_PASSWORD}' },
      },
      notify: { webhook: '${SLACK_WEBHOOK_URL}' },
      flags: { provider: 'webhook', url: `${receiverUrl}/flags`, headers: { Authorization: 'Bearer ${FLAG_TOKEN}' }, killSwitches: ['new-checkout'] },
    });
  }, 90_000);
  afterAll(async () => {
    await new Promise((r) => github?.close(r));
    await new Promise((r) => receiver?.close(r));
    await stack?.stop();
  });

  it('runs every action through its success and failure paths with the secrets in play', async () => {
    // deploy-canary: records to a rate-limited GitHub (warnings carry API errors), kill switch checked through the webhook.
    await step('deploy-canary', { plan, version: 'v2', weight: '20' });
    // metrics-gate: Prometheus reached with basic auth and a tenant header from the environment.
    const gate = await step('metrics-gate', { plan });
    expect(gate.outputs.verdict).toBeDefined();
    // metrics-gate whose backend refuses, with the password in the URL the error would name.
    await step('metrics-gate', { plan, 'prometheus-url': `http://rollgate:${SECRETS.PROM_PASSWORD}@127.0.0.1:9/` });
    // ramp to promotion: step records and notifications fail against the receivers.
    await step('ramp', { plan, steps: '50,100', bake: '2s' });
    // a bad canary, a failing gate, and rollback with kill switches, records and notifications all failing.
    await step('deploy-canary', { plan, version: 'v3', weight: '50' });
    await step('ramp', { plan, steps: '60', bake: '4s' });
    const rollback = await step('rollback', { plan, reason: 'gate failed', 'github-token': SECRETS.GITHUB_TOKEN_INPUT });
    expect(rollback.outputs['rolled-back']).toBe('true');
    // manual rollback to the previous version, records forced to GitHub.
    await step('rollback', { plan, to: 'previous', records: 'github' });
    // pre-deploy-checklist on a pull request, posting its comment with a token to a rate-limited GitHub.
    const event = join(work, 'event.json');
    writeFileSync(event, JSON.stringify({ number: 3, pull_request: { number: 3, body: '- [x] Runbook <!-- rollgate:runbook -->' } }));
    await step('pre-deploy-checklist', { plan, 'github-token': SECRETS.GITHUB_TOKEN_INPUT, comment: 'true' }, { GITHUB_EVENT_NAME: 'pull_request', GITHUB_EVENT_PATH: event });
    // build-and-tag with registry credentials against a registry that is not there.
    await step('build-and-tag', {
      image: '127.0.0.1:9/acme/orders',
      context: join(process.cwd(), 'test/fixtures/build/app'),
      'registry-username': 'ci',
      'registry-password': SECRETS.REGISTRY_PASSWORD,
      version: '1.2.3',
    });

    // The failure paths ran: some steps failed and said why, and the receivers were called.
    expect(runs.filter((r) => r.run.code !== 0).length).toBeGreaterThanOrEqual(3);
    expect(received.length).toBeGreaterThan(0);
    expect(runs.map((r) => r.run.output).join('\n')).toMatch(/rate limit/i);

    const leaks: string[] = [];
    const check = (where: string, text: string) => {
      for (const [name, value] of Object.entries(SECRETS)) {
        const at = text.indexOf(value);
        if (at >= 0) leaks.push(`${name} in ${where}: …${text.slice(Math.max(0, at - 120), at + value.length + 20)}…`);
      }
    };
    for (const { name, run } of runs) {
      // ::add-mask:: is how a secret is handed to the runner's masker: the runner consumes it and never shows it.
      check(
        `${name} stdout/stderr`,
        run.output
          .split('\n')
          .filter((l) => !l.startsWith('::add-mask::'))
          .join('\n'),
      );
      check(`${name} GITHUB_OUTPUT`, readFileSync(run.outputFile, 'utf8'));
      check(`${name} GITHUB_STEP_SUMMARY`, run.summary);
      for (const value of Object.values(run.outputs)) if (value.startsWith('/') && value.endsWith('.json')) check(`${name} report ${value}`, readFileSync(value, 'utf8'));
    }
    // Ledgers, rollout state, reports, and anything else the steps left in their working directory.
    for (const file of filesUnder(work)) if (!file.endsWith('event.json')) check(file, readFileSync(file, 'utf8'));
    expect(leaks).toEqual([]);
  }, 240_000);
});
