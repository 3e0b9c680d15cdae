import type { Verdict } from '../analysis/verdict.js';
import type { Plan } from '../plan/schema.js';

/** The rollout moments people are told about. */
export type NotifyEventKind = 'promotion' | 'rollback' | 'gate-failure' | 'policy-override';

/** A check that failed the gate, with the values that failed it. */
export interface FailingCheck {
  name: string;
  canary?: number;
  stable?: number;
  /** The limit in words, e.g. `max 0.05` or `maxIncrease 0.005`. */
  limit?: string;
  detail?: string;
}

/** The checks of a gate report that did not pass, as a notification lists them. */
export function failingChecksOf(checks: readonly { name: string; outcome: string; canary?: number; stable?: number; limit?: string; reason?: string }[]): FailingCheck[] {
  return checks.filter((c) => c.outcome !== 'pass').map((c) => ({ name: c.name, canary: c.canary, stable: c.stable, limit: c.limit, detail: c.reason }));
}

/** What the orchestration reports when something worth telling people happens. */
export interface NotifyEvent {
  kind: NotifyEventKind;
  version?: string;
  verdict?: Verdict;
  reason?: string;
  failingChecks?: FailingCheck[];
  /** Kill switches the rollback turned off (or failed to). */
  killSwitches?: { flag: string; outcome: string; detail?: string }[];
  /** Overrides the link to the workflow run derived from the runner's environment. */
  runUrl?: string;
}

/** An event made ready to send: every field resolved from the event, the plan and the runner. */
export interface NotifyMessage {
  event: NotifyEventKind;
  title: string;
  /** One line of plain text, for notifications and receivers that show no blocks. */
  summary: string;
  service: string;
  environment: string;
  version?: string;
  verdict?: Verdict;
  reason?: string;
  failingChecks: FailingCheck[];
  killSwitches: { flag: string; outcome: string; detail?: string }[];
  runUrl?: string;
  runbook?: string;
  /** ISO 8601 time of the event. */
  at: string;
}

/** The link to this workflow run, from the variables every GitHub runner sets. */
export function runUrlFromEnv(env: NodeJS.ProcessEnv): string | undefined {
  const server = env.GITHUB_SERVER_URL;
  const repo = env.GITHUB_REPOSITORY;
  const run = env.GITHUB_RUN_ID;
  if (!server || !repo || !run) return undefined;
  const attempt = env.GITHUB_RUN_ATTEMPT && env.GITHUB_RUN_ATTEMPT !== '1' ? `/attempts/${env.GITHUB_RUN_ATTEMPT}` : '';
  return `${server.replace(/\/+$/, '')}/${repo}/actions/runs/${run}${attempt}`;
}

/** Builds the message for one event. */
export function buildMessage(plan: Plan, event: NotifyEvent, env: NodeJS.ProcessEnv, now: number): NotifyMessage {
  const version = event.version ? ` ${event.version}` : '';
  const where = `${plan.service}${version} in ${plan.environment}`;
  let title: string;
  switch (event.kind) {
    case 'promotion':
      title = `✅ ${plan.service} promoted`;
      break;
    case 'rollback':
      title = `⏪ ${plan.service} rolled back`;
      break;
    case 'gate-failure':
      title = `❌ ${plan.service} failed its gate`;
      break;
    case 'policy-override':
      title = `⚠️ ${plan.service} release policy overridden`;
      break;
  }
  const failing = event.failingChecks ?? [];
  const because = event.reason ? `: ${event.reason}` : failing.length > 0 ? `: ${failing.map((c) => c.name).join(', ')} failed` : '';
  const summary = `${title.replace(/^\S+ /, '')} (${where})${because}`;
  return {
    event: event.kind,
    title,
    summary,
    service: plan.service,
    environment: plan.environment,
    version: event.version,
    verdict: event.verdict,
    reason: event.reason,
    failingChecks: failing,
    killSwitches: event.killSwitches ?? [],
    runUrl: event.runUrl ?? runUrlFromEnv(env),
    runbook: plan.runbook,
    at: new Date(now).toISOString(),
  };
}
