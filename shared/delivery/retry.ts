/**
 * Failure classification and back-off for outbound calls. Pure: no clock, no randomness of its own
 * (both are parameters), so the process handler's decisions can be tested without AWS or HTTP.
 *
 * Contract, "Outbound calls": network errors, timeouts, 408, 429 and 5xx are retried with exponential
 * back-off and jitter, honouring `Retry-After`; other 4xx are permanent.
 */

export const HTTP_OUTCOMES = { ok: 'ok', retryable: 'retryable', permanent: 'permanent' } as const;
export type HttpOutcome = (typeof HTTP_OUTCOMES)[keyof typeof HTTP_OUTCOMES];

/** The longest delay SQS can apply: the maximum visibility timeout, 12 hours. */
export const MAX_DELAY_SECONDS = 43_200;

export interface BackoffOptions {
  /** Ceiling of the first retry's delay; it doubles with every attempt. */
  readonly baseSeconds: number;
  /** Upper bound of any back-off delay (itself held to {@link MAX_DELAY_SECONDS}). */
  readonly maxSeconds: number;
}

/**
 * 2xx is ok; 408, 429 and 5xx are worth another try; everything else (1xx, 3xx, other 4xx, nonsense)
 * is permanent. Redirects are not followed on purpose: a 3xx means the base URL or path is wrong.
 */
export function classifyHttpStatus(status: number): HttpOutcome {
  if (status >= 200 && status <= 299) return HTTP_OUTCOMES.ok;
  if (status === 408 || status === 429 || (status >= 500 && status <= 599)) return HTTP_OUTCOMES.retryable;
  return HTTP_OUTCOMES.permanent;
}

const DELTA_SECONDS = /^\d+$/;
// RFC 9110 HTTP-date in any of its three forms starts with a day name. Requiring it keeps
// `Date.parse`'s lenient guesses ("5" → May 2001) out.
const HTTP_DATE = /^(mon|tue|wed|thu|fri|sat|sun)[a-z]*,?\s/i;

/**
 * Seconds a `Retry-After` header asks us to wait, clamped to [0, {@link MAX_DELAY_SECONDS}], or
 * `undefined` when the header is absent or malformed. An HTTP-date in the past gives 0.
 */
export function parseRetryAfter(header: string | null | undefined, now: Date): number | undefined {
  if (header === null || header === undefined) return undefined;
  const value = header.trim();
  let seconds: number;
  if (DELTA_SECONDS.test(value)) {
    seconds = Number(value);
  } else if (HTTP_DATE.test(value)) {
    const at = Date.parse(value);
    if (Number.isNaN(at)) return undefined;
    seconds = Math.ceil((at - now.getTime()) / 1000);
  } else {
    return undefined;
  }
  return clamp(seconds, 0, MAX_DELAY_SECONDS);
}

/**
 * Exponential back-off with full jitter: a whole number of seconds drawn from
 * [1, min(maxSeconds, baseSeconds · 2^(attempt−1))]. `attempt` counts from 1 (the first retry);
 * anything lower or non-finite counts as 1. Never below 1 s, so a retry never spins hot, even when
 * `maxSeconds` is configured below 1.
 */
export function backoffSeconds(
  attempt: number,
  opts: BackoffOptions,
  random: () => number = Math.random,
): number {
  const n = Number.isFinite(attempt) ? Math.max(1, Math.floor(attempt)) : 1;
  const cap = Math.min(opts.maxSeconds, MAX_DELAY_SECONDS, opts.baseSeconds * 2 ** (n - 1));
  const ceiling = Number.isFinite(cap) ? Math.floor(cap) : 1;
  const r = random();
  const drawn = Math.ceil((Number.isFinite(r) ? clamp(r, 0, 1) : 1) * ceiling);
  return Math.max(1, Math.min(ceiling, drawn));
}

/**
 * The delay before the next attempt: the receiver's `Retry-After` when it gave one (capped at
 * {@link MAX_DELAY_SECONDS}), else {@link backoffSeconds}.
 */
export function nextDelaySeconds(
  attempt: number,
  retryAfterSeconds: number | undefined,
  opts: BackoffOptions,
  random: () => number = Math.random,
): number {
  if (retryAfterSeconds !== undefined && Number.isFinite(retryAfterSeconds)) {
    return clamp(Math.ceil(retryAfterSeconds), 0, MAX_DELAY_SECONDS);
  }
  return backoffSeconds(attempt, opts, random);
}

const clamp = (value: number, min: number, max: number): number => Math.min(max, Math.max(min, value));
