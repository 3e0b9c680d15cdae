import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDeployCanaryAction } from '../../src/core/rollout/deploy-canary.js';
import { runMetricsGateAction } from '../../src/core/rollout/metrics-gate.js';
import { runPreDeployChecklistAction } from '../../src/core/rollout/pre-deploy-checklist.js';
import { runRampAction } from '../../src/core/rollout/ramp.js';
import { runRollbackAction } from '../../src/core/rollout/rollback.js';
import { runBacktestAction } from '../../src/core/rollout/backtest.js';
import { runPlanCheckAction } from '../../src/core/rollout/check-plan.js';
import { MemoryRuntime, runAction, type ActionResult, type ActionRuntime } from '../../src/core/runtime.js';

const RUNS = { numRuns: 200 };
const PER_CASE_MS = 5000;

// Whole actions with arbitrary values for every input they declare. The plans here stop each
// action before it reaches a server, so what is exercised is the reading of inputs and plans:
// every outcome must be a plain failure or success, never an internal error, never a hang.
const dir = mkdtempSync(join(tmpdir(), 'rollgate-prop-inputs-'));
const plans = {
  minimal: join(dir, 'minimal.yml'),
  broken: join(dir, 'broken.yml'),
  wrongTypes: join(dir, 'wrong-types.yml'),
  missing: join(dir, 'missing.yml'),
};
writeFileSync(plans.minimal, 'service: orders\nenvironment: prod\n');
writeFileSync(plans.broken, 'service: [orders\nenvironment: : prod\n\t- x');
writeFileSync(plans.wrongTypes, 'service: 3\nenvironment: {a: 1}\nsteps: [200, -1]\nanalysis: {interval: forever}\ntraffic: {provider: nope}\n');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const value = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.constantFrom(
    '',
    ' ',
    '-1',
    '1e999',
    'NaN',
    '0x10',
    '10%',
    '1h',
    '0s',
    '5,25,100',
    'true',
    'yes',
    'TRUE',
    '$(id)',
    '${{ github.token }}',
    '\n',
    'previous',
    '../../etc/passwd',
  ),
);
const plan = fc.constantFrom(...Object.values(plans), '/nonexistent/dir/rollout.yml');

const actions: { name: string; inputs: string[]; run: (rt: ActionRuntime) => Promise<ActionResult> }[] = [
  {
    name: 'metrics-gate',
    inputs: ['error-rate-threshold', 'latency-p95-ms', 'latency-p99-ms', 'min-requests', 'interval', 'bake', 'window', 'selector', 'track-label', 'prometheus-url', 'weight'],
    run: (rt) => runMetricsGateAction(rt),
  },
  { name: 'deploy-canary', inputs: ['version', 'weight', 'records', 'ledger', 'environment', 'ref', 'reason', 'changed-files'], run: (rt) => runDeployCanaryAction(rt) },
  {
    name: 'metrics-gate (backtest)',
    inputs: ['backtest-from', 'backtest-to', 'backtest-deployments', 'backtest-limit', 'backtest-json', 'records', 'ledger', 'interval', 'bake'],
    run: (rt) => runBacktestAction(rt),
  },
  { name: 'pre-deploy-checklist (check-plan)', inputs: ['check-plan'], run: (rt) => runPlanCheckAction(rt) },
  { name: 'ramp', inputs: ['steps', 'to', 'gate', 'skip-gate', 'reason', 'bake', 'version', 'records', 'approval'], run: (rt) => runRampAction(rt) },
  { name: 'rollback', inputs: ['reason', 'attempts', 'to', 'flags', 'records', 'cause'], run: (rt) => runRollbackAction(rt) },
  {
    name: 'pre-deploy-checklist',
    inputs: ['body', 'config', 'migrations', 'pg-version', 'all-migrations', 'strict-contract', 'comment', 'base-ref'],
    run: (rt) => runPreDeployChecklistAction(rt, { cwd: dir }),
  },
];

describe('every action on arbitrary inputs: a plain result, never an internal error or a hang', () => {
  for (const action of actions) {
    it(`${action.name}`, async () => {
      await fc.assert(
        fc.asyncProperty(plan, fc.dictionary(fc.constantFrom(...action.inputs), value, { maxKeys: action.inputs.length }), async (planFile, inputs) => {
          const rt = new MemoryRuntime({ ...inputs, plan: planFile }, { ROLLGATE_STATE_DIR: join(dir, 'state'), ROLLGATE_LEDGER: join(dir, 'ledger.json') });
          const exitCode = process.exitCode;
          let timer: NodeJS.Timeout | undefined;
          const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${action.name} did not finish within ${PER_CASE_MS} ms`)), PER_CASE_MS)));
          try {
            const result = await Promise.race([runAction(action.name, action.run, rt), deadline]);
            if (!result.ok) expect(result.failure).not.toMatch(/internal error|\n\s+at /);
            expect(rt.text()).not.toMatch(/internal error \(please report it\)/);
          } finally {
            clearTimeout(timer);
            process.exitCode = exitCode;
          }
        }),
        RUNS,
      );
    });
  }
});
