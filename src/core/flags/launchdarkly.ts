import { ProviderError } from '../errors.js';
import { httpRequest, safeUrl } from '../http.js';
import type { FlagsConfig } from '../plan/schema.js';
import type { FlagExistence, FlagState, KillSwitchProvider, ProviderContext, TurnOffContext } from './provider.js';
import { describeBody } from './unleash.js';

type LaunchDarklyConfig = Extract<FlagsConfig, { provider: 'launchdarkly' }>;

/** The content type that makes LaunchDarkly read a PATCH body as a semantic patch. */
export const SEMANTIC_PATCH_CONTENT_TYPE = 'application/json; domain-model=launchdarkly.semanticpatch';

interface LaunchDarklyFlag {
  key?: string;
  environments?: Record<string, { on?: boolean } | undefined>;
}

/**
 * LaunchDarkly through its REST API (https://apidocs.launchdarkly.com/tag/Feature-flags#operation/patchFeatureFlag,
 * "Update feature flag" with a semantic patch): `PATCH /api/v2/flags/{projectKey}/{flagKey}` with
 * `{environmentKey, comment, instructions: [{kind: "turnFlagOff"}]}`; read back with
 * `GET /api/v2/flags/{projectKey}/{flagKey}?env={environmentKey}` (`environments[env].on`).
 * The access token goes in `Authorization` as is.
 */
export class LaunchDarklyKillSwitches implements KillSwitchProvider {
  readonly kind = 'launchdarkly' as const;
  readonly environment: string;
  private readonly base: string;

  constructor(
    private readonly config: LaunchDarklyConfig,
    private readonly context: ProviderContext,
  ) {
    this.environment = config.environment ?? context.planEnvironment;
    this.base = config.url.replace(/\/+$/, '');
  }

  private flagUrl(flag: string): string {
    return `${this.base}/api/v2/flags/${encodeURIComponent(this.config.project)}/${encodeURIComponent(flag)}`;
  }

  async turnOff(flag: string, context: TurnOffContext): Promise<void> {
    const url = this.flagUrl(flag);
    const res = await httpRequest(
      {
        method: 'PATCH',
        url,
        headers: { Authorization: this.config.token, 'Content-Type': SEMANTIC_PATCH_CONTENT_TYPE, Accept: 'application/json' },
        body: {
          environmentKey: this.environment,
          comment: `rollgate rollback of ${context.service}: ${context.reason}`,
          instructions: [{ kind: 'turnFlagOff' }],
        },
        timeoutMs: this.config.timeout,
        retries: 2,
        system: 'launchdarkly',
      },
      this.context.clock,
    );
    if (res.status >= 200 && res.status < 300) return;
    throw new ProviderError('launchdarkly', `PATCH ${safeUrl(url)} answered ${res.status}${describeBody(res.data)}`);
  }

  async readState(flag: string): Promise<FlagState> {
    const found = await this.flag(flag);
    if (!found) throw new ProviderError('launchdarkly', `flag ${flag} does not exist in project ${this.config.project}`);
    const env = found.environments?.[this.environment];
    if (!env) throw new ProviderError('launchdarkly', `flag ${flag} has no environment ${this.environment}`);
    return env.on === true ? 'on' : 'off';
  }

  async exists(flag: string): Promise<FlagExistence> {
    const found = await this.flag(flag);
    if (!found) return 'missing';
    return found.environments?.[this.environment] ? 'exists' : 'missing';
  }

  private async flag(flag: string): Promise<LaunchDarklyFlag | undefined> {
    const url = this.flagUrl(flag);
    const res = await httpRequest(
      {
        method: 'GET',
        url,
        params: { env: this.environment },
        headers: { Authorization: this.config.token, Accept: 'application/json' },
        timeoutMs: this.config.timeout,
        retries: 2,
        system: 'launchdarkly',
      },
      this.context.clock,
    );
    if (res.status === 404) return undefined;
    if (res.status !== 200 || typeof res.data !== 'object' || res.data === null)
      throw new ProviderError('launchdarkly', `GET ${safeUrl(url)} answered ${res.status}${describeBody(res.data)}`);
    return res.data as LaunchDarklyFlag;
  }
}
