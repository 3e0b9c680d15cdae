// Kubernetes deploys (set image, rollout status, scale-down after promotion, rolling undo) and
// the whole canary and blue-green chain through the real actions' cores, against the fake
// kubectl; every Deployment, HTTPRoute and Service left behind is checked against its schema.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from '@jest/globals';
import { FakeClock } from '../../src/core/clock.js';
import { ProviderError, UserError } from '../../src/core/errors.js';
import { deployToSlot } from '../../src/core/deploy/deploy.js';
import { deployArgs, REPLICAS_ANNOTATION, scaleDownCanary } from '../../src/core/deploy/kubernetes.js';
import { deploySchema } from '../../src/core/plan/schema.js';
import { runDeployCanaryAction } from '../../src/core/rollout/deploy-canary.js';
import { runRampAction } from '../../src/core/rollout/ramp.js';
import { runRollbackAction } from '../../src/core/rollout/rollback.js';
import { MemoryRuntime } from '../../src/core/runtime.js';
import { tempDir } from '../../harness/process.js';
import { FakeCluster, schemaProblems } from './kubernetes-fake.js';

const cluster = new FakeCluster();
const work = tempDir('rollgate-kube-work-');
afterAll(() => {
  cluster.remove();
  work.remove();
});
beforeEach(() => cluster.clearCalls());

const at = { context: 'kind-ci', namespace: 'shop' };
type Deployment = {
  metadata: { name: string; annotations?: Record<string, string> };
  spec: { replicas: number; template: { spec: { containers: { name: string; image: string }[] } } };
};
function deployment(name: string, image: string, replicas = 3): Deployment & Record<string, unknown> {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'orders' } },
      template: {
        metadata: { labels: { app: 'orders' } },
        spec: {
          containers: [
            { name: 'app', image },
            { name: 'sidecar', image: 'envoy:1.30' },
          ],
        },
      },
    },
  } as Deployment & Record<string, unknown>;
}
const imageOf = (name: string) => cluster.stored<Deployment>('deployments', name, at).spec.template.spec.containers[0]!.image;
const deps = () => ({ log: () => undefined, group: <T>(_t: string, fn: () => Promise<T>) => fn(), env: cluster.env, cwd: work.path });
const target = (slot: string, version: string) => ({ slot, version, service: 'orders', environment: 'production' });

describe('deploy.kubernetes', () => {
  const config = deploySchema.parse({ kubernetes: { ...at, canaryDeployment: 'orders-canary', stableDeployment: 'orders-stable', container: 'app' }, timeout: '90s' });

  it('sets the image on the slot Deployment, waits for rollout status with the timeout, and reads it back', async () => {
    cluster.seed('deployments', deployment('orders-canary', 'ghcr.io/acme/orders:1.0.0'), at);
    await deployToSlot(config, target('canary', 'ghcr.io/acme/orders:1.1.0'), deps());
    expect(imageOf('orders-canary')).toBe('ghcr.io/acme/orders:1.1.0');
    expect(schemaProblems('apps-deployment.json', cluster.stored('deployments', 'orders-canary', at))).toEqual([]);
    const flags = ['--context', 'kind-ci', '--namespace', 'shop'];
    const get = [...flags, 'get', 'deployments.apps', 'orders-canary', '--output', 'json'];
    expect(cluster.calls()).toEqual([
      get,
      [...flags, 'set', 'image', 'deployment/orders-canary', 'app=ghcr.io/acme/orders:1.1.0'],
      [...flags, 'rollout', 'status', 'deployment/orders-canary', '--timeout=90s'],
      get,
    ]);
    expect(deployArgs({ ...config.kubernetes!, timeout: config.timeout }, 'orders-canary', 'ghcr.io/acme/orders:1.1.0').map((a) => a.slice(1))).toEqual(
      cluster.calls().slice(1, 3),
    );
  });

  it('fails, naming the Deployment, when its pods never become ready', async () => {
    const unready = deployment('orders-canary', 'x:1');
    unready.metadata.annotations = { 'fake/never-ready': 'true' };
    cluster.seed('deployments', unready, at);
    const err = await deployToSlot(config, target('canary', 'x:2'), deps()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as Error).message).toMatch(
      /deployments\.apps\/orders-canary in namespace shop \(context kind-ci\) did not become ready within 90s with x:2 .*timed out waiting for the condition/,
    );
  });

  it('names the container and the Deployment field the plan got wrong', async () => {
    cluster.seed('deployments', deployment('orders-canary', 'x:1'), at);
    const wrong = deploySchema.parse({ kubernetes: { ...at, canaryDeployment: 'orders-canary', container: 'web' } });
    await expect(deployToSlot(wrong, target('canary', 'x:2'), deps())).rejects.toThrow(
      /deploy\.kubernetes\.container: deployments\.apps\/orders-canary .* has no container named "web" \(it has: app, sidecar\)/,
    );
    await expect(deployToSlot(wrong, target('green', 'x:2'), deps())).rejects.toThrow(UserError);
    await expect(deployToSlot(wrong, target('green', 'x:2'), deps())).rejects.toThrow(/deploy\.kubernetes\.greenDeployment: is required to deploy to slot green/);
    await expect(
      deployToSlot(config, target('canary', 'x:2'), { ...deps(), env: { ...cluster.env } }).then(() =>
        deployToSlot({ ...config, kubernetes: { ...config.kubernetes!, canaryDeployment: 'missing' } }, target('canary', 'x:3'), deps()),
      ),
    ).rejects.toThrow(/deployments\.apps\/missing .*does not exist/);
  });

  it('scales the canary to 0 after promotion, remembering its size, and the next deploy restores it', async () => {
    cluster.seed('deployments', deployment('orders-canary', 'x:1', 4), at);
    expect(await scaleDownCanary(config, deps())).toEqual({ deployment: 'orders-canary', replicas: 4 });
    let stored = cluster.stored<Deployment>('deployments', 'orders-canary', at);
    expect([stored.spec.replicas, stored.metadata.annotations?.[REPLICAS_ANNOTATION]]).toEqual([0, '4']);
    expect(schemaProblems('apps-deployment.json', stored)).toEqual([]);
    expect(await scaleDownCanary(config, deps())).toEqual({ deployment: 'orders-canary', replicas: 0 });
    await deployToSlot(config, target('canary', 'x:2'), deps());
    stored = cluster.stored<Deployment>('deployments', 'orders-canary', at);
    expect(stored.spec.replicas).toBe(4);
  });
});

describe('the actions on Kubernetes', () => {
  function runtime(inputs: Record<string, string>, stateDir: string) {
    return new MemoryRuntime(inputs, { PATH: cluster.env.PATH, FAKE_KUBE_DIR: cluster.env.FAKE_KUBE_DIR, ROLLGATE_STATE_DIR: stateDir, ROLLGATE_RUN_ID: 'test-run' });
  }

  it('canary on Gateway API: deploy-canary, ramp to promotion, then rollback finds nothing to do', async () => {
    const state = tempDir('rollgate-kube-state-');
    const plan = join(work.path, 'gateway.yml');
    writeFileSync(
      plan,
      [
        'service: orders',
        'environment: production',
        'strategy: canary',
        'traffic: { provider: gateway-api, context: kind-ci, namespace: shop, httpRoute: orders, stableBackend: orders-stable, canaryBackend: orders-canary }',
        'deploy: { kubernetes: { context: kind-ci, namespace: shop, canaryDeployment: orders-canary, stableDeployment: orders-stable, container: app } }',
        'steps: [10, 50, 100]',
      ].join('\n'),
    );
    cluster.seed('deployments', deployment('orders-canary', 'orders:1.0', 2), at);
    cluster.seed('deployments', deployment('orders-stable', 'orders:1.0', 6), at);
    cluster.seed(
      'httproutes',
      {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'HTTPRoute',
        metadata: { name: 'orders' },
        spec: {
          rules: [
            {
              backendRefs: [
                { name: 'orders-stable', port: 80, weight: 100 },
                { name: 'orders-canary', port: 80, weight: 0 },
              ],
            },
          ],
        },
      },
      at,
    );
    const clock = new FakeClock();

    const deploy = runtime({ plan, version: 'orders:1.1' }, state.path);
    expect(await runDeployCanaryAction(deploy, { clock, cwd: work.path })).toEqual({ ok: true });
    expect(deploy.outputs.weight).toBe('10');
    expect(imageOf('orders-canary')).toBe('orders:1.1');

    const ramp = runtime({ plan, gate: 'false', version: 'orders:1.1' }, state.path);
    expect(await runRampAction(ramp, { clock, cwd: work.path })).toEqual({ ok: true });
    expect(ramp.outputs.promoted).toBe('true');
    expect(imageOf('orders-stable')).toBe('orders:1.1');
    const canary = cluster.stored<Deployment>('deployments', 'orders-canary', at);
    expect(canary.spec.replicas).toBe(0);
    const route = cluster.stored<{ spec: { rules: { backendRefs: { weight: number }[] }[] } }>('httproutes', 'orders', at);
    expect(route.spec.rules[0]!.backendRefs.map((b) => b.weight)).toEqual([100, 0]);
    expect(schemaProblems('gateway-api-httproute.json', route)).toEqual([]);
    for (const name of ['orders-canary', 'orders-stable']) expect(schemaProblems('apps-deployment.json', cluster.stored('deployments', name, at))).toEqual([]);
    // Every write was a patch or a kubectl verb that patches; nothing re-applied a whole object.
    expect(
      cluster
        .calls()
        .map((c) => c[4])
        .filter((verb) => !['get', 'patch', 'set', 'rollout'].includes(verb!)),
    ).toEqual([]);

    const rollback = runtime({ plan, reason: 'test' }, state.path);
    expect(await runRollbackAction(rollback, { clock, cwd: work.path })).toEqual({ ok: true });
    expect(rollback.outputs['rolled-back']).toBe('false');
    state.remove();
  });

  it('blue-green on a Service selector: deploy to the idle colour, switch, and roll back with one switch', async () => {
    const state = tempDir('rollgate-kube-state-');
    const plan = join(work.path, 'blue-green.yml');
    writeFileSync(
      plan,
      [
        'service: orders',
        'environment: production',
        'strategy: blue-green',
        'traffic: { provider: service-selector, context: kind-ci, namespace: shop, service: orders }',
        'deploy: { kubernetes: { context: kind-ci, namespace: shop, blueDeployment: orders-blue, greenDeployment: orders-green, container: app } }',
      ].join('\n'),
    );
    cluster.seed('deployments', deployment('orders-blue', 'orders:1.0'), at);
    cluster.seed('deployments', deployment('orders-green', 'orders:0.9'), at);
    cluster.seed('services', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'orders' }, spec: { selector: { app: 'orders', color: 'blue' }, ports: [{ port: 80 }] } }, at);
    const clock = new FakeClock();

    const deploy = runtime({ plan, version: 'orders:1.1' }, state.path);
    expect(await runDeployCanaryAction(deploy, { clock, cwd: work.path })).toEqual({ ok: true });
    expect(imageOf('orders-green')).toBe('orders:1.1');
    expect(imageOf('orders-blue')).toBe('orders:1.0');
    expect(cluster.stored<{ spec: { selector: Record<string, string> } }>('services', 'orders', at).spec.selector).toEqual({ app: 'orders', color: 'green' });

    const rollback = runtime({ plan, reason: 'smoke failed after the switch' }, state.path);
    expect(await runRollbackAction(rollback, { clock, cwd: work.path })).toEqual({ ok: true });
    expect(rollback.outputs['rolled-back']).toBe('true');
    const service = cluster.stored<{ spec: { selector: Record<string, string> } }>('services', 'orders', at);
    expect(service.spec.selector).toEqual({ app: 'orders', color: 'blue' });
    expect(schemaProblems('core-service.json', service)).toEqual([]);
    // The old colour was never touched: the switch back is instant.
    expect(cluster.stored<Deployment>('deployments', 'orders-blue', at).spec.replicas).toBe(3);
    state.remove();
  });
});
