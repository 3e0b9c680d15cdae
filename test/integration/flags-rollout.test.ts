import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { stringify } from 'yaml';
import { systemClock } from '../../src/core/clock.js';
import { runDeployCanaryAction } from '../../src/core/rollout/deploy-canary.js';
import { MemoryRuntime } from '../../src/core/runtime.js';
import { createTrafficProvider } from '../../src/core/traffic/index.js';
import { startHaproxy, type RunningHaproxy } from '../../harness/haproxy.js';
import { freePort } from '../../harness/ports.js';
import { requireBinary, tempDir, waitFor } from '../../harness/process.js';
import { startUnleash, type UnleashServer } from '../../harness/unleash.js';
import { startReceiver, type HttpReceiver } from './flags-http-receiver.js';

// Kill switches inside the real rollout: HAProxy moves the traffic, a real Unleash holds the
// flags, and rollback runs as the runner runs it (a process with INPUT_* variables and an exit code).
const ready = requireBinary('haproxy', 'haproxy') && requireBinary('/usr/lib/postgresql/15/bin/initdb', 'postgresql-15');
const maybe = ready ? describe : describe.skip;
const root = join(import.meta.dirname, '..', '..');

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  outputs: string;
  summary: string;
}

/** Runs an action entry the way the runner does: INPUT_* variables, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files, an exit code. */
function runEntry(name: string, dir: string, inputs: Record<string, string>, env: Record<string, string>): Promise<RunResult> {
  const outputs = join(dir, `${name}-${Date.now()}.out`);
  const summary = join(dir, `${name}-${Date.now()}.md`);
  writeFileSync(outputs, '');
  writeFileSync(summary, '');
  const inputEnv = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [`INPUT_${k.toUpperCase()}`, v]));
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', pathToFileURL(join(root, 'node_modules/tsx/dist/loader.mjs')).href, join(root, 'src/index', `${name}.ts`)], {
      cwd: dir,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, GITHUB_OUTPUT: outputs, GITHUB_STEP_SUMMARY: summary, ...inputEnv, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr, outputs: readFileSync(outputs, 'utf8'), summary: readFileSync(summary, 'utf8') }));
  });
}

maybe('kill switches in the rollout', () => {
  let unleash: UnleashServer;
  let haproxy: RunningHaproxy;
  let dir: { path: string; remove: () => void };
  // Stands in for a Slack incoming webhook (https://api.slack.com/messaging/webhooks): answers 200 "ok".
  let slack: HttpReceiver;

  beforeAll(async () => {
    dir = tempDir('rollgate-flags-rollout-');
    slack = await startReceiver(() => ({ status: 200, body: 'ok' }));
    [unleash, haproxy] = await Promise.all([
      startUnleash(),
      (async () =>
        startHaproxy({
          dir: dir.path,
          servers: [
            { name: 'stable', port: await freePort(), weight: 100 },
            { name: 'canary', port: await freePort(), weight: 0 },
          ],
        }))(),
    ]);
    for (const flag of ['new-checkout-flow', 'search-v2', 'manual-extra']) {
      await unleash.createFlag(flag);
      await unleash.enable(flag, 'production');
    }
  }, 300_000);
  afterAll(async () => {
    await haproxy?.stop();
    await slack?.close();
    await unleash?.stop();
    dir?.remove();
  });

  function writePlan(name: string, flags: Record<string, unknown>): string {
    const file = join(dir.path, `${name}.yml`);
    writeFileSync(
      file,
      stringify({
        service: 'orders',
        environment: 'production',
        traffic: { provider: 'haproxy', admin: haproxy.admin, backend: haproxy.backend },
        deploy: { command: `touch ${join(dir.path, `${name}-deployed-{{slot}}`)}` },
        steps: [10, 50, 100],
        flags: { provider: 'unleash', project: 'default', ...flags },
        notify: { slack: `${slack.url}/services/T0/B0/x` },
      }),
    );
    return file;
  }

  /** The HAProxy the plans point at, read and set through rollgate's own provider. */
  const traffic = () =>
    createTrafficProvider({
      service: 'orders',
      environment: 'production',
      strategy: 'canary',
      traffic: { provider: 'haproxy', admin: haproxy.admin, backend: haproxy.backend, stable: 'stable', canary: 'canary', maxWeight: 100, timeout: 5000 },
    });

  test('rollback restores traffic, then turns every kill switch off (plan and flags input), read back off, and reports each', async () => {
    await traffic().setWeight(50);
    const plan = writePlan('ok', { url: unleash.url, token: '${UNLEASH_TOKEN}', killSwitches: ['new-checkout-flow', 'search-v2'] });
    const run = await runEntry(
      'rollback',
      dir.path,
      { plan, reason: 'error rate over limit', flags: 'manual-extra' },
      {
        UNLEASH_TOKEN: unleash.adminToken,
        ROLLGATE_STATE_DIR: join(dir.path, 'state-ok'),
      },
    );
    if (run.code !== 0) throw new Error(`rollback exited ${run.code}:\n${run.stdout}\n${run.stderr}`);
    expect((await traffic().getState()).canaryPercent).toBe(0);
    for (const flag of ['new-checkout-flow', 'search-v2', 'manual-extra']) expect(await unleash.adminState(flag, 'production')).toBe(false);
    await waitFor('client API to serve the kill switches off', async () => (await unleash.clientState('new-checkout-flow')) === false, 15_000, 200);
    expect(run.summary).toContain('| `new-checkout-flow` | unleash | production | ✅ off |');
    expect(run.summary).toContain('| `manual-extra` | unleash | production | ✅ off |');
    expect(run.summary + run.stdout + run.stderr).not.toContain(unleash.adminToken);
    // People are told, kill switches included.
    const told = slack.requests.map((r) => JSON.parse(r.body) as { blocks: { text?: { text: string } }[] });
    expect(told).toHaveLength(1);
    const texts = told[0]!.blocks.map((b) => b.text?.text ?? '');
    expect(texts[0]).toBe('⏪ orders rolled back');
    expect(texts).toContain('*Reason*\nerror rate over limit');
    expect(texts.find((t) => t.startsWith('*Kill switches*'))).toContain('• `manual-extra`: off — turned off and read back off');
  });

  test('with the flag server down: traffic is restored anyway, each flag is reported failed, and the step exits non-zero', async () => {
    await unleash.enable('new-checkout-flow', 'production');
    await traffic().setWeight(50);
    slack.requests.length = 0;
    const plan = writePlan('down', { url: `http://127.0.0.1:${await freePort()}`, token: 't0ken-unused', killSwitches: ['new-checkout-flow'] });
    const run = await runEntry('rollback', dir.path, { plan, reason: 'gate failed' }, { ROLLGATE_STATE_DIR: join(dir.path, 'state-down') });
    expect(run.code).not.toBe(0);
    expect((await traffic().getState()).canaryPercent).toBe(0);
    expect(run.stdout + run.stderr).toMatch(/1 kill switch could not be turned off: new-checkout-flow \(could not turn it off: unleash: POST .* connection refused/);
    expect(run.summary).toContain('| `new-checkout-flow` | unleash | production | ❌ failed |');
    expect(run.stderr).not.toContain('internal error');
    expect(slack.requests[0]?.body).toContain('`new-checkout-flow`: failed');
    // The flag really is still on: the failure is not just a message.
    expect(await unleash.adminState('new-checkout-flow', 'production')).toBe(true);
  });

  test('deploy-canary refuses an unknown kill switch before anything is deployed or any traffic moves', async () => {
    const plan = writePlan('typo', { url: unleash.url, token: unleash.adminToken, killSwitches: ['new-checkout-flow', 'new-chekout-flow'] });
    const runtime = new MemoryRuntime({ plan, version: '1.4.2' }, { ROLLGATE_STATE_DIR: join(dir.path, 'state-typo') });
    await expect(runDeployCanaryAction(runtime, { clock: systemClock, cwd: dir.path })).rejects.toThrow(
      /flags\.killSwitches\[1\]: flag "new-chekout-flow" does not exist in Unleash project default, environment production/,
    );
    expect(existsSync(join(dir.path, 'typo-deployed-canary'))).toBe(false);
    expect((await traffic().getState()).canaryPercent).toBe(0);
  });
});
