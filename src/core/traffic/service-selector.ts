import { ProviderError, UserError } from '../errors.js';
import type { TrafficConfig } from '../plan/schema.js';
import { asRecord, type Kubectl } from './kubectl.js';
import { kubectlFor, wrongShape, type KubernetesDeps } from './kubernetes.js';
import { type Colour, type RollbackOutcome, type TrafficCallOptions, type TrafficProvider, type TrafficState } from './provider.js';

type ServiceSelectorConfig = Extract<TrafficConfig, { provider: 'service-selector' }>;

export const SERVICE_RESOURCE = 'services';

/**
 * Blue-green by a Service's selector: one label (`selectorKey`, default `color`) picks the pods of
 * the blue or the green Deployment. A switch is one merge patch of that label; the idle colour's
 * Deployment keeps running, so switching back is instant.
 */
export class ServiceSelectorTrafficProvider implements TrafficProvider {
  readonly kind = 'service-selector';
  readonly target: string;
  readonly supports = { canary: false, blueGreen: true };
  readonly kubectl: Kubectl;

  constructor(
    private readonly config: ServiceSelectorConfig,
    deps: KubernetesDeps = {},
  ) {
    this.kubectl = kubectlFor(this.kind, config, deps);
    this.target = `${this.kubectl.describe(SERVICE_RESOURCE, config.service)} selector ${config.selectorKey}`;
  }

  async getState(options: TrafficCallOptions = {}): Promise<TrafficState> {
    const { live, value } = await this.readSelector(options.signal);
    if (!live)
      throw new ProviderError(
        this.kind,
        `${this.target}: the selector ${value === undefined ? `has no key ${this.config.selectorKey}` : `says ${this.config.selectorKey}=${String(value)}`}, which is neither blue (${this.config.blue}) nor green (${this.config.green})`,
      );
    return this.stateFor(live);
  }

  private async readSelector(signal?: AbortSignal): Promise<{ live?: Colour; value: unknown }> {
    const service = await this.kubectl.get(SERVICE_RESOURCE, this.config.service, signal);
    const selector = asRecord(asRecord(service.spec)?.selector) ?? {};
    const value = selector[this.config.selectorKey];
    return { value, live: value === this.config.blue ? 'blue' : value === this.config.green ? 'green' : undefined };
  }

  private stateFor(live: Colour): TrafficState {
    return {
      canaryPercent: 0,
      live,
      slots: (['blue', 'green'] as const).map((colour) => ({ role: colour, name: `${this.config.selectorKey}=${this.config[colour]}`, percent: colour === live ? 100 : 0 })),
    };
  }

  async liveColour(options: TrafficCallOptions = {}): Promise<Colour> {
    return (await this.getState(options)).live as Colour;
  }

  /** The merge patch that points the Service at one colour; other selector keys are left alone. */
  patchFor(colour: Colour): Record<string, unknown> {
    return { spec: { selector: { [this.config.selectorKey]: this.config[colour] } } };
  }

  async switchTo(colour: Colour, options: TrafficCallOptions = {}): Promise<TrafficState> {
    await this.kubectl.patch(SERVICE_RESOURCE, this.config.service, { type: 'merge', patch: this.patchFor(colour) }, { signal: options.signal });
    const after = await this.getState(options);
    if (after.live !== colour)
      throw new ProviderError(this.kind, `${this.target}: read-back after the switch shows ${after.live} live, expected ${colour} (is something else writing this Service?)`);
    return after;
  }

  /** Switches back to `toColour`; without it there is no earlier switch to undo, so nothing changes. */
  async rollback(options: TrafficCallOptions & { toColour?: Colour } = {}): Promise<RollbackOutcome> {
    const to = options.toColour;
    if (!to) throw new UserError(`${this.kind}: blue-green rollback needs the colour to return to, and no earlier switch is on record`);
    // A selector that names neither colour is repaired by the switch itself, so it is not an error here.
    const { live } = await this.readSelector(options.signal);
    const before = live ? this.stateFor(live) : { canaryPercent: 100, slots: [] };
    if (live === to) return { changed: false, before, after: before };
    const after = await this.switchTo(to, options);
    return { changed: true, before, after };
  }

  async setWeight(): Promise<TrafficState> {
    throw wrongShape(this.kind, 'setWeight', 'blue-green');
  }

  async promote(): Promise<TrafficState> {
    throw wrongShape(this.kind, 'promote', 'blue-green');
  }
}
