import { ProviderError } from '../errors.js';
import { httpRequest, safeUrl } from '../http.js';
import type { FlagsConfig } from '../plan/schema.js';
import type { FlagExistence, FlagState, KillSwitchProvider, ProviderContext } from './provider.js';

type UnleashConfig = Extract<FlagsConfig, { provider: 'unleash' }>;

interface UnleashFeature {
  name?: string;
  environments?: { name?: string; enabled?: boolean }[];
}

/**
 * Unleash through its Admin API (https://docs.getunleash.io/reference/api/unleash/toggle-feature-environment-off):
 * `POST /api/admin/projects/{project}/features/{name}/environments/{env}/off`, read back with
 * `GET /api/admin/projects/{project}/features/{name}`. The token goes in `Authorization` as is.
 */
export class UnleashKillSwitches implements KillSwitchProvider {
  readonly kind = 'unleash' as const;
  readonly environment: string;
  private readonly base: string;

  constructor(
    private readonly config: UnleashConfig,
    private readonly context: ProviderContext,
  ) {
    this.environment = config.environment ?? context.planEnvironment;
    this.base = config.url.replace(/\/+$/, '');
  }

  private featureUrl(flag: string): string {
    return `${this.base}/api/admin/projects/${encodeURIComponent(this.config.project)}/features/${encodeURIComponent(flag)}`;
  }

  private async call(method: 'GET' | 'POST', url: string): Promise<{ status: number; data: unknown }> {
    const res = await httpRequest(
      {
        method,
        url,
        headers: { Authorization: this.config.token, Accept: 'application/json' },
        timeoutMs: this.config.timeout,
        retries: 2,
        system: 'unleash',
      },
      this.context.clock,
    );
    return res;
  }

  async turnOff(flag: string): Promise<void> {
    const url = `${this.featureUrl(flag)}/environments/${encodeURIComponent(this.environment)}/off`;
    const res = await this.call('POST', url);
    if (res.status >= 200 && res.status < 300) return;
    throw new ProviderError('unleash', `POST ${safeUrl(url)} answered ${res.status}${describeBody(res.data)}`);
  }

  async readState(flag: string): Promise<FlagState> {
    const feature = await this.feature(flag);
    if (!feature) throw new ProviderError('unleash', `flag ${flag} does not exist in project ${this.config.project}`);
    const env = feature.environments?.find((e) => e.name === this.environment);
    if (!env) throw new ProviderError('unleash', `flag ${flag} has no environment ${this.environment} (project ${this.config.project})`);
    return env.enabled === true ? 'on' : 'off';
  }

  async exists(flag: string): Promise<FlagExistence> {
    const feature = await this.feature(flag);
    if (!feature) return 'missing';
    // A flag without the environment cannot be switched there: as good as missing for a rollback.
    return feature.environments?.some((e) => e.name === this.environment) ? 'exists' : 'missing';
  }

  private async feature(flag: string): Promise<UnleashFeature | undefined> {
    const url = this.featureUrl(flag);
    const res = await this.call('GET', url);
    if (res.status === 404) return undefined;
    if (res.status !== 200 || typeof res.data !== 'object' || res.data === null)
      throw new ProviderError('unleash', `GET ${safeUrl(url)} answered ${res.status}${describeBody(res.data)}`);
    return res.data as UnleashFeature;
  }
}

/** A short, single-line excerpt of an error body for messages. */
export function describeBody(data: unknown): string {
  if (data === undefined || data === null || data === '') return '';
  const text = typeof data === 'string' ? data : JSON.stringify(data);
  const line = text.replace(/\s+/g, ' ').trim();
  return `: ${line.length > 200 ? `${line.slice(0, 200)}…` : line}`;
}
