import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCanaryStack, type CanaryStack } from '../../harness/canary-stack.js';
import { requireBinary } from '../../harness/process.js';
import { runDeployCanaryAction } from '../../src/core/rollout/deploy-canary.js';
import { runRampAction } from '../../src/core/rollout/ramp.js';
import { runRollbackAction } from '../../src/core/rollout/rollback.js';
import { AdminFaultProxy, canaryShare, FaultTable, runStep, type FaultMode } from './support.js';

const describeIf = requireBinary('haproxy', 'haproxy') ? describe : describe.skip;
const table = new FaultTable('Fault table: traffic layer (real HAProxy runtime API behind a fault proxy) and deploy command');

// How each fault looks from the client's side, for the table and for the error a person reads.
const FAULTS: Record<Exclude<FaultMode, 'pass'>, { name: string; expect: RegExp }> = {
  // A connection dropped before HAProxy answers: a change says so, a read says it got an empty answer.
  refuse: {
    name: 'HAProxy admin socket refusing',
    expect: /connection refused|ECONNRESET|closed the connection without answering|an empty answer|read-back after the change does not match/,
  },
  hang: { name: 'HAProxy admin socket hanging', expect: /no answer within 1000 ms/ },
  error: { name: 'HAProxy admin socket answering an error', expect: /No such server/ },
};

describeIf('faults in the traffic layer and the deploy command: nothing is promoted, rollback ends at 0% or fails loudly', () => {
  let stack: CanaryStack;
  let admin: AdminFaultProxy;
  let plan: string;
  let run = 0;
  const env = () => ({ ROLLGATE_STATE_DIR: join(stack.dir, 'state'), ROLLGATE_LEDGER: join(stack.dir, 'ledger.json'), ROLLGATE_RUN_ID: `fault-run-${run}` });
  const share = () => canaryShare(stack.haproxy.adminPort);

  beforeAll(async () => {
    stack = await startCanaryStack({ versions: { v1: {}, v2: {}, v3: {} }, stableVersion: 'v1', metrics: false });
    admin = await new AdminFaultProxy(stack.haproxy.adminPort).start();
    plan = stack.writePlan({ traffic: { provider: 'haproxy', admin: admin.address, backend: stack.service, stable: 'stable', canary: 'canary', timeout: '1s' } });
  }, 60_000);
  // Every path must end recoverable: whatever a test left, the next rollback restores stable.
  afterEach(async () => recover());
  afterAll(async () => {
    table.print();
    await admin?.stop();
    await stack?.stop();
  });

  /** A canary of v2 at 10%, through the proxy while it passes everything. */
  async function canaryAt10(): Promise<void> {
    run++;
    admin.fail('pass');
    const deploy = await runStep('deploy-canary', (rt) => runDeployCanaryAction(rt), { plan, version: 'v2', weight: '10' }, env());
    expect(deploy.result).toEqual({ ok: true });
    expect(await share()).toBe(10);
  }

  /** The recovery every failed path relies on: once HAProxy answers, rollback ends at 0% canary. */
  async function recover(): Promise<void> {
    admin.fail('pass');
    const rollback = await runStep('rollback', (rt) => runRollbackAction(rt), { plan, reason: 'fault test cleanup' }, env());
    expect(rollback.result).toEqual({ ok: true });
    expect(await share()).toBe(0);
  }

  for (const mode of ['refuse', 'hang', 'error'] as const) {
    it(`ramp: ${FAULTS[mode].name} on the weight change stops the ramp at the old share and never promotes`, async () => {
      await canaryAt10();
      // Reads keep working, so the ramp gets as far as its first change: the fault hits mid-ramp.
      admin.fail(mode, /^set /);
      const ramp = await runStep('ramp', (rt) => runRampAction(rt), { plan, steps: '50,100', gate: 'false', version: 'v2' }, env());
      expect(ramp.result.ok).toBe(false);
      expect(ramp.result.failure).toMatch(FAULTS[mode].expect);
      expect(ramp.rt.outputs.promoted).not.toBe('true');
      // No promotion happened: the stable slot still runs the old version.
      expect(await stack.versionIn('stable')).toBe('v1');
      const left = await share();
      expect(left).toBeLessThanOrEqual(50);
      table.add({
        fault: FAULTS[mode].name,
        phase: 'ramp (10% → 50%)',
        outcome: `ramp fails: ${ramp.result.failure?.slice(0, 70)}…; not promoted`,
        canary: `${left}% until rollback, then 0%`,
      });
    });

    it(`rollback: ${FAULTS[mode].name} fails the step loudly after its retries; the next rollback restores stable`, async () => {
      await canaryAt10();
      admin.fail(mode, mode === 'refuse' ? undefined : /^set /);
      const rollback = await runStep('rollback', (rt) => runRollbackAction(rt), { plan, reason: 'gate failed', attempts: '2' }, env());
      expect(rollback.result.ok).toBe(false);
      expect(rollback.result.failure).toMatch(/rollback failed after 2 attempts/);
      expect(rollback.result.failure).toMatch(FAULTS[mode].expect);
      expect(rollback.rt.outputs['rolled-back']).toBe('false');
      expect(rollback.rt.summary).toMatch(/Traffic could NOT be restored/);
      expect(rollback.rt.logs.some((l) => l.level === 'warning' && /rollback attempt 1\/2 failed/.test(l.message))).toBe(true);
      const left = await share();
      expect(left).toBe(10);
      table.add({
        fault: FAULTS[mode].name,
        phase: 'rollback',
        outcome: 'rollback retries, then fails the step: "Traffic could NOT be restored" (exit 1)',
        canary: `${left}% (loud failure); 0% after the next rollback`,
      });
    });
  }

  it('rollback: the admin socket refusing twice, then answering: the same run restores stable', async () => {
    await canaryAt10();
    admin.fail('refuse');
    const healed = new Promise<void>((r) => setTimeout(() => (admin.fail('pass'), r()), 700));
    const rollback = await runStep('rollback', (rt) => runRollbackAction(rt), { plan, reason: 'gate failed', attempts: '5' }, env());
    await healed;
    expect(rollback.result).toEqual({ ok: true });
    expect(rollback.rt.logs.some((l) => l.level === 'warning' && /rollback attempt 1\/5 failed/.test(l.message))).toBe(true);
    expect(await share()).toBe(0);
    table.add({ fault: 'HAProxy admin socket refusing, then back', phase: 'rollback', outcome: 'retried with backoff; rollback succeeds in the same run', canary: '0%' });
  });

  it('deploy-canary: a deploy command that hangs is killed at its timeout and no traffic moves', async () => {
    run++;
    admin.fail('pass');
    const script = join(stack.dir, 'hanging-deploy.sh');
    writeFileSync(script, '#!/bin/sh\n# A deploy that never finishes (a registry that stalls, a rollout that waits forever).\nsleep 600\n', { mode: 0o755 });
    const hanging = stack.writePlan(
      {
        traffic: { provider: 'haproxy', admin: admin.address, backend: stack.service, stable: 'stable', canary: 'canary', timeout: '1s' },
        deploy: { command: `${script} {{slot}} {{version}}`, timeout: '1s' },
      },
      'hanging-deploy.yml',
    );
    const started = Date.now();
    const deploy = await runStep('deploy-canary', (rt) => runDeployCanaryAction(rt), { plan: hanging, version: 'v3', weight: '10' }, env());
    expect(deploy.result.ok).toBe(false);
    expect(deploy.result.failure).toMatch(/hanging-deploy\.sh did not finish within 1s and was stopped/);
    // The whole process group went: no deploy script is left running behind the step.
    expect(execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })).not.toContain(script);
    // Killed at its timeout, not waited out: well under the 600 s it asked for.
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(await share()).toBe(0);
    expect(await stack.versionIn('canary')).not.toBe('v3');
    // Nothing moved, so nothing holds the rollout: the next deploy may start at once.
    await canaryAt10();
    table.add({
      fault: 'deploy command hanging',
      phase: 'deploy-canary',
      outcome: `deploy fails at its timeout (${deploy.result.failure?.slice(0, 60)}…); lock released`,
      canary: '0% (never shifted)',
    });
  });
});
