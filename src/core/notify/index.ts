import type { Clock } from '../clock.js';
import { describeError } from '../errors.js';
import { httpRequest } from '../http.js';
import type { Plan } from '../plan/schema.js';
import type { ActionRuntime } from '../runtime.js';
import { buildMessage, type NotifyEvent, type NotifyMessage } from './message.js';
import { slackPayload, type SlackPayload } from './slack.js';

export type { FailingCheck, NotifyEvent, NotifyEventKind, NotifyMessage } from './message.js';
export { buildMessage, failingChecksOf, runUrlFromEnv } from './message.js';
export { slackPayload, type SlackPayload } from './slack.js';

/** Where a notification goes: `slack` gets Block Kit only; `webhook` gets the same plus the event as JSON. */
export type NotifyTarget = 'slack' | 'webhook';

/** How one delivery went; a failure is reported, never thrown. */
export interface NotifyResult {
  target: NotifyTarget;
  ok: boolean;
  /** HTTP status of the last answer, when there was one. */
  status?: number;
  attempts: number;
  detail: string;
}

/** The generic webhook's body: a Slack-compatible message plus the structured event. */
export interface WebhookPayload extends SlackPayload {
  rollgate: NotifyMessage;
}

export interface NotifyOptions {
  runtime: ActionRuntime;
  clock: Clock;
  /** Further attempts after the first, on network errors, 5xx and 429. */
  retries?: number;
  timeoutMs?: number;
}

/**
 * Tells people about a promotion, rollback or gate failure through the plan's `notify` section.
 * Each destination is retried on its own, then reported in the log; this never throws, so a
 * chat outage can never block a rollback.
 */
export async function notify(plan: Plan, event: NotifyEvent, options: NotifyOptions): Promise<NotifyResult[]> {
  const config = plan.notify;
  if (!config || !config.on.includes(event.kind)) return [];
  const { runtime } = options;
  let message: NotifyMessage;
  try {
    message = buildMessage(plan, event, runtime.env, options.clock.now());
  } catch (err) {
    runtime.warning(`notification not sent: ${describeError(err)}`);
    return [];
  }
  const slack = slackPayload(message);
  const deliveries: { target: NotifyTarget; url: string; body: SlackPayload | WebhookPayload }[] = [];
  if (config.slack) deliveries.push({ target: 'slack', url: config.slack, body: slack });
  if (config.webhook) deliveries.push({ target: 'webhook', url: config.webhook, body: { ...slack, rollgate: message } });
  const results = await Promise.all(deliveries.map((d) => deliver(d.target, d.url, d.body, options)));
  for (const r of results) {
    if (r.ok) runtime.info(`notified ${r.target} of ${event.kind}`);
    else runtime.warning(`could not notify ${r.target} of ${event.kind}: ${r.detail}`);
  }
  return results;
}

async function deliver(target: NotifyTarget, url: string, body: SlackPayload | WebhookPayload, options: NotifyOptions): Promise<NotifyResult> {
  // An incoming-webhook URL is itself the credential: messages name only its host.
  const host = hostOf(url);
  try {
    const res = await httpRequest<string>(
      {
        method: 'POST',
        url,
        headers: { 'Content-Type': 'application/json' },
        body,
        timeoutMs: options.timeoutMs ?? 10_000,
        retries: options.retries ?? 3,
        backoffMs: 500,
        responseType: 'text',
        system: `${target} webhook`,
      },
      options.clock,
    );
    if (res.status >= 200 && res.status < 300) return { target, ok: true, status: res.status, attempts: res.attempts, detail: `delivered to ${host}` };
    const answer = typeof res.data === 'string' ? res.data.replace(/\s+/g, ' ').trim().slice(0, 200) : '';
    const tries = res.attempts > 1 ? ` after ${res.attempts} attempts` : '';
    return { target, ok: false, status: res.status, attempts: res.attempts, detail: `${host} answered ${res.status}${answer ? ` ${answer}` : ''}${tries}` };
  } catch (err) {
    const reason = describeError(err).replace(/https?:\/\/\S+/g, host);
    return { target, ok: false, attempts: (options.retries ?? 3) + 1, detail: reason };
  }
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(invalid URL)';
  }
}

/** What the orchestration knows when it asks for a notification; extra fields are ignored. */
export type NotifyDetails = Omit<NotifyEvent, 'kind'>;

/**
 * The notification hook the rollout orchestration calls: binds the plan, the runtime and the
 * clock, so a call site only says what happened. Resolves once every destination was tried;
 * never rejects.
 */
export function rolloutNotifier(plan: Plan, options: NotifyOptions): (kind: NotifyEvent['kind'], details: NotifyDetails) => Promise<void> {
  return async (kind, details) => {
    await notify(plan, { ...details, kind }, options);
  };
}
