// Kubernetes traffic providers at the contract level: every object a provider leaves behind is
// validated against the published schema of its API, the exact kubectl argument vectors are
// asserted, and state is read back through a fake kubectl that really applies the patches.
import { afterAll, beforeEach, describe, expect, it } from '@jest/globals';
import { FakeClock } from '../../src/core/clock.js';
import { ProviderError, UserError } from '../../src/core/errors.js';
import { trafficSchema } from '../../src/core/plan/schema.js';
import { ArgoRolloutsTrafficProvider } from '../../src/core/traffic/argo-rollouts.js';
import { GatewayApiTrafficProvider } from '../../src/core/traffic/gateway-api.js';
import { createTrafficProvider } from '../../src/core/traffic/index.js';
import { UnservedTrafficError } from '../../src/core/traffic/health.js';
import { HEADER_ROUTE_NAME, IstioTrafficProvider } from '../../src/core/traffic/istio.js';
import { NginxIngressTrafficProvider } from '../../src/core/traffic/nginx-ingress.js';
import { ServiceSelectorTrafficProvider } from '../../src/core/traffic/service-selector.js';
import { SmiTrafficProvider } from '../../src/core/traffic/smi.js';
import { FakeCluster, schemaProblems } from './kubernetes-fake.js';

const cluster = new FakeCluster();
afterAll(() => cluster.remove());
const at = { context: 'kind-ci', namespace: 'shop' };
const deps = () => ({ env: cluster.env, clock: new FakeClock() });
const parse = <T>(config: Record<string, unknown>) => trafficSchema.parse(config) as T;

type GatewayConfig = ConstructorParameters<typeof GatewayApiTrafficProvider>[0];
type IstioConfig = ConstructorParameters<typeof IstioTrafficProvider>[0];
type NginxConfig = ConstructorParameters<typeof NginxIngressTrafficProvider>[0];
type SmiConfig = ConstructorParameters<typeof SmiTrafficProvider>[0];
type ArgoConfig = ConstructorParameters<typeof ArgoRolloutsTrafficProvider>[0];
type SelectorConfig = ConstructorParameters<typeof ServiceSelectorTrafficProvider>[0];

beforeEach(() => {
  cluster.clearCalls();
  cluster.fault('unreachable', false);
  cluster.fault('ignore-writes', false);
  cluster.fault('controller-stopped', false);
});

/** kubectl calls on the traffic objects, without the reads of Services' endpoints. */
const routeCalls = () => cluster.calls().filter((c) => c[5] !== 'endpoints');

function httpRoute(backendRefs: Record<string, unknown>[]) {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: 'orders', namespace: 'shop' },
    spec: { parentRefs: [{ name: 'public' }], hostnames: ['orders.example.com'], rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs }] },
  };
}

describe('gateway-api', () => {
  const config = parse<GatewayConfig>({ provider: 'gateway-api', ...at, httpRoute: 'orders', stableBackend: 'orders-stable', canaryBackend: 'orders-canary' });
  const provider = () => new GatewayApiTrafficProvider(config, deps());

  it('sets the backendRef weights with one guarded JSON patch and reads them back', async () => {
    cluster.seed(
      'httproutes',
      httpRoute([
        { name: 'orders-stable', port: 8080, weight: 100 },
        { name: 'orders-canary', port: 8080, weight: 0 },
      ]),
      at,
    );
    const state = await provider().setWeight(25);
    expect(state.canaryPercent).toBe(25);
    expect(state.slots.map((s) => [s.role, s.name, s.weight])).toEqual([
      ['stable', 'orders-stable', 75],
      ['canary', 'orders-canary', 25],
    ]);
    const route = cluster.stored('httproutes', 'orders', at);
    expect(schemaProblems('gateway-api-httproute.json', route)).toEqual([]);
    const get = ['--context', 'kind-ci', '--namespace', 'shop', 'get', 'httproutes.gateway.networking.k8s.io', 'orders', '--output', 'json'];
    const patch = [
      { op: 'test', path: '/spec/rules/0/backendRefs/0/name', value: 'orders-stable' },
      { op: 'test', path: '/spec/rules/0/backendRefs/1/name', value: 'orders-canary' },
      { op: 'add', path: '/spec/rules/0/backendRefs/0/weight', value: 75 },
      { op: 'add', path: '/spec/rules/0/backendRefs/1/weight', value: 25 },
    ];
    // Read (with each Service's endpoints, left out here), locate, patch, read back.
    expect(routeCalls()).toEqual([
      get,
      get,
      ['--context', 'kind-ci', '--namespace', 'shop', 'patch', 'httproutes.gateway.networking.k8s.io', 'orders', '--type', 'json', '--patch', JSON.stringify(patch)],
      get,
    ]);
  });

  it('writes weights where none were set (the API default of 1) and keeps the other fields of the route', async () => {
    cluster.seed(
      'httproutes',
      httpRoute([
        { name: 'orders-stable', port: 8080 },
        { name: 'orders-canary', port: 8080, filters: [] },
      ]),
      at,
    );
    const p = provider();
    expect((await p.getState()).canaryPercent).toBe(50);
    await p.setWeight(5);
    const route = cluster.stored<ReturnType<typeof httpRoute>>('httproutes', 'orders', at);
    expect(route.spec.rules[0]!.backendRefs).toEqual([
      { name: 'orders-stable', port: 8080, weight: 95 },
      { name: 'orders-canary', port: 8080, filters: [], weight: 5 },
    ]);
    expect(route.spec.hostnames).toEqual(['orders.example.com']);
    expect(schemaProblems('gateway-api-httproute.json', route)).toEqual([]);
  });

  it('names the route and the Service when the canary backendRef is missing', async () => {
    cluster.seed('httproutes', httpRoute([{ name: 'orders-stable', port: 8080, weight: 1 }]), at);
    await expect(provider().getState()).rejects.toThrow(
      /httproutes\.gateway\.networking\.k8s\.io\/orders in namespace shop \(context kind-ci\) rule 0: no backendRef names the Service "orders-canary" \(found: orders-stable\)/,
    );
  });

  it('names the route when it does not exist, and never writes', async () => {
    const p = new GatewayApiTrafficProvider({ ...config, httpRoute: 'nope' }, deps());
    const err = await p.setWeight(10).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as Error).message).toMatch(/^gateway-api: reading httproutes\.gateway\.networking\.k8s\.io\/nope in namespace shop \(context kind-ci\): it does not exist/);
    expect(cluster.calls().filter((c) => c.includes('patch'))).toEqual([]);
  });

  it('fails when another backend holds weight, and when all weights are 0; rollback repairs the latter', async () => {
    cluster.seed(
      'httproutes',
      httpRoute([
        { name: 'orders-stable', port: 80, weight: 50 },
        { name: 'orders-canary', port: 80, weight: 25 },
        { name: 'legacy', port: 80, weight: 25 },
      ]),
      at,
    );
    await expect(provider().getState()).rejects.toThrow(/other destinations hold weight 25 besides orders-stable and orders-canary/);
    cluster.seed(
      'httproutes',
      httpRoute([
        { name: 'orders-stable', port: 80, weight: 0 },
        { name: 'orders-canary', port: 80, weight: 0 },
      ]),
      at,
    );
    await expect(provider().getState()).rejects.toThrow(/the weights do not add up to 100 \(orders-stable 0 \+ orders-canary 0 = 0\)/);
    const outcome = await provider().rollback();
    expect(outcome.changed).toBe(true);
    expect(outcome.after.canaryPercent).toBe(0);
    expect(outcome.after.slots[0]?.weight).toBe(100);
  });

  it('rolls back idempotently: the second rollback finds stable at 100 and writes nothing', async () => {
    cluster.seed(
      'httproutes',
      httpRoute([
        { name: 'orders-stable', port: 80, weight: 50 },
        { name: 'orders-canary', port: 80, weight: 50 },
      ]),
      at,
    );
    expect((await provider().rollback()).changed).toBe(true);
    cluster.clearCalls();
    const again = await provider().rollback();
    expect(again.changed).toBe(false);
    expect(routeCalls().map((c) => c[4])).toEqual(['get']);
  });

  it('fails when the read-back differs from what was written (something reverts the change)', async () => {
    cluster.seed(
      'httproutes',
      httpRoute([
        { name: 'orders-stable', port: 80, weight: 100 },
        { name: 'orders-canary', port: 80, weight: 0 },
      ]),
      at,
    );
    cluster.fault('ignore-writes');
    await expect(provider().setWeight(50)).rejects.toThrow(/read-back after the change does not match: found stable 100 \/ canary 0, expected 50 \/ 50/);
  });

  it('refuses the blue-green operations with a plain error', async () => {
    await expect(provider().switchTo()).rejects.toThrow(UserError);
  });
  it('a patch computed before the route was reordered is refused by its test ops, and nothing moves', async () => {
    cluster.seed(
      'httproutes',
      httpRoute([
        { name: 'orders-canary', port: 80, weight: 0 },
        { name: 'orders-stable', port: 80, weight: 100 },
      ]),
      at,
    );
    const p = provider();
    const stale = p.patchFor({ stable: 0, canary: 100 }, { stableIndex: 0, canaryIndex: 1 });
    await expect(p.kubectl.patch('httproutes.gateway.networking.k8s.io', 'orders', { type: 'json', patch: stale })).rejects.toThrow(
      /patching httproutes\.gateway\.networking\.k8s\.io\/orders .*testing value \/spec\/rules\/0\/backendRefs\/0\/name failed/,
    );
    expect((await p.getState()).canaryPercent).toBe(0);
  });

  it('the schema rejects a route a careless patch could produce (this check can fail)', () => {
    const bad = httpRoute([
      { name: 'orders-stable', weight: '25' },
      { name: 'orders-canary', port: 80, wieght: 5 },
    ]);
    const problems = schemaProblems('gateway-api-httproute.json', bad).join('\n');
    expect(problems).toMatch(/weight must be integer/);
    expect(problems).toMatch(/must have required property 'port'/);
    expect(problems).toMatch(/additionalProperty":"wieght"/);
  });
});

function virtualService(http: Record<string, unknown>[]) {
  return { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'orders', namespace: 'shop' }, spec: { hosts: ['orders'], gateways: ['mesh'], http } };
}
const weighted = (stable: number, canary: number) => ({
  name: 'primary',
  match: [{ uri: { prefix: '/api' } }],
  route: [
    { destination: { host: 'orders', subset: 'stable', port: { number: 8080 } }, weight: stable },
    { destination: { host: 'orders', subset: 'canary', port: { number: 8080 } }, weight: canary },
  ],
});

/** An Endpoints object as the API server keeps it for a Service (core/v1): ready and not-ready addresses. */
function endpoints(name: string, ready: number, notReady = 0) {
  const address = (i: number) => ({ ip: `10.0.0.${i + 1}`, targetRef: { kind: 'Pod', name: `${name}-${i}`, namespace: 'shop' } });
  return {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name, namespace: 'shop' },
    subsets: [
      {
        ...(ready ? { addresses: Array.from({ length: ready }, (_, i) => address(i)) } : {}),
        ...(notReady ? { notReadyAddresses: Array.from({ length: notReady }, (_, i) => address(ready + i)) } : {}),
        ports: [{ port: 8080, protocol: 'TCP' }],
      },
    ],
  };
}

describe("gateway-api: each backend Service's ready endpoints are its health", () => {
  const config = parse<GatewayConfig>({ provider: 'gateway-api', ...at, httpRoute: 'orders', stableBackend: 'orders-stable', canaryBackend: 'orders-canary' });
  const provider = () => new GatewayApiTrafficProvider(config, deps());

  it('reads ready endpoints into each slot', async () => {
    cluster.seed(
      'httproutes',
      httpRoute([
        { name: 'orders-stable', port: 8080, weight: 100 },
        { name: 'orders-canary', port: 8080, weight: 0 },
      ]),
      at,
    );
    cluster.seed('endpoints', endpoints('orders-stable', 3), at);
    cluster.seed('endpoints', endpoints('orders-canary', 0, 2), at);
    const state = await provider().getState();
    expect(state.slots.map((s) => [s.role, s.serving, s.detail])).toEqual([
      ['stable', true, '3 of 3 endpoints of Service orders-stable ready'],
      ['canary', false, '0 of 2 endpoints of Service orders-canary ready'],
    ]);
  });

  it('refuses to give a canary with no ready endpoint any traffic, and writes nothing', async () => {
    cluster.seed(
      'httproutes',
      httpRoute([
        { name: 'orders-stable', port: 8080, weight: 100 },
        { name: 'orders-canary', port: 8080, weight: 0 },
      ]),
      at,
    );
    cluster.seed('endpoints', endpoints('orders-stable', 3), at);
    cluster.seed('endpoints', endpoints('orders-canary', 0, 2), at);
    await expect(provider().setWeight(10)).rejects.toThrow(
      /refusing to give the canary 10%: canary \(orders-canary\) NO READY ENDPOINTS: 0 of 2 endpoints of Service orders-canary ready\. Nothing was changed: users now get stable 100%/,
    );
    expect(cluster.calls().filter((c) => c.includes('patch'))).toEqual([]);
  });

  it('rollback onto a stable with no ready endpoint still writes the weights, then fails saying what users get', async () => {
    cluster.seed(
      'httproutes',
      httpRoute([
        { name: 'orders-stable', port: 8080, weight: 50 },
        { name: 'orders-canary', port: 8080, weight: 50 },
      ]),
      at,
    );
    cluster.seed('endpoints', endpoints('orders-stable', 0, 3), at);
    cluster.seed('endpoints', endpoints('orders-canary', 2), at);
    const err = await provider()
      .rollback()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnservedTrafficError);
    expect((err as UnservedTrafficError).changed).toBe(true);
    expect((err as Error).message).toMatch(/rollback gave stable all traffic and the canary none, but stable \(orders-stable\) NO READY ENDPOINTS.*every request fails/);
    const route = cluster.stored<ReturnType<typeof httpRoute>>('httproutes', 'orders', at);
    expect(route.spec.rules[0]!.backendRefs.map((r) => r.weight)).toEqual([100, 0]);
  });

  it('a Service with no Endpoints object to read is unknown, not healthy', async () => {
    cluster.seed(
      'httproutes',
      httpRoute([
        { name: 'orders-a', port: 8080, weight: 100 },
        { name: 'orders-b', port: 8080, weight: 0 },
      ]),
      at,
    );
    const state = await new GatewayApiTrafficProvider({ ...config, stableBackend: 'orders-a', canaryBackend: 'orders-b' }, deps()).getState();
    expect(state.slots.map((s) => [s.serving, s.detail])).toEqual([
      [undefined, 'no Endpoints object for Service orders-a to read its health from'],
      [undefined, 'no Endpoints object for Service orders-b to read its health from'],
    ]);
  });
});

describe('istio', () => {
  const config = parse<IstioConfig>({
    provider: 'istio',
    ...at,
    virtualService: 'orders',
    route: 'primary',
    host: 'orders',
    headerMatch: { 'x-user-group': 'internal-beta' },
    mirrorPercent: 20,
  });
  const provider = (c: IstioConfig = config) => new IstioTrafficProvider(c, deps());

  it('sets subset weights, routes the header group to the canary first and mirrors a share, in one patch', async () => {
    cluster.seed('virtualservices', virtualService([weighted(100, 0)]), at);
    const state = await provider().setWeight(10);
    expect(state.canaryPercent).toBe(10);
    const vs = cluster.stored<ReturnType<typeof virtualService>>('virtualservices', 'orders', at);
    expect(schemaProblems('istio-virtualservice.json', vs)).toEqual([]);
    expect(vs.spec.http).toEqual([
      {
        name: HEADER_ROUTE_NAME,
        match: [{ uri: { prefix: '/api' }, headers: { 'x-user-group': { exact: 'internal-beta' } } }],
        route: [{ destination: { host: 'orders', subset: 'canary', port: { number: 8080 } }, weight: 100 }],
      },
      { ...weighted(90, 10), mirror: { host: 'orders', subset: 'canary', port: { number: 8080 } }, mirrorPercentage: { value: 20 } },
    ]);
    const patches = cluster.calls().filter((c) => c.includes('patch'));
    expect(patches).toHaveLength(1);
    expect(patches[0]!.slice(0, 10)).toEqual([
      '--context',
      'kind-ci',
      '--namespace',
      'shop',
      'patch',
      'virtualservices.networking.istio.io',
      'orders',
      '--type',
      'json',
      '--patch',
    ]);
  });

  it('a later step moves only the weights; promotion removes the header route and the mirror', async () => {
    const p = provider();
    await p.setWeight(50);
    let vs = cluster.stored<ReturnType<typeof virtualService>>('virtualservices', 'orders', at);
    expect(vs.spec.http.map((h) => h.name)).toEqual([HEADER_ROUTE_NAME, 'primary']);
    const promoted = await p.promote();
    expect(promoted.canaryPercent).toBe(0);
    vs = cluster.stored('virtualservices', 'orders', at);
    expect(vs.spec.http).toEqual([weighted(100, 0)]);
    expect(schemaProblems('istio-virtualservice.json', vs)).toEqual([]);
  });

  it('rollback from a ramp removes the extras; a second rollback changes nothing', async () => {
    const p = provider();
    await p.setWeight(25);
    const first = await p.rollback();
    expect(first.changed).toBe(true);
    expect(cluster.stored<ReturnType<typeof virtualService>>('virtualservices', 'orders', at).spec.http).toEqual([weighted(100, 0)]);
    expect((await p.rollback()).changed).toBe(false);
  });

  it('fails, naming the VirtualService, when the weights do not add up to 100', async () => {
    cluster.seed('virtualservices', virtualService([weighted(50, 20)]), at);
    await expect(provider().getState()).rejects.toThrow(
      /^istio: virtualservices\.networking\.istio\.io\/orders in namespace shop \(context kind-ci\) route primary: the weights do not add up to 100 \(stable 50 \+ canary 20 = 70\)/,
    );
  });

  it('names the missing route and the missing subset', async () => {
    cluster.seed('virtualservices', virtualService([{ ...weighted(100, 0), name: 'other' }]), at);
    await expect(provider().getState()).rejects.toThrow(/no HTTP route named "primary" \(found: other\)/);
    cluster.seed('virtualservices', virtualService([{ name: 'primary', route: [{ destination: { host: 'orders', subset: 'stable' } }] }]), at);
    await expect(provider().getState()).rejects.toThrow(/has no destination host orders subset canary \(found: orders\/stable\)/);
  });

  it('without a route name, finds the route that sends traffic to the stable subset', async () => {
    cluster.seed('virtualservices', virtualService([{ name: 'static', route: [{ destination: { host: 'cdn' } }] }, weighted(80, 20)]), at);
    const p = provider(parse<IstioConfig>({ provider: 'istio', ...at, virtualService: 'orders', host: 'orders' }));
    expect((await p.getState()).canaryPercent).toBe(20);
    await p.setWeight(40);
    const vs = cluster.stored<ReturnType<typeof virtualService>>('virtualservices', 'orders', at);
    expect(vs.spec.http[1]).toEqual(weighted(60, 40));
    expect(schemaProblems('istio-virtualservice.json', vs)).toEqual([]);
  });

  it('the schema rejects a header match that is not a StringMatch (this check can fail)', () => {
    const bad = virtualService([{ name: 'x', match: [{ headers: { 'x-user-group': 'internal-beta' } }], route: [{ destination: { subset: 'canary' }, weight: 100 }] }]);
    const problems = schemaProblems('istio-virtualservice.json', bad).join('\n');
    expect(problems).toMatch(/headers\/x-user-group must be object/);
    expect(problems).toMatch(/must have required property 'host'/);
  });
});

function canaryIngress(annotations: Record<string, string>): { metadata: { name: string; namespace: string; annotations: Record<string, string> } } & Record<string, unknown> {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name: 'orders-canary', namespace: 'shop', annotations: { 'kubernetes.io/description': 'canary', ...annotations } },
    spec: {
      ingressClassName: 'nginx',
      rules: [{ host: 'orders.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'orders-canary', port: { number: 80 } } } }] } }],
    },
  };
}

describe('nginx-ingress', () => {
  const config = parse<NginxConfig>({ provider: 'nginx-ingress', ...at, ingress: 'orders-canary', canaryByHeader: 'X-Canary' });
  const provider = () => new NginxIngressTrafficProvider(config, deps());

  it('writes the canary annotations as strings with a merge patch and reads them back', async () => {
    cluster.seed('ingresses', canaryIngress({ 'nginx.ingress.kubernetes.io/canary': 'true', 'nginx.ingress.kubernetes.io/canary-weight': '0' }), at);
    const state = await provider().setWeight(30);
    expect(state.canaryPercent).toBe(30);
    const ingress = cluster.stored<ReturnType<typeof canaryIngress>>('ingresses', 'orders-canary', at);
    expect(schemaProblems('core-ingress.json', ingress)).toEqual([]);
    expect(ingress.metadata.annotations).toEqual({
      'kubernetes.io/description': 'canary',
      'nginx.ingress.kubernetes.io/canary': 'true',
      'nginx.ingress.kubernetes.io/canary-weight': '30',
      'nginx.ingress.kubernetes.io/canary-weight-total': '100',
      'nginx.ingress.kubernetes.io/canary-by-header': 'X-Canary',
    });
    const patch = {
      metadata: {
        annotations: {
          'nginx.ingress.kubernetes.io/canary': 'true',
          'nginx.ingress.kubernetes.io/canary-weight': '30',
          'nginx.ingress.kubernetes.io/canary-weight-total': '100',
          'nginx.ingress.kubernetes.io/canary-by-header': 'X-Canary',
        },
      },
    };
    expect(cluster.calls().find((c) => c.includes('patch'))).toEqual([
      '--context',
      'kind-ci',
      '--namespace',
      'shop',
      'patch',
      'ingresses.networking.k8s.io',
      'orders-canary',
      '--type',
      'merge',
      '--patch',
      JSON.stringify(patch),
    ]);
  });

  it('rollback sets the weight to 0 and deletes the header annotation; then it is a no-op', async () => {
    const outcome = await provider().rollback();
    expect(outcome.changed).toBe(true);
    const annotations = cluster.stored<ReturnType<typeof canaryIngress>>('ingresses', 'orders-canary', at).metadata.annotations;
    expect(annotations['nginx.ingress.kubernetes.io/canary-weight']).toBe('0');
    expect(annotations).not.toHaveProperty(['nginx.ingress.kubernetes.io/canary-by-header']);
    expect((await provider().rollback()).changed).toBe(false);
  });

  it('reads an Ingress not marked canary as 0% and names a missing one', async () => {
    cluster.seed('ingresses', canaryIngress({ 'nginx.ingress.kubernetes.io/canary-weight': '40' }), at);
    expect((await provider().getState()).canaryPercent).toBe(0);
    await expect(new NginxIngressTrafficProvider({ ...config, ingress: 'gone' }, deps()).getState()).rejects.toThrow(
      /ingresses\.networking\.k8s\.io\/gone in namespace shop \(context kind-ci\): it does not exist/,
    );
  });

  it('reads a canary-weight-total other than 100 as a share, and normalises it to 100 on the next write', async () => {
    cluster.seed(
      'ingresses',
      canaryIngress({
        'nginx.ingress.kubernetes.io/canary': 'true',
        'nginx.ingress.kubernetes.io/canary-weight': '250',
        'nginx.ingress.kubernetes.io/canary-weight-total': '1000',
      }),
      at,
    );
    expect((await provider().getState()).canaryPercent).toBe(25);
    await provider().setWeight(40);
    const annotations = cluster.stored<ReturnType<typeof canaryIngress>>('ingresses', 'orders-canary', at).metadata.annotations;
    expect([annotations['nginx.ingress.kubernetes.io/canary-weight'], annotations['nginx.ingress.kubernetes.io/canary-weight-total']]).toEqual(['40', '100']);
  });

  it('the schema rejects a numeric annotation value (this check can fail)', () => {
    const bad = { ...canaryIngress({}), metadata: { name: 'x', annotations: { 'nginx.ingress.kubernetes.io/canary-weight': 30 } } };
    expect(schemaProblems('core-ingress.json', bad).join('\n')).toMatch(/canary-weight must be string/);
  });
});

describe('smi', () => {
  const config = parse<SmiConfig>({ provider: 'smi', ...at, trafficSplit: 'orders', stableBackend: 'orders-v1', canaryBackend: 'orders-v2' });
  const split = (v1: number, v2: number) => ({
    apiVersion: 'split.smi-spec.io/v1alpha4',
    kind: 'TrafficSplit',
    metadata: { name: 'orders', namespace: 'shop' },
    spec: {
      service: 'orders',
      backends: [
        { service: 'orders-v1', weight: v1 },
        { service: 'orders-v2', weight: v2 },
      ],
    },
  });

  it('sets backend weights with a guarded JSON patch; relative weights read as shares', async () => {
    cluster.seed('trafficsplits', split(1000, 500), at);
    expect(Math.round((await new SmiTrafficProvider(config, deps()).getState()).canaryPercent * 10) / 10).toBe(33.3);
    const state = await new SmiTrafficProvider(config, deps()).setWeight(50);
    expect(state.canaryPercent).toBe(50);
    const stored = cluster.stored('trafficsplits', 'orders', at);
    expect(stored).toEqual(expect.objectContaining({ spec: split(50, 50).spec }));
    expect(schemaProblems('smi-trafficsplit.json', stored)).toEqual([]);
    expect(cluster.calls().find((c) => c.includes('patch'))).toEqual([
      '--context',
      'kind-ci',
      '--namespace',
      'shop',
      'patch',
      'trafficsplits.split.smi-spec.io',
      'orders',
      '--type',
      'json',
      '--patch',
      JSON.stringify([
        { op: 'test', path: '/spec/backends/0/service', value: 'orders-v1' },
        { op: 'test', path: '/spec/backends/1/service', value: 'orders-v2' },
        { op: 'replace', path: '/spec/backends/0/weight', value: 50 },
        { op: 'replace', path: '/spec/backends/1/weight', value: 50 },
      ]),
    ]);
  });

  it('names the TrafficSplit and the backend that is missing', async () => {
    cluster.seed('trafficsplits', { ...split(100, 0), spec: { service: 'orders', backends: [{ service: 'orders-v1', weight: 100 }] } }, at);
    await expect(new SmiTrafficProvider(config, deps()).setWeight(10)).rejects.toThrow(
      /^smi: trafficsplits\.split\.smi-spec\.io\/orders in namespace shop \(context kind-ci\): no backend names the Service "orders-v2"/,
    );
  });
});

describe('argo-rollouts', () => {
  const config = parse<ArgoConfig>({ provider: 'argo-rollouts', ...at, rollout: 'orders', timeout: '5s' });
  const provider = () => new ArgoRolloutsTrafficProvider(config, deps());
  const rollout = (status: Record<string, unknown>) => ({
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name: 'orders', namespace: 'shop' },
    spec: {
      replicas: 4,
      strategy: {
        canary: {
          canaryService: 'orders-canary',
          stableService: 'orders-stable',
          steps: [{ setWeight: 5 }, { pause: {} }],
          trafficRouting: { nginx: { stableIngress: 'orders' } },
        },
      },
    },
    status: { observedGeneration: '1', phase: 'Paused', ...status },
  });

  it('sets the weight through the steps and waits for the status to show it', async () => {
    cluster.seed('rollouts', rollout({ stableRS: 'aaa', currentPodHash: 'bbb', currentStepIndex: 1 }), at);
    const state = await provider().setWeight(25);
    expect(state.canaryPercent).toBe(25);
    const stored = cluster.stored('rollouts', 'orders', at);
    expect(schemaProblems('argo-rollout.json', stored)).toEqual([]);
    expect(cluster.calls()[1]).toEqual([
      '--context',
      'kind-ci',
      '--namespace',
      'shop',
      'patch',
      'rollouts.argoproj.io',
      'orders',
      '--type',
      'merge',
      '--patch',
      JSON.stringify({ spec: { strategy: { canary: { steps: [{ setWeight: 25 }, { pause: {} }] } } } }),
    ]);
  });

  it('promotes through the status subresource and waits until the new ReplicaSet is stable', async () => {
    const state = await provider().promote();
    expect(state.canaryPercent).toBe(0);
    expect(cluster.calls()[1]).toEqual([
      '--context',
      'kind-ci',
      '--namespace',
      'shop',
      'patch',
      'rollouts.argoproj.io',
      'orders',
      '--type',
      'merge',
      '--patch',
      '{"status":{"promoteFull":true}}',
      '--subresource',
      'status',
    ]);
    const stored = cluster.stored<{ status: { stableRS: string; currentPodHash: string } }>('rollouts', 'orders', at);
    expect(stored.status.stableRS).toBe(stored.status.currentPodHash);
    expect(schemaProblems('argo-rollout.json', stored)).toEqual([]);
    // Nothing is in progress any more: rollback has nothing to undo.
    expect((await provider().rollback()).changed).toBe(false);
  });

  it('resumes a Rollout paused by hand before promoting it', async () => {
    const paused = rollout({ stableRS: 'aaa', currentPodHash: 'eee', currentStepIndex: 1 });
    cluster.seed('rollouts', { ...paused, spec: { ...paused.spec, paused: true } }, at);
    expect((await provider().promote()).canaryPercent).toBe(0);
    expect(
      cluster
        .calls()
        .filter((c) => c.includes('patch'))
        .map((c) => c[10]),
    ).toEqual(['{"spec":{"paused":false}}', '{"status":{"promoteFull":true}}']);
    expect(schemaProblems('argo-rollout.json', cluster.stored('rollouts', 'orders', at))).toEqual([]);
  });

  it('rollback aborts an update in progress; a second rollback changes nothing', async () => {
    cluster.seed(
      'rollouts',
      rollout({
        stableRS: 'aaa',
        currentPodHash: 'ccc',
        currentStepIndex: 0,
        canary: { weights: { canary: { weight: 40, podTemplateHash: 'ccc' }, stable: { weight: 60, podTemplateHash: 'aaa' } } },
      }),
      at,
    );
    const outcome = await provider().rollback();
    expect(outcome.before.canaryPercent).toBe(40);
    expect(outcome.after.canaryPercent).toBe(0);
    expect(cluster.calls()[1]).toEqual([
      '--context',
      'kind-ci',
      '--namespace',
      'shop',
      'patch',
      'rollouts.argoproj.io',
      'orders',
      '--type',
      'merge',
      '--patch',
      '{"status":{"abort":true}}',
      '--subresource',
      'status',
    ]);
    expect(schemaProblems('argo-rollout.json', cluster.stored('rollouts', 'orders', at))).toEqual([]);
    expect((await provider().rollback()).changed).toBe(false);
  });

  it('fails, naming the Rollout, when the controller never shows the change', async () => {
    cluster.seed('rollouts', rollout({ stableRS: 'aaa', currentPodHash: 'ddd', currentStepIndex: 0 }), at);
    cluster.fault('controller-stopped');
    await expect(provider().setWeight(50)).rejects.toThrow(
      /^argo-rollouts: rollouts\.argoproj\.io\/orders in namespace shop \(context kind-ci\): the status did not show the canary at 50% within 5s .*the controller has not seen the change: is it running\?/,
    );
  });

  it('refuses to set a weight when no update is in progress', async () => {
    cluster.seed('rollouts', rollout({ stableRS: 'aaa', currentPodHash: 'aaa' }), at);
    await expect(provider().setWeight(10)).rejects.toThrow(/did not show an update in progress/);
  });
});

describe('service-selector', () => {
  const config = parse<SelectorConfig>({ provider: 'service-selector', ...at, service: 'orders' });
  const provider = () => new ServiceSelectorTrafficProvider(config, deps());
  const service = (color: string) => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'orders', namespace: 'shop' },
    spec: { selector: { app: 'orders', color }, ports: [{ port: 80, targetPort: 8080 }] },
  });

  it('switches the selector with a merge patch, keeps the other selector keys and reads it back', async () => {
    cluster.seed('services', service('blue'), at);
    expect(await provider().liveColour()).toBe('blue');
    const state = await provider().switchTo('green');
    expect(state.live).toBe('green');
    const stored = cluster.stored<ReturnType<typeof service>>('services', 'orders', at);
    expect(stored.spec.selector).toEqual({ app: 'orders', color: 'green' });
    expect(schemaProblems('core-service.json', stored)).toEqual([]);
    expect(cluster.calls()[1]).toEqual([
      '--context',
      'kind-ci',
      '--namespace',
      'shop',
      'patch',
      'services',
      'orders',
      '--type',
      'merge',
      '--patch',
      '{"spec":{"selector":{"color":"green"}}}',
    ]);
  });

  it('rolls back to the given colour once; the second time changes nothing', async () => {
    const first = await provider().rollback({ toColour: 'blue' });
    expect([first.changed, first.before.live, first.after.live]).toEqual([true, 'green', 'blue']);
    expect((await provider().rollback({ toColour: 'blue' })).changed).toBe(false);
    await expect(provider().rollback()).rejects.toThrow(/needs the colour to return to/);
  });

  it('names the Service when its selector points at neither colour, and rollback repairs it', async () => {
    cluster.seed('services', service('purple'), at);
    await expect(provider().getState()).rejects.toThrow(
      /services\/orders in namespace shop \(context kind-ci\) selector color: the selector says color=purple, which is neither blue \(blue\) nor green \(green\)/,
    );
    expect((await provider().rollback({ toColour: 'green' })).after.live).toBe('green');
  });

  it('fails plainly when the API server cannot be reached', async () => {
    cluster.fault('unreachable');
    await expect(provider().getState()).rejects.toThrow(/^service-selector: reading services\/orders .*connection to the server .* was refused/);
  });
});

describe('registry', () => {
  it.each([
    [{ provider: 'istio', virtualService: 'vs', host: 'orders' }, 'istio'],
    [{ provider: 'gateway-api', httpRoute: 'r', stableBackend: 'a', canaryBackend: 'b' }, 'gateway-api'],
    [{ provider: 'nginx-ingress', ingress: 'i' }, 'nginx-ingress'],
    [{ provider: 'smi', trafficSplit: 't', stableBackend: 'a', canaryBackend: 'b' }, 'smi'],
    [{ provider: 'argo-rollouts', rollout: 'r' }, 'argo-rollouts'],
    [{ provider: 'service-selector', service: 's' }, 'service-selector'],
  ])('builds the %p provider from the plan', (traffic, kind) => {
    const provider = createTrafficProvider({ service: 'orders', environment: 'production', strategy: 'canary', traffic: trafficSchema.parse(traffic) });
    expect(provider.kind).toBe(kind);
  });
});
