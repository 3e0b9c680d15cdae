import { UserError, describeError } from '../errors.js';
import type { Plan } from '../plan/schema.js';
import type { DeploymentBookkeeping } from './bookkeeping.js';
import { chooseRollbackTarget, findDeploymentOfVersion, type DeploymentWithState } from './records.js';

/** What an operator asked for: `to: previous` or an explicit version. */
export interface ManualRollbackRequest {
  to: string;
  plan: Pick<Plan, 'service' | 'environment' | 'strategy' | 'irreversible' | 'runbook'>;
  planFile?: string;
  reason?: string;
}

/** The work only the rollout knows how to do: put `version` back in service through the plan's deploy step. */
export type Redeploy = (version: string) => Promise<void>;

/** What a manual rollback did. */
export type ManualRollbackOutcome =
  { kind: 'rolled-back'; version: string; from?: DeploymentWithState; target?: DeploymentWithState; deploymentId?: number } | { kind: 'nothing-to-roll-back'; reason: string };

/** A release after a contract-phase migration cannot be undone by redeploying: the old version cannot run. */
export class IrreversibleReleaseError extends UserError {
  override readonly name = 'IrreversibleReleaseError';
}

function irreversibleReason(flag: boolean | string | undefined): string | undefined {
  if (flag === undefined || flag === false) return undefined;
  return flag === true ? 'a contract-phase migration shipped' : flag;
}

function refuse(what: string, reason: string, runbook: string | undefined): never {
  throw new IrreversibleReleaseError(
    `refusing to roll back: ${what} is irreversible (${reason}); after a contract migration the old version cannot run against the database. ` +
      (runbook ? `Follow the runbook: ${runbook}` : 'Roll forward with a fix instead (the plan has no runbook: link; add one).'),
  );
}

/**
 * Finds the version to go back to, refuses irreversible releases, redeploys through `redeploy`
 * (no gates: the target is known good and speed matters), then records a new deployment whose
 * payload names `rollbackOf`. With no earlier good deployment it changes nothing.
 */
export async function manualRollback(request: ManualRollbackRequest, book: DeploymentBookkeeping, redeploy: Redeploy, log: (line: string) => void): Promise<ManualRollbackOutcome> {
  const { plan } = request;
  const planReason = irreversibleReason(plan.irreversible);
  if (planReason) refuse(`the current release of ${plan.service} (plan field irreversible)`, planReason, plan.runbook);
  const records = book.records;
  const previous = request.to.toLowerCase() === 'previous';
  if (!records && previous)
    throw new UserError('input to: previous needs deployment records to find the last good version (records: none is set); pass an explicit version instead');

  let from: DeploymentWithState | undefined;
  let target: DeploymentWithState | undefined;
  if (records) {
    try {
      const history = await records.list(plan.environment);
      if (previous) {
        const choice = await chooseRollbackTarget(records, plan.environment);
        if (!choice.target) return { kind: 'nothing-to-roll-back', reason: choice.reason ?? 'no earlier good deployment' };
        ({ current: from, target } = choice);
      } else {
        target = await findDeploymentOfVersion(records, plan.environment, request.to);
        const choice = await chooseRollbackTarget(records, plan.environment);
        from = choice.current;
        if (target && (target.state === 'failure' || target.state === 'error'))
          log(`note: deployment #${target.id} of ${request.to} ended as ${target.state}; redeploying it because it was asked for by name`);
      }
      // Going back past any irreversible release is as unsafe as undoing that release itself.
      const targetIndex = target ? history.findIndex((d) => d.id === target!.id) : history.length;
      for (const d of history.slice(0, targetIndex < 0 ? history.length : targetIndex)) {
        const reason = irreversibleReason(d.payload.irreversible);
        if (reason && d.payload.version !== (target?.payload.version ?? request.to)) refuse(`deployment #${d.id} (${d.payload.version})`, reason, plan.runbook);
      }
    } catch (err) {
      if (err instanceof IrreversibleReleaseError || previous) {
        if (err instanceof UserError) throw err;
        throw new UserError(`could not read the deployment history from ${records.location}, so the rollback target is unknown and nothing was changed: ${describeError(err)}`);
      }
      // An explicit version does not need the history: go ahead, and say what could not be checked.
      book.missing.push({ what: `the history check of ${plan.environment}`, why: describeError(err), fix: `check by hand that no irreversible release came after ${request.to}` });
      log(`warning: could not read the deployment history (${describeError(err)}); redeploying ${request.to} as asked`);
    }
  }

  const version = target?.payload.version ?? request.to;
  if (from && from.payload.version === version && previous) return { kind: 'nothing-to-roll-back', reason: `${version} is already the current version` };
  log(
    `rolling back ${plan.environment} from ${from ? `#${from.id} (${from.payload.version})` : 'the current version'} to ${version}${target ? ` (deployment #${target.id})` : ''}; gates are skipped`,
  );
  await redeploy(version);

  // Traffic first, records after: the record is written once the old version serves again.
  const description = `manual rollback to ${version}${request.reason ? `: ${request.reason}` : ''}`;
  const deploymentId = await book.begin(
    {
      version,
      strategy: plan.strategy,
      plan: request.planFile,
      previousVersion: from?.payload.version,
      rollbackOf: from?.id,
      service: plan.service,
    },
    description,
    target?.ref,
  );
  await book.finish(deploymentId, 'success', description);
  if (from) await book.finish(from.id, 'failure', `rolled back to ${version}${deploymentId ? ` by #${deploymentId}` : ''}`);
  return { kind: 'rolled-back', version, from, target, deploymentId };
}
