import { systemClock, type Clock } from '../clock.js';
import { ProviderError } from '../errors.js';
import type { TrafficConfig } from '../plan/schema.js';
import { asRecord, asRecords, type KubeObject, type Kubectl } from './kubectl.js';
import { checkPercent, kubectlFor, splitWeights, wrongShape, type KubernetesDeps } from './kubernetes.js';
import type { Colour, RollbackOutcome, TrafficCallOptions, TrafficProvider, TrafficState } from './provider.js';

type ArgoRolloutsConfig = Extract<TrafficConfig, { provider: 'argo-rollouts' }>;

export const ROLLOUT_RESOURCE = 'rollouts.argoproj.io';

/** What rollgate reads from a Rollout. */
export interface RolloutReading {
  canaryPercent: number;
  /** True while an update is in progress (the new ReplicaSet is not yet stable). */
  updating: boolean;
  aborted: boolean;
  /** The controller has seen the latest spec. */
  observed: boolean;
  phase?: string;
  stableRS?: string;
  currentPodHash?: string;
  /** spec.paused: paused by hand, not by a pause step. */
  pausedBySpec: boolean;
}

/**
 * Argo Rollouts, for teams that already run its controller: rollgate owns the canary steps and
 * the promote/abort switches, the controller moves the traffic. Set weight writes the steps as
 * `[setWeight: n, pause: {}]` (a change of steps restarts them, so the controller goes to n and
 * waits); promote sets `status.promoteFull`; rollback sets `status.abort` (both through the status
 * subresource, as the kubectl plugin does). Each change waits until the status shows it.
 */
export class ArgoRolloutsTrafficProvider implements TrafficProvider {
  readonly kind = 'argo-rollouts';
  readonly target: string;
  readonly supports = { canary: true, blueGreen: false };
  readonly kubectl: Kubectl;
  private readonly clock: Clock;

  constructor(
    private readonly config: ArgoRolloutsConfig,
    deps: KubernetesDeps = {},
  ) {
    this.kubectl = kubectlFor(this.kind, config, deps);
    this.target = this.kubectl.describe(ROLLOUT_RESOURCE, config.rollout);
    this.clock = deps.clock ?? systemClock;
  }

  /** Reads the Rollout and works out the canary's share from its status. */
  async read(signal?: AbortSignal): Promise<RolloutReading> {
    return readRollout(await this.kubectl.get(ROLLOUT_RESOURCE, this.config.rollout, signal));
  }

  async getState(options: TrafficCallOptions = {}): Promise<TrafficState> {
    return this.stateOf(await this.read(options.signal));
  }

  private stateOf(r: RolloutReading): TrafficState {
    return {
      canaryPercent: r.canaryPercent,
      slots: [
        { role: 'stable', name: r.stableRS ? `${this.config.rollout} (${r.stableRS})` : this.config.rollout, percent: 100 - r.canaryPercent, admin: r.phase },
        {
          role: 'canary',
          name: r.currentPodHash && r.updating ? `${this.config.rollout} (${r.currentPodHash})` : `${this.config.rollout} canary`,
          percent: r.canaryPercent,
          admin: r.aborted ? 'aborted' : r.phase,
        },
      ],
    };
  }

  /** The merge patch that makes the controller go to `weight` and pause there. */
  stepsPatch(weight: number): Record<string, unknown> {
    // A merge patch replaces lists whole: the steps become exactly these two.
    return { spec: { strategy: { canary: { steps: [{ setWeight: weight }, { pause: {} }] } } } };
  }

  async setWeight(percent: number, options: TrafficCallOptions = {}): Promise<TrafficState> {
    checkPercent(percent);
    const { canary } = splitWeights(percent);
    // Right after a deploy the controller may not have created the new ReplicaSet yet: wait for it.
    await this.waitFor('an update in progress (a new pod template not yet stable): deploy the new version first', (r) => r.updating && r.observed, options.signal);
    await this.kubectl.patch(ROLLOUT_RESOURCE, this.config.rollout, { type: 'merge', patch: this.stepsPatch(canary) }, { signal: options.signal });
    return this.waitFor(`the canary at ${canary}%`, (r) => r.observed && !r.aborted && r.canaryPercent === canary, options.signal);
  }

  async promote(options: TrafficCallOptions = {}): Promise<TrafficState> {
    const before = await this.read(options.signal);
    // A Rollout paused by hand (spec.paused) ignores promoteFull until it is resumed, as `promote --full` does.
    if (before.updating && before.pausedBySpec)
      await this.kubectl.patch(ROLLOUT_RESOURCE, this.config.rollout, { type: 'merge', patch: { spec: { paused: false } } }, { signal: options.signal });
    if (before.updating)
      await this.kubectl.patch(
        ROLLOUT_RESOURCE,
        this.config.rollout,
        { type: 'merge', patch: { status: { promoteFull: true } } },
        { subresource: 'status', signal: options.signal },
      );
    return this.waitFor('the promotion to finish (new ReplicaSet stable)', (r) => !r.updating && r.canaryPercent === 0, options.signal);
  }

  async rollback(options: TrafficCallOptions & { toColour?: Colour } = {}): Promise<RollbackOutcome> {
    const reading = await this.read(options.signal);
    const before = this.stateOf(reading);
    if (!reading.updating || (reading.aborted && reading.canaryPercent === 0)) return { changed: false, before, after: before };
    await this.kubectl.patch(ROLLOUT_RESOURCE, this.config.rollout, { type: 'merge', patch: { status: { abort: true } } }, { subresource: 'status', signal: options.signal });
    const after = await this.waitFor('the abort (canary at 0%)', (r) => r.aborted && r.canaryPercent === 0, options.signal);
    return { changed: true, before, after };
  }

  async liveColour(): Promise<Colour> {
    throw wrongShape(this.kind, 'liveColour', 'canary');
  }

  async switchTo(): Promise<TrafficState> {
    throw wrongShape(this.kind, 'switchTo', 'canary');
  }

  /** Polls the status until `done`, up to the plan's timeout; a controller that never gets there is an error. */
  private async waitFor(what: string, done: (r: RolloutReading) => boolean, signal?: AbortSignal): Promise<TrafficState> {
    const deadline = this.clock.now() + this.config.timeout;
    for (;;) {
      const reading = await this.read(signal);
      if (done(reading)) return this.stateOf(reading);
      if (this.clock.now() >= deadline)
        throw new ProviderError(
          this.kind,
          `${this.target}: the status did not show ${what} within ${Math.round(this.config.timeout / 1000)}s (canary ${reading.canaryPercent}%, phase ${reading.phase ?? 'unknown'}${reading.observed ? '' : ', the controller has not seen the change: is it running?'})`,
        );
      await this.clock.sleep(1000, signal);
    }
  }
}

/** The canary's share as the Rollout reports it: traffic-routed weights when present, else the step's setWeight. */
export function readRollout(rollout: KubeObject): RolloutReading {
  const spec = asRecord(rollout.spec) ?? {};
  const status = asRecord(rollout.status) ?? {};
  const stableRS = typeof status.stableRS === 'string' ? status.stableRS : undefined;
  const currentPodHash = typeof status.currentPodHash === 'string' ? status.currentPodHash : undefined;
  const updating = stableRS !== undefined && currentPodHash !== undefined && stableRS !== currentPodHash;
  const aborted = status.abort === true;
  // Argo Rollouts reports observedGeneration as a string.
  const observed = status.observedGeneration !== undefined && String(status.observedGeneration) === String(rollout.metadata?.generation ?? '');
  const routed = asRecord(asRecord(asRecord(asRecord(status.canary)?.weights)?.canary))?.weight;
  let canaryPercent: number;
  if (!updating || aborted) canaryPercent = typeof routed === 'number' ? routed : 0;
  else if (typeof routed === 'number') canaryPercent = routed;
  else {
    const steps = asRecords(asRecord(asRecord(spec.strategy)?.canary)?.steps);
    const index = typeof status.currentStepIndex === 'number' ? status.currentStepIndex : 0;
    const weights = steps
      .slice(0, index + 1)
      .map((s) => s.setWeight)
      .filter((w): w is number => typeof w === 'number');
    canaryPercent = weights.length ? (weights[weights.length - 1] as number) : 0;
  }
  return {
    canaryPercent,
    updating,
    aborted,
    observed,
    phase: typeof status.phase === 'string' ? status.phase : undefined,
    stableRS,
    currentPodHash,
    pausedBySpec: spec.paused === true,
  };
}
