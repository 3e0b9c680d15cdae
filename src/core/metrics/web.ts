import { systemClock, type Clock } from '../clock.js';
import { ProviderError, UserError } from '../errors.js';
import { httpRequest, safeUrl } from '../http.js';
import type { MetricsConfig } from '../plan/schema.js';
import { renderTemplate } from '../template.js';
import { outcomeOf, type MetricsProvider, type QueryOutcome, type RangeOutcome, type RangeQuery, type SeriesPoint } from './provider.js';

export type WebConfig = Extract<MetricsConfig, { provider: 'web' }>;

const SYSTEM = 'web';

// ── JSONPath ───────────────────────────────────────────────────────────────────────────
// A deliberately small, evaluation-free subset: a path from a plan file never runs code.

type PathStep =
  | { kind: 'name'; name: string }
  | { kind: 'index'; index: number }
  | { kind: 'wildcard' }
  | { kind: 'filter'; key: string[]; op: '==' | '!='; value: string | number | boolean | null };

/**
 * Parses the supported JSONPath subset: `$`, `.name`, `['name']`, `[0]`, `[-1]`, `[*]`, `.*`
 * and `[?(@.key == 'value')]` (also `!=`, numbers, true, false, null).
 */
export function parseJsonPath(path: string): PathStep[] {
  const fail = (why: string): never => {
    throw new UserError(`metrics.jsonPath ${JSON.stringify(path)}: ${why} (supported: $.a.b, ['a'], [0], [-1], [*], [?(@.key == 'value')])`);
  };
  const text = path.trim();
  if (!text.startsWith('$')) fail('must start with $');
  const steps: PathStep[] = [];
  let i = 1;
  while (i < text.length) {
    const ch = text[i];
    if (ch === '.') {
      if (text[i + 1] === '.') fail('recursive descent (..) is not supported');
      const m = /^\.(\*|[A-Za-z_$][\w$-]*)/.exec(text.slice(i));
      if (!m) fail(`expected a name after . at position ${i}`);
      steps.push(m![1] === '*' ? { kind: 'wildcard' } : { kind: 'name', name: m![1]! });
      i += m![0].length;
    } else if (ch === '[') {
      const rest = text.slice(i);
      let m: RegExpExecArray | null;
      if ((m = /^\[\s*(-?\d+)\s*\]/.exec(rest))) steps.push({ kind: 'index', index: Number(m[1]) });
      else if ((m = /^\[\s*\*\s*\]/.exec(rest))) steps.push({ kind: 'wildcard' });
      else if ((m = /^\[\s*'((?:[^'\\]|\\.)*)'\s*\]/.exec(rest)) || (m = /^\[\s*"((?:[^"\\]|\\.)*)"\s*\]/.exec(rest)))
        steps.push({ kind: 'name', name: m[1]!.replace(/\\(.)/g, '$1') });
      else if (
        (m = /^\[\s*\?\(\s*@((?:\.[A-Za-z_$][\w$-]*)+)\s*(==|!=)\s*('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null)\s*\)\s*\]/.exec(rest))
      ) {
        const raw = m[3]!;
        const value =
          raw.startsWith("'") || raw.startsWith('"')
            ? raw.slice(1, -1).replace(/\\(.)/g, '$1')
            : raw === 'true'
              ? true
              : raw === 'false'
                ? false
                : raw === 'null'
                  ? null
                  : Number(raw);
        steps.push({ kind: 'filter', key: m[1]!.slice(1).split('.'), op: m[2] as '==' | '!=', value });
      } else fail(`cannot read the bracket at position ${i}`);
      i += m![0].length;
    } else fail(`unexpected ${JSON.stringify(ch)} at position ${i}`);
  }
  return steps;
}

/** Every value `path` selects in `doc`, in document order. */
export function selectJsonPath(doc: unknown, path: string | PathStep[]): unknown[] {
  const steps = typeof path === 'string' ? parseJsonPath(path) : path;
  let current: unknown[] = [doc];
  for (const step of steps) {
    const next: unknown[] = [];
    for (const node of current) {
      switch (step.kind) {
        case 'name':
          if (typeof node === 'object' && node !== null && !Array.isArray(node) && Object.hasOwn(node, step.name)) next.push((node as Record<string, unknown>)[step.name]);
          break;
        case 'index':
          if (Array.isArray(node)) {
            const at = step.index < 0 ? node.length + step.index : step.index;
            if (at >= 0 && at < node.length) next.push(node[at]);
          }
          break;
        case 'wildcard':
          if (Array.isArray(node)) next.push(...node);
          else if (typeof node === 'object' && node !== null) next.push(...Object.values(node));
          break;
        case 'filter':
          if (Array.isArray(node))
            for (const item of node) {
              let v: unknown = item;
              for (const k of step.key) v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[k] : undefined;
              if ((v === step.value) === (step.op === '==')) next.push(item);
            }
          break;
      }
    }
    current = next;
  }
  return current;
}

// ── values ─────────────────────────────────────────────────────────────────────────────

/** A JSON number, or a string holding one (many APIs quote numbers); null when it is not one. */
function numeric(value: unknown): number | null {
  if (typeof value === 'number') return value;
  if (typeof value === 'string') {
    const t = value.trim();
    if (t === 'NaN') return Number.NaN;
    if (/^[+]?Inf(inity)?$/i.test(t)) return Number.POSITIVE_INFINITY;
    if (/^-Inf(inity)?$/i.test(t)) return Number.NEGATIVE_INFINITY;
    if (t !== '' && !Number.isNaN(Number(t))) return Number(t);
  }
  return null;
}

/** Times in seconds (as most APIs send them) or milliseconds; told apart by size. */
function toMillis(time: number): number {
  return time < 1e11 ? time * 1000 : time;
}

function pointFrom(item: unknown): SeriesPoint | null | undefined {
  // [time, value] pairs, as Prometheus and Datadog send them.
  if (Array.isArray(item) && item.length === 2) {
    const t = numeric(item[0]);
    if (t === null) return undefined;
    if (item[1] === null) return null;
    const v = numeric(item[1]);
    return v === null ? undefined : { time: toMillis(t), value: v };
  }
  if (typeof item === 'object' && item !== null) {
    const o = item as Record<string, unknown>;
    const t = numeric(o.time ?? o.timestamp ?? o.t ?? o.ts);
    const raw = 'value' in o ? o.value : o.v;
    if (t === null) return undefined;
    if (raw === null) return null;
    const v = numeric(raw);
    return v === null ? undefined : { time: toMillis(t), value: v };
  }
  return undefined;
}

/**
 * Any JSON endpoint: the plan's `jsonPath` picks the value out of the answer. The check's
 * query fills `{{query}}` in the URL (URL-encoded) or body (JSON-escaped); without that placeholder it is sent
 * as the `query` URL parameter. `{{time}}`, `{{start}}`, `{{end}}` (unix seconds) and
 * `{{step}}` (seconds) are filled too.
 */
export class WebProvider implements MetricsProvider {
  readonly name = SYSTEM;
  private readonly steps: PathStep[];

  constructor(
    private readonly config: WebConfig,
    private readonly clock: Clock = systemClock,
  ) {
    this.steps = parseJsonPath(config.jsonPath);
  }

  /** The one value jsonPath selects: a number (or numeric string); absent or null is no data. */
  async query(query: string, options: { time?: number; signal?: AbortSignal } = {}): Promise<QueryOutcome> {
    const time = options.time ?? this.clock.now();
    const selected = await this.fetch(query, { time: Math.round(time / 1000) }, options.signal);
    const values = selected.filter((v) => v !== null);
    if (values.length === 0) return { kind: 'no-data' };
    if (values.length > 1) return { kind: 'many-series', count: values.length };
    const value = numeric(values[0]);
    if (value === null) throw new ProviderError(SYSTEM, `${this.config.jsonPath} selected ${describe(values[0])}, expected a number`);
    return outcomeOf(value);
  }

  /**
   * A series: jsonPath selects an array of [time, value] pairs or {time|timestamp, value}
   * objects (times in unix seconds or milliseconds), or the points themselves.
   */
  async queryRange(query: string, range: RangeQuery, options: { signal?: AbortSignal } = {}): Promise<RangeOutcome> {
    const vars = {
      time: Math.round(range.end / 1000),
      start: Math.floor(range.start / 1000),
      end: Math.ceil(range.end / 1000),
      step: Math.max(1, Math.round(range.stepMs / 1000)),
    };
    const selected = await this.fetch(query, vars, options.signal);
    // One array selected: it is the series. Several items selected: they are the points.
    const items = selected.length === 1 && Array.isArray(selected[0]) && (selected[0].length === 0 || typeof selected[0][0] === 'object') ? selected[0] : selected;
    if (items.length === 0) return { kind: 'no-data' };
    const points: SeriesPoint[] = [];
    for (const item of items) {
      const point = pointFrom(item);
      if (point === undefined) throw new ProviderError(SYSTEM, `${this.config.jsonPath} selected ${describe(item)}; a series needs [time, value] pairs or {time, value} objects`);
      if (point !== null) points.push(point);
    }
    return points.length === 0 ? { kind: 'no-data' } : { kind: 'series', points: points.sort((a, b) => a.time - b.time) };
  }

  private async fetch(query: string, times: Record<string, number>, signal?: AbortSignal): Promise<unknown[]> {
    const usesQuery = /\{\{\s*query\s*\}\}/.test(this.config.url) || /\{\{\s*query\s*\}\}/.test(this.config.body ?? '');
    const encoded: Record<string, string | number> = { ...times, query: encodeURIComponent(query) };
    const url = renderTemplate(this.config.url, encoded, 'metrics.url');
    // The body is JSON: the query goes in escaped, so its quotes cannot break the document.
    const body = this.config.body === undefined ? undefined : renderTemplate(this.config.body, { ...times, query: JSON.stringify(query).slice(1, -1) }, 'metrics.body');
    const res = await httpRequest<unknown>(
      {
        method: this.config.method,
        url,
        params: usesQuery ? undefined : { query },
        headers: { accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(this.config.headers ?? {}) },
        body,
        timeoutMs: this.config.timeout,
        retries: this.config.retries,
        signal,
        system: SYSTEM,
      },
      this.clock,
    );
    if (res.status === 401 || res.status === 403) throw new ProviderError(SYSTEM, `${this.config.method} ${safeUrl(url)}: HTTP ${res.status} (check metrics.headers)`);
    if (res.status === 429) throw new ProviderError(SYSTEM, `${this.config.method} ${safeUrl(url)}: rate limited (HTTP 429) after ${res.attempts} attempt(s)`, true);
    if (res.status < 200 || res.status >= 300) {
      const tries = res.attempts > 1 ? ` after ${res.attempts} attempts` : '';
      throw new ProviderError(SYSTEM, `${this.config.method} ${safeUrl(url)}: HTTP ${res.status}${tries}`, res.status >= 500);
    }
    // A body that did not parse as JSON arrives as text.
    if (res.data === undefined || typeof res.data === 'string') throw new ProviderError(SYSTEM, `${this.config.method} ${safeUrl(url)}: the answer is not JSON`);
    return selectJsonPath(res.data, this.steps);
  }
}

function describe(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}
