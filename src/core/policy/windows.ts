import type { PolicyConfig } from '../plan/schema.js';
import type { PolicyFinding } from './finding.js';

type Weekday = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';

/** An instant as a wall clock in one time zone shows it. */
export interface LocalTime {
  /** `2026-03-29` */
  date: string;
  weekday: Weekday;
  /** `HH:MM` in 24-hour form. */
  clock: string;
  /** `2026-03-29T03:15:00`: sorts like the instant within one zone, DST included. */
  stamp: string;
}

const WEEKDAYS: Record<string, Weekday> = { Mon: 'mon', Tue: 'tue', Wed: 'wed', Thu: 'thu', Fri: 'fri', Sat: 'sat', Sun: 'sun' };
const formatters = new Map<string, Intl.DateTimeFormat>();

/** The wall-clock reading of `instant` in `timeZone`; Intl applies the zone's DST rules. */
export function localTime(instant: number, timeZone: string): LocalTime {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      weekday: 'short',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, format);
  }
  const parts: Record<string, string> = {};
  for (const p of format.formatToParts(new Date(instant))) parts[p.type] = p.value;
  const date = `${parts.year}-${parts.month}-${parts.day}`;
  const clock = `${parts.hour}:${parts.minute}`;
  return { date, weekday: WEEKDAYS[parts.weekday ?? ''] ?? 'mon', clock, stamp: `${date}T${clock}:${parts.second}` };
}

function describeWindows(windows: NonNullable<PolicyConfig['windows']>): string {
  return windows.allow.map((w) => `${w.days.join(',')} ${w.from}–${w.to}`).join('; ');
}

function inWindow(now: LocalTime, windows: NonNullable<PolicyConfig['windows']>): boolean {
  return windows.allow.some((w) => w.days.includes(now.weekday) && now.clock >= w.from && now.clock < w.to);
}

/** The next instant (to the minute, within 8 days) a window opens; undefined when none does. */
function nextOpening(instant: number, windows: NonNullable<PolicyConfig['windows']>): number | undefined {
  const step = 60_000;
  const start = Math.ceil(instant / step) * step;
  // Whole minutes are enough: windows are written to the minute.
  for (let t = start; t < instant + 8 * 86_400_000; t += step) {
    const local = localTime(t, windows.timeZone);
    if (inWindow(local, windows)) return t;
  }
  return undefined;
}

/** A freeze bound as something comparable with `now`: an instant when it has an offset, else a local stamp. */
function bound(text: string, end: boolean): { instant: number } | { stamp: string } {
  if (/(?:Z|[+-]\d{2}:\d{2})$/.test(text)) return { instant: Date.parse(text) };
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) return { stamp: `${text}T${end ? '24:00:00' : '00:00:00'}` };
  return { stamp: text.length === 16 ? `${text}:00` : text };
}

function before(a: { instant: number } | { stamp: string }, instant: number, local: LocalTime, inclusive: boolean): boolean {
  if ('instant' in a) return inclusive ? a.instant <= instant : a.instant < instant;
  return inclusive ? a.stamp <= local.stamp : a.stamp < local.stamp;
}

/** Deploy windows and dated freezes at `instant`: one finding each for windows and for freezes. */
export function evaluateWindows(policy: PolicyConfig, instant: number): PolicyFinding[] {
  const findings: PolicyFinding[] = [];
  const zone = policy.windows?.timeZone ?? policy.timeZone ?? 'UTC';
  const local = localTime(instant, zone);
  const shown = `${local.weekday} ${local.date} ${local.clock} ${zone}`;
  if (policy.windows) {
    const limit = `deploy windows (${policy.windows.timeZone}): ${describeWindows(policy.windows)}`;
    if (inWindow(local, policy.windows)) {
      findings.push({ rule: 'policy.windows', outcome: 'allow', measured: `now ${shown}`, limit, proceed: '', overridable: true });
    } else {
      const next = nextOpening(instant, policy.windows);
      const opens =
        next === undefined ? 'no window opens in the next 8 days' : `the next window opens ${describeLocal(localTime(next, policy.windows.timeZone), policy.windows.timeZone)}`;
      findings.push({
        rule: 'policy.windows',
        outcome: 'refuse',
        measured: `now ${shown} is outside every deploy window`,
        limit,
        proceed: `wait: ${opens}; or re-run with the input reason: "<why this cannot wait>" (recorded with who ran it)`,
        overridable: true,
      });
    }
  }
  const freezeZone = policy.timeZone ?? policy.windows?.timeZone ?? 'UTC';
  const freezeLocal = localTime(instant, freezeZone);
  (policy.freezes ?? []).forEach((freeze, i) => {
    const from = bound(freeze.from, false);
    const to = bound(freeze.to, true);
    const frozen = before(from, instant, freezeLocal, true) && !before(to, instant, freezeLocal, true);
    if (!frozen) return;
    findings.push({
      rule: `policy.freezes[${i}]`,
      outcome: 'refuse',
      measured: `now ${freezeLocal.date} ${freezeLocal.clock} ${freezeZone} is inside the freeze ${freeze.from} – ${freeze.to}`,
      limit: `freeze: ${freeze.reason}`,
      proceed: `wait until after ${freeze.to}; or re-run with the input reason: "<why this cannot wait>" (recorded with who ran it)`,
      overridable: true,
    });
  });
  if (policy.freezes?.length && !findings.some((f) => f.rule.startsWith('policy.freezes')))
    findings.push({
      rule: 'policy.freezes',
      outcome: 'allow',
      measured: `now ${freezeLocal.date} ${freezeLocal.clock} ${freezeZone}`,
      limit: `${policy.freezes.length} freeze(s), none now`,
      proceed: '',
      overridable: true,
    });
  return findings;
}

function describeLocal(local: LocalTime, zone: string): string {
  return `${local.weekday} ${local.date} ${local.clock} ${zone}`;
}
