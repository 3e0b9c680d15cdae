import { judgeCheck } from '../analysis/gate.js';
import { formatValue } from '../analysis/report.js';
import { formatDuration, promDuration } from '../duration.js';
import { describeError, isUserError } from '../errors.js';
import { describeOutcome, type MetricsProvider, type QueryOutcome } from '../metrics/provider.js';
import type { AnalysisConfig, CheckConfig } from '../plan/schema.js';
import { renderTemplate } from '../template.js';

type Track = 'canary' | 'stable';

/** One query run once against the live backend. */
export interface QueryProbe {
  track: Track;
  query: string;
  outcome?: QueryOutcome;
  /** The backend refused or could not be reached. */
  error?: string;
}

/** A mistake found in a check's query: errors make the gate unable to judge, warnings may be passing states. */
export interface PlanMistake {
  severity: 'error' | 'warning';
  message: string;
}

/** What one check's queries return now, and what the gate would conclude from it. */
export interface CheckProbe {
  name: string;
  dryRun: boolean;
  probes: QueryProbe[];
  /** The judge's conclusion on these values now (pass, breach, inconclusive, error). */
  verdictNow: 'pass' | 'breach' | 'inconclusive' | 'error';
  reason: string;
  mistakes: PlanMistake[];
}

/** The plan check: every query's answer now, and the usual mistakes. */
export interface PlanCheckReport {
  ok: boolean;
  window: number;
  /** The longest scrape interval of the backend's jobs, when the backend says. */
  scrapeInterval?: { ms: number; jobs: string[] };
  checks: CheckProbe[];
  requests?: { probes: QueryProbe[]; mistakes: PlanMistake[] };
}

/** The top-level division of a ratio query (`a / b`), outside brackets and strings; undefined when there is none. */
export function splitRatio(query: string): [string, string] | undefined {
  let depth = 0;
  let quote: string | undefined;
  let found = -1;
  for (let i = 0; i < query.length; i++) {
    const c = query[i] as string;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'" || c === '`') quote = c;
    else if ('([{'.includes(c)) depth++;
    else if (')]}'.includes(c)) depth--;
    else if (c === '/' && depth === 0) {
      if (found >= 0) return undefined; // a / b / c: not the simple ratio this check is about
      found = i;
    }
  }
  if (found < 0) return undefined;
  return [
    query.slice(0, found).trim(),
    query
      .slice(found + 1)
      .trim()
      .replace(/^(?:on|ignoring)\s*\([^)]*\)\s*/, ''),
  ];
}

async function probe(provider: MetricsProvider, track: Track, query: string, time: number): Promise<QueryProbe> {
  try {
    return { track, query, outcome: await provider.query(query, { time }) };
  } catch (err) {
    if (!isUserError(err)) throw err;
    return { track, query, error: describeError(err) };
  }
}

/** The usual mistakes behind one probe's answer. */
async function mistakesOf(provider: MetricsProvider, p: QueryProbe, time: number, what: string): Promise<PlanMistake[]> {
  if (p.error) return [{ severity: 'error', message: `${what} (${p.track}): the backend refused or failed: ${p.error}` }];
  const outcome = p.outcome as QueryOutcome;
  switch (outcome.kind) {
    case 'value':
    case 'infinite':
      return [];
    case 'many-series':
      return [{ severity: 'error', message: `${what} (${p.track}): ${outcome.count} series where one is expected: aggregate it with sum(…) or sum by (…) (…)` }];
    case 'nan':
      return [
        {
          severity: 'warning',
          message: `${what} (${p.track}): NaN, i.e. 0/0: no traffic on this track now, or a quantile with no observations; every such measurement is inconclusive`,
        },
      ];
    case 'no-data': {
      const ratio = splitRatio(p.query);
      if (ratio) {
        const [numerator, denominator] = await Promise.all(ratio.map((q) => provider.query(q, { time }).catch(() => undefined)));
        if (numerator?.kind === 'no-data' && denominator?.kind === 'value')
          return [
            {
              severity: 'warning',
              message: `${what} (${p.track}): the numerator has no series yet while the denominator is ${formatValue(denominator.value)} (e.g. no 5xx counted so far); write (numerator or vector(0)) so "none yet" is 0, not no data`,
            },
          ];
      }
      return [{ severity: 'warning', message: `${what} (${p.track}): no series: check the labels (is {{track}} the right label?) or whether this track serves traffic yet` }];
    }
  }
}

function shown(p: QueryProbe): string {
  if (p.error) return `error: ${p.error}`;
  return p.outcome?.kind === 'value' ? formatValue(p.outcome.value) : describeOutcome(p.outcome as QueryOutcome);
}

/**
 * How the windows tile the bake, against the scrape interval. Prometheus' rate() and increase()
 * measure from the first to the last sample inside the range, so windows one scrape longer than
 * the interval share one sample and count every increment once: shorter loses the increments
 * between windows; longer counts data twice, which a statistical judge takes for independent points.
 */
export function windowTiling(analysis: AnalysisConfig, windowMs: number, scrapeMs: number): PlanMistake[] {
  const mistakes: PlanMistake[] = [];
  const tiled = analysis.interval + scrapeMs;
  const window = formatDuration(windowMs);
  const interval = formatDuration(analysis.interval);
  if (windowMs >= 2 * scrapeMs && windowMs < tiled) {
    const lost = Math.round(100 * (1 - (windowMs - scrapeMs) / analysis.interval));
    mistakes.push({
      severity: 'warning',
      message: `the window ${window} is shorter than the interval ${interval} plus one scrape (${formatDuration(scrapeMs)}): rate() measures from the first to the last sample in its window, so the increments between one window's last sample and the next one's first are in no window (about ${lost}% of the data); set analysis.window to ${formatDuration(tiled)}`,
    });
  }
  if (analysis.judge !== 'threshold' && windowMs > tiled)
    mistakes.push({
      severity: 'warning',
      message: `windows of ${window} every ${interval} share data with the next window (scrape interval ${formatDuration(scrapeMs)}): the ${analysis.judge} judge takes its points for independent and grows over-confident; set analysis.window to ${formatDuration(tiled)}`,
    });
  if (analysis.judge === 'paired' && analysis.interval < 2 * scrapeMs)
    mistakes.push({
      severity: 'warning',
      message: `an interval of ${interval} is under two scrapes (${formatDuration(scrapeMs)}): each track's targets are scraped at their own moment, so the two tracks' windows are shifted against each other by up to a scrape, and load that changes within it no longer cancels; set analysis.interval to ${formatDuration(2 * scrapeMs)} and analysis.window to ${formatDuration(3 * scrapeMs)}`,
    });
  return mistakes;
}

/**
 * Runs every check's query once for both tracks (and the requests query) against the live
 * backend at `time`, and reports per check what came back, what the judge would say now, and
 * the usual mistakes: no {{track}}, a numerator with no series yet, several series, a window
 * shorter than two scrapes.
 */
export async function checkPlanQueries(options: {
  analysis: AnalysisConfig;
  provider: MetricsProvider;
  time: number;
  vars?: Record<string, string>;
  /** The backend's scrape intervals, when it can say (Prometheus). */
  scrapeIntervals?: { job: string; intervalMs: number }[];
}): Promise<PlanCheckReport> {
  const { analysis, provider, time } = options;
  const windowMs = analysis.window ?? analysis.interval;
  const window = promDuration(windowMs);
  const report: PlanCheckReport = { ok: true, window: windowMs, checks: [] };
  const windowMistakes: PlanMistake[] = [];
  if (options.scrapeIntervals?.length) {
    const longest = Math.max(...options.scrapeIntervals.map((j) => j.intervalMs));
    report.scrapeInterval = { ms: longest, jobs: options.scrapeIntervals.filter((j) => j.intervalMs === longest).map((j) => j.job) };
    if (windowMs < 2 * longest)
      windowMistakes.push({
        severity: 'error',
        message: `the window ${formatDuration(windowMs)} is shorter than two scrapes (scrape interval ${formatDuration(longest)}, job ${report.scrapeInterval.jobs.join(', ')}): rate() needs two samples in it; set analysis.window to ${formatDuration(2 * longest)} or more`,
      });
    windowMistakes.push(...windowTiling(analysis, windowMs, longest));
  }
  const fill = (template: string, track: Track, field: string) => renderTemplate(template, { ...options.vars, track, window }, field);

  for (const [i, check] of analysis.checks.entries()) {
    const field = `analysis.checks[${i}].query`;
    const mistakes: PlanMistake[] = [...windowMistakes];
    if (!/\{\{\s*track\s*\}\}/.test(check.query))
      mistakes.push({ severity: 'error', message: `${field} has no {{track}}: canary and stable get the same query, so every comparison is of a series with itself` });
    let probes: QueryProbe[];
    try {
      probes = await Promise.all((['canary', 'stable'] as const).map((track) => probe(provider, track, fill(check.query, track, field), time)));
    } catch (err) {
      if (!isUserError(err)) throw err;
      report.checks.push({
        name: check.name,
        dryRun: check.dryRun === true,
        probes: [],
        verdictNow: 'error',
        reason: describeError(err),
        mistakes: [...mistakes, { severity: 'error', message: describeError(err) }],
      });
      continue;
    }
    for (const p of probes) mistakes.push(...(await mistakesOf(provider, p, time, `check ${check.name}`)));
    report.checks.push({ name: check.name, dryRun: check.dryRun === true, probes, ...verdictNow(check, probes), mistakes });
  }
  if (analysis.requests) {
    try {
      const probes = await Promise.all((['canary', 'stable'] as const).map((track) => probe(provider, track, fill(analysis.requests as string, track, 'analysis.requests'), time)));
      const mistakes: PlanMistake[] = [];
      if (!/\{\{\s*track\s*\}\}/.test(analysis.requests))
        mistakes.push({ severity: 'error', message: 'analysis.requests has no {{track}}: both tracks would count the same requests' });
      for (const p of probes) {
        if (p.outcome?.kind === 'no-data')
          mistakes.push({ severity: 'warning', message: `requests (${p.track}): no series: no request counted, so minRequests makes every measurement inconclusive` });
        else mistakes.push(...(await mistakesOf(provider, p, time, 'requests')));
      }
      report.requests = { probes, mistakes };
    } catch (err) {
      if (!isUserError(err)) throw err;
      report.requests = { probes: [], mistakes: [{ severity: 'error', message: describeError(err) }] };
    }
  }
  report.ok = ![...report.checks.flatMap((c) => c.mistakes), ...(report.requests?.mistakes ?? [])].some((m) => m.severity === 'error');
  return report;
}

function verdictNow(check: CheckConfig, probes: QueryProbe[]): Pick<CheckProbe, 'verdictNow' | 'reason'> {
  const canary = probes.find((p) => p.track === 'canary') as QueryProbe;
  const stable = probes.find((p) => p.track === 'stable') as QueryProbe;
  const failed = probes.find((p) => p.error);
  if (failed) return { verdictNow: 'error', reason: `${failed.track}: ${failed.error}` };
  const j = judgeCheck(check, canary.outcome as QueryOutcome, stable.outcome);
  return { verdictNow: j.outcome, reason: j.reason };
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/** The plan check as Markdown: one row per check with both tracks' answers, the verdict now and the mistakes. */
export function renderPlanCheck(report: PlanCheckReport, file: string): string {
  const lines = [`### rollgate check-plan: ${file}: ${report.ok ? '✅ ok' : '❌ mistakes found'}`, ''];
  const scrape = report.scrapeInterval ? `, scrape interval ${formatDuration(report.scrapeInterval.ms)}` : '';
  lines.push(`The plan validates. Each query ran once against the live backend (window ${formatDuration(report.window)}${scrape}).`, '');
  lines.push('| Check | Canary | Stable | Verdict now | Mistakes |', '| --- | --- | --- | --- | --- |');
  const row = (name: string, probes: QueryProbe[], verdict: string, mistakes: PlanMistake[]) => {
    const of = (t: Track) => {
      const p = probes.find((x) => x.track === t);
      return p ? cell(shown(p)) : '–';
    };
    const listed = mistakes.map((m) => `${m.severity === 'error' ? '❌' : '⚠️'} ${cell(m.message)}`).join('<br>') || '–';
    lines.push(`| ${cell(name)} | ${of('canary')} | ${of('stable')} | ${cell(verdict)} | ${listed} |`);
  };
  for (const c of report.checks) row(`${c.name}${c.dryRun ? ' (dry run)' : ''}`, c.probes, `${c.verdictNow}: ${c.reason}`, c.mistakes);
  if (report.requests) row('requests', report.requests.probes, '–', report.requests.mistakes);
  return lines.join('\n');
}
