import { formatDuration } from '../duration.js';
import { formatValue, type GateReport, type Measurement } from './report.js';
import type { Verdict } from './verdict.js';

const MAX_POINTS = 30;

function icon(outcome: Verdict): string {
  switch (outcome) {
    case 'pass':
      return '✅ pass';
    case 'fail':
      return '❌ fail';
    case 'inconclusive':
      return '⚠️ inconclusive';
    case 'error':
      return '🛑 error';
  }
}

/** Table cells must not break the row: pipes and newlines are escaped. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/**
 * A number Mermaid's xychart parses: plain decimal, never an exponent (`1.23e-7` is a syntax
 * error there), at most 12 decimals and 4 significant digits.
 */
export function chartNumber(value: number): string {
  if (!Number.isFinite(value) || Math.abs(value) < 1e-12) return '0';
  const clamped = Math.max(-1e15, Math.min(1e15, value));
  const digits = Math.max(0, Math.min(12, 3 - Math.floor(Math.log10(Math.abs(clamped)))));
  const text = clamped.toFixed(digits);
  return text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text;
}

/** Keeps at most `max` evenly spaced items, always the first and the last. */
function thin<T>(items: T[], max: number): T[] {
  if (items.length <= max) return items;
  const out: T[] = [];
  for (let i = 0; i < max; i++) out.push(items[Math.round((i * (items.length - 1)) / (max - 1))] as T);
  return out;
}

/**
 * One line of the chart. Mermaid's xychart has no "missing" value: a line with no value at the
 * end simply stops there (a true gap); a missing value inside is bridged between its neighbours
 * (before the first value, the first value is carried back), and the caller marks those rounds.
 */
function lastDefined(values: readonly (number | undefined)[], before = values.length): number {
  for (let i = before - 1; i >= 0; i--) if (values[i] !== undefined) return i;
  return -1;
}

function line(values: (number | undefined)[]): { values: string[]; bridged: Set<number> } | undefined {
  const last = lastDefined(values);
  if (last < 0) return undefined;
  const bridged = new Set<number>();
  const out: string[] = [];
  for (let i = 0; i <= last; i++) {
    const v = values[i];
    if (v !== undefined) {
      out.push(chartNumber(v));
      continue;
    }
    bridged.add(i);
    const before = lastDefined(values, i);
    const after = values.findIndex((x, j) => j > i && x !== undefined);
    const a = before >= 0 ? (values[before] as number) : undefined;
    const b = values[after] as number;
    out.push(chartNumber(a === undefined ? b : a + ((b - a) * (i - before)) / (after - before)));
  }
  return { values: out, bridged };
}

function chart(name: string, points: Measurement[], startedAt: number): string | undefined {
  // A round with no number for either track still belongs on the axis: it is where data stopped.
  const shown = thin(points, MAX_POINTS);
  if (shown.length === 0 || shown.every((m) => m.canary === undefined && m.stable === undefined)) return undefined;
  const canary = line(shown.map((m) => m.canary));
  const stable = line(shown.map((m) => m.stable));
  const limit = line(shown.map((m) => m.limit));
  const lines = [
    { label: 'canary', line: canary },
    { label: 'stable', line: stable },
    { label: 'limit', line: limit },
  ].filter((l): l is { label: string; line: { values: string[]; bridged: Set<number> } } => l.line !== undefined);
  const gaps = new Set<number>();
  shown.forEach((m, i) => {
    if (m.canary === undefined || m.stable === undefined) gaps.add(i);
  });
  const labels = shown.map((m, i) => `"${formatDuration(m.time - startedAt)}${gaps.has(i) ? ' ✕' : ''}"`);
  const order = ['first', 'second', 'third'];
  const legend = lines.map((l, i) => `${order[i]} line: ${l.label}`).join(', ');
  const note = gaps.size > 0 ? `; ✕: a track had no value in that round (a line ends where its data ends, and bridges a round missing in between)` : '';
  return [
    `**${name}** (${legend}${note})`,
    '',
    '```mermaid',
    'xychart-beta',
    `  title "${name.replace(/["\\]/g, "'")}"`,
    `  x-axis [${labels.join(', ')}]`,
    ...lines.map((l) => `  line [${l.line.values.join(', ')}]`),
    '```',
  ].join('\n');
}

/** The gate's job summary: one row per check (stable, canary, limit, outcome) and a chart per check. */
export function renderGateSummary(report: GateReport, title = 'metrics-gate'): string {
  const lines: string[] = [];
  lines.push(`### ${title}: ${icon(report.verdict)}`);
  lines.push('');
  lines.push(cell(report.reason));
  lines.push('');
  const duration = formatDuration(Math.max(0, report.endedAt - report.startedAt));
  const rounds = new Set(report.measurements.map((m) => m.round)).size;
  lines.push(`${rounds} measurement round(s) over ${duration}${report.score !== undefined ? `, score ${formatValue(report.score)}` : ''}.`);
  lines.push('');
  if (report.checks.length > 0) {
    lines.push('| Check | Stable | Canary | Limit | Outcome | Why |');
    lines.push('| --- | --- | --- | --- | --- | --- |');
    for (const c of report.checks)
      lines.push(
        `| ${cell(c.name)}${c.dryRun ? ' (dry run: not counted)' : ''} | ${formatValue(c.stable)} | ${formatValue(c.canary)} | ${cell(c.limit)} | ${icon(c.outcome)} | ${cell(c.reason)} |`,
      );
    lines.push('');
  }
  const charts = report.checks
    .map((c) =>
      chart(
        c.name,
        report.measurements.filter((m) => m.check === c.name),
        report.startedAt,
      ),
    )
    .filter((c): c is string => c !== undefined);
  if (charts.length > 0) {
    lines.push('<details open><summary>Measurements over the bake</summary>');
    lines.push('');
    lines.push(charts.join('\n\n'));
    lines.push('');
    lines.push('</details>');
  }
  return lines.join('\n');
}
