/**
 * Deployment records: which version went to which environment, and how it ended. GitHub
 * Deployments hold them when a token is available; a local ledger file holds the same records
 * otherwise (CLI, local demo). Both answer "what is deployed" and "what was last good" with
 * the same rules, because both feed the one `chooseRollbackTarget` below.
 */

/** A deployment status, as GitHub names them. */
export type DeploymentState = 'queued' | 'pending' | 'in_progress' | 'success' | 'failure' | 'error' | 'inactive';

/** What rollgate stores in a deployment's payload. */
export interface DeploymentPayload {
  version: string;
  strategy: string;
  /** The plan file the rollout ran with. */
  plan?: string;
  /** The version that served before this one (the stable slot), when known. */
  previousVersion?: string;
  /** Set on a manual rollback: the id of the deployment it rolled back. */
  rollbackOf?: number;
  /** Set when the release shipped a contract-phase migration: older versions can no longer run. */
  irreversible?: boolean | string;
  service?: string;
  /** Release-policy refusals this rollout overrode: who, why, which rules. */
  policyOverride?: { by: string; reason: string; rules: string[] };
}

/** One deployment as read back, with its statuses newest first. */
export interface DeploymentRecord {
  id: number;
  environment: string;
  ref: string;
  createdAt: string;
  payload: DeploymentPayload;
  description?: string;
}

export interface StatusRecord {
  state: DeploymentState;
  description?: string;
  createdAt: string;
}

export interface NewDeployment {
  environment: string;
  /** The commit (or ref) being deployed. */
  ref: string;
  payload: DeploymentPayload;
  description?: string;
}

export interface StatusUpdate {
  state: DeploymentState;
  /** Cut to GitHub's 140 characters. */
  description?: string;
  /** Where the deployed service answers; GitHub shows it as a link. */
  environmentUrl?: string;
}

/** A deployment together with how it ended (the newest status that is not `inactive`). */
export interface DeploymentWithState extends DeploymentRecord {
  state: DeploymentState | 'none';
}

/** Where deployments and their statuses are recorded. */
export interface DeploymentRecords {
  /** `github` or `ledger`, for messages. */
  readonly kind: 'github' | 'ledger';
  /** Where the records live, for messages (`acme/orders on GitHub`, `.rollgate/ledger.json`). */
  readonly location: string;
  /** Creates a deployment; returns its id. */
  create(deployment: NewDeployment): Promise<DeploymentRecord>;
  /** Adds a status to a deployment. */
  setStatus(id: number, update: StatusUpdate): Promise<void>;
  /** The environment's deployments, newest first (a bounded history). */
  list(environment: string): Promise<DeploymentRecord[]>;
  /** A deployment's statuses, newest first. */
  statuses(id: number): Promise<StatusRecord[]>;
}

/** GitHub's limit on a status description. */
export const MAX_DESCRIPTION = 140;

/** Cuts a description to GitHub's 140 characters, marking the cut. */
export function fitDescription(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length <= MAX_DESCRIPTION ? oneLine : `${oneLine.slice(0, MAX_DESCRIPTION - 1)}…`;
}

/** How a deployment ended: its newest status that is not `inactive` (GitHub marks superseded deployments inactive). */
export function effectiveState(statuses: readonly StatusRecord[]): DeploymentState | 'none' {
  const meaningful = statuses.find((s) => s.state !== 'inactive');
  if (meaningful) return meaningful.state;
  return statuses.length ? 'inactive' : 'none';
}

/** The newest deployment of an environment, with its state; undefined when there is none. */
export async function currentDeployment(records: DeploymentRecords, environment: string): Promise<DeploymentWithState | undefined> {
  const [newest] = await records.list(environment);
  if (!newest) return undefined;
  return { ...newest, state: effectiveState(await records.statuses(newest.id)) };
}

/** What a manual rollback would do: the deployment now serving and the one to go back to. */
export interface RollbackChoice {
  /** The deployment serving now: the newest one that did not fail (failed ones were rolled back already). */
  current?: DeploymentWithState;
  /** The newest earlier `success` deployment of another version; undefined when there is none. */
  target?: DeploymentWithState;
  /** Why there is no target, in words for the summary. */
  reason?: string;
}

const FAILED: ReadonlySet<DeploymentState | 'none'> = new Set(['failure', 'error']);

/**
 * Finds the rollback target: the newest `success` deployment older than the one serving now,
 * of a different version, and not itself rolled back by a later manual rollback (so rolling
 * back twice walks further back instead of returning to the version just left).
 * Statuses are read lazily, newest first, so a long history costs few requests.
 */
export async function chooseRollbackTarget(records: DeploymentRecords, environment: string): Promise<RollbackChoice> {
  const history = await records.list(environment);
  if (!history.length) return { reason: `no deployments of environment ${environment} are recorded in ${records.location}` };
  const rolledBack = new Set(history.map((d) => d.payload.rollbackOf).filter((id): id is number => typeof id === 'number'));
  const withState: DeploymentWithState[] = [];
  const stateOf = async (i: number): Promise<DeploymentWithState> => {
    while (withState.length <= i) {
      const d = history[withState.length]!;
      withState.push({ ...d, state: effectiveState(await records.statuses(d.id)) });
    }
    return withState[i]!;
  };
  let currentIndex = -1;
  for (let i = 0; i < history.length; i++) {
    if (!FAILED.has((await stateOf(i)).state)) {
      currentIndex = i;
      break;
    }
  }
  // Every recorded deployment failed: the newest one is still the reference point.
  if (currentIndex === -1) currentIndex = 0;
  const current = await stateOf(currentIndex);
  for (let i = currentIndex + 1; i < history.length; i++) {
    const candidate = await stateOf(i);
    if (candidate.state === 'success' && candidate.payload.version !== current.payload.version && !rolledBack.has(candidate.id)) return { current, target: candidate };
  }
  return {
    current,
    reason: `no successful deployment of environment ${environment} older than #${current.id} (${current.payload.version}) with another version is recorded in ${records.location}`,
  };
}

/** The deployment with a given version, newest first; for `to: <version>` rollbacks. */
export async function findDeploymentOfVersion(records: DeploymentRecords, environment: string, version: string): Promise<DeploymentWithState | undefined> {
  for (const d of await records.list(environment)) {
    if (d.payload.version === version) return { ...d, state: effectiveState(await records.statuses(d.id)) };
  }
  return undefined;
}

/** Reads a payload written by rollgate (or by hand); fields of the wrong type are dropped. */
export function parsePayload(raw: unknown): DeploymentPayload {
  let value = raw;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      value = {};
    }
  }
  const o = value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  const str = (k: string) => (typeof o[k] === 'string' ? (o[k] as string) : undefined);
  const payload: DeploymentPayload = { version: str('version') ?? '', strategy: str('strategy') ?? 'canary' };
  if (str('plan')) payload.plan = str('plan');
  if (str('previousVersion')) payload.previousVersion = str('previousVersion');
  if (str('service')) payload.service = str('service');
  if (typeof o.rollbackOf === 'number') payload.rollbackOf = o.rollbackOf;
  if (typeof o.irreversible === 'boolean' || typeof o.irreversible === 'string') payload.irreversible = o.irreversible;
  const override = o.policyOverride as Record<string, unknown> | undefined;
  if (override && typeof override.by === 'string' && typeof override.reason === 'string' && Array.isArray(override.rules))
    payload.policyOverride = { by: override.by, reason: override.reason, rules: override.rules.filter((r): r is string => typeof r === 'string') };
  return payload;
}
