import { ProviderError, UserError } from '../errors.js';
import type { DeployConfig } from '../plan/schema.js';
import { Kubectl, type KubeObject } from '../traffic/kubectl.js';
import type { Colour, RollbackOutcome, TrafficCallOptions, TrafficProvider, TrafficState } from '../traffic/provider.js';
import { containerImage, deployToKubernetes, type KubernetesDeployDeps } from './kubernetes.js';

/**
 * The annotation on the Deployment that records rollgate's last rolling update. It lives in the
 * cluster, beside what it describes, so rollback needs nothing from earlier steps or runners.
 */
export const ROLLING_ANNOTATION = 'rollgate.dev/rolling-update';
/** The revision Kubernetes' Deployment controller stamps on a Deployment and its ReplicaSets. */
export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
const DEPLOYMENT = 'deployments.apps';

/** What rollgate remembers about one rolling update. */
export interface RollingUpdateRecord {
  /** The image (and its revision) that ran before: the rollback target. */
  from: { image: string; revision?: string };
  /** The image rollgate rolled out. */
  to: string;
  /** deployed: in progress, rollback undoes it; promoted and rolled-back: settled, rollback does nothing. */
  phase: 'deployed' | 'promoted' | 'rolled-back';
}

/** The record on a Deployment, or undefined when there is none or it cannot be read. */
export function rollingRecord(deployment: KubeObject): RollingUpdateRecord | undefined {
  const raw = deployment.metadata?.annotations?.[ROLLING_ANNOTATION];
  if (!raw) return undefined;
  try {
    const parsed = JSON.parse(raw) as Partial<RollingUpdateRecord>;
    if (typeof parsed.from?.image !== 'string' || typeof parsed.to !== 'string') return undefined;
    const phase = parsed.phase === 'promoted' || parsed.phase === 'rolled-back' ? parsed.phase : 'deployed';
    return { from: { image: parsed.from.image, ...(parsed.from.revision ? { revision: String(parsed.from.revision) } : {}) }, to: parsed.to, phase };
  } catch {
    return undefined;
  }
}

/**
 * `strategy: rolling`: one Deployment whose pods Kubernetes replaces in place. There are no traffic
 * weights; the Deployment is the traffic target, so it stands behind the traffic provider
 * interface and rollback's retries, records and notifications work as for the other strategies.
 * Rollback undoes to the revision that ran before rollgate's update, never simply "the previous
 * one": `kubectl rollout undo` alone toggles between the last two revisions, so a second rollback
 * would bring the bad version back.
 */
export class RollingDeployment implements TrafficProvider {
  readonly kind = 'rolling';
  readonly target: string;
  readonly supports = { canary: false, blueGreen: false };
  private readonly kubectl: Kubectl;
  private readonly name: string;
  private readonly container: string;

  constructor(
    private readonly config: DeployConfig,
    private readonly deps: KubernetesDeployDeps,
  ) {
    const k8s = config.kubernetes;
    if (!k8s?.deployment) throw new UserError('deploy.kubernetes.deployment: is required with strategy: rolling (the Deployment that is updated in place)');
    this.name = k8s.deployment;
    this.container = k8s.container;
    this.kubectl = new Kubectl({ context: k8s.context, namespace: k8s.namespace, env: deps.env, cwd: deps.cwd, log: deps.log, provider: 'rolling' });
    this.target = this.kubectl.describe(DEPLOYMENT, this.name);
  }

  /** The Deployment's container image and rollgate's record, read now. */
  async read(signal?: AbortSignal): Promise<{ image: string | undefined; revision: string | undefined; record: RollingUpdateRecord | undefined; state: TrafficState }> {
    const deployment = await this.kubectl.get(DEPLOYMENT, this.name, signal);
    const image = containerImage(deployment, this.container, this.target);
    return { image, revision: deployment.metadata?.annotations?.[REVISION_ANNOTATION], record: rollingRecord(deployment), state: this.stateOf(image) };
  }

  async getState(options: TrafficCallOptions = {}): Promise<TrafficState> {
    return (await this.read(options.signal)).state;
  }

  /**
   * Records what runs now as the rollback target, then `kubectl set image` and `rollout status`
   * (readiness probes decide). The record is written first, so a rollback after a failure at any
   * later point knows where to go back to.
   */
  async deploy(image: string, options: TrafficCallOptions = {}): Promise<TrafficState> {
    const now = await this.read(options.signal);
    if (!now.image) throw new ProviderError('rolling', `${this.target}: container ${this.container} has no image to go back to`);
    // Re-deploying what already runs (a retried job) must keep the original rollback target.
    const from =
      now.image === image && now.record?.phase === 'deployed' && now.record.to === image
        ? now.record.from
        : { image: now.image, ...(now.revision ? { revision: now.revision } : {}) };
    await this.writeRecord({ from, to: image, phase: 'deployed' }, options.signal);
    await deployToKubernetes(this.config, 'rolling', image, { ...this.deps, signal: options.signal });
    return this.stateOf(image);
  }

  /** Waits for the Deployment to be rolled out and checks it runs `image` (ramp's check before promotion). */
  async confirmRolledOut(image: string | undefined, options: TrafficCallOptions = {}): Promise<TrafficState> {
    await this.rolloutStatus('to be rolled out', options.signal);
    const now = await this.read(options.signal);
    if (image && now.image !== image) throw new ProviderError('rolling', `${this.target}: container ${this.container} runs ${now.image ?? 'no image'}, expected ${image}`);
    return now.state;
  }

  setWeight(): Promise<TrafficState> {
    return Promise.reject(new UserError('strategy: rolling has no traffic weights: Kubernetes moves all traffic as the new pods become ready'));
  }

  /** Marks the update settled, so a later rollback does not undo a release that was judged good. */
  async promote(options: TrafficCallOptions = {}): Promise<TrafficState> {
    const now = await this.read(options.signal);
    if (now.record?.phase === 'deployed') await this.writeRecord({ ...now.record, phase: 'promoted' }, options.signal);
    return now.state;
  }

  /**
   * Undoes rollgate's update in progress: `kubectl rollout undo --to-revision` of the revision that
   * ran before it, then `rollout status`, then a read-back of the image. Nothing to undo (no update
   * on record, promoted, or already back) is a no-op; an image that is neither the old nor the new
   * one means someone changed the Deployment since, and guessing would be worse than stopping.
   */
  async rollback(options: TrafficCallOptions & { toColour?: Colour } = {}): Promise<RollbackOutcome> {
    const now = await this.read(options.signal);
    const unchanged = (why: string): RollbackOutcome => {
      this.deps.log(`rolling: ${why}; nothing to undo`);
      return { changed: false, before: now.state, after: now.state };
    };
    const record = now.record;
    if (!record) return unchanged(`${this.target} has no rolling update by rollgate on record`);
    if (record.phase === 'promoted') return unchanged(`the last rolling update (${record.to}) was promoted; use the input \`to\` to redeploy an earlier version`);
    if (record.phase === 'rolled-back') return unchanged(`the last rolling update (${record.to}) was already rolled back to ${record.from.image}`);
    if (now.image === record.from.image) {
      if (record.phase === 'deployed') await this.writeRecord({ ...record, phase: 'rolled-back' }, options.signal);
      return unchanged(`${this.target} already runs ${record.from.image}, the image from before the update`);
    }
    if (now.image !== record.to)
      throw new UserError(
        `${this.target}: container ${this.container} runs ${now.image ?? 'no image'}, neither the image rollgate rolled out (${record.to}) nor the one before it (${record.from.image}); it was changed outside rollgate, so rollback changed nothing. Use the input \`to\` to redeploy a version by name.`,
      );
    await this.undoTo(record, options.signal);
    await this.rolloutStatus('to roll back', options.signal);
    const after = await this.read(options.signal);
    if (after.image !== record.from.image)
      throw new ProviderError('rolling', `${this.target}: read-back after the undo shows ${after.image ?? 'no image'}, expected ${record.from.image}`);
    await this.writeRecord({ ...record, phase: 'rolled-back' }, options.signal);
    return { changed: true, before: now.state, after: after.state };
  }

  liveColour(): Promise<Colour> {
    return Promise.reject(new UserError('strategy: rolling has no colours (that is blue-green)'));
  }

  switchTo(): Promise<TrafficState> {
    return Promise.reject(new UserError('strategy: rolling has no colours (that is blue-green)'));
  }

  private async undoTo(record: RollingUpdateRecord, signal?: AbortSignal): Promise<void> {
    const deployment = `deployment/${this.name}`;
    if (record.from.revision) {
      try {
        await this.kubectl.command(['rollout', 'undo', deployment, `--to-revision=${record.from.revision}`], `undoing ${this.target} to revision ${record.from.revision}`, {
          signal,
        });
        return;
      } catch (err) {
        // The old ReplicaSet can be pruned by revisionHistoryLimit; the image alone still brings the version back.
        if (!(err instanceof Error && /unable to find specified revision/i.test(err.message))) throw err;
        this.deps.log(`rolling: revision ${record.from.revision} is no longer in the history of ${this.target}; setting the image back instead`);
      }
    }
    await this.kubectl.command(['set', 'image', deployment, `${this.container}=${record.from.image}`], `setting ${this.target} back to ${record.from.image}`, { signal });
  }

  private async rolloutStatus(what: string, signal?: AbortSignal): Promise<void> {
    const seconds = Math.ceil(this.config.timeout / 1000);
    await this.kubectl
      .command(['rollout', 'status', `deployment/${this.name}`, `--timeout=${seconds}s`], `waiting for ${this.target} ${what}`, { signal, timeoutMs: this.config.timeout + 30_000 })
      .catch((err: unknown) => {
        throw new ProviderError(
          'rolling',
          `${this.target} did not finish rolling out within ${seconds}s (${err instanceof Error ? err.message : String(err)}); its pods' readiness probes decide: check \`kubectl describe\` and the pod logs`,
        );
      });
  }

  private async writeRecord(record: RollingUpdateRecord, signal?: AbortSignal): Promise<void> {
    // An annotation on the Deployment's own metadata: it does not touch the pod template, so it starts no rollout.
    await this.kubectl.patch(DEPLOYMENT, this.name, { type: 'merge', patch: { metadata: { annotations: { [ROLLING_ANNOTATION]: JSON.stringify(record) } } } }, { signal });
  }

  private stateOf(image: string | undefined): TrafficState {
    return { canaryPercent: 0, slots: [{ role: 'stable', name: `${this.name} (${image ?? 'no image'})`, percent: 100 }] };
  }
}
