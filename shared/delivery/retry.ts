/**
 * Failure classification and back-off for outbound calls. Pure apart from reading its settings: no
 * clock, no randomness of its own (both are parameters), so the process handler's decisions can be tested without AWS or HTTP.
 *
 * Contract, "Outbound calls": network errors, timeouts, 408, 429 and 5xx are retried with exponential
 * back-off and jitter, honouring `Retry-After`; other 4xx are permanent.
 */

import { readSetting } from '#shared/config/settings.ts';

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
 * Exponential back-off with "equal" jitter: a whole number of seconds drawn from
 * [⌈cap/2⌉, cap], where cap = min(maxSeconds, baseSeconds · 2^(attempt−1)). `attempt` counts from 1
 * (the first retry); anything lower or non-finite counts as 1. Never below 1 s, so a retry never spins
 * hot, even when `maxSeconds` is configured below 1. The lower half-bound is what lets
 * {@link receiveLimit} say how many receives a retry window can take.
 */
export function backoffSeconds(
  attempt: number,
  opts: BackoffOptions,
  random: () => number = Math.random,
): number {
  const ceiling = backoffCeiling(attempt, opts);
  const floor = Math.max(1, Math.ceil(ceiling / 2));
  const r = random();
  const share = Number.isFinite(r) ? clamp(r, 0, 1) : 1;
  return clamp(floor + Math.round(share * (ceiling - floor)), floor, ceiling);
}

function backoffCeiling(attempt: number, opts: BackoffOptions): number {
  const n = Number.isFinite(attempt) ? Math.max(1, Math.floor(attempt)) : 1;
  const cap = Math.min(opts.maxSeconds, MAX_DELAY_SECONDS, opts.baseSeconds * 2 ** (n - 1));
  return Number.isFinite(cap) ? Math.max(1, Math.floor(cap)) : 1;
}

/** The shortest delay {@link backoffSeconds} can draw for an attempt. */
export const minimumBackoffSeconds = (attempt: number, opts: BackoffOptions): number =>
  Math.max(1, Math.ceil(backoffCeiling(attempt, opts) / 2));

/** Every delay is at least this long: a `Retry-After: 0` or a past HTTP-date does not spin hot. */
export const MIN_DELAY_SECONDS = 1;

/**
 * The delay before the next attempt: the receiver's `Retry-After` when it gave one, as asked even above
 * `maxSeconds` (held to [{@link MIN_DELAY_SECONDS}, {@link MAX_DELAY_SECONDS}]), else {@link backoffSeconds}.
 */
export function nextDelaySeconds(
  attempt: number,
  retryAfterSeconds: number | undefined,
  opts: BackoffOptions,
  random: () => number = Math.random,
): number {
  if (retryAfterSeconds !== undefined && Number.isFinite(retryAfterSeconds)) {
    return clamp(Math.ceil(retryAfterSeconds), MIN_DELAY_SECONDS, MAX_DELAY_SECONDS);
  }
  return backoffSeconds(attempt, opts, random);
}

/** Retry settings: the back-off and the window, counted from acceptance, within which it retries. */
export interface RetryPolicy extends BackoffOptions {
  /** Seconds after acceptance after which a retryable failure is dead-lettered. */
  readonly windowSeconds: number;
}

/**
 * Receives a delay of at least this many seconds may still use without being a delivery attempt:
 * deliberate waits (an ack waiting for its sync request, a final ack waiting for the acks before it)
 * and FIFO messages skipped behind a failing one of their group.
 */
export const RECEIVE_SLACK = 100;

/** SQS's upper bound of `maxReceiveCount`. */
export const MAX_RECEIVE_COUNT = 1000;

/**
 * The queues' `maxReceiveCount`, derived from the retry policy. The integration counts its delivery
 * attempts itself and dead-letters when the window is over, so SQS's receive count is only the
 * backstop for crash loops (a function that dies or times out before it can decide). It must never cut
 * a window short: twice the attempts that the shortest back-off delays need to span the window, plus
 * {@link RECEIVE_SLACK} for receives that are not attempts, at most {@link MAX_RECEIVE_COUNT}.
 *
 * Defaults (2 s, 900 s, 24 h): 200 attempts at the shortest delays, so 500 receives.
 */
export function receiveLimit(policy: RetryPolicy): number {
  let attempts = 0;
  for (let spanned = 0; spanned < policy.windowSeconds && attempts < MAX_RECEIVE_COUNT; ) {
    attempts += 1;
    spanned += minimumBackoffSeconds(attempts, policy);
  }
  return Math.min(MAX_RECEIVE_COUNT, 2 * Math.max(1, attempts) + RECEIVE_SLACK);
}

const clamp = (value: number, min: number, max: number): number => Math.min(max, Math.max(min, value));

export const DEFAULT_RETRY_POLICY: RetryPolicy = { baseSeconds: 2, maxSeconds: 900, windowSeconds: 86_400 };

/**
 * The retry policy of the settings `RETRY_BASE_SECONDS`, `RETRY_MAX_SECONDS` and `RETRY_WINDOW_SECONDS`,
 * read through the tunables table (shared/config/tunables.ts), from `env` or `process.env`.
 */
export function retryPolicyFromEnv(env?: Record<string, string | undefined>): RetryPolicy {
  return {
    baseSeconds: readSetting('retryBaseSeconds', env),
    maxSeconds: readSetting('retryMaxSeconds', env),
    windowSeconds: readSetting('retryWindowSeconds', env),
  };
}
