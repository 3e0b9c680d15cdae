// Time to safety: from a canary starting to fail mid-ramp (10% 5xx at the 50% step) to HAProxy
// serving 0% canary. The workflow's own steps run as the runner runs them (`node
// dist/<name>/index.js` with INPUT_* variables): ramp's gate catches the failure and exits
// non-zero, then the `if: failure()` rollback step restores stable. 1 s scrape, 2 s interval.
// HAProxy's runtime API is polled every 50 ms for the moment the canary's weight reads 0.
// Run: npx tsx bench/rollback-time.ts [runs]
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { startCanaryStack } from '../harness/canary-stack.js';
import { haproxyTrafficSchema } from '../src/core/plan/schema.js';
import { HaproxyTrafficProvider } from '../src/core/traffic/haproxy.js';

const runs = Number(process.argv[2] ?? 5);
for (const name of ['deploy-canary', 'ramp', 'rollback'])
  if (!existsSync(resolve(`dist/${name}/index.js`))) throw new Error(`dist/${name}/index.js is missing: run node scripts/build.mjs ${name}`);

const stack = await startCanaryStack({ versions: { v1: {}, v2: {} }, rps: 60 });
const withAnalysis = stack.writePlan(
  {
    analysis: {
      interval: '2s',
      window: '4s',
      bake: '2m',
      minRequests: 5,
      requests: `sum(increase(http_requests_total{service="orders",track="{{track}}"}[{{window}}]))`,
      checks: [
        {
          name: 'error-rate',
          query: `sum(rate(http_requests_total{service="orders",track="{{track}}",status=~"5.."}[{{window}}])) / sum(rate(http_requests_total{service="orders",track="{{track}}"}[{{window}}]))`,
          max: 0.05,
          maxIncrease: 0.02,
        },
      ],
    },
  },
  'bench.yml',
);
const traffic = new HaproxyTrafficProvider(haproxyTrafficSchema.parse({ provider: 'haproxy', admin: stack.haproxy.admin, backend: 'orders' }));
const env = { ROLLGATE_STATE_DIR: join(stack.dir, 'state'), ROLLGATE_RUN_ID: 'bench', ROLLGATE_LEDGER: join(stack.dir, 'ledger.json') };

function runStep(name: string, inputs: Record<string, string>): { done: Promise<number> } {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const k of Object.keys(childEnv)) if (k.startsWith('GITHUB_') || k.startsWith('INPUT_')) delete childEnv[k];
  for (const [k, v] of Object.entries(inputs)) childEnv[`INPUT_${k.toUpperCase()}`] = v;
  const child = spawn(process.execPath, [resolve(`dist/${name}/index.js`)], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (c: Buffer) => (log += c.toString()));
  child.stderr.on('data', (c: Buffer) => (log += c.toString()));
  return {
    done: new Promise((r) =>
      child.on('close', (code) => {
        if (process.env.BENCH_VERBOSE) process.stdout.write(log);
        r(code ?? 1);
      }),
    ),
  };
}

async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const results: { total: number; detect: number; restore: number }[] = [];
try {
  for (let run = 1; run <= runs; run++) {
    if ((await runStep('deploy-canary', { plan: withAnalysis, version: 'v2', weight: '10' }).done) !== 0) throw new Error('deploy-canary failed');
    const ramp = runStep('ramp', { plan: withAnalysis, steps: '50,100' });
    await until('the 50% step', async () => (await traffic.getState()).canaryPercent === 50);
    // Let the gate see a few healthy measurements at 50% first: the failure starts mid-bake.
    await new Promise((r) => setTimeout(r, 5000));
    const failedAt = Date.now();
    await stack.setBehaviour('canary', { errorRate: 0.1 });
    const rampExit = await ramp.done;
    const detectedAt = Date.now();
    if (rampExit === 0) throw new Error('ramp did not fail');
    const rollback = runStep('rollback', { plan: withAnalysis, reason: 'bench' });
    await until('0% canary', async () => (await traffic.getState()).canaryPercent === 0);
    const safeAt = Date.now();
    if ((await rollback.done) !== 0) throw new Error('rollback failed');
    results.push({ total: safeAt - failedAt, detect: detectedAt - failedAt, restore: safeAt - detectedAt });
    process.stdout.write(
      `run ${run}: ${((safeAt - failedAt) / 1000).toFixed(2)} s to 0% canary (gate ${((detectedAt - failedAt) / 1000).toFixed(2)} s, rollback step ${((safeAt - detectedAt) / 1000).toFixed(2)} s)\n`,
    );
  }
} finally {
  await stack.stop();
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const totals = results.map((r) => r.total);
process.stdout.write(
  `\ncanary failing mid-ramp → HAProxy at 0% canary, ${results.length} runs (1 s scrape, 2 s interval, 4 s window; ${cpus().length} CPUs, load ${loadavg()[0]?.toFixed(2)}):\n` +
    `  median ${fmt(median(totals))}, min ${fmt(Math.min(...totals))}, max ${fmt(Math.max(...totals))}  (target: median ≤ 12 s)\n` +
    `  of which: gate detection median ${fmt(median(results.map((r) => r.detect)))}, rollback step median ${fmt(median(results.map((r) => r.restore)))}\n`,
);
process.exitCode = median(totals) <= 12_000 ? 0 : 1;
