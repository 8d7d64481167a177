/**
 * The one error path of the HTTP handlers: a middy `onError` middleware (in the manner of
 * `@middy/http-error-handler`) that turns whatever a handler threw into a problem+json answer.
 *
 *   HttpError                                   → its own status, type, title and headers
 *   IdempotencyValidationError (same key, other body) → 409 conflicting duplicate
 *   IdempotencyAlreadyInProgressError (same key in flight) → 503, Retry-After: 1
 *   transient AWS error (throttled, unavailable, network)  → 503, Retry-After: 5
 *   anything else (a bug)                       → 503, Retry-After: 5; the detail in the logs only
 *
 * No bad input reaches the last two rows: every refusal of input is an HttpError below 500.
 */
import {
  IdempotencyAlreadyInProgressError,
  IdempotencyValidationError,
} from '@aws-lambda-powertools/idempotency';
import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { HttpError } from '#shared/errors.ts';
import { problemResponse } from '#shared/handlers/http.ts';
import { PROBLEMS } from '#shared/handlers/problems.ts';
import { logger } from '#shared/observability.ts';

export interface ProblemErrorHandlerOptions {
  /** Added to every problem answer of the route, e.g. a deprecated route's `Deprecation`. @default none */
  readonly headers?: Readonly<Record<string, string>>;
  /** Added to the log line of every refusal or failure, e.g. `{ flow }`. @default none */
  readonly logKeys?: Readonly<Record<string, unknown>>;
  /**
   * What a 503 for a transient AWS error tells the caller.
   * @default 'The integration is unavailable for a moment; nothing was changed. Retry.'
   */
  readonly unavailableDetail?: string;
}

const DEFAULT_UNAVAILABLE_DETAIL = 'The integration is unavailable for a moment; nothing was changed. Retry.';

/** Answers every error of the handler as problem+json; unless another middleware answered already. */
export function problemErrorHandler(
  options: ProblemErrorHandlerOptions = {},
): MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  return {
    onError: (request) => {
      if (request.response !== undefined && request.response !== null) return;
      const refusal = toHttpError(request.error, options.unavailableDetail ?? DEFAULT_UNAVAILABLE_DETAIL);
      logRefusal(refusal, request.error, options.logKeys ?? {});
      const answer = problemResponse(refusal, request.context.awsRequestId);
      request.response = { ...answer, headers: { ...options.headers, ...answer.headers } };
    },
  };
}

/** What the caller is told about `error`: the error itself when it is an HttpError, else its meaning. */
export function toHttpError(error: unknown, unavailableDetail = DEFAULT_UNAVAILABLE_DETAIL): HttpError {
  if (error instanceof HttpError) return error;
  const cause = { cause: error };
  if (error instanceof IdempotencyValidationError) {
    return new HttpError(
      PROBLEMS.conflictingDuplicate,
      'A different message with the same business key was already accepted.',
      cause,
    );
  }
  if (error instanceof IdempotencyAlreadyInProgressError) {
    return new HttpError(
      PROBLEMS.unavailable,
      'The same message is being accepted by a parallel request. Retry.',
      { ...cause, headers: { 'Retry-After': '1' } },
    );
  }
  if (isTransientAwsError(error)) {
    return new HttpError(PROBLEMS.unavailable, unavailableDetail, {
      ...cause,
      headers: { 'Retry-After': '5' },
    });
  }
  return new HttpError(
    PROBLEMS.unavailable,
    'The integration failed unexpectedly; nothing was accepted. Retry.',
    { ...cause, expose: false, headers: { 'Retry-After': '5' } },
  );
}

/** A refusal of the request is news (info); a failure of ours is an error, logged with its cause. */
function logRefusal(refusal: HttpError, error: unknown, keys: Readonly<Record<string, unknown>>): void {
  if (refusal.statusCode < 500) {
    logger.info('Request refused', { ...keys, status: refusal.statusCode, detail: refusal.message });
  } else if (refusal === error) {
    logger.error('Request not accepted', { ...keys, error });
  } else {
    logger.error('Request failed', { ...keys, error });
  }
}

/** AWS SDK errors that mean "try again": throttling, timeouts, service unavailability. */
export function isTransientAwsError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as {
    $retryable?: unknown;
    $metadata?: { httpStatusCode?: number };
    name?: string;
    cause?: unknown;
    code?: string;
  };
  if (e.$retryable) return true;
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined && (status >= 500 || status === 429)) return true;
  if (e.name === 'IdempotencyPersistenceLayerError' || e.name === 'TimeoutError') return true;
  if (e.cause) return isTransientAwsError(e.cause);
  return ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT'].some((code) => e.code === code);
}
