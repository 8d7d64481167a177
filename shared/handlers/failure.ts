/**
 * What happens to a message whose processing failed: retried later, or dead-lettered now, and why.
 * Pure: the clock, the randomness and the attempts so far are inputs, so every rule is unit-tested.
 *
 *   permanent (other 4xx, poison, broken contract)          → dead-letter now, with the answer
 *   retryable, retry window over                             → dead-letter now, "retry window exhausted"
 *   retryable (network, timeout, 408, 429, 5xx, our own hiccup) → retry after the back-off or Retry-After
 *   a deliberate wait (RetryLaterError)                      → retry after its delay, costing no attempt
 *
 * Attempts are the integration's own count of delivery tries, not SQS receives: a wait or a FIFO skip
 * costs none. The window counts from acceptance, so an outage shorter than it loses nothing.
 */
import { MAX_DELAY_SECONDS, nextDelaySeconds, type RetryPolicy } from '#shared/delivery/retry.ts';
import { DeliveryError, HttpError, PoisonMessageError, RetryLaterError } from '#shared/errors.ts';

export const FAILURE_ACTIONS = { RETRY: 'retry', DEAD_LETTER: 'dead-letter' } as const;
export type FailureAction = (typeof FAILURE_ACTIONS)[keyof typeof FAILURE_ACTIONS];

export interface FailureDecision {
  readonly action: FailureAction;
  /** Why, for the trace and the DLQ: the error described, prefixed when the window is over. */
  readonly reason: string;
  /**
   * Why, for the logs: as `reason`, but a receiver's answer named by its status, error code and length
   * only, since it may echo what it was sent (see {@link describeErrorForLog}). Absent when `reason`
   * holds no receiver's answer.
   */
  readonly logReason?: string;
  /** Delivery attempts of this message so far, this one included. */
  readonly attempts: number;
  /** When retrying: the visibility delay, and when the next attempt is due. */
  readonly delaySeconds?: number;
  readonly nextAttemptAt?: Date;
  /** A permanent refusal (or a message that can never be processed), not an exhausted window. */
  readonly permanent: boolean;
}

export interface FailureInput {
  readonly error: unknown;
  /** Delivery attempts recorded before this one. */
  readonly attemptsBefore: number;
  readonly acceptedAt: Date;
  readonly now: Date;
  readonly policy: RetryPolicy;
  /** No receive is left after this one (the crash-loop backstop): a retry would not happen. */
  readonly lastReceive?: boolean;
  readonly random?: () => number;
}

export const RETRY_WINDOW_EXHAUSTED = 'retry window exhausted';

/** Why a failure is or is not worth another try. Anything unknown (a DynamoDB hiccup, a bug) is retried. */
export function isPermanent(error: unknown): boolean {
  if (error instanceof PoisonMessageError) return true;
  if (error instanceof DeliveryError) return !error.retryable;
  if (error instanceof HttpError) return error.statusCode >= 400 && error.statusCode < 500;
  return false;
}

/** A deliberate wait rather than a failed try. */
export const isWait = (error: unknown): error is RetryLaterError => error instanceof RetryLaterError;

/** The error for the trace and the DLQ: a receiver's answer included, trimmed. */
export function describeError(error: unknown): string {
  if (error instanceof DeliveryError) {
    return error.responseBody ? `${error.message}: ${error.responseBody}` : error.message;
  }
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/**
 * The error for a log line. A receiver's answer may echo what it was sent (a network address, a
 * customer's comments), so it is named by its status, its error code and its length only; the trace
 * keeps the answer itself ({@link describeError}).
 */
export function describeErrorForLog(error: unknown): string {
  if (error instanceof DeliveryError && error.responseBody) {
    const status = error.statusCode === undefined ? '' : `status ${error.statusCode}, `;
    const code = errorCodeOf(error.responseBody);
    return `${error.message} (${status}${code ? `code ${code}, ` : ''}answer of ${error.responseBody.length} chars)`;
  }
  return describeError(error);
}

/** A JSON answer's error code (`code`, `errorCode`, `error`, or a problem's `type`), when it is one token. */
export function errorCodeOf(body: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (!parsed || typeof parsed !== 'object') return undefined;
  const fields = parsed as Record<string, unknown>;
  const code = [fields.code, fields.errorCode, fields.error, fields.type].find(
    (v): v is string => typeof v === 'string' && /^[\w.:/#-]{1,100}$/.test(v) && v !== 'about:blank',
  );
  return code;
}

const retryAfterOf = (error: unknown): number | undefined =>
  error instanceof DeliveryError
    ? error.retryAfterSeconds
    : error instanceof RetryLaterError
      ? error.delaySeconds
      : undefined;

export function decideFailure(input: FailureInput): FailureDecision {
  const { error, now, policy } = input;
  const attempts = isWait(error) ? input.attemptsBefore : input.attemptsBefore + 1;
  // Why, twice: for the trace and the DLQ (a receiver's answer included), and for the logs (not).
  const why = (prefix?: string) => {
    const [reason, logReason] = [describeError(error), describeErrorForLog(error)];
    return prefix
      ? { reason: `${prefix}: ${reason}`, logReason: `${prefix}: ${logReason}` }
      : { reason, logReason };
  };
  const deadLetter = { action: FAILURE_ACTIONS.DEAD_LETTER, attempts };
  if (isPermanent(error)) return { ...deadLetter, ...why(), permanent: true };
  const windowEndsMs = input.acceptedAt.getTime() + policy.windowSeconds * 1000;
  const remainingSeconds = Math.floor((windowEndsMs - now.getTime()) / 1000);
  if (remainingSeconds <= 0) {
    const exhausted = `${RETRY_WINDOW_EXHAUSTED} (${policy.windowSeconds} s, ${attempts} attempts)`;
    return { ...deadLetter, ...why(exhausted), permanent: false };
  }
  if (input.lastReceive) {
    return { ...deadLetter, ...why(`receive limit reached (${attempts} attempts)`), permanent: false };
  }
  const asked = retryAfterOf(error);
  let delaySeconds = nextDelaySeconds(Math.max(1, attempts), asked, policy, input.random);
  // A back-off of ours ends with the window, so the last try is at its end; a receiver's Retry-After is
  // honoured as asked, even past it (one more try then).
  if (asked === undefined) delaySeconds = Math.max(1, Math.min(delaySeconds, remainingSeconds));
  delaySeconds = Math.min(delaySeconds, MAX_DELAY_SECONDS);
  return {
    action: FAILURE_ACTIONS.RETRY,
    ...why(),
    attempts,
    delaySeconds,
    nextAttemptAt: new Date(now.getTime() + delaySeconds * 1000),
    permanent: false,
  };
}

/** The decision for an error, made once: asking again for the same error answers the same. */
export function memoiseDecisions(
  decide: (error: unknown) => FailureDecision,
): (error: unknown) => FailureDecision {
  const made = new Map<unknown, FailureDecision>();
  return (error) => {
    let decision = made.get(error);
    if (!decision) {
      decision = decide(error);
      made.set(error, decision);
    }
    return decision;
  };
}
