/** Errors of the API authorizer. */
import { IntegrationError } from '#shared/errors.ts';

/**
 * The token is missing, malformed, expired, forged, from another issuer or not an access token of an
 * allowed client. The message is exactly `Unauthorized`: that is what makes API Gateway answer 401
 * (the UNAUTHORIZED gateway response) instead of 500. Why it failed stays in `reason`, for the logs.
 */
export class UnauthorizedError extends IntegrationError {
  readonly reason: string;
  constructor(reason: string, options?: ErrorOptions) {
    super('Unauthorized', options);
    this.name = 'UnauthorizedError';
    this.reason = reason;
  }
}

/**
 * The token could not be judged: the user pool's JWKS could not be fetched, or the authorizer is
 * misconfigured. API Gateway answers any error other than `Unauthorized` with 500
 * (AUTHORIZER_FAILURE), which the gateway responses turn into a 503 problem: the caller retries
 * instead of taking a good token for a bad one.
 */
export class AuthorizerUnavailableError extends IntegrationError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'AuthorizerUnavailableError';
  }
}
