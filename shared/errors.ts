/**
 * Errors shared by every flow. Each carries typed fields instead of meaning encoded in its message,
 * and HTTP-facing errors carry their problem type (status, type, title) and `expose`: what is not
 * exposed becomes a generic problem and the diagnostics stay in the logs.
 */
import { PROBLEMS, type ProblemType } from '#shared/handlers/problems.ts';

/** A single violation, reported in a problem+json `errors` array. `path` is a JSON Pointer into the body. */
export interface Violation {
  path: string;
  message: string;
}

export class IntegrationError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'IntegrationError';
  }
}

export class ConfigurationError extends IntegrationError {
  readonly key: string;
  constructor(message: string, options: ErrorOptions & { key: string }) {
    super(message, options);
    this.name = 'ConfigurationError';
    this.key = options.key;
  }
}

/** An error that maps to an RFC 9457 problem answer: one of {@link PROBLEMS}, and what happened. */
export class HttpError extends IntegrationError {
  readonly statusCode: number;
  readonly type: string;
  readonly title: string;
  /** Whether the caller may read the detail; else it stays in the logs. @default below 500, or 503 */
  readonly expose: boolean;
  readonly violations?: Violation[];
  readonly headers?: Record<string, string>;
  constructor(
    problem: ProblemType,
    detail: string,
    options?: ErrorOptions & { violations?: Violation[]; headers?: Record<string, string>; expose?: boolean },
  ) {
    super(detail, options);
    this.name = 'HttpError';
    this.statusCode = problem.status;
    this.type = problem.type;
    this.title = problem.title;
    this.expose = options?.expose ?? (problem.status < 500 || problem.status === 503);
    if (options?.violations) this.violations = options.violations;
    if (options?.headers) this.headers = options.headers;
  }
}

/** 422: the body is JSON but breaks the schema or a business rule. Lists every violation. */
export class ValidationError extends HttpError {
  constructor(
    violations: Violation[],
    detail = 'The message breaks the contract; see errors for every violation.',
  ) {
    super(PROBLEMS.validationFailed, detail, { violations });
    this.name = 'ValidationError';
  }
}

/** Outbound delivery failed. `retryable` decides between back-off and immediate dead-lettering. */
export class DeliveryError extends IntegrationError {
  readonly retryable: boolean;
  readonly statusCode?: number;
  /** Seconds the receiver asked us to wait (`Retry-After`), when it did. */
  readonly retryAfterSeconds?: number;
  /** The receiver's answer, trimmed, for the trace. */
  readonly responseBody?: string;
  constructor(
    message: string,
    options: ErrorOptions & {
      retryable: boolean;
      statusCode?: number;
      retryAfterSeconds?: number;
      responseBody?: string;
    },
  ) {
    super(message, options);
    this.name = 'DeliveryError';
    this.retryable = options.retryable;
    if (options.statusCode !== undefined) this.statusCode = options.statusCode;
    if (options.retryAfterSeconds !== undefined) this.retryAfterSeconds = options.retryAfterSeconds;
    if (options.responseBody !== undefined) this.responseBody = options.responseBody;
  }
}

/** Processing must be tried again later, for a reason other than delivery (e.g. an ack overtook its request). */
export class RetryLaterError extends IntegrationError {
  readonly delaySeconds?: number;
  constructor(message: string, options?: ErrorOptions & { delaySeconds?: number }) {
    super(message, options);
    this.name = 'RetryLaterError';
    if (options?.delaySeconds !== undefined) this.delaySeconds = options.delaySeconds;
  }
}

/** A queued message that can never succeed (unreadable envelope, payload gone). Dead-lettered at once. */
export class PoisonMessageError extends IntegrationError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PoisonMessageError';
  }
}
