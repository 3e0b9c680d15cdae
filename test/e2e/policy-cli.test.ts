import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { counterSamples, openMetricsText } from '../../harness/openmetrics.js';
import { requireBinary, tempDir } from '../../harness/process.js';
import { createBlocks, startPrometheus, type PrometheusServer } from '../../harness/prometheus.js';

// `rollgate check-plan` and `rollgate backtest` through the CLI bundle, from a directory outside
// the project, against a real Prometheus holding a recorded incident.

const ROOT = process.cwd();
const describeIf = requireBinary('prometheus', 'prometheus') && requireBinary('promtool', 'prometheus') ? describe : describe.skip;
const T0 = Math.floor(Date.now() / 3_600_000) * 3600 - 3 * 3600;
const INCIDENT = T0 + 10 * 60;
const END = T0 + 20 * 60;
// Data runs up to now, so check-plan (which asks about now) finds the incident long over.
const NOW = Math.floor(Date.now() / 5000) * 5;
const ERROR_RATE = '(sum(rate(http_requests_total{track="{{track}}",status=~"5.."}[{{window}}])) or vector(0)) / sum(rate(http_requests_total{track="{{track}}"}[{{window}}]))';

describeIf('the CLI modes against a real Prometheus', () => {
  let prometheus: PrometheusServer;
  let dir: ReturnType<typeof tempDir>;
  let plan: string;

  beforeAll(async () => {
    dir = tempDir('rollgate-policy-cli-');
    const samples = ['stable', 'canary'].flatMap((track) => [
      ...counterSamples(`http_requests_total{track="${track}",status="200"}`, T0, NOW, 5, () => 99),
      ...counterSamples(`http_requests_total{track="${track}",status="500"}`, T0, NOW, 5, (t) => (track === 'canary' && t > INCIDENT && t <= END ? 20 : 1)),
    ]);
    createBlocks(openMetricsText(samples, { http_requests: 'counter' }), join(dir.path, 'tsdb'));
    prometheus = await startPrometheus({ dataDir: join(dir.path, 'tsdb'), scrapeInterval: '5s' });
    plan = join(dir.path, 'rollout.yml');
    writeFileSync(
      plan,
      stringify({
        service: 'orders',
        environment: 'production',
        metrics: { provider: 'prometheus', address: prometheus.url },
        analysis: { interval: '30s', window: '1m', bake: '5m', checks: [{ name: 'error-rate', query: ERROR_RATE, max: 0.05 }] },
      }),
    );
  }, 120_000);

  afterAll(async () => {
    await prometheus?.stop();
    dir?.remove();
  });

  function cli(args: string[]): Promise<{ status: number | null; out: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [join(ROOT, 'bin/rollgate.js'), ...args], { cwd: dir.path, env: { PATH: process.env.PATH, HOME: process.env.HOME }, timeout: 60_000 });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      child.on('error', reject);
      child.on('close', (status) => resolve({ status, out }));
    });
  }

  it('check-plan runs each query once and passes a sound plan', async () => {
    const r = await cli(['check-plan', '--plan', plan]);
    expect(r.out).toContain('rollgate check-plan');
    expect(r.out).toContain('scrape interval 5s');
    expect(r.out).toMatch(/\| error-rate \| 0\.01 \| 0\.01 \| pass: within limits \| – \|/);
    expect(r.out).toContain('output result=pass');
    expect(r.status).toBe(0);
  });

  it('backtest --from --to reports when the gate would have fired, and writes JSON', async () => {
    const json = join(dir.path, 'out.json');
    const r = await cli(['backtest', '--plan', plan, '--from', new Date(T0 * 1000 + 60_000).toISOString(), '--to', String(END), '--json', json]);
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/: fail\n/);
    const [result] = JSON.parse(readFileSync(json, 'utf8')) as { verdict: string; firedAt: number }[];
    expect(result!.verdict).toBe('fail');
    // 30 s after the errors began, half the 1-minute window is bad: (6·20 + 6·1) / (6·119 + 6·100) ≈ 9.6% > 5%.
    expect(result!.firedAt).toBe((INCIDENT + 30) * 1000);
    expect(r.out).toContain(`would have fired at ${new Date((INCIDENT + 30) * 1000).toISOString().replace('.000Z', 'Z')}`);
  });

  it('names a bad time without a stack trace', async () => {
    const r = await cli(['backtest', '--plan', plan, '--from', 'yesterday']);
    expect(r.status).toBe(1);
    expect(r.out).toContain('--from: expected a time such as 2026-11-24T14:00:00Z or unix seconds, got "yesterday"');
    expect(r.out).not.toMatch(/\n\s+at /);
  });
});
