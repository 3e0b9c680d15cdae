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

/** A number Mermaid's xychart parses: plain decimal, no exponent. */
function chartNumber(value: number): string {
  if (!Number.isFinite(value) || Math.abs(value) < 1e-9) return '0';
  const digits = Math.max(0, Math.min(12, 4 - Math.floor(Math.log10(Math.abs(value)))));
  return String(Number(value.toFixed(digits)));
}

/** Keeps at most `max` evenly spaced items, always the first and the last. */
function thin<T>(items: T[], max: number): T[] {
  if (items.length <= max) return items;
  const out: T[] = [];
  for (let i = 0; i < max; i++) out.push(items[Math.round((i * (items.length - 1)) / (max - 1))] as T);
  return out;
}

function chart(name: string, points: Measurement[], startedAt: number): string | undefined {
  const shown = thin(
    points.filter((m) => m.canary !== undefined || m.stable !== undefined),
    MAX_POINTS,
  );
  if (shown.length < 2) return undefined;
  const canary = shown.every((m) => m.canary !== undefined) ? shown.map((m) => chartNumber(m.canary as number)) : undefined;
  const stable = shown.every((m) => m.stable !== undefined) ? shown.map((m) => chartNumber(m.stable as number)) : undefined;
  if (!canary && !stable) return undefined;
  const labels = shown.map((m) => `"${formatDuration(m.time - startedAt)}"`);
  const legend = [canary ? 'first line: canary' : '', stable ? `${canary ? 'second' : 'line'}: stable` : ''].filter(Boolean).join(', ');
  return [
    `**${name}** (${legend})`,
    '',
    '```mermaid',
    'xychart-beta',
    `  title "${name.replace(/"/g, "'")}"`,
    `  x-axis [${labels.join(', ')}]`,
    ...(canary ? [`  line [${canary.join(', ')}]`] : []),
    ...(stable ? [`  line [${stable.join(', ')}]`] : []),
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
      lines.push(`| ${cell(c.name)}${c.dryRun ? ' (dry run: not counted)' : ''} | ${formatValue(c.stable)} | ${formatValue(c.canary)} | ${cell(c.limit)} | ${icon(c.outcome)} | ${cell(c.reason)} |`);
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
