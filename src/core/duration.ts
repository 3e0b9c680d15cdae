const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const COMPOUND = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;

/** Units from largest to smallest: a compound duration names each at most once, in this order. */
const UNIT_ORDER = ['h', 'm', 's', 'ms'];

/**
 * Parses `500ms`, `30s`, `5m`, `1h`, `1m30s` into milliseconds; undefined when malformed. A unit
 * that repeats or comes after a smaller one (`1h1h`, `30s1m`) is malformed: it is almost always
 * a typo, and summing it would silently double a bake or a timeout.
 */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (!COMPOUND.test(trimmed)) return undefined;
  let total = 0;
  let lastUnit = -1;
  for (const part of trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    const [, amount, unit] = part;
    if (amount === undefined || unit === undefined || !DURATION.test(`${amount}${unit}`)) return undefined;
    const rank = UNIT_ORDER.indexOf(unit);
    if (rank <= lastUnit) return undefined;
    lastUnit = rank;
    total += Number(amount) * (UNIT_MS[unit] ?? Number.NaN);
  }
  return Number.isFinite(total) ? Math.round(total) : undefined;
}

/** True when `text` is made of duration parts but repeats a unit or puts a smaller one first (`1h1h`). */
export function repeatsDurationUnit(text: string): boolean {
  return COMPOUND.test(text.trim()) && parseDuration(text) === undefined;
}

/** The part of a duration error that says why a unit-shaped text was refused. */
export const REPEATED_UNIT = 'each unit once, largest first (1h30m, not 1h1h or 30m1h)';

/** Formats milliseconds the way a plan would write them: `1m30s`, `500ms`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const parts: string[] = [];
  let rest = Math.round(ms / 1000);
  const h = Math.floor(rest / 3600);
  rest -= h * 3600;
  const m = Math.floor(rest / 60);
  rest -= m * 60;
  if (h) parts.push(`${h}h`);
  if (m) parts.push(`${m}m`);
  if (rest || parts.length === 0) parts.push(`${rest}s`);
  return parts.join('');
}

/** Prometheus range-vector form of a duration (`30s`, `5m`), rounded up to whole seconds. */
export function promDuration(ms: number): string {
  return `${Math.max(1, Math.ceil(ms / 1000))}s`;
}
