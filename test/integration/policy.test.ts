import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCanaryStack, type CanaryStack } from '../../harness/canary-stack.js';
import { sendRequests } from '../../harness/load.js';
import { counterSamples, gaugeSamples, openMetricsText, type Sample } from '../../harness/openmetrics.js';
import { requireBinary, tempDir } from '../../harness/process.js';
import { createBlocks, startPrometheus, type PrometheusServer } from '../../harness/prometheus.js';
import { runStep } from '../../harness/action-step.js';
import { systemClock, type Clock } from '../../src/core/clock.js';
import { createMetricsProvider } from '../../src/core/metrics/index.js';
import { errorBudgetSchema, haproxyTrafficSchema, metricsSchema } from '../../src/core/plan/schema.js';
import { judgeErrorBudget, measureErrorBudget } from '../../src/core/policy/error-budget.js';
import { runDeployCanaryAction } from '../../src/core/rollout/deploy-canary.js';
import { runRollbackAction } from '../../src/core/rollout/rollback.js';
import { HaproxyTrafficProvider } from '../../src/core/traffic/haproxy.js';
import { startReceiver, type HttpReceiver } from './flags-http-receiver.js';

// Three days of a service's request counters, backfilled with promtool, judged by a real
// Prometheus. Every rate is set in advance, so each burn rate can be worked out by hand.

const haveBinaries = requireBinary('prometheus', 'prometheus') && requireBinary('promtool', 'prometheus') && requireBinary('haproxy', 'haproxy');
const describeIf = haveBinaries ? describe : describe.skip;

const STEP = 60;
const PER_MINUTE = 2000;
const BASELINE_ERRORS = 0.4; // per minute: error ratio 0.0002, burn rate 0.2 at 99.9%
const INCIDENT_ERRORS = 40; // per minute: error ratio 0.02, burn rate 20
const INCIDENT_MINUTES = 120;
const OBJECTIVE = 99.9;

// The last sample, on a whole hour two hours back; three days of data before it.
const T = Math.floor(Date.now() / 3_600_000) * 3600 - 2 * 3600;
const T0 = T - 3 * 86_400;
// Judged half a step after the last but one sample: no sample sits on a window's edge, so the
// answer does not depend on whether the range selector includes its left end.
const JUDGED_AT = (T - 30) * 1000;

/**
 * The error ratio over `windowS` at JUDGED_AT, by hand: the samples in the window are the
 * `windowS / 60` minutes up to T − 60, rate() divides the counters' growth between the first and
 * the last of them (windowS/60 − 1 increments, both counters extrapolated alike), and the last
 * `INCIDENT_MINUTES − 1` of those increments are the incident's.
 */
function handRatio(windowS: number, incident: boolean): number {
  const increments = Math.min(windowS / 60 - 1, (T - 60 - T0) / 60);
  const elevated = incident ? Math.min(increments, INCIDENT_MINUTES - 1) : 0;
  return (elevated * INCIDENT_ERRORS + (increments - elevated) * BASELINE_ERRORS) / (increments * PER_MINUTE);
}

function serviceSamples(service: string, errorsPerMinute: (t: number) => number): Sample[] {
  return [
    ...counterSamples(`http_requests_total{service="${service}",status="200"}`, T0, T, STEP, (t) => PER_MINUTE - errorsPerMinute(t)),
    ...counterSamples(`http_requests_total{service="${service}",status="500"}`, T0, T, STEP, errorsPerMinute),
  ];
}

const budgetFor = (service: string, extra: Record<string, unknown> = {}) =>
  errorBudgetSchema.parse({
    objective: OBJECTIVE,
    period: '28d',
    errors: `sum(rate(http_requests_total{service="${service}",status=~"5.."}[{{window}}]))`,
    total: `sum(rate(http_requests_total{service="${service}"}[{{window}}]))`,
    ...extra,
  });

describeIf('error budget on real Prometheus history', () => {
  let prometheus: PrometheusServer;
  let dir: ReturnType<typeof tempDir>;

  beforeAll(async () => {
    dir = tempDir('rollgate-budget-');
    const samples = [
      ...serviceSamples('healthy', () => BASELINE_ERRORS),
      ...serviceSamples('burning', (t) => (t > T - INCIDENT_MINUTES * 60 ? INCIDENT_ERRORS : BASELINE_ERRORS)),
      // 1.2× the budget's pace for three days: spent, though no alert is firing.
      ...serviceSamples('spent', () => 2.4),
      // What Sloth's recording rules hold for a service whose budget is nearly gone.
      ...gaugeSamples('slo:period_error_budget_remaining:ratio{sloth_service="sloth"}', T0, T, STEP, () => 0.05),
      ...['5m', '30m', '1h', '6h'].flatMap((w) => gaugeSamples(`slo:sli_error:ratio_rate${w}{sloth_service="sloth"}`, T0, T, STEP, () => 0.0005)),
    ];
    createBlocks(openMetricsText(samples, { http_requests: 'counter' }), join(dir.path, 'tsdb'));
    prometheus = await startPrometheus({ dataDir: join(dir.path, 'tsdb') });
  }, 120_000);

  afterAll(async () => {
    await prometheus?.stop();
    dir?.remove();
  });

  const provider = () => createMetricsProvider(metricsSchema.parse({ provider: 'prometheus', address: prometheus.url, retries: 0 }));

  it('computes every burn rate as the SRE workbook defines it: error ratio over the window / (1 − SLO)', async () => {
    const summary = await measureErrorBudget(budgetFor('burning'), provider(), JUDGED_AT);
    const budget = 1 - OBJECTIVE / 100;
    const [fast, slow] = summary.alerts;
    expect(fast!.long.burnRate).toBeCloseTo(handRatio(3600, true) / budget, 9); // 20
    expect(fast!.short.burnRate).toBeCloseTo(handRatio(300, true) / budget, 9); // 20
    expect(slow!.long.burnRate).toBeCloseTo(handRatio(21_600, true) / budget, 9); // (119·40 + 240·0.4) / (359·2000) / 0.001 ≈ 6.763
    expect(slow!.short.burnRate).toBeCloseTo(handRatio(1800, true) / budget, 9);
    expect(fast!.long.burnRate).toBeCloseTo(20, 9);
    expect(slow!.long.burnRate).toBeCloseTo((119 * 40 + 240 * 0.4) / (359 * 2000) / 0.001, 9);
    expect([fast!.holds, slow!.holds]).toEqual([true, true]);
    // The 28-day window holds all three days: 1 − (119·40 + 4200·0.4) / (4319·2000) / 0.001.
    expect(summary.remaining).toBeCloseTo(1 - handRatio(28 * 86_400, true) / budget, 9);
    expect(summary.remaining).toBeCloseTo(1 - 6440 / 8_638_000 / 0.001, 9);
    // At 20× the budget's pace, the 25% left lasts 25% × 28 days / 20.
    expect(summary.exhaustionMs).toBeCloseTo(((summary.remaining as number) * 28 * 86_400_000) / 20, 0);
  });

  it('refuses while a burn-rate alert holds, naming the rule, the rates and how to proceed', async () => {
    const config = budgetFor('burning');
    const findings = judgeErrorBudget(config, await measureErrorBudget(config, provider(), JUDGED_AT));
    const refused = findings.filter((f) => f.outcome === 'refuse');
    expect(refused.map((f) => f.rule)).toEqual(['policy.errorBudget.burnRateAlerts[0]', 'policy.errorBudget.burnRateAlerts[1]']);
    expect(refused[0]!.measured).toBe('burn rate 20× over 1h, 20× over 5m');
    expect(refused[0]!.limit).toBe('not both > 14.4× over 1h and 5m');
    expect(refused[0]!.proceed).toContain('wait until the 5m burn rate falls to 14.4× or below');
    // The floor alone would have allowed it: a quarter of the budget is left.
    expect(findings.find((f) => f.rule === 'policy.errorBudget.minRemaining')).toMatchObject({ outcome: 'allow', measured: 'budget left 25.45%' });
  });

  it('allows a healthy service and refuses a spent budget that no alert fires for', async () => {
    const healthy = budgetFor('healthy');
    const ok = judgeErrorBudget(healthy, await measureErrorBudget(healthy, provider(), JUDGED_AT));
    expect(ok.filter((f) => f.outcome === 'refuse')).toEqual([]);
    expect(ok[0]!.measured).toBe('budget left 80%');
    const spent = budgetFor('spent');
    const summary = await measureErrorBudget(spent, provider(), JUDGED_AT);
    expect(summary.remaining).toBeCloseTo(1 - 1.2, 9);
    expect(summary.exhaustionMs).toBe(0);
    const refused = judgeErrorBudget(spent, summary).filter((f) => f.outcome === 'refuse');
    expect(refused.map((f) => f.rule)).toEqual(['policy.errorBudget.minRemaining']);
    expect(refused[0]!.measured).toBe('budget left -20%');
  });

  it("reads Sloth's recording rules: the remaining ratio against the floor, and the error ratios per window", async () => {
    const config = errorBudgetSchema.parse({
      objective: OBJECTIVE,
      errorRatio: 'slo:sli_error:ratio_rate{{window}}{sloth_service="sloth"}',
      remaining: 'slo:period_error_budget_remaining:ratio{sloth_service="sloth"}',
      minRemaining: 10,
    });
    const summary = await measureErrorBudget(config, provider(), JUDGED_AT);
    expect(summary.remaining).toBeCloseTo(0.05, 9);
    expect(summary.alerts.map((a) => [a.long.burnRate, a.short.burnRate])).toEqual([
      [expect.closeTo(0.5, 9), expect.closeTo(0.5, 9)],
      [expect.closeTo(0.5, 9), expect.closeTo(0.5, 9)],
    ]);
    const refused = judgeErrorBudget(config, summary).filter((f) => f.outcome === 'refuse');
    expect(refused).toEqual([expect.objectContaining({ rule: 'policy.errorBudget.minRemaining', measured: 'budget left 5%', limit: 'budget left ≥ 10% of 28d at SLO 99.9%' })]);
  });

  it('fails closed: a query that matches nothing cannot allow a rollout', async () => {
    const config = budgetFor('no-such-service');
    const refused = judgeErrorBudget(config, await measureErrorBudget(config, provider(), JUDGED_AT)).filter((f) => f.outcome === 'refuse');
    expect(refused.map((f) => f.rule)).toEqual(['policy.errorBudget.minRemaining', 'policy.errorBudget.burnRateAlerts[0]', 'policy.errorBudget.burnRateAlerts[1]']);
    expect(refused[0]!.measured).toContain('total: no data');
  });

  describe('deploy-canary with the policy, against HAProxy', () => {
    let stack: CanaryStack;
    let receiver: HttpReceiver;
    let env: NodeJS.ProcessEnv;
    // The rollout happens "at" JUDGED_AT: the wall clock shifted back, real sleeps.
    const offset = Date.now() - JUDGED_AT;
    const shifted: Clock = { now: () => Date.now() - offset, sleep: systemClock.sleep };

    beforeAll(async () => {
      stack = await startCanaryStack({ versions: { v1: {}, v2: {} }, metrics: false });
      receiver = await startReceiver(() => ({ status: 200, body: 'ok' }));
      env = { ROLLGATE_STATE_DIR: join(stack.dir, 'state'), ROLLGATE_RUN_ID: 'policy-test', ROLLGATE_LEDGER: join(stack.dir, 'ledger.json'), GITHUB_ACTOR: 'alice' };
    }, 60_000);
    afterAll(async () => {
      await stack?.stop();
      await receiver?.close();
    });

    const plan = (service: string, name: string) =>
      stack.writePlan(
        {
          // Generous waits: under load a slow answer must not turn into a different refusal.
          metrics: { provider: 'prometheus', address: prometheus.url, timeout: '60s' },
          readiness: { url: `http://127.0.0.1:${stack.slots.canary}/health/ready`, timeout: '60s', interval: '250ms' },
          notify: { webhook: `${receiver.url}/hook` },
          policy: {
            errorBudget: {
              objective: OBJECTIVE,
              period: '28d',
              errors: `sum(rate(http_requests_total{service="${service}",status=~"5.."}[{{window}}]))`,
              total: `sum(rate(http_requests_total{service="${service}"}[{{window}}]))`,
            },
          },
        },
        name,
      );
    const traffic = () => new HaproxyTrafficProvider(haproxyTrafficSchema.parse({ provider: 'haproxy', admin: stack.haproxy.admin, backend: 'orders' }));
    // Each test starts with stable serving everything, whatever an earlier one left behind.
    afterEach(async () => {
      await runStep('rollback', (r) => runRollbackAction(r), { plan: stack.writePlan({}, 'cleanup.yml') }, env);
    });

    it('refuses while the budget burns: nothing deployed, no traffic moved, the summary says why and how to proceed', async () => {
      const { result, rt } = await runStep(
        'deploy-canary',
        (r) => runDeployCanaryAction(r, { clock: shifted }),
        { plan: plan('burning', 'burning.yml'), version: 'v2', weight: '20' },
        env,
      );
      expect(result.ok).toBe(false);
      expect(result.failure).toContain('release policy refused the rollout before any traffic moved');
      expect(result.failure).toContain('policy.errorBudget.burnRateAlerts[0]: burn rate 20× over 1h, 20× over 5m (limit: not both > 14.4× over 1h and 5m); to proceed: wait until');
      expect(rt.outputs.policy).toBe('refused');
      expect(rt.summary).toMatch(
        /Error budget: budget left 25\.45% of 28d; burn rates 20× over 1h, 20× over 5m, 6\.763× over 6h, 20× over 30m; exhausted in \d+h\d+m\d+s at the current rate/,
      );
      // Measured on the traffic layer: the canary slot got nothing, and nothing was deployed to it.
      expect((await traffic().getState()).canaryPercent).toBe(0);
      expect((await sendRequests(stack.haproxy.url, 200)).byTrack).toEqual({ stable: 200 });
      expect(await stack.versionIn('canary')).toBeUndefined();
    });

    it('goes ahead with a reason, records who overrode which rule on the deployment, and says so in the notification', async () => {
      const before = receiver.requests.length;
      const { result, rt } = await runStep(
        'deploy-canary',
        (r) => runDeployCanaryAction(r, { clock: shifted }),
        { plan: plan('burning', 'burning.yml'), version: 'v2', weight: '20', reason: 'the fix for INC-42' },
        env,
      );
      expect(result).toEqual({ ok: true });
      expect(rt.outputs.policy).toBe('overridden');
      const split = (await sendRequests(stack.haproxy.url, 500)).byTrack;
      expect(split).toEqual({ stable: 400, canary: 100 });
      const ledger = JSON.parse(readFileSync(join(stack.dir, 'ledger.json'), 'utf8')) as { deployments: { payload: { policyOverride?: unknown } }[] };
      expect(ledger.deployments.at(-1)!.payload.policyOverride).toEqual({
        by: 'alice',
        reason: 'the fix for INC-42',
        rules: ['policy.errorBudget.burnRateAlerts[0]', 'policy.errorBudget.burnRateAlerts[1]'],
      });
      const sent = receiver.requests.slice(before).map((r) => JSON.parse(r.body) as { rollgate: { event: string; reason: string } });
      expect(sent.map((s) => s.rollgate.event)).toEqual(['policy-override']);
      expect(sent[0]!.rollgate.reason).toBe('alice: the fix for INC-42 (overrode policy.errorBudget.burnRateAlerts[0], policy.errorBudget.burnRateAlerts[1])');
      await runStep('rollback', (r) => runRollbackAction(r), { plan: plan('burning', 'burning.yml') }, env);
      expect((await traffic().getState()).canaryPercent).toBe(0);
    });

    it('never holds back a rollback: a freeze refuses the rollout, not the way back', async () => {
      const day = new Date(JUDGED_AT).toISOString().slice(0, 10);
      const frozen = stack.writePlan(
        {
          readiness: { url: `http://127.0.0.1:${stack.slots.canary}/health/ready`, timeout: '60s', interval: '250ms' },
          policy: { freezes: [{ from: day, to: day, reason: 'incident review' }] },
        },
        'frozen.yml',
      );
      const refused = await runStep('deploy-canary', (r) => runDeployCanaryAction(r, { clock: shifted }), { plan: frozen, version: 'v2', weight: '30' }, env);
      expect(refused.result.failure).toContain(`policy.freezes[0]: now ${day}`);
      expect((await traffic().getState()).canaryPercent).toBe(0);
      const forced = await runStep(
        'deploy-canary',
        (r) => runDeployCanaryAction(r, { clock: shifted }),
        { plan: frozen, version: 'v2', weight: '30', reason: 'customer escalation' },
        env,
      );
      expect(forced.result).toEqual({ ok: true });
      expect((await traffic().getState()).canaryPercent).toBe(30);
      const back = await runStep('rollback', (r) => runRollbackAction(r), { plan: frozen, reason: 'canary looked wrong' }, env);
      expect(back.result).toEqual({ ok: true });
      expect((await sendRequests(stack.haproxy.url, 200)).byTrack).toEqual({ stable: 200 });
    });

    it('allows a healthy service without any reason', async () => {
      const { result, rt } = await runStep(
        'deploy-canary',
        (r) => runDeployCanaryAction(r, { clock: shifted }),
        { plan: plan('healthy', 'healthy.yml'), version: 'v2', weight: '10' },
        env,
      );
      expect(result).toEqual({ ok: true });
      expect(rt.outputs.policy).toBe('allowed');
      expect((await traffic().getState()).canaryPercent).toBe(10);
      await runStep('rollback', (r) => runRollbackAction(r), { plan: plan('healthy', 'healthy.yml') }, env);
    });
  });
});
