import type { NotifyMessage } from './message.js';

/** A Block Kit block as incoming webhooks accept it (https://api.slack.com/reference/block-kit/blocks). */
export type SlackBlock =
  | { type: 'header'; text: { type: 'plain_text'; text: string; emoji: boolean } }
  | { type: 'section'; text?: { type: 'mrkdwn'; text: string }; fields?: { type: 'mrkdwn'; text: string }[] }
  | { type: 'context'; elements: { type: 'mrkdwn'; text: string }[] }
  | { type: 'divider' };

/** The body of an incoming-webhook POST (https://api.slack.com/messaging/webhooks). */
export interface SlackPayload {
  /** Shown in notifications and by clients that cannot render blocks. */
  text: string;
  blocks: SlackBlock[];
}

// Block Kit limits: header text 150 characters, section text 3000, each field 2000.
const HEADER_MAX = 150;
const SECTION_MAX = 3000;
const FIELD_MAX = 2000;

/** Escapes the three characters Slack's mrkdwn treats as control characters (https://api.slack.com/reference/surfaces/formatting#escaping). */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** A link in mrkdwn; the URL's own `|` and `>` would end it early, so they are percent-encoded. */
function link(url: string, label: string): string {
  return `<${url.replace(/\|/g, '%7C').replace(/>/g, '%3E')}|${escapeMrkdwn(label)}>`;
}

/** Renders a rollout event as a Slack message: what happened, to which version, why, and where to look. */
export function slackPayload(message: NotifyMessage): SlackPayload {
  const blocks: SlackBlock[] = [{ type: 'header', text: { type: 'plain_text', text: clip(message.title, HEADER_MAX), emoji: true } }];
  const fields = [
    `*Service*\n${escapeMrkdwn(message.service)}`,
    `*Environment*\n${escapeMrkdwn(message.environment)}`,
    `*Version*\n${message.version ? `\`${escapeMrkdwn(message.version)}\`` : '_unknown_'}`,
    `*Verdict*\n${message.verdict ? escapeMrkdwn(message.verdict) : '_none_'}`,
  ];
  blocks.push({ type: 'section', fields: fields.map((text) => ({ type: 'mrkdwn' as const, text: clip(text, FIELD_MAX) })) });
  if (message.reason) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: clip(`*Reason*\n${escapeMrkdwn(message.reason)}`, SECTION_MAX) } });
  if (message.failingChecks.length > 0) {
    const lines = message.failingChecks.map((c) => {
      const values = [c.canary !== undefined ? `canary ${formatValue(c.canary)}` : undefined, c.stable !== undefined ? `stable ${formatValue(c.stable)}` : undefined]
        .filter(Boolean)
        .join(', ');
      const limit = c.limit ? ` (limit ${escapeMrkdwn(c.limit)})` : '';
      const detail = c.detail ? ` — ${escapeMrkdwn(c.detail)}` : '';
      return `• \`${escapeMrkdwn(c.name)}\`: ${values || 'no value'}${limit}${detail}`;
    });
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: clip(`*Failing checks*\n${lines.join('\n')}`, SECTION_MAX) } });
  }
  if (message.killSwitches.length > 0) {
    const lines = message.killSwitches.map((k) => `• \`${escapeMrkdwn(k.flag)}\`: ${escapeMrkdwn(k.outcome)}${k.detail ? ` — ${escapeMrkdwn(k.detail)}` : ''}`);
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: clip(`*Kill switches*\n${lines.join('\n')}`, SECTION_MAX) } });
  }
  const links = [message.runUrl ? link(message.runUrl, 'View the run') : undefined, message.runbook ? link(message.runbook, 'Runbook') : undefined].filter(
    (l): l is string => l !== undefined,
  );
  if (links.length > 0) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: links.join(' · ') }] });
  return { text: message.summary, blocks };
}

/** Numbers as people read them in a chat: at most four significant digits. */
export function formatValue(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (value !== 0 && Math.abs(value) < 0.001) return value.toExponential(2);
  return String(Number(value.toPrecision(4)));
}
