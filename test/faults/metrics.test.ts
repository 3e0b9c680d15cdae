import { join } from 'node:path';
import { startCanaryStack, type CanaryStack } from '../../harness/canary-stack.js';
import { requireBinary } from '../../harness/process.js';
import { waitForSeries } from '../../harness/prometheus.js';
import { runDeployCanaryAction } from '../../src/core/rollout/deploy-canary.js';
import { runMetricsGateAction } from '../../src/core/rollout/metrics-gate.js';
import { runRampAction } from '../../src/core/rollout/ramp.js';
import { runRollbackAction } from '../../src/core/rollout/rollback.js';
import { canaryShare, FaultTable, HttpFaultProxy, runStep } from './support.js';

const ready = requireBinary('haproxy', 'haproxy') && requireBinary('prometheus', 'prometheus');
const describeIf = ready ? describe : describe.skip;
const table = new FaultTable('Fault table: metrics backend (real Prometheus behind a fault proxy, or real queries that return no usable number)');

const service = 'orders';
const errorRate = `sum(rate(http_requests_total{service="${service}",track="{{track}}",status=~"5.."}[{{window}}])) or vector(0)`;
const total = `sum(rate(http_requests_total{service="${service}",track="{{track}}"}[{{window}}]))`;

describeIf('faults in the metrics backend: the gate never passes on them, and a blip within consecutiveErrorLimit does not stop it', () => {
  let stack: CanaryStack;
  let proxy: HttpFaultProxy;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    stack = await startCanaryStack({ versions: { v1: {}, v2: {} }, stableVersion: 'v1', rps: 60 });
    proxy = await new HttpFaultProxy(stack.prometheus!.url).start();
    env = { ROLLGATE_STATE_DIR: join(stack.dir, 'state'), ROLLGATE_LEDGER: join(stack.dir, 'ledger.json'), ROLLGATE_RUN_ID: 'metrics-faults' };
    const deploy = await runStep('deploy-canary', (rt) => runDeployCanaryAction(rt), { plan: planWith(), version: 'v2', weight: '40' }, env);
    expect(deploy.result).toEqual({ ok: true });
    await waitForSeries(stack.prometheus!.url, `http_requests_total{service="${service}",track="canary"}`);
  }, 90_000);
  afterEach(() => proxy.fail('pass'));
  afterAll(async () => {
    table.print();
    await proxy?.stop();
    await stack?.stop();
  });

  /** A plan whose metrics go through the fault proxy; `query` replaces the one check's query. */
  function planWith(query = `(${errorRate}) / ${total}`, name = 'rollout.yml'): string {
    return stack.writePlan(
      {
        // retries: 0 so each injected failure is one error the gate must count, not one the client hides.
        metrics: { provider: 'prometheus', address: proxy.url, timeout: '1s', retries: 0 },
        analysis: {
          interval: '500ms',
          bake: '3s',
          window: '5s',
          minRequests: 5,
          failureLimit: 0,
          consecutiveErrorLimit: 2,
          onInconclusive: 'fail',
          requests: `sum(increase(http_requests_total{service="${service}",track="{{track}}"}[{{window}}]))`,
          checks: [{ name: 'error-rate', query, max: 0.05, maxIncrease: 0.02 }],
        },
      },
      name,
    );
  }

  async function gate(plan = planWith()) {
    return runStep('metrics-gate', (rt) => runMetricsGateAction(rt), { plan }, env);
  }

  it('the gate passes a healthy canary through the proxy (the control case every fault is compared with)', async () => {
    const { result, rt } = await gate();
    expect(rt.outputs.verdict).toBe('pass');
    expect(result).toEqual({ ok: true });
  });

  it('Prometheus down before the gate: error, the step fails', async () => {
    await proxy.stop();
    try {
      const { result, rt } = await gate();
      expect(rt.outputs.verdict).toBe('error');
      expect(result.ok).toBe(false);
      expect(result.failure).toMatch(/ECONNREFUSED|connection refused|unreachable|fetch failed/i);
      table.add({ fault: 'Prometheus down', phase: 'before the gate', outcome: 'verdict error, step fails', canary: '40% (unchanged; rollback follows)' });
    } finally {
      await proxy.start(proxy.port);
    }
  });

  it('Prometheus going down during the gate, for longer than consecutiveErrorLimit: error, never pass', async () => {
    const dies = setTimeout(() => void proxy.stop(), 900);
    try {
      const { result, rt } = await gate();
      expect(rt.outputs.verdict).toBe('error');
      expect(result.ok).toBe(false);
      expect(result.failure).toMatch(/consecutiveErrorLimit 2/);
      table.add({
        fault: 'Prometheus down',
        phase: 'during the gate',
        outcome: 'verdict error after consecutiveErrorLimit is exceeded, step fails',
        canary: '40% (unchanged; rollback follows)',
      });
    } finally {
      clearTimeout(dies);
      await proxy.stop();
      await proxy.start(proxy.port);
    }
  });

  it('Prometheus slower than the timeout: each query is abandoned at the timeout, the gate ends in error', async () => {
    proxy.fail('hang');
    const { result, rt } = await gate();
    expect(rt.outputs.verdict).toBe('error');
    expect(result.ok).toBe(false);
    expect(result.failure).toMatch(/1000 ms|1s|timed? ?out/i);
    table.add({
      fault: 'Prometheus slower than the timeout',
      phase: 'during the gate',
      outcome: 'every query abandoned at 1s; verdict error, step fails',
      canary: '40% (unchanged; rollback follows)',
    });
  });

  it('HTTP 500 then recovery within consecutiveErrorLimit: the gate counts the errors, continues, and judges the canary', async () => {
    // The first measurement's queries fail; later ones reach Prometheus again.
    proxy.fail('error', 3);
    const { result, rt } = await gate();
    expect(proxy.remaining).toBe(0);
    expect(rt.outputs.verdict).toBe('pass');
    expect(result).toEqual({ ok: true });
    expect(rt.text()).toMatch(/500/);
    table.add({
      fault: 'Prometheus HTTP 500, then recovery',
      phase: 'during the gate',
      outcome: 'errors counted (within consecutiveErrorLimit); gate continues and judges: pass on a healthy canary',
      canary: '40% (the gate decides)',
    });
  });

  it('a query that answers NaN: inconclusive, the step fails (onInconclusive: fail)', async () => {
    const { result, rt } = await gate(planWith(`(${total} * 0) / 0`, 'nan.yml'));
    expect(rt.outputs.verdict).toBe('inconclusive');
    expect(result.ok).toBe(false);
    expect(result.failure).toMatch(/NaN/);
    table.add({ fault: 'query returns NaN', phase: 'during the gate', outcome: 'verdict inconclusive, named (NaN); step fails', canary: '40% (unchanged; rollback follows)' });
  });

  it('a query that answers an empty vector: inconclusive, the step fails', async () => {
    const { result, rt } = await gate(planWith(`sum(rate(no_such_metric_total{track="{{track}}"}[{{window}}]))`, 'empty.yml'));
    expect(rt.outputs.verdict).toBe('inconclusive');
    expect(result.ok).toBe(false);
    expect(result.failure).toMatch(/no (data|series)|empty/i);
    table.add({
      fault: 'query returns an empty vector',
      phase: 'during the gate',
      outcome: 'verdict inconclusive, named (no series); step fails',
      canary: '40% (unchanged; rollback follows)',
    });
  });

  it('a query that answers several series: error naming the count, the step fails', async () => {
    const several = `${total} or label_replace(${total}, "copy", "1", "", "")`;
    const { result, rt } = await gate(planWith(several, 'several.yml'));
    expect(rt.outputs.verdict).toBe('error');
    expect(result.ok).toBe(false);
    expect(result.failure).toMatch(/2 series where one was expected/);
    table.add({
      fault: 'query returns several series',
      phase: 'during the gate',
      outcome: 'verdict error ("2 series where one was expected"); step fails',
      canary: '40% (unchanged; rollback follows)',
    });
  });

  it('Prometheus down during a ramp: the ramp stops at the step it must judge first, is not promoted, and rollback then restores stable', async () => {
    proxy.fail('refuse');
    const ramp = await runStep('ramp', (rt) => runRampAction(rt), { plan: planWith(), steps: '60,100', version: 'v2' }, env);
    expect(ramp.result.ok).toBe(false);
    expect(ramp.result.failure).toMatch(/^ramp stopped at 40%: gate error/);
    expect(ramp.rt.outputs.promoted).toBe('false');
    expect(await stack.versionIn('stable')).toBe('v1');
    const left = await canaryShare(stack.haproxy.adminPort);
    // No gate passed at 40% in this rollout, so the ramp judges 40% again before moving on.
    expect(left).toBe(40);
    const rollback = await runStep('rollback', (rt) => runRollbackAction(rt), { plan: planWith(), reason: 'gate error' }, env);
    expect(rollback.result).toEqual({ ok: true });
    expect(await canaryShare(stack.haproxy.adminPort)).toBe(0);
    table.add({
      fault: 'Prometheus down',
      phase: 'ramp gate at 40% (the current step, judged again)',
      outcome: 'ramp stops: gate error; not promoted; rollback succeeds',
      canary: '40% until rollback, then 0%',
    });
  });
});
