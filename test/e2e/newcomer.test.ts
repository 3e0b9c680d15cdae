import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { startCanaryStack, type CanaryStack } from '../../harness/canary-stack.js';
import { sendRequests } from '../../harness/load.js';
import { requireBinary } from '../../harness/process.js';

// A newcomer's first rollout: the README's plan and workflows-examples/canary.yml, taken as they
// are, with only what a newcomer must fill in changed (FILLED_IN below): the addresses of a real
// local HAProxy and Prometheus, the deploy command, and a time scale a test can wait for. The
// sample app has never served a 5xx (its error series does not exist until the first one),
// like most apps on their first day. The workflow's steps run through the CLI, in order, with
// the workflow's own `with:` values and its `if: failure() || cancelled()` rollback.
const ROOT = process.cwd();
const HAVE = requireBinary('haproxy', 'haproxy') && requireBinary('prometheus', 'prometheus');
const maybe = HAVE ? describe : describe.skip;

type Step = { id?: string; if?: string; uses?: string; with?: Record<string, string> };

/** The README's rollout plan, parsed. */
function readmePlan(): Record<string, unknown> {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const block = /### The rollout plan[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
  if (!block) throw new Error('README.md has no rollout plan block under "### The rollout plan"');
  return parse(block) as Record<string, unknown>;
}

/** The rollout job's rollgate steps from workflows-examples/canary.yml. */
function canarySteps(): Step[] {
  const wf = parse(readFileSync(join(ROOT, 'workflows-examples/canary.yml'), 'utf8')) as { jobs: { rollout: { steps: Step[] } } };
  return wf.jobs.rollout.steps.filter((s) => /\/rollgate\/actions\/[a-z-]+@/.test(s.uses ?? ''));
}

interface StepResult {
  action: string;
  status: number;
  outputs: Record<string, string>;
  out: string;
}

maybe('a newcomer: the README plan and canary.yml against a real HAProxy and Prometheus', () => {
  let stack: CanaryStack;
  let webhook: Server;
  const notifications: string[] = [];
  let planFile: string;

  beforeAll(async () => {
    webhook = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        notifications.push(body);
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
    // No release of this app has ever answered 500: its error series does not exist yet.
    const fresh = { zeroErrorSeries: false };
    stack = await startCanaryStack({ versions: { v1: fresh, v2: fresh, v3: { ...fresh, errorRate: 0.2 } }, stableVersion: 'v1', rps: 100 });
    const plan = readmePlan();
    const FILLED_IN = {
      traffic: { ...(plan.traffic as object), admin: stack.haproxy.admin },
      deploy: { command: stack.deployCommand },
      readiness: { url: `http://127.0.0.1:${stack.slots.canary}/health/ready`, timeout: '20s' },
      smoke: [{ name: 'health', url: `http://127.0.0.1:${stack.slots.canary}/health/live`, expectStatus: 200 }],
      metrics: { ...(plan.metrics as object), address: stack.prometheus!.url },
      // Minutes become seconds; at 5% of 100 requests/s a 6 s window holds ~30 canary requests.
      analysis: { ...(plan.analysis as object), interval: '2s', bake: '8s', window: '6s', minRequests: 10 },
    };
    // No flag service here: the kill-switch section is left out (docs/kill-switches.md).
    const { flags: _flags, ...rest } = plan;
    // Where the workflow's `plan:` says it is, in the checkout the steps run in.
    mkdirSync(join(stack.dir, '.github'), { recursive: true });
    planFile = join(stack.dir, '.github/rollout.yml');
    writeFileSync(planFile, stringify({ ...rest, ...FILLED_IN }));
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
    await new Promise((resolve) => webhook?.close(resolve));
  });

  /** Runs canary.yml's rollout job for `version` through the CLI, as the runner would run its steps. */
  async function rollout(version: string): Promise<StepResult[]> {
    const results: StepResult[] = [];
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PROM_TOKEN: 'local-token',
      SLACK_WEBHOOK_URL: `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/hook`,
      ROLLGATE_STATE_DIR: join(stack.dir, 'state'),
    };
    const outcome: Record<string, string> = {};
    const outputs: Record<string, Record<string, string>> = {};
    let failed = false;
    for (const step of canarySteps()) {
      if (step.if === 'failure() || cancelled()' ? !failed : failed) continue;
      const action = /\/actions\/([a-z-]+)@/.exec(step.uses!)![1]!;
      const args = [action];
      for (const [input, value] of Object.entries(step.with ?? {})) args.push(`--${input}`, evaluate(String(value), { version, outcome, outputs }));
      // Asynchronously: the load and the webhook live in this process and must keep answering.
      const r = await run([join(ROOT, 'bin/rollgate.js'), ...args], { cwd: stack.dir, env });
      const printed = Object.fromEntries([...r.stdout.matchAll(/^output ([a-z-]+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
      const status = r.status ?? 1;
      results.push({ action, status, outputs: printed, out: `${r.stdout}${r.stderr}` });
      if (step.id) {
        outcome[step.id] = status === 0 ? 'success' : 'failure';
        outputs[step.id] = printed;
      }
      if (status !== 0) failed = true;
    }
    return results;
  }

  function explain(results: StepResult[]): string {
    return results
      .map(
        (r) =>
          `── rollgate ${r.action} → exit ${r.status}\n${r.out
            .split('\n')
            .filter((l) => /verdict|measurement|inconclusive|fail|error|output /.test(l))
            .slice(-25)
            .join('\n')}`,
      )
      .join('\n');
  }

  it('promotes the healthy release: every step passes, stable runs it, and the canary gets no traffic after', async () => {
    const results = await rollout('v2');
    const summary = results.map((r) => `${r.action}:${r.status}`).join(' ');
    // The README's error-rate query divides 5xx by all requests: for an app that never served a
    // 5xx the numerator has no series, so unless the query (or the gate) treats that as 0, the
    // healthy canary is inconclusive and a newcomer's first rollout fails. Shown in full here.
    if (summary !== 'deploy-canary:0 metrics-gate:0 ramp:0') throw new Error(`the healthy release did not promote (${summary}):\n${explain(results)}`);
    expect(results.find((r) => r.action === 'ramp')?.outputs.promoted).toBe('true');
    expect(await stack.versionIn('stable')).toBe('v2');
    const after = await sendRequests(stack.haproxy.url, 200);
    expect(after.byTrack).toEqual({ stable: 200 });
  }, 600_000);

  it('rolls the bad release back: the gate fails, the rollback step runs, and no request reaches it after', async () => {
    const before = notifications.length;
    const results = await rollout('v3');
    expect(results.map((r) => r.action)).toEqual(['deploy-canary', 'metrics-gate', 'rollback']);
    expect(results[0]!.status).toBe(0);
    expect({ status: results[1]!.status, verdict: results[1]!.outputs.verdict }).toEqual({ status: 1, verdict: 'fail' });
    expect(results[2]!.status).toBe(0);
    expect(results[2]!.outputs['rolled-back']).toBe('true');
    const after = await sendRequests(stack.haproxy.url, 200);
    expect(after.byTrack).toEqual({ stable: 200 });
    expect(await stack.versionIn('stable')).not.toBe('v3');
    // The plan's notify.slack webhook was told, through the secret the workflow passes.
    expect(notifications.slice(before).join('\n')).toMatch(/roll/i);
  }, 600_000);
});

/** Runs node with `args` without blocking this process; the exit status and everything printed. */
function run(args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGTERM'), 240_000);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/** The few workflow expressions canary.yml's rollout steps use, evaluated as the runner would. */
function evaluate(value: string, context: { version: string; outcome: Record<string, string>; outputs: Record<string, Record<string, string>> }): string {
  return value.replace(/\$\{\{\s*(.*?)\s*\}\}/g, (_, expression: string) => {
    if (expression === 'needs.build.outputs.image-ref') return context.version;
    if (expression === 'github.workflow') return 'canary';
    if (expression === 'github.run_number') return '1';
    const output = /^steps\.([\w-]+)\.outputs\.([\w-]+)$/.exec(expression);
    if (output) return context.outputs[output[1]!]?.[output[2]!] ?? '';
    // (a == 'failure' || b == 'failure') && 'failure' || 'error': the cause of a rollback.
    if (/^[\s\w.()'=|&-]+$/.test(expression)) {
      const js = expression.replace(/steps\.([\w-]+)\.outcome/g, (_m, id: string) => JSON.stringify(context.outcome[id] ?? 'skipped')).replace(/==/g, '===');
      return String(new Function(`return (${js});`)());
    }
    throw new Error(`the newcomer test does not know the expression \${{ ${expression} }}`);
  });
}
