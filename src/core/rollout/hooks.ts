import type { Clock } from '../clock.js';
import { describeError } from '../errors.js';
import type { NotifyDetails } from '../notify/index.js';
import type { PolicyOverride } from '../policy/finding.js';

/** What the orchestration tells bookkeeping about a rollout. */
export interface RolloutEvent {
  service: string;
  environment: string;
  strategy: 'canary' | 'blue-green' | 'rolling';
  version?: string;
  /** The canary's share (blue-green: 100 once switched). */
  weight: number;
  /** The gate's standing at this step, once it is known (never before the gate ran). */
  gate?: 'passed' | 'skipped';
  /** Release-policy refusals this run overrode, with who and why (deploy-canary). */
  policyOverride?: PolicyOverride;
  /** Who let the rollout past its risk class's approval stop, and why (ramp). */
  approval?: { by: string; reason: string };
}

/**
 * The places where bookkeeping joins the traffic work: GitHub Deployment records, kill switches
 * and notifications plug in here. Each is called after the traffic change it reports on, and a
 * failure in one never undoes or blocks a traffic change (see `runBookkeeping`).
 */
export interface RolloutHooks {
  /** deploy-canary sent the first slice: create the Deployment, status in_progress. */
  deploymentStarted(event: RolloutEvent): Promise<void>;
  /** ramp reached a step: update the Deployment's description. */
  stepReached(event: RolloutEvent): Promise<void>;
  /** The new version is stable: Deployment success, notify. */
  promoted(event: RolloutEvent): Promise<void>;
  /** Deployment failure (a bad canary) or error (the pipeline broke). */
  rolledBack(event: RolloutEvent & { reason: string; cause: 'failure' | 'error' }): Promise<void>;
  /** Tell people (webhook, Slack). */
  notify(kind: 'promotion' | 'rollback' | 'gate-failure' | 'policy-override', event: RolloutEvent & NotifyDetails): Promise<void>;
}

/** Hooks that do nothing: what runs until records, flags and notifications are wired in. */
export const noRolloutHooks: RolloutHooks = {
  deploymentStarted: async () => undefined,
  stepReached: async () => undefined,
  promoted: async () => undefined,
  rolledBack: async () => undefined,
  notify: async () => undefined,
};

/**
 * Runs one bookkeeping call with its own retries. Bookkeeping never fails a rollout step whose
 * traffic work succeeded: the last error is returned for a warning instead.
 */
export async function runBookkeeping(what: string, call: () => Promise<void>, deps: { clock: Clock; attempts?: number; backoffMs?: number }): Promise<string | undefined> {
  const attempts = deps.attempts ?? 3;
  let delay = deps.backoffMs ?? 500;
  for (let attempt = 1; ; attempt++) {
    try {
      await call();
      return undefined;
    } catch (err) {
      if (attempt >= attempts) return `${what} failed after ${attempts} attempts: ${describeError(err)}`;
      await deps.clock.sleep(delay);
      delay *= 2;
    }
  }
}
