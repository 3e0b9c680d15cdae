import axios, { type AxiosRequestConfig } from 'axios';
import { systemClock, type Clock } from './clock.js';
import { ProviderError } from './errors.js';

export interface HttpRequest {
  method?: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  /** A JSON value, or a string sent as is. */
  body?: unknown;
  params?: Record<string, string | number>;
  timeoutMs?: number;
  /** Further attempts after the first, on network errors, 5xx and 429. */
  retries?: number;
  /** First backoff delay; doubles per attempt, capped at 5 s. */
  backoffMs?: number;
  signal?: AbortSignal;
  /** Answer as text rather than parsed JSON. */
  responseType?: 'json' | 'text';
  /** Names the system in errors (`prometheus`, `unleash`, …). */
  system?: string;
}

export interface HttpResponse<T = unknown> {
  status: number;
  headers: Record<string, string>;
  data: T;
  /** Attempts made, including the first. */
  attempts: number;
}

/** Strips credentials and the query string, which may carry secrets, from a URL for messages. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 429;
}

function networkReason(err: unknown, timeoutMs: number): string {
  if (axios.isAxiosError(err)) {
    if (err.code === 'ECONNABORTED' || err.code === 'ETIMEDOUT' || /timeout/i.test(err.message)) return `no answer within ${timeoutMs} ms`;
    if (err.code === 'ECONNREFUSED') return 'connection refused';
    if (err.code === 'ENOTFOUND') return 'host not found';
    if (err.code === 'ECONNRESET') return 'connection reset';
    if (err.code === 'ERR_CANCELED') return 'cancelled';
    return err.code ?? err.message;
  }
  return err instanceof Error ? err.message : String(err);
}

/**
 * One HTTP exchange with bounded retries and backoff on network errors, 5xx and 429.
 * Any status is returned for the caller to judge; only a transport failure that outlived
 * its retries throws (a retryable ProviderError).
 */
export async function httpRequest<T = unknown>(req: HttpRequest, clock: Clock = systemClock): Promise<HttpResponse<T>> {
  const retries = req.retries ?? 2;
  const timeoutMs = req.timeoutMs ?? 10_000;
  const system = req.system ?? 'http';
  const config: AxiosRequestConfig = {
    method: req.method ?? 'GET',
    url: req.url,
    headers: req.headers,
    params: req.params,
    data: req.body,
    timeout: timeoutMs,
    signal: req.signal,
    validateStatus: () => true,
    responseType: req.responseType === 'text' ? 'text' : 'json',
    transitional: { silentJSONParsing: true, clarifyTimeoutError: true, forcedJSONParsing: req.responseType !== 'text' },
    maxRedirects: 0,
    proxy: false,
  };
  let delay = req.backoffMs ?? 200;
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await axios.request<T>(config);
      if (isRetryableStatus(res.status) && attempt <= retries) {
        const retryAfter = Number(res.headers['retry-after']);
        await clock.sleep(Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter * 1000, 30_000) : delay, req.signal);
        delay = Math.min(delay * 2, 5_000);
        continue;
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers)) if (v !== undefined && v !== null) headers[k.toLowerCase()] = String(v);
      return { status: res.status, headers, data: res.data, attempts: attempt };
    } catch (err) {
      if (req.signal?.aborted) throw new ProviderError(system, `${config.method} ${safeUrl(req.url)}: cancelled`);
      if (attempt > retries) {
        const tries = attempt === 1 ? '' : ` (after ${attempt} attempts)`;
        throw new ProviderError(system, `${config.method} ${safeUrl(req.url)}: ${networkReason(err, timeoutMs)}${tries}`, true);
      }
      await clock.sleep(delay, req.signal);
      delay = Math.min(delay * 2, 5_000);
    }
  }
}
