import { getOctokit } from '@actions/github';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import { ProviderError, UserError } from '../errors.js';

/** The Octokit rollgate uses: REST methods, pagination, retries on 5xx, waits on rate limits. */
export type GitHubClient = ReturnType<typeof getOctokit>;

/** The permission every GitHub record needs; named in errors so the fix is one line of YAML. */
export const DEPLOYMENTS_PERMISSION = 'deployments: write';

/** The permission the GitHub rollout store needs (a ref and commits under refs/rollgate/). */
export const CONTENTS_PERMISSION = 'contents: write';

export interface GitHubClientOptions {
  token: string;
  /** The input the token came from, named in errors (default `github-token`). */
  tokenInput?: string;
  /** The permission a 401/403 names as the fix (default `deployments: write`). */
  permission?: string;
  /** REST API root; GitHub Enterprise and tests point it elsewhere. Default: GITHUB_API_URL or api.github.com. */
  baseUrl?: string;
  /** Further attempts after a 5xx or a network failure (default 3). */
  retries?: number;
  /** Backoff unit: attempt n waits n² × this (default 1000 ms). */
  retryBaseMs?: number;
  /** Longest rate-limit wait accepted before giving up (default 120 s: a rollback must not hang for an hour). */
  maxRateLimitWaitMs?: number;
  /** Per-request deadline (default 30 s); a request that times out counts as a 5xx and is retried. */
  requestTimeoutMs?: number;
  /** Where retry and rate-limit notices go (the action's log). */
  log?: (message: string) => void;
  /** Extra hook run before every request (tests set `accept` here for Prism). */
  beforeRequest?: (options: { method: string; url: string; headers: Record<string, string | number | undefined> }) => void;
  /** The fetch Octokit uses (a proxy-aware one, or a recording one in tests); default: @actions/github's. */
  fetch?: typeof fetch;
  /** Plugin-throttling overrides, e.g. a write group without the 1 s spacing in tests. */
  throttle?: Record<string, unknown>;
}

// 4xx are answers, not accidents: none is retried by the retry plugin. Rate limits (403/429 with
// rate-limit headers) are the throttling plugin's, which waits for the reset instead.
const CLIENT_ERRORS = Array.from({ length: 100 }, (_, i) => 400 + i).filter((status) => status !== 429);

function pathOf(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return url;
  }
}

/** One Octokit from `getOctokit` with the retry and throttling plugins. */
export function createGitHubClient(options: GitHubClientOptions): GitHubClient {
  const log = options.log ?? (() => undefined);
  const retryBaseMs = options.retryBaseMs ?? 1000;
  const maxWaitMs = options.maxRateLimitWaitMs ?? 120_000;
  const retries = options.retries ?? 3;
  const onLimit = (kind: string) => (retryAfter: number, request: { method: string; url: string }, _octokit: unknown, retryCount: number) => {
    const waitMs = retryAfter * retryBaseMs;
    if (retryCount >= retries || waitMs > maxWaitMs) {
      log(`GitHub ${kind} on ${request.method} ${request.url}: not retrying (would wait ${Math.round(waitMs / 1000)} s, attempt ${retryCount + 1})`);
      return false;
    }
    log(`GitHub ${kind} on ${request.method} ${request.url}: waiting ${Math.round(waitMs / 1000)} s, then retrying`);
    return true;
  };
  const octokit = getOctokit(
    options.token,
    {
      baseUrl: (options.baseUrl ?? process.env.GITHUB_API_URL ?? 'https://api.github.com').replace(/\/+$/, ''),
      // Only 5xx (and network failures, which Octokit reports as 500) are retried.
      retry: { retries, retryAfterBaseValue: retryBaseMs, doNotRetry: CLIENT_ERRORS },
      throttle: {
        retryAfterBaseValue: retryBaseMs,
        onRateLimit: onLimit('rate limit'),
        onSecondaryRateLimit: onLimit('secondary rate limit'),
        ...options.throttle,
      },
      ...(options.fetch ? { request: { fetch: options.fetch } } : {}),
      log: { debug: () => undefined, info: () => undefined, warn: (m: string) => log(m), error: (m: string) => log(m) },
    },
    retry,
    throttling,
  );
  const timeoutMs = options.requestTimeoutMs ?? 30_000;
  octokit.hook.before('request', (request) => {
    // The caller's own signal (an aborted rollout step) still cancels the request.
    const deadline = AbortSignal.timeout(timeoutMs);
    const own = (request.request as { signal?: AbortSignal } | undefined)?.signal;
    request.request = { ...request.request, signal: own ? AbortSignal.any([own, deadline]) : deadline };
    options.beforeRequest?.(request as unknown as Parameters<NonNullable<GitHubClientOptions['beforeRequest']>>[0]);
  });
  octokit.hook.error('request', async (error, request) => {
    // The expanded URL names the real repository and id; the route template does not.
    const sent = (error as { request?: { url?: string } }).request?.url;
    throw explainGitHubError(error, `${request.method} ${sent ? pathOf(sent) : request.url}`, options.tokenInput ?? 'github-token', options.permission);
  });
  return octokit;
}

interface RequestErrorLike {
  status?: number;
  message?: string;
  response?: { headers?: Record<string, string | undefined>; data?: unknown };
}

/** A GitHub answer other than a bad token or a missing permission, keeping its status and message for callers that act on them (a 422 lost race, a 409 empty repository). */
export class GitHubRequestError extends ProviderError {
  constructor(
    readonly status: number | undefined,
    /** GitHub's own `message` (with its `errors`), e.g. `Update is not a fast forward`. */
    readonly apiMessage: string,
    detail: string,
    retryable = false,
  ) {
    super('github', detail, retryable);
  }
}

/**
 * Turns an Octokit failure into an error a release engineer can act on: a bad token or a
 * missing permission names the token input and the permission (`deployments: write` unless
 * told otherwise); the rest names the call.
 */
export function explainGitHubError(error: unknown, call: string, tokenInput = 'github-token', permission = DEPLOYMENTS_PERMISSION): Error {
  if (error instanceof UserError) return error;
  const e = (error ?? {}) as RequestErrorLike;
  const status = typeof e.status === 'number' ? e.status : undefined;
  const apiMessage = messageOf(e.response?.data) ?? e.message ?? String(error);
  const fix = `the job needs \`permissions: ${permission}\` (or a token that has it) in input ${tokenInput}`;
  if (status === 401) return new UserError(`GitHub rejected the token in input ${tokenInput} (401: ${apiMessage}) on ${call}; pass a valid token: ${fix}`);
  if (status === 403 && e.response?.headers?.['x-ratelimit-remaining'] === '0')
    return new GitHubRequestError(status, apiMessage, `${call}: rate limit exhausted and its reset is too far away to wait for (${apiMessage})`, true);
  if (status === 403) return new UserError(`GitHub refused ${call} (403: ${apiMessage}): the token in input ${tokenInput} lacks permission; ${fix}`);
  if (status === 404)
    return new GitHubRequestError(
      status,
      apiMessage,
      `${call}: not found (404: ${apiMessage}); check GITHUB_REPOSITORY and that the token in input ${tokenInput} can see the repository`,
    );
  if (status !== undefined && status >= 500) return new GitHubRequestError(status, apiMessage, `${call}: GitHub answered ${status} after retries (${apiMessage})`, true);
  if (status !== undefined) return new GitHubRequestError(status, apiMessage, `${call}: ${status} ${apiMessage}`);
  return new GitHubRequestError(undefined, apiMessage, `${call}: ${apiMessage}`, true);
}

function messageOf(data: unknown): string | undefined {
  if (data && typeof data === 'object' && 'message' in data && typeof data.message === 'string') {
    const errors =
      'errors' in data && Array.isArray(data.errors) ? data.errors.map((x: unknown) => (x && typeof x === 'object' && 'message' in x ? String(x.message) : JSON.stringify(x))) : [];
    return errors.length ? `${data.message}: ${errors.join('; ')}` : data.message;
  }
  return undefined;
}
