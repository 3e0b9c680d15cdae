import { ProviderError } from '../errors.js';
import type { TrafficConfig } from '../plan/schema.js';
import { asRecord, asRecords, type JsonPatchOp, type Kubectl } from './kubectl.js';
import { kubectlFor, WeightedKubernetesProvider, type KubernetesDeps, type RawPair } from './kubernetes.js';
import type { TrafficProvider } from './provider.js';

type GatewayApiConfig = Extract<TrafficConfig, { provider: 'gateway-api' }>;

/** The kubectl resource name, fully qualified so another API group's `httproutes` cannot shadow it. */
export const HTTPROUTE_RESOURCE = 'httproutes.gateway.networking.k8s.io';

/** Where the two backendRefs sit in the HTTPRoute, as found on the last read. */
interface RulePosition {
  stableIndex: number;
  canaryIndex: number;
}

/**
 * Gateway API: the `weight` of two `backendRefs` of one HTTPRoute rule. Weights are relative in
 * the API; rollgate writes them as a pair that adds up to 100. A backendRef without `weight` has
 * the API's default of 1.
 */
export class GatewayApiTrafficProvider extends WeightedKubernetesProvider implements TrafficProvider {
  readonly kind = 'gateway-api';
  readonly target: string;
  readonly kubectl: Kubectl;

  constructor(
    private readonly config: GatewayApiConfig,
    deps: KubernetesDeps = {},
  ) {
    super(deps);
    this.kubectl = kubectlFor(this.kind, config, deps);
    this.target = `${this.kubectl.describe(HTTPROUTE_RESOURCE, config.httpRoute)} rule ${config.rule}`;
  }

  /** Both backends are Services: their ready endpoints are the health of each slot. */
  protected override backendServices(): { stable: string; canary: string } {
    return { stable: this.config.stableBackend, canary: this.config.canaryBackend };
  }

  protected async readPair(signal?: AbortSignal): Promise<RawPair> {
    return (await this.locate(signal)).pair;
  }

  /** Reads the route and finds the two backendRefs. */
  private async locate(signal?: AbortSignal): Promise<{ pair: RawPair; position: RulePosition }> {
    const route = await this.kubectl.get(HTTPROUTE_RESOURCE, this.config.httpRoute, signal);
    const rules = asRecords(asRecord(route.spec)?.rules);
    const rule = rules[this.config.rule];
    if (!rule) throw new ProviderError(this.kind, `${this.target}: the HTTPRoute has ${rules.length} rule(s), so there is no rule ${this.config.rule} (rules count from 0)`);
    const refs = asRecords(rule.backendRefs);
    const find = (name: string) => {
      const index = refs.findIndex((r) => r.name === name && (r.kind === undefined || r.kind === 'Service'));
      if (index < 0)
        throw new ProviderError(
          this.kind,
          `${this.target}: no backendRef names the Service ${JSON.stringify(name)} (found: ${refs.map((r) => String(r.name)).join(', ') || 'none'})`,
        );
      return index;
    };
    const stableIndex = find(this.config.stableBackend);
    const canaryIndex = find(this.config.canaryBackend);
    const weightOf = (r: Record<string, unknown> | undefined) => (typeof r?.weight === 'number' ? r.weight : 1);
    const others = refs.reduce((sum, r, i) => (i === stableIndex || i === canaryIndex ? sum : sum + weightOf(r)), 0);
    return {
      position: { stableIndex, canaryIndex },
      pair: {
        stable: { name: this.config.stableBackend, weight: weightOf(refs[stableIndex]) },
        canary: { name: this.config.canaryBackend, weight: weightOf(refs[canaryIndex]) },
        others,
        extras: false,
      },
    };
  }

  /** The JSON patch for a split: each weight replaced where the last read found it, guarded by a test of the name there. */
  patchFor(weights: { stable: number; canary: number }, position: RulePosition): JsonPatchOp[] {
    const base = `/spec/rules/${this.config.rule}/backendRefs`;
    return [
      { op: 'test', path: `${base}/${position.stableIndex}/name`, value: this.config.stableBackend },
      { op: 'test', path: `${base}/${position.canaryIndex}/name`, value: this.config.canaryBackend },
      // `add` sets the field whether or not it is there (RFC 6902), unlike `replace`: weight is optional.
      { op: 'add', path: `${base}/${position.stableIndex}/weight`, value: weights.stable },
      { op: 'add', path: `${base}/${position.canaryIndex}/weight`, value: weights.canary },
    ];
  }

  protected async write(weights: { stable: number; canary: number }, _phase: 'ramp' | 'final', signal?: AbortSignal): Promise<void> {
    // A fresh read locates the backendRefs; the patch's `test` ops catch a reorder in between.
    const { position } = await this.locate(signal);
    await this.kubectl.patch(HTTPROUTE_RESOURCE, this.config.httpRoute, { type: 'json', patch: this.patchFor(weights, position) }, { signal });
  }
}
