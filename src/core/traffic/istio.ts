import { ProviderError } from '../errors.js';
import type { TrafficConfig } from '../plan/schema.js';
import { asRecord, asRecords, type JsonPatchOp, type Kubectl } from './kubectl.js';
import { kubectlFor, WeightedKubernetesProvider, type KubernetesDeps, type RawPair } from './kubernetes.js';
import type { TrafficProvider } from './provider.js';

type IstioConfig = Extract<TrafficConfig, { provider: 'istio' }>;

/** The kubectl resource name, qualified by Istio's networking group. */
export const VIRTUALSERVICE_RESOURCE = 'virtualservices.networking.istio.io';

/** The name of the HTTP route rollgate inserts for the header match, so it can find and remove it again. */
export const HEADER_ROUTE_NAME = 'rollgate-canary-by-header';

interface Located {
  pair: RawPair;
  /** Index of the weighted route in spec.http. */
  main: number;
  stableIndex: number;
  canaryIndex: number;
  /** Index of rollgate's header route, or -1. */
  header: number;
  mainRoute: Record<string, unknown>;
}

/**
 * Istio: the weights of the stable and canary subsets in one HTTP route of a VirtualService.
 * While a canary ramps, rollgate can also insert a route (before the weighted one) that sends a
 * named group of users to the canary by header, and mirror a share of traffic to it; promotion and
 * rollback remove both. Istio wants route weights that total 100, so anything else is an error.
 */
export class IstioTrafficProvider extends WeightedKubernetesProvider implements TrafficProvider {
  readonly kind = 'istio';
  readonly target: string;
  readonly kubectl: Kubectl;
  protected override readonly mustTotal100 = true;

  constructor(
    private readonly config: IstioConfig,
    deps: KubernetesDeps = {},
  ) {
    super(deps);
    this.kubectl = kubectlFor(this.kind, config, deps);
    this.target = `${this.kubectl.describe(VIRTUALSERVICE_RESOURCE, config.virtualService)}${config.route ? ` route ${config.route}` : ''}`;
  }

  protected async readPair(signal?: AbortSignal): Promise<RawPair> {
    return (await this.locate(signal)).pair;
  }

  private async locate(signal?: AbortSignal): Promise<Located> {
    const vs = await this.kubectl.get(VIRTUALSERVICE_RESOURCE, this.config.virtualService, signal);
    const http = asRecords(asRecord(vs.spec)?.http);
    const { host, stableSubset, canarySubset } = this.config;
    const destination = (r: Record<string, unknown>) => asRecord(r.destination) ?? {};
    const isOurs = (r: Record<string, unknown>, subset: string) => destination(r).host === host && destination(r).subset === subset;
    const main = this.config.route
      ? http.findIndex((h) => h.name === this.config.route)
      : http.findIndex((h) => h.name !== HEADER_ROUTE_NAME && asRecords(h.route).some((r) => isOurs(r, stableSubset)));
    if (main < 0)
      throw new ProviderError(
        this.kind,
        this.config.route
          ? `${this.target}: the VirtualService has no HTTP route named ${JSON.stringify(this.config.route)} (found: ${http.map((h) => String(h.name ?? '(unnamed)')).join(', ') || 'none'})`
          : `${this.target}: no HTTP route sends traffic to host ${host} subset ${stableSubset}`,
      );
    const mainRoute = http[main] as Record<string, unknown>;
    const routes = asRecords(mainRoute.route);
    const find = (subset: string) => {
      const index = routes.findIndex((r) => isOurs(r, subset));
      if (index < 0)
        throw new ProviderError(
          this.kind,
          `${this.target}: HTTP route ${main} has no destination host ${host} subset ${subset} (found: ${routes.map((r) => `${String(destination(r).host)}/${String(destination(r).subset ?? '-')}`).join(', ') || 'none'})`,
        );
      return index;
    };
    const stableIndex = find(stableSubset);
    const canaryIndex = find(canarySubset);
    // Istio reads a missing weight as 100 on a lone destination and 0 otherwise.
    const weightOf = (r: Record<string, unknown> | undefined) => (typeof r?.weight === 'number' ? r.weight : routes.length === 1 ? 100 : 0);
    const others = routes.reduce((sum, r, i) => (i === stableIndex || i === canaryIndex ? sum : sum + weightOf(r)), 0);
    const header = http.findIndex((h) => h.name === HEADER_ROUTE_NAME);
    const mirrored = this.config.mirrorPercent !== undefined && asRecord(mainRoute.mirror)?.subset === canarySubset;
    return {
      main,
      stableIndex,
      canaryIndex,
      header,
      mainRoute,
      pair: {
        stable: { name: stableSubset, weight: weightOf(routes[stableIndex]) },
        canary: { name: canarySubset, weight: weightOf(routes[canaryIndex]) },
        others,
        extras: header >= 0 || mirrored,
      },
    };
  }

  /** The route that sends the header group to the canary: the weighted route's matches, each with the headers added. */
  headerRoute(mainRoute: Record<string, unknown>): Record<string, unknown> {
    const headers = Object.fromEntries(Object.entries(this.config.headerMatch ?? {}).map(([name, value]) => [name, { exact: value }]));
    const matches = asRecords(mainRoute.match);
    const match = matches.length ? matches.map((m) => ({ ...m, headers: { ...(asRecord(m.headers) ?? {}), ...headers } })) : [{ headers }];
    const port = asRecord(asRecord(asRecords(mainRoute.route)[0]?.destination)?.port);
    return { name: HEADER_ROUTE_NAME, match, route: [{ destination: { host: this.config.host, subset: this.config.canarySubset, ...(port ? { port } : {}) }, weight: 100 }] };
  }

  /**
   * One JSON patch for the whole change. Tests pin the positions read; weights first; the header
   * route is inserted or removed last so the indexes used before it stay valid.
   */
  patchFor(weights: { stable: number; canary: number }, phase: 'ramp' | 'final', at: Located): JsonPatchOp[] {
    const m = `/spec/http/${at.main}`;
    const ops: JsonPatchOp[] = [
      { op: 'test', path: `${m}/route/${at.stableIndex}/destination/subset`, value: this.config.stableSubset },
      { op: 'test', path: `${m}/route/${at.canaryIndex}/destination/subset`, value: this.config.canarySubset },
      { op: 'add', path: `${m}/route/${at.stableIndex}/weight`, value: weights.stable },
      { op: 'add', path: `${m}/route/${at.canaryIndex}/weight`, value: weights.canary },
    ];
    if (this.config.mirrorPercent !== undefined) {
      const mirrored = asRecord(at.mainRoute.mirror)?.subset === this.config.canarySubset;
      if (phase === 'ramp') {
        const port = asRecord(asRecord(asRecords(at.mainRoute.route)[at.canaryIndex]?.destination)?.port);
        ops.push(
          { op: 'add', path: `${m}/mirror`, value: { host: this.config.host, subset: this.config.canarySubset, ...(port ? { port } : {}) } },
          { op: 'add', path: `${m}/mirrorPercentage`, value: { value: this.config.mirrorPercent } },
        );
      } else if (mirrored) {
        ops.push({ op: 'remove', path: `${m}/mirror` });
        if (at.mainRoute.mirrorPercentage !== undefined) ops.push({ op: 'remove', path: `${m}/mirrorPercentage` });
      }
    }
    const wantHeader = phase === 'ramp' && this.config.headerMatch !== undefined && Object.keys(this.config.headerMatch).length > 0;
    if (wantHeader && at.header < 0) ops.push({ op: 'add', path: m, value: this.headerRoute(at.mainRoute) });
    if (!wantHeader && at.header >= 0) ops.push({ op: 'test', path: `/spec/http/${at.header}/name`, value: HEADER_ROUTE_NAME }, { op: 'remove', path: `/spec/http/${at.header}` });
    return ops;
  }

  protected async write(weights: { stable: number; canary: number }, phase: 'ramp' | 'final', signal?: AbortSignal): Promise<void> {
    const at = await this.locate(signal);
    await this.kubectl.patch(VIRTUALSERVICE_RESOURCE, this.config.virtualService, { type: 'json', patch: this.patchFor(weights, phase, at) }, { signal });
  }
}
