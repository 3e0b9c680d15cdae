import type { Clock } from '../clock.js';
import { ProviderError } from '../errors.js';
import { httpRequest, safeUrl } from '../http.js';
import type { ReadinessConfig } from '../plan/schema.js';
import { renderTemplate } from '../template.js';

/** What the last readiness probe saw, for the failure message. */
export interface ReadinessResult {
  url: string;
  attempts: number;
  elapsedMs: number;
}

/**
 * Polls the readiness URL until it answers `expectStatus`, or fails after `timeout` naming the
 * last answer. `{{slot}}` and other placeholders in the URL are filled from `vars`.
 */
export async function waitForReadiness(
  config: ReadinessConfig,
  deps: { clock: Clock; vars: Record<string, string | number>; log: (line: string) => void; signal?: AbortSignal },
): Promise<ReadinessResult> {
  const url = renderTemplate(config.url, deps.vars, 'readiness.url');
  const started = deps.clock.now();
  let attempts = 0;
  let last = 'no answer yet';
  for (;;) {
    attempts++;
    const remaining = config.timeout - (deps.clock.now() - started);
    try {
      const res = await httpRequest(
        {
          url,
          headers: config.headers,
          timeoutMs: Math.max(500, Math.min(config.interval * 2, remaining, 10_000)),
          retries: 0,
          responseType: 'text',
          system: 'readiness',
          signal: deps.signal,
        },
        deps.clock,
      );
      if (res.status === config.expectStatus) return { url, attempts, elapsedMs: deps.clock.now() - started };
      last = `HTTP ${res.status}`;
    } catch (err) {
      if (deps.signal?.aborted) throw err;
      last = err instanceof Error ? err.message.replace(/^readiness: /, '') : String(err);
    }
    const elapsed = deps.clock.now() - started;
    if (elapsed + config.interval > config.timeout)
      throw new ProviderError(
        'readiness',
        `${safeUrl(url)} did not answer ${config.expectStatus} within ${Math.round(config.timeout / 1000)}s (${attempts} probes; last: ${last})`,
      );
    if (attempts === 1 || attempts % 5 === 0) deps.log(`waiting for ${safeUrl(url)} to answer ${config.expectStatus} (last: ${last})`);
    await deps.clock.sleep(config.interval, deps.signal);
  }
}
