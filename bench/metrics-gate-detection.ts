// Detection latency: with a 1 s scrape and a 2 s gate interval, the time from the canary
// starting to fail (10% 5xx) to `node dist/metrics-gate/index.js` exiting non-zero.
// Real Prometheus, two real services under load. Run: npx tsx bench/metrics-gate-detection.ts [runs]
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { tempDir } from '../harness/process.js';
import { startTrackPair } from '../harness/track-pair.js';

const runs = Number(process.argv[2] ?? 5);
const bundle = resolve('dist/metrics-gate/index.js');
if (!existsSync(bundle)) throw new Error('dist/metrics-gate/index.js is missing: run node scripts/build.mjs metrics-gate');
const WINDOW_S = 4;

const pair = await startTrackPair({ behaviour: { latencyMs: 10 }, rps: 50, seeds: [5, 6] });
const { canary, prometheus } = pair;
const workspace = tempDir('rollgate-bench-');
mkdirSync(join(workspace.path, '.github'));
writeFileSync(
  join(workspace.path, '.github/rollout.yml'),
  [
    'service: orders',
    'environment: production',
    `metrics: { provider: prometheus, address: "${prometheus.url}", timeout: 2s }`,
    'analysis:',
    '  interval: 2s',
    `  window: ${WINDOW_S}s`,
    '  bake: 2m',
    '  checks:',
    '    - name: error-rate',
    `      query: '(sum(rate(http_requests_total{track="{{track}}",status=~"5.."}[{{window}}])) or vector(0)) / sum(rate(http_requests_total{track="{{track}}"}[{{window}}]))'`,
    '      max: 0.05',
    '      maxIncrease: 0.02',
  ].join('\n'),
);

const latencies: number[] = [];
try {
  for (let i = 0; i < runs; i++) {
    const child = spawn(process.execPath, [bundle], { cwd: workspace.path, stdio: 'ignore', env: { PATH: process.env.PATH } });
    const exited = new Promise<{ code: number | null; at: number }>((r) => child.once('exit', (code) => r({ code, at: performance.now() })));
    // Let the gate judge a healthy canary for a while, at a varying phase of its 2 s interval.
    await new Promise((r) => setTimeout(r, 4000 + Math.random() * 2000));
    canary.behaviour.errorRate = 0.1;
    const failedAt = performance.now();
    const { code, at } = await exited;
    canary.behaviour.errorRate = 0;
    if (code === 0) throw new Error('the gate passed a failing canary');
    const seconds = (at - failedAt) / 1000;
    latencies.push(seconds);
    console.log(`run ${i + 1}: exit ${code} ${seconds.toFixed(2)} s after the canary started failing`);
    // The window must forget the failures before the next run.
    await new Promise((r) => setTimeout(r, (WINDOW_S + 2) * 1000));
  }
} finally {
  await pair.stop();
  workspace.remove();
}
latencies.sort((a, b) => a - b);
const median = latencies[Math.floor(latencies.length / 2)] as number;
console.log(
  `detection latency (1 s scrape, 2 s interval, ${WINDOW_S} s window, 10% 5xx), ${runs} runs: median ${median.toFixed(2)} s, min ${latencies[0]?.toFixed(2)} s, max ${latencies.at(-1)?.toFixed(2)} s (target median ≤ 10 s)`,
);
console.log(
  `machine: ${cpus().length} CPUs, load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
