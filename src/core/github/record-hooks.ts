import { describeError, InputError, UserError } from '../errors.js';
import { getOptionalInput, parseNumberInput } from '../inputs.js';
import type { Plan } from '../plan/schema.js';
import type { ActionRuntime } from '../runtime.js';
import type { GitHubClientOptions } from './client.js';
import { deployedRef, deploymentRecordsFor } from './factory.js';
import { currentDeployment, effectiveState, fitDescription, type DeploymentRecords, type DeploymentState } from './records.js';

/** What the rollout tells the records about (the orchestration's rollout event, structurally). */
export interface RecordEvent {
  service: string;
  environment: string;
  strategy: 'canary' | 'blue-green' | 'rolling';
  version?: string;
  weight: number;
  gate?: string;
  /** Release-policy refusals the run overrode: kept in the deployment's payload. */
  policyOverride?: { by: string; reason: string; rules: string[] };
  /** Who let the rollout past its approval stop: named in the status description. */
  approval?: { by: string; reason: string };
}

/** A record the rollout could not write; its message says what to do. */
export class RecordNotWrittenError extends UserError {
  override readonly name = 'RecordNotWrittenError';
}

/**
 * The deployment-record side of a rollout, called after each traffic change. Each call makes
 * one attempt (the GitHub client retries 5xx and rate limits inside it) and throws a
 * RecordNotWrittenError saying what to do when it fails, so the caller can retry the call on
 * its own and report it. A retry never duplicates work: a deployment created once is
 * remembered, and only the missing status is sent again.
 */
export class DeploymentRecordHooks {
  private deploymentId: number | undefined;
  private readonly done = new Set<string>();
  private located = false;

  constructor(
    private readonly runtime: ActionRuntime,
    /** undefined with `records: none`: every call is then a no-op. */
    readonly records: DeploymentRecords | undefined,
    private readonly plan: Pick<Plan, 'environment' | 'environmentUrl' | 'irreversible' | 'service'>,
    private readonly planFile?: string,
  ) {}

  /** Set when the records could not even be opened (a bad `records` input): every call then reports it, after traffic. */
  private setupError: unknown;

  /**
   * Hooks for this run: GitHub Deployments with a token, the ledger without, nothing with
   * `records: none`. Never throws: a rollback must reach the traffic change whatever the inputs
   * for records say, so a setup problem surfaces from the first record call instead.
   */
  static forRun(
    runtime: ActionRuntime,
    plan: Pick<Plan, 'environment' | 'environmentUrl' | 'irreversible' | 'service'>,
    planFile?: string,
    client: Partial<GitHubClientOptions> = {},
    cwd?: string,
  ): DeploymentRecordHooks {
    try {
      // Inside a rollout the client retries twice (1 s, 4 s); the caller retries the whole call too.
      return new DeploymentRecordHooks(runtime, deploymentRecordsFor(runtime, { retries: 2, ...client }, cwd), plan, planFile);
    } catch (err) {
      const hooks = new DeploymentRecordHooks(runtime, undefined, plan, planFile);
      hooks.setupError = err;
      return hooks;
    }
  }

  private checkSetup(): void {
    if (this.setupError !== undefined) throw new RecordNotWrittenError(`deployment records are not kept: ${describeError(this.setupError)}`);
  }

  private fail(what: string, err: unknown, fix: string): never {
    throw new RecordNotWrittenError(`could not record ${what} in ${this.records?.location ?? 'GitHub'}: ${describeError(err)}. What to do: ${fix}`);
  }

  private async status(id: number, state: DeploymentState, description: string): Promise<void> {
    const key = `${id}:${state}:${description}`;
    if (this.done.has(key) || !this.records) return;
    const text = fitDescription(description);
    try {
      await this.records.setStatus(id, { state, description: text, environmentUrl: state === 'success' ? this.plan.environmentUrl : undefined });
    } catch (err) {
      this.fail(
        `status ${state} of deployment #${id}`,
        err,
        `set it by hand: gh api repos/{owner}/{repo}/deployments/${id}/statuses -f state=${state} -f description='${text.replace(/'/g, '')}'`,
      );
    }
    this.done.add(key);
  }

  /** deploy-canary sent the first slice: create the Deployment and its `in_progress` status; output `deployment-id`. */
  async deploymentStarted(event: RecordEvent): Promise<void> {
    this.checkSetup();
    if (!this.records) return;
    const version = event.version ?? 'unknown';
    const description = event.strategy === 'blue-green' ? `switched to ${version}` : `canary ${event.weight}%`;
    if (this.deploymentId === undefined) {
      let previousVersion: string | undefined;
      try {
        previousVersion = await this.lastGoodVersion(event.environment);
      } catch {
        // The previous version is a convenience in the payload, not worth failing the record for.
      }
      try {
        // The plan says so, or this run does (pre-deploy-checklist's `irreversible` output passed on).
        const irreversible = this.plan.irreversible || irreversibleInput(this.runtime);
        const created = await this.records.create({
          environment: event.environment,
          ref: deployedRef(this.runtime),
          description,
          payload: {
            version,
            strategy: event.strategy,
            plan: this.planFile,
            previousVersion,
            service: event.service,
            ...(irreversible ? { irreversible } : {}),
            ...(event.policyOverride ? { policyOverride: event.policyOverride } : {}),
          },
        });
        this.deploymentId = created.id;
      } catch (err) {
        this.fail(
          `the deployment of ${version} to ${event.environment}`,
          err,
          'traffic is unaffected; rollback still works from the traffic system. Re-run the job to create the record, or pass deployment-id to later steps',
        );
      }
      this.runtime.setOutput('deployment-id', String(this.deploymentId));
      this.runtime.info(`recorded deployment #${this.deploymentId} of ${version} to ${event.environment} in ${this.records.location}`);
    }
    await this.status(this.deploymentId!, 'in_progress', description);
  }

  /** ramp passed a step: the description says where the canary stands ("canary 25%, gate passed"). */
  async stepReached(event: RecordEvent): Promise<void> {
    const id = await this.locate();
    if (id !== undefined) await this.status(id, 'in_progress', `canary ${event.weight}%, gate ${event.gate ?? 'passed'}${approvedBy(event)}`);
  }

  /** The new version is stable: `success`, with the plan's environment URL. */
  async promoted(event: RecordEvent): Promise<void> {
    const id = await this.locate();
    if (id !== undefined) await this.status(id, 'success', `promoted ${event.version ?? ''} to 100%${approvedBy(event)}`.replace(/\s+/g, ' '));
  }

  /** Traffic is back on stable: `failure` for a bad canary, `error` when the pipeline itself broke. */
  async rolledBack(event: RecordEvent & { reason: string; cause: 'failure' | 'error' }): Promise<void> {
    const given = getOptionalInput(this.runtime, 'cause');
    if (given !== undefined && given !== 'failure' && given !== 'error')
      throw new InputError('cause', `expected failure (a bad canary) or error (the pipeline broke), got ${JSON.stringify(given)}`);
    const id = await this.locate();
    if (id !== undefined) await this.status(id, given ?? event.cause, `rolled back: ${event.reason}`);
  }

  /**
   * The deployment this step is about: input `deployment-id` (deploy-canary's output), else the
   * environment's newest deployment while it is still under way, so rollback needs no input.
   */
  private async locate(): Promise<number | undefined> {
    this.checkSetup();
    if (this.deploymentId !== undefined || this.located || !this.records) return this.deploymentId;
    const given = getOptionalInput(this.runtime, 'deployment-id');
    if (given !== undefined) {
      this.deploymentId = parseNumberInput('deployment-id', given, { integer: true, min: 1 });
    } else {
      let newest;
      try {
        newest = await currentDeployment(this.records, this.plan.environment);
      } catch (err) {
        this.fail(
          `the lookup of the current deployment of ${this.plan.environment}`,
          err,
          'pass input deployment-id (output of deploy-canary) so the right record is updated, or update it by hand',
        );
      }
      if (newest && ['in_progress', 'queued', 'pending', 'none'].includes(newest.state)) this.deploymentId = newest.id;
      else if (newest)
        this.runtime.info(`the newest deployment of ${this.plan.environment} (#${newest.id}, ${newest.payload.version}) already ended as ${newest.state}: leaving it as it is`);
      else this.runtime.info(`no deployment of ${this.plan.environment} is recorded in ${this.records.location}: nothing to update`);
    }
    this.located = true;
    return this.deploymentId;
  }

  private async lastGoodVersion(environment: string): Promise<string | undefined> {
    if (!this.records) return undefined;
    for (const d of (await this.records.list(environment)).slice(0, 20)) {
      if (effectiveState(await this.records.statuses(d.id)) === 'success') return d.payload.version || undefined;
    }
    return undefined;
  }
}

/** Input `irreversible`: true, false, or a reason (which counts as true). */
function irreversibleInput(runtime: ActionRuntime): boolean | string | undefined {
  const value = getOptionalInput(runtime, 'irreversible');
  if (value === undefined || /^(false|no|0|off)$/i.test(value)) return undefined;
  return /^(true|yes|1|on)$/i.test(value) ? true : value;
}

/** The record calls as plain functions, to merge into the rollout's hooks (`{ ...others, ...recordHooks(…) }`). */
/** `, approved by alice: change review` for a status description, when an approval is on record. */
function approvedBy(event: RecordEvent): string {
  return event.approval ? `, approved by ${event.approval.by}: ${event.approval.reason}` : '';
}

export function recordHooks(hooks: DeploymentRecordHooks): Pick<DeploymentRecordHooks, 'deploymentStarted' | 'stepReached' | 'promoted' | 'rolledBack'> {
  return {
    deploymentStarted: (event) => hooks.deploymentStarted(event),
    stepReached: (event) => hooks.stepReached(event),
    promoted: (event) => hooks.promoted(event),
    rolledBack: (event) => hooks.rolledBack(event),
  };
}
