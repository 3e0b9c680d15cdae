import { ProviderError } from '../errors.js';
import type { TrafficConfig } from '../plan/schema.js';
import { asRecord, asRecords, type JsonPatchOp, type Kubectl } from './kubectl.js';
import { kubectlFor, WeightedKubernetesProvider, type KubernetesDeps, type RawPair } from './kubernetes.js';
import type { TrafficProvider } from './provider.js';

type SmiConfig = Extract<TrafficConfig, { provider: 'smi' }>;

/** The kubectl resource name, qualified by the SMI group (Linkerd, OSM and others serve it). */
export const TRAFFICSPLIT_RESOURCE = 'trafficsplits.split.smi-spec.io';

/**
 * SMI: the `weight` of two `backends` of a TrafficSplit. Weights are relative in the spec and
 * required on every backend; rollgate writes the pair as numbers that add up to 100.
 */
export class SmiTrafficProvider extends WeightedKubernetesProvider implements TrafficProvider {
  readonly kind = 'smi';
  readonly target: string;
  readonly kubectl: Kubectl;

  constructor(
    private readonly config: SmiConfig,
    deps: KubernetesDeps = {},
  ) {
    super(deps);
    this.kubectl = kubectlFor(this.kind, config, deps);
    this.target = this.kubectl.describe(TRAFFICSPLIT_RESOURCE, config.trafficSplit);
  }

  /** Both backends are Services: their ready endpoints are the health of each slot. */
  protected override backendServices(): { stable: string; canary: string } {
    return { stable: this.config.stableBackend, canary: this.config.canaryBackend };
  }

  protected async readPair(signal?: AbortSignal): Promise<RawPair> {
    return (await this.locate(signal)).pair;
  }

  private async locate(signal?: AbortSignal): Promise<{ pair: RawPair; stableIndex: number; canaryIndex: number }> {
    const split = await this.kubectl.get(TRAFFICSPLIT_RESOURCE, this.config.trafficSplit, signal);
    const backends = asRecords(asRecord(split.spec)?.backends);
    const find = (service: string) => {
      const index = backends.findIndex((b) => b.service === service);
      if (index < 0)
        throw new ProviderError(
          this.kind,
          `${this.target}: no backend names the Service ${JSON.stringify(service)} (found: ${backends.map((b) => String(b.service)).join(', ') || 'none'})`,
        );
      return index;
    };
    const stableIndex = find(this.config.stableBackend);
    const canaryIndex = find(this.config.canaryBackend);
    const weightOf = (b: Record<string, unknown> | undefined) => (typeof b?.weight === 'number' ? b.weight : 0);
    const others = backends.reduce((sum, b, i) => (i === stableIndex || i === canaryIndex ? sum : sum + weightOf(b)), 0);
    return {
      stableIndex,
      canaryIndex,
      pair: {
        stable: { name: this.config.stableBackend, weight: weightOf(backends[stableIndex]) },
        canary: { name: this.config.canaryBackend, weight: weightOf(backends[canaryIndex]) },
        others,
        extras: false,
      },
    };
  }

  /** The JSON patch for a split, guarded by tests of the backend names at the positions it writes. */
  patchFor(weights: { stable: number; canary: number }, position: { stableIndex: number; canaryIndex: number }): JsonPatchOp[] {
    return [
      { op: 'test', path: `/spec/backends/${position.stableIndex}/service`, value: this.config.stableBackend },
      { op: 'test', path: `/spec/backends/${position.canaryIndex}/service`, value: this.config.canaryBackend },
      { op: 'replace', path: `/spec/backends/${position.stableIndex}/weight`, value: weights.stable },
      { op: 'replace', path: `/spec/backends/${position.canaryIndex}/weight`, value: weights.canary },
    ];
  }

  protected async write(weights: { stable: number; canary: number }, _phase: 'ramp' | 'final', signal?: AbortSignal): Promise<void> {
    const position = await this.locate(signal);
    await this.kubectl.patch(TRAFFICSPLIT_RESOURCE, this.config.trafficSplit, { type: 'json', patch: this.patchFor(weights, position) }, { signal });
  }
}
