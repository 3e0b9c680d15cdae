import type { Clock } from '../clock.js';
import { httpRequest, safeUrl } from '../http.js';
import type { SmokeCheckConfig } from '../plan/schema.js';
import { renderTemplate } from '../template.js';

/** One smoke check's outcome. */
export interface SmokeResult {
  name: string;
  url: string;
  ok: boolean;
  /** What was seen: `HTTP 200`, `HTTP 500 (expected 200)`, `body lacks "ok"`, `connection refused`. */
  detail: string;
  attempts: number;
}

/** Runs every smoke check (all of them, so the summary shows each); `{{slot}}` etc. are filled from `vars`. */
export async function runSmokeChecks(
  checks: readonly SmokeCheckConfig[],
  deps: { clock: Clock; vars: Record<string, string | number>; signal?: AbortSignal },
): Promise<SmokeResult[]> {
  const results: SmokeResult[] = [];
  for (const [i, check] of checks.entries()) {
    const url = renderTemplate(check.url, deps.vars, `smoke[${i}].url`);
    const body = check.body === undefined ? undefined : renderTemplate(check.body, deps.vars, `smoke[${i}].body`);
    let result: SmokeResult = { name: check.name, url: safeUrl(url), ok: false, detail: 'not run', attempts: 0 };
    for (let attempt = 1; attempt <= check.retries + 1; attempt++) {
      result = { ...result, attempts: attempt, ...(await probe(check, url, body, deps)) };
      if (result.ok) break;
      if (attempt <= check.retries) await deps.clock.sleep(1000, deps.signal);
    }
    results.push(result);
  }
  return results;
}

async function probe(check: SmokeCheckConfig, url: string, body: string | undefined, deps: { clock: Clock; signal?: AbortSignal }): Promise<{ ok: boolean; detail: string }> {
  try {
    const res = await httpRequest<string>(
      { method: check.method, url, headers: check.headers, body, timeoutMs: check.timeout, retries: 0, responseType: 'text', system: 'smoke', signal: deps.signal },
      deps.clock,
    );
    if (res.status !== check.expectStatus) return { ok: false, detail: `HTTP ${res.status} (expected ${check.expectStatus})` };
    const text = typeof res.data === 'string' ? res.data : JSON.stringify(res.data);
    if (check.expectBody !== undefined && !text.includes(check.expectBody))
      return { ok: false, detail: `HTTP ${res.status}, but the body lacks ${JSON.stringify(check.expectBody)}` };
    return { ok: true, detail: `HTTP ${res.status}` };
  } catch (err) {
    return { ok: false, detail: err instanceof Error ? err.message.replace(/^smoke: /, '') : String(err) };
  }
}

/** A Markdown table of smoke results, for job summaries. */
export function smokeTable(results: readonly SmokeResult[]): string {
  return ['| smoke check | URL | result |', '| --- | --- | --- |', ...results.map((r) => `| ${r.name} | ${r.url} | ${r.ok ? '✅' : '❌'} ${r.detail} |`)].join('\n');
}
