// The local demo: a real HAProxy and Prometheus, a stable v1 and two candidate releases, and
// the bundled rollgate actions driven through the CLI exactly as a workflow would chain them.
// Round 1: v2 (healthy) is promoted step by step. Round 2: v3 (10% 5xx) is caught by the gate
// and rolled back. Exits 0 only if both come out that way; leaves no process behind.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCanaryStack, type CanaryStack } from '../harness/canary-stack.js';
import { sendRequests } from '../harness/load.js';
import { haveBinary } from '../harness/process.js';

const repo = join(fileURLToPath(import.meta.url), '..', '..');
const cli = join(repo, 'bin', 'rollgate.js');
const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;

interface StepResult {
  code: number;
  outputs: Record<string, string>;
}

/** Runs one action through the CLI, streaming its log (and job summary) indented under the step. */
function action(stack: CanaryStack, name: string, inputs: Record<string, string>): Promise<StepResult> {
  const args = [cli, name, ...Object.entries(inputs).flatMap(([k, v]) => [`--${k}`, v])];
  process.stdout.write(
    `\n${bold(
      `▶ rollgate ${name} ${Object.entries(inputs)
        .filter(([k]) => k !== 'plan')
        .map(([k, v]) => `--${k} ${v}`)
        .join(' ')}`,
    )}  (${elapsed()})\n`,
  );
  // A clean environment for the CLI: no runner variables, the demo's own state and ledger.
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('GITHUB_') && !k.startsWith('INPUT_') && !k.startsWith('RUNNER_')) env[k] = v;
  Object.assign(env, { ROLLGATE_STATE_DIR: join(stack.dir, 'state'), ROLLGATE_RUN_ID: 'local-demo', ROLLGATE_LEDGER: join(stack.dir, 'ledger.json'), NO_COLOR: '1' });
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: repo, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const outputs: Record<string, string> = {};
    let partial = '';
    const onData = (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        const out = /^output ([a-z-]+)=(.*)$/.exec(line);
        if (out) outputs[out[1] as string] = out[2] as string;
        process.stdout.write(`  │ ${line}\n`);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('close', (code) => {
      if (partial) process.stdout.write(`  │ ${partial}\n`);
      process.stdout.write(
        `  └ exit ${code ?? 1}${
          Object.keys(outputs).length
            ? ` · ${Object.entries(outputs)
                .filter(([k]) => k !== 'report')
                .map(([k, v]) => `${k}=${v}`)
                .join(' ')}`
            : ''
        }\n`,
      );
      resolve({ code: code ?? 1, outputs });
    });
  });
}

async function main(): Promise<number> {
  for (const binary of ['haproxy', 'prometheus']) {
    if (!haveBinary(binary)) {
      process.stderr.write(`demo: ${binary} is not installed; run bash scripts/ensure-system-deps.sh (Debian package ${binary})\n`);
      return 1;
    }
  }
  process.stdout.write(bold('rollgate local demo: HAProxy + Prometheus, stable v1, candidates v2 (healthy) and v3 (10% 5xx)\n'));
  const stack = await startCanaryStack({ versions: { v1: {}, v2: {}, v3: { errorRate: 0.1 } }, stableVersion: 'v1', rps: 60 });
  const stopAll = () => stack.stop();
  const onSignal = () => void stopAll().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const plan = stack.writePlan();
    process.stdout.write(
      [
        `  HAProxy        ${stack.haproxy.url}  (runtime API ${stack.haproxy.admin}, backend orders: servers stable, canary)`,
        `  Prometheus     ${stack.prometheus?.url ?? '-'}  (scrapes both slots every 1s)`,
        `  stable slot    127.0.0.1:${stack.slots.stable} running v1; canary slot 127.0.0.1:${stack.slots.canary} empty`,
        '  load           60 requests/s through HAProxy for the whole demo',
        `  plan           ${plan}  (steps 10 → 50 → 100, bake 6s per gate, a measurement every 2s)`,
        '',
      ].join('\n'),
    );

    process.stdout.write(bold(`\n═══ Round 1: v2, a healthy release ═══\n`));
    const v2 = [await action(stack, 'deploy-canary', { plan, version: 'v2' })];
    if (v2[0]?.code === 0) v2.push(await action(stack, 'metrics-gate', { plan }));
    if (v2[1]?.code === 0) v2.push(await action(stack, 'ramp', { plan }));
    else v2.push(await action(stack, 'rollback', { plan, reason: 'v2 failed its gate' }));
    const stableVersion = await stack.versionIn('stable');
    const afterV2 = await sendRequests(stack.haproxy.url, 500);
    const v2Promoted = v2.length === 3 && v2.every((s) => s.code === 0) && v2[2]?.outputs.promoted === 'true' && stableVersion === 'v2' && afterV2.byTrack.stable === 500;
    process.stdout.write(
      `\n  check: stable slot runs ${stableVersion}; of 500 requests through HAProxy, ${afterV2.byTrack.stable ?? 0} reached stable → ${v2Promoted ? 'v2 PROMOTED as expected' : 'UNEXPECTED'}\n`,
    );

    process.stdout.write(bold(`\n═══ Round 2: v3, a release that answers 10% of requests with 500 ═══\n`));
    const v3 = [await action(stack, 'deploy-canary', { plan, version: 'v3' })];
    if (v3[0]?.code === 0) v3.push(await action(stack, 'metrics-gate', { plan }));
    const gateFailed = v3[1] !== undefined && v3[1].code !== 0 && v3[1].outputs.verdict === 'fail';
    // The workflow's `if: failure()` step.
    const rollback = await action(stack, 'rollback', { plan, reason: 'metrics-gate failed for v3' });
    const afterV3 = await sendRequests(stack.haproxy.url, 1000);
    const v3RolledBack = v3[0]?.code === 0 && gateFailed && rollback.code === 0 && rollback.outputs['rolled-back'] === 'true' && (afterV3.byTrack.canary ?? 0) === 0;
    process.stdout.write(
      `\n  check: gate verdict ${v3[1]?.outputs.verdict ?? 'none'}; after rollback ${afterV3.byTrack.canary ?? 0} of 1000 requests reached the canary, stable still runs ${await stack.versionIn('stable')} → ${v3RolledBack ? 'v3 ROLLED BACK as expected' : 'UNEXPECTED'}\n`,
    );

    const ok = v2Promoted && v3RolledBack;
    process.stdout.write(
      `\n${bold(`demo ${ok ? 'passed' : 'FAILED'}: v2 ${v2Promoted ? 'promoted step by step (10% → 50% → 100%)' : 'NOT promoted'} · v3 ${v3RolledBack ? 'caught by the gate and rolled back (0% canary)' : 'NOT rolled back'} · ${elapsed()}`)}\n`,
    );
    return ok ? 0 : 1;
  } finally {
    await stopAll();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`demo: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
