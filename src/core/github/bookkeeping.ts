import { describeError } from '../errors.js';
import type { ActionResult, ActionRuntime } from '../runtime.js';
import type { GitHubClientOptions } from './client.js';
import { deployedRef, deploymentRecordsFor } from './factory.js';
import { fitDescription, type DeploymentPayload, type DeploymentRecords, type DeploymentState } from './records.js';

/** A record that could not be written, and what the operator should do about it. */
export interface MissingRecord {
  what: string;
  why: string;
  fix: string;
}

/** The states a rollout ends a deployment with. */
export type FinalState = Extract<DeploymentState, 'success' | 'failure' | 'error'>;

/**
 * The bookkeeping side of a rollout. Every call swallows its own failure (the client has
 * already retried it): a record that cannot be written never blocks traffic. What is missing
 * is collected, reported in the summary with what to do, and reflected in the exit status by
 * `settle()` once traffic is where it must be.
 */
export class DeploymentBookkeeping {
  readonly missing: MissingRecord[] = [];
  constructor(
    private readonly runtime: ActionRuntime,
    readonly records: DeploymentRecords | undefined,
    readonly environment: string,
  ) {}

  /** Bookkeeping for this run's records (GitHub, the ledger, or none); a bad records input is reported like any other missing record. */
  static forRun(runtime: ActionRuntime, environment: string, clientOverrides: Partial<GitHubClientOptions> = {}, cwd?: string): DeploymentBookkeeping {
    try {
      return new DeploymentBookkeeping(runtime, deploymentRecordsFor(runtime, clientOverrides, cwd), environment);
    } catch (err) {
      const book = new DeploymentBookkeeping(runtime, undefined, environment);
      book.note('deployment records', err, 'fix the input named above; traffic was handled without records');
      return book;
    }
  }

  private note(what: string, err: unknown, fix: string): void {
    const why = describeError(err);
    this.missing.push({ what, why, fix });
    this.runtime.warning(`could not record ${what}: ${why}`);
  }

  private async attempt<T>(what: string, fix: string, fn: (records: DeploymentRecords) => Promise<T>): Promise<T | undefined> {
    if (!this.records) return undefined;
    try {
      return await fn(this.records);
    } catch (err) {
      this.note(what, err, fix);
      return undefined;
    }
  }

  /** Creates the deployment and its `in_progress` status; sets output `deployment-id`. */
  async begin(payload: DeploymentPayload, description: string, ref: string = deployedRef(this.runtime)): Promise<number | undefined> {
    const created = await this.attempt(
      `the deployment of ${payload.version} to ${this.environment}`,
      'rollback will still work from the traffic system; create the record by hand if the audit trail needs it',
      (r) => r.create({ environment: this.environment, ref, payload, description }),
    );
    if (!created) return undefined;
    this.runtime.setOutput('deployment-id', String(created.id));
    this.runtime.info(`recorded deployment #${created.id} of ${payload.version} to ${this.environment} in ${this.records!.location}`);
    await this.status(created.id, 'in_progress', description);
    return created.id;
  }

  /** Ends the deployment: `success` on promotion, `failure` for a bad canary, `error` when the pipeline broke. */
  async finish(id: number | undefined, state: FinalState, description: string, environmentUrl?: string): Promise<void> {
    if (id === undefined) return;
    await this.status(id, state, description, environmentUrl);
  }

  private async status(id: number, state: DeploymentState, description: string, environmentUrl?: string): Promise<void> {
    const text = fitDescription(description);
    await this.attempt(
      `status ${state} ("${text}") of deployment #${id}`,
      `set it by hand: gh api repos/{owner}/{repo}/deployments/${id}/statuses -f state=${state} -f description='${text.replace(/'/g, '')}'`,
      (r) => r.setStatus(id, { state, description: text, environmentUrl }),
    );
  }

  /**
   * Reports missing records in the summary and folds them into the action's result: a run whose
   * traffic work succeeded still fails when its record is missing, so nobody trusts a silent gap.
   */
  settle(result: ActionResult): ActionResult {
    if (!this.missing.length) return result;
    const rows = this.missing.map((m) => `| ${escapeCell(m.what)} | ${escapeCell(m.why)} | ${escapeCell(m.fix)} |`);
    this.runtime.appendSummary(
      [
        '### ⚠️ Deployment records missing',
        '',
        `Traffic was handled first; these records in ${this.records?.location ?? 'GitHub'} could not be written:`,
        '',
        '| record | why | what to do |',
        '| --- | --- | --- |',
        ...rows,
        '',
      ].join('\n'),
    );
    const note = `${this.missing.length} deployment record(s) could not be written (see the summary): ${this.missing[0]!.why}`;
    return result.ok ? { ok: false, failure: note } : { ok: false, failure: `${result.failure ?? 'failed'}; also ${note}` };
  }
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}
