import { afterAll, describe, expect, it } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FakeClock } from '../../src/core/clock.js';
import { InputError } from '../../src/core/errors.js';
import type { MetricsProvider } from '../../src/core/metrics/provider.js';
import { runMetricsGateAction } from '../../src/core/rollout/metrics-gate.js';
import { RolloutSession } from '../../src/core/rollout/session.js';
import { MemoryRolloutStore, type RolloutStore } from '../../src/core/rollout/store.js';
import { MemoryRuntime } from '../../src/core/runtime.js';
import { tempDir } from '../../harness/process.js';

const dir = tempDir('rollgate-gate-weight-');
afterAll(() => dir.remove());

const plan = join(dir.path, 'rollout.yml');
writeFileSync(
  plan,
  [
    'service: orders',
    'environment: production',
    'metrics: { provider: prometheus, address: "http://127.0.0.1:9" }',
    'analysis:',
    '  interval: 1s',
    '  bake: 10s',
    '  requests: requests{track="{{track}}"}[{{window}}]',
    '  checks:',
    '    - { name: error-rate, query: "errors{track=\\"{{track}}\\"}[{{window}}]", max: 0.05 }',
  ].join('\n'),
);

/** A healthy canary the router starves: 1% of requests from the first window, where 20% were meant. */
function starvedCanary(): MetricsProvider {
  return {
    name: 'scripted',
    async query(query) {
      const canary = query.includes('track="canary"');
      if (query.startsWith('requests')) return { kind: 'value', value: canary ? 6 : 594 };
      return { kind: 'value', value: 0.01 };
    },
    async queryRange() {
      return { kind: 'no-data' };
    },
  };
}

/** A store holding a rollout whose canary step is `weight`% (`strategy` as opened), with no lock held. */
async function rolloutAt(weight: number, strategy: 'canary' | 'blue-green' = 'canary'): Promise<MemoryRolloutStore> {
  const store = new MemoryRolloutStore();
  const session = await RolloutSession.open({
    store,
    service: 'orders',
    environment: 'production',
    owner: 'run 1',
    action: 'deploy-canary',
    clock: new FakeClock(0),
    warn: () => undefined,
  });
  await session.acquire({ kind: 'start', version: 'v2', strategy, weight: 0 });
  await session.apply({ kind: 'traffic-given', weight, ...(strategy === 'blue-green' ? { live: 'green', previous: 'blue' } : {}) });
  await session.release();
  return store;
}

async function gate(inputs: Record<string, string>, store?: RolloutStore) {
  const runtime = new MemoryRuntime({ plan, ...inputs });
  const result = await runMetricsGateAction(runtime, { clock: new FakeClock(0), provider: starvedCanary(), store: store ?? new MemoryRolloutStore(), cwd: dir.path });
  return { result, runtime };
}

describe('metrics-gate: the canary’s weight sets how much traffic it must serve', () => {
  it('fails a canary starved from the start when the weight input says 20%', async () => {
    const { result, runtime } = await gate({ weight: '20' });
    expect(result.ok).toBe(false);
    expect(runtime.outputs.verdict).toBe('fail');
    expect(result.failure).toMatch(/^metrics-gate: fail: the canary lost its traffic: .*where its weight 20% predicts about 149 beside stable's 594/);
  });

  it('takes the weight from the rollout record’s canary step when the input is unset', async () => {
    const store = await rolloutAt(20);
    const { result, runtime } = await gate({}, store);
    expect(result.ok).toBe(false);
    expect(result.failure).toMatch(/the canary lost its traffic: .*its weight 20% predicts/);
    expect(runtime.logs.map((l) => l.message)).toContain('the rollout record gives the canary 20%: losing traffic is judged against that share');
    // The failed verdict joins the record: ramp cannot promote on it.
    const record = await RolloutSession.open({ store, service: 'orders', environment: 'production', owner: 'x', action: 'ramp', clock: new FakeClock(0), warn: () => undefined });
    expect(record.record?.steps.at(-1)).toMatchObject({ weight: 20, gate: 'failed' });
  });

  it('passes the same canary when no weight is known: its steady 1% share is all it is judged against', async () => {
    const { result, runtime } = await gate({});
    expect(result.ok).toBe(true);
    expect(runtime.outputs.verdict).toBe('pass');
  });

  it('takes no weight from a blue-green record: a colour’s share is not a canary’s beside stable', async () => {
    const { result } = await gate({}, await rolloutAt(100, 'blue-green'));
    expect(result.ok).toBe(true);
  });

  it('judges on when the store cannot be read, with a warning, never failing the gate for it', async () => {
    const broken: RolloutStore = {
      kind: 'memory',
      location: 'nowhere',
      read: async () => {
        throw new Error('store offline');
      },
      write: async () => {
        throw new Error('store offline');
      },
    };
    const { result, runtime } = await gate({}, broken);
    expect(result.ok).toBe(true);
    expect(runtime.logs.filter((l) => l.level === 'warning').map((l) => l.message)).toContain(
      "the canary's weight could not be read from the rollout record (store offline); traffic loss is judged against the canary's own share earlier in the bake",
    );
  });

  it.each(['0', '100', '-5', '120', 'twenty'])('refuses weight %s, naming the input', async (weight) => {
    const err = await gate({ weight }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(/weight/);
  });
});
