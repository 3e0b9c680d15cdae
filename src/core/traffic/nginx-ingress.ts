import type { TrafficConfig } from '../plan/schema.js';
import type { Kubectl } from './kubectl.js';
import { kubectlFor, WeightedKubernetesProvider, type KubernetesDeps, type RawPair } from './kubernetes.js';
import type { TrafficProvider } from './provider.js';

type NginxIngressConfig = Extract<TrafficConfig, { provider: 'nginx-ingress' }>;

export const INGRESS_RESOURCE = 'ingresses.networking.k8s.io';

/** The ingress-nginx annotations rollgate owns on the canary Ingress. */
export const NGINX_ANNOTATIONS = {
  canary: 'nginx.ingress.kubernetes.io/canary',
  weight: 'nginx.ingress.kubernetes.io/canary-weight',
  total: 'nginx.ingress.kubernetes.io/canary-weight-total',
  byHeader: 'nginx.ingress.kubernetes.io/canary-by-header',
} as const;

/**
 * ingress-nginx: the canary annotations of a second Ingress for the same host and path. The
 * controller sends `canary-weight` out of `canary-weight-total` to it and the rest to the primary
 * Ingress; rollgate always writes the total as 100. With `canaryByHeader`, requests whose header
 * says `always` go to the canary while it ramps; promotion and rollback remove that annotation.
 */
export class NginxIngressTrafficProvider extends WeightedKubernetesProvider implements TrafficProvider {
  readonly kind = 'nginx-ingress';
  readonly target: string;
  readonly kubectl: Kubectl;

  constructor(
    private readonly config: NginxIngressConfig,
    deps: KubernetesDeps = {},
  ) {
    super(deps);
    this.kubectl = kubectlFor(this.kind, config, deps);
    this.target = this.kubectl.describe(INGRESS_RESOURCE, config.ingress);
  }

  protected async readPair(signal?: AbortSignal): Promise<RawPair> {
    const ingress = await this.kubectl.get(INGRESS_RESOURCE, this.config.ingress, signal);
    const annotations = ingress.metadata?.annotations ?? {};
    const marked = annotations[NGINX_ANNOTATIONS.canary] === 'true';
    const declared = parseWeight(annotations[NGINX_ANNOTATIONS.total]);
    const total = declared !== undefined && declared > 0 ? declared : 100;
    // Not marked canary: the controller ignores canary-weight, so the canary share is 0 (and rollback re-marks it).
    const canaryRaw = marked ? (parseWeight(annotations[NGINX_ANNOTATIONS.weight]) ?? 0) : 0;
    const canary = Math.min(100, Math.round((canaryRaw / total) * 100 * 1000) / 1000);
    const header = this.config.canaryByHeader !== undefined && annotations[NGINX_ANNOTATIONS.byHeader] !== undefined;
    return {
      stable: { name: 'primary Ingress', weight: 100 - canary },
      canary: { name: this.config.ingress, weight: canary },
      others: 0,
      extras: !marked || header || (declared !== undefined && declared !== 100),
    };
  }

  /** The merge patch of the annotations for a split; annotation values are strings in the API. */
  patchFor(weights: { stable: number; canary: number }, phase: 'ramp' | 'final'): Record<string, unknown> {
    const annotations: Record<string, string | null> = {
      [NGINX_ANNOTATIONS.canary]: 'true',
      [NGINX_ANNOTATIONS.weight]: String(weights.canary),
      [NGINX_ANNOTATIONS.total]: '100',
    };
    // null deletes the key in a merge patch (RFC 7386).
    if (this.config.canaryByHeader !== undefined) annotations[NGINX_ANNOTATIONS.byHeader] = phase === 'ramp' ? this.config.canaryByHeader : null;
    return { metadata: { annotations } };
  }

  protected async write(weights: { stable: number; canary: number }, phase: 'ramp' | 'final', signal?: AbortSignal): Promise<void> {
    await this.kubectl.patch(INGRESS_RESOURCE, this.config.ingress, { type: 'merge', patch: this.patchFor(weights, phase) }, { signal });
  }
}

function parseWeight(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+$/.test(value.trim())) return undefined;
  return Number(value);
}
