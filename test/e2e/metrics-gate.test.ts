import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startLoad } from '../../harness/load.js';
import { requireBinary, tempDir } from '../../harness/process.js';
import { startPrometheus, type PrometheusServer } from '../../harness/prometheus.js';
import { startSampleService, type SampleService } from '../../harness/sample-service.js';

const BUNDLE = resolve('dist/metrics-gate/index.js');
const haveProm = requireBinary('prometheus', 'prometheus');
const describeIf = haveProm ? describe : describe.skip;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
}

/** Reads the runner's GITHUB_OUTPUT file format: `name<<DELIMITER\nvalue\nDELIMITER`. */
function parseOutputs(text: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  const re = /^([^\n<]+)<<(\S+)\n([\s\S]*?)\n\2$/gm;
  for (const m of text.matchAll(re)) outputs[m[1] as string] = m[3] as string;
  return outputs;
}

/** Runs the bundle the way the runner does: from the workspace, INPUT_* variables, output and summary files. */
function runBundle(cwd: string, inputs: Record<string, string>, extraEnv: Record<string, string> = {}): Promise<Run> {
  const outputFile = join(cwd, `output-${Date.now()}`);
  const summaryFile = join(cwd, `summary-${Date.now()}`);
  writeFileSync(outputFile, '');
  writeFileSync(summaryFile, '');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    GITHUB_ACTIONS: 'true',
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    ...extraEnv,
  };
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.toUpperCase()}`] = value;
  return new Promise((resolveRun) => {
    execFile(process.execPath, [BUNDLE], { cwd, env, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolveRun({ code, stdout, stderr, outputs: parseOutputs(readFileSync(outputFile, 'utf8')), summary: readFileSync(summaryFile, 'utf8') });
    });
  });
}

describeIf('metrics-gate bundle, run as the runner runs it', () => {
  let stable: SampleService;
  let canary: SampleService;
  let prometheus: PrometheusServer;
  let loads: ReturnType<typeof startLoad>[] = [];
  let workspace: ReturnType<typeof tempDir>;

  beforeAll(async () => {
    expect(existsSync(BUNDLE)).toBe(true);
    workspace = tempDir('rollgate-e2e-');
    stable = await startSampleService({ track: 'stable', version: 'v1', behaviour: { latencyMs: 10 }, seed: 3 });
    canary = await startSampleService({ track: 'canary', version: 'v2', behaviour: { latencyMs: 10 }, seed: 4 });
    loads = [startLoad(`${stable.url}/orders`, 40), startLoad(`${canary.url}/orders`, 40)];
    prometheus = await startPrometheus({
      targets: [`127.0.0.1:${stable.port}`, `127.0.0.1:${canary.port}`],
      waitForQuery: 'sum(rate(http_requests_total{track="canary"}[5s])) > 0 and sum(rate(http_requests_total{track="stable"}[5s])) > 0',
    });
  }, 60_000);

  afterAll(async () => {
    await Promise.all(loads.map((l) => l.stop()));
    await prometheus?.stop();
    await stable?.close();
    await canary?.close();
    workspace?.remove();
  });

  it('passes a healthy canary with the shortcut inputs alone, writing verdict, report and summary', async () => {
    const run = await runBundle(workspace.path, {
      'prometheus-url': prometheus.url,
      'error-rate-threshold': '5',
      'latency-p99-ms': '500',
      'min-requests': '10',
      service: 'orders',
      interval: '1s',
      window: '5s',
      bake: '4s',
    });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.outputs.verdict).toBe('pass');
    const report = JSON.parse(run.outputs.report ?? '{}') as { verdict: string; measurements: { check: string; outcome: string; canaryRequests?: number }[] };
    expect(report.verdict).toBe('pass');
    expect(report.measurements.filter((m) => m.check === 'error-rate')).toHaveLength(4);
    expect(report.measurements.filter((m) => m.check === 'latency-p99')).toHaveLength(4);
    expect(report.measurements.every((m) => (m.canaryRequests ?? 0) >= 10)).toBe(true);
    expect(run.summary).toContain('### metrics-gate: orders: ✅ pass');
    expect(run.summary).toMatch(/\| error-rate \| 0 \| 0 \| ≤ 0\.05 \| ✅ pass \|/);
    expect(run.summary).toMatch(/\| latency-p99 \| [\d.]+ \| [\d.]+ \| ≤ 0\.5 \| ✅ pass \|/);
    expect(run.summary).toMatch(/```mermaid\nxychart-beta\n {2}title "latency-p99"\n {2}x-axis \[("\d+s", ){3}"\d+s"\]\n {2}line \[/);
    expect(run.stdout).toMatch(/measurement 4\/4: latency-p99 canary [\d.]+ stable [\d.]+ → pass/);
  });

  it('fails a bad canary judged by the plan file in the workspace, and exits non-zero', async () => {
    mkdirSync(join(workspace.path, '.github'), { recursive: true });
    writeFileSync(
      join(workspace.path, '.github/rollout.yml'),
      [
        'service: orders',
        'environment: production',
        'metrics:',
        '  provider: prometheus',
        '  address: ${PROM_URL}',
        'analysis:',
        '  interval: 1s',
        '  window: 5s',
        '  bake: 20s',
        '  checks:',
        '    - name: error-rate',
        `      query: '(sum(rate(http_requests_total{track="{{track}}",status=~"5.."}[{{window}}])) or vector(0)) / sum(rate(http_requests_total{track="{{track}}"}[{{window}}]))'`,
        '      maxIncrease: 0.02',
      ].join('\n'),
    );
    canary.behaviour.errorRate = 0.3;
    try {
      // The plan's address comes from the environment, as a token would.
      const run = await runBundle(workspace.path, {}, { PROM_URL: prometheus.url });
      expect(run.code).toBe(1);
      expect(run.outputs.verdict).toBe('fail');
      expect(run.stdout).toMatch(
        /::error::metrics-gate: fail: check error-rate failed 1 measurement\(s\), more than failureLimit 0 allows: canary − stable = [\d.]+ > maxIncrease 0\.02/,
      );
      expect(run.summary).toContain('### metrics-gate: orders: ❌ fail');
      expect(run.summary).toMatch(/\| error-rate \| [\d.]+ \| [\d.]+ \| canary − stable ≤ 0\.02 \| ❌ fail \|/);
      const report = JSON.parse(run.outputs.report ?? '{}') as { endedAt: number; startedAt: number };
      // Decided as soon as it failed, not after the 20 s bake.
      expect(report.endedAt - report.startedAt).toBeLessThan(19_000);
    } finally {
      canary.behaviour.errorRate = 0;
    }
  });

  it('rejects a bad plan naming the file, the field and the expectation, without a stack trace', async () => {
    const dir = join(workspace.path, 'bad');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'plan.yml'),
      [
        'service: orders',
        'environment: production',
        'metrics: { provider: prometheus, address: "http://127.0.0.1:9" }',
        'analysis:',
        '  checks:',
        '    - { name: p99, query: "x", maxRatio: fast }',
      ].join('\n'),
    );
    const run = await runBundle(dir, { plan: 'plan.yml' });
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('::error::plan.yml: analysis.checks[0].maxRatio (line 6): expected a number > 0, got "fast"');
    expect(run.stdout + run.stderr).not.toMatch(/\n\s+at /);
    expect(run.outputs.verdict).toBeUndefined();
  });
});
