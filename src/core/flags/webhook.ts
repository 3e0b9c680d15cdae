import { describeError, ProviderError } from '../errors.js';
import { httpRequest } from '../http.js';
import type { FlagsConfig } from '../plan/schema.js';
import type { FlagExistence, FlagState, KillSwitchProvider, ProviderContext, TurnOffContext } from './provider.js';
import { describeBody } from './unleash.js';

type WebhookFlagsConfig = Extract<FlagsConfig, { provider: 'webhook' }>;

/** The JSON body POSTed for each kill switch; a receiver turns the flag off however it must. */
export interface KillSwitchWebhookBody {
  event: 'kill-switch.off';
  flag: string;
  environment: string;
  service: string;
  reason: string;
}

/**
 * Any other flag system, behind a URL that accepts one POST per flag to turn off. A webhook
 * cannot be asked about state or existence, so those read as `unknown` / `unverifiable` and the
 * rollback reports the flag as accepted but unverified.
 */
export class WebhookKillSwitches implements KillSwitchProvider {
  readonly kind = 'webhook' as const;
  readonly environment: string;

  constructor(
    private readonly config: WebhookFlagsConfig,
    private readonly context: ProviderContext,
  ) {
    this.environment = config.environment ?? context.planEnvironment;
  }

  async turnOff(flag: string, context: TurnOffContext): Promise<void> {
    const body: KillSwitchWebhookBody = { event: 'kill-switch.off', flag, environment: this.environment, service: context.service, reason: context.reason };
    // The URL may carry a credential in its path: errors name only its host.
    const host = hostOf(this.config.url);
    const res = await httpRequest(
      {
        method: 'POST',
        url: this.config.url,
        headers: { ...this.config.headers, 'Content-Type': 'application/json' },
        body,
        timeoutMs: this.config.timeout,
        retries: 2,
        system: 'flags webhook',
        responseType: 'text',
      },
      this.context.clock,
    ).catch((err: unknown) => {
      throw new ProviderError(
        'flags webhook',
        describeError(err)
          .replace(/^flags webhook: /, '')
          .replace(/https?:\/\/\S+/g, host),
        true,
      );
    });
    if (res.status >= 200 && res.status < 300) return;
    throw new ProviderError('flags webhook', `POST to ${host} answered ${res.status}${describeBody(res.data)}`);
  }

  async readState(): Promise<FlagState> {
    return 'unknown';
  }

  async exists(): Promise<FlagExistence> {
    return 'unverifiable';
  }
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(invalid URL)';
  }
}
