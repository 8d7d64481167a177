import * as apigw from 'aws-cdk-lib/aws-apigateway';
import { PROBLEM_CONTENT_TYPE, PROBLEMS, type ProblemType } from '#shared/handlers/problems.ts';

/** Answers every gateway error of `api` as `application/problem+json`, like the handlers' own errors. */
export function addProblemResponses(api: apigw.RestApi): void {
  for (const response of PROBLEM_RESPONSES) addProblemResponse(api, response);
}

/**
 * A gateway error answered as `application/problem+json`, like the handlers' own errors. `detail` is a
 * JSON value in the mapping template: a quoted string, or a `$context` variable that is one.
 */
interface ProblemResponse {
  readonly id: string;
  readonly type: apigw.ResponseType;
  /** Its row of the one problem table: status, `type` URI and title. */
  readonly problem: ProblemType;
  readonly detail: string;
  /** `WWW-Authenticate`, the challenge the handlers' own 401/403 carry (RFC 6750). @default none */
  readonly challenge?: string;
  /**
   * `Retry-After` in seconds, which the contract's 429 and 503 always carry. A throttled method refills
   * every second; a gateway failure is worth a few seconds' pause, like the handlers' own 503.
   * @default none
   */
  readonly retryAfterSeconds?: number;
}

const VALIDATION_ERRORS = '"$context.error.validationErrorString"';
const ERROR_MESSAGE = '$context.error.messageString';
const { ResponseType } = apigw;

const PROBLEM_RESPONSES: readonly ProblemResponse[] = [
  {
    id: 'BadRequestBody',
    type: ResponseType.BAD_REQUEST_BODY,
    problem: PROBLEMS.badRequest,
    detail: VALIDATION_ERRORS,
  },
  {
    id: 'BadRequestParameters',
    type: ResponseType.BAD_REQUEST_PARAMETERS,
    problem: PROBLEMS.badRequest,
    detail: VALIDATION_ERRORS,
  },
  {
    id: 'Unauthorized',
    type: ResponseType.UNAUTHORIZED,
    problem: PROBLEMS.unauthenticated,
    detail: ERROR_MESSAGE,
    challenge: "'Bearer'",
  },
  {
    id: 'MissingToken',
    type: ResponseType.MISSING_AUTHENTICATION_TOKEN,
    problem: PROBLEMS.unauthenticated,
    detail: ERROR_MESSAGE,
  },
  {
    id: 'AccessDenied',
    type: ResponseType.ACCESS_DENIED,
    problem: PROBLEMS.forbidden,
    detail: ERROR_MESSAGE,
    challenge: `'Bearer error="insufficient_scope"'`,
  },
  {
    id: 'TooLarge',
    type: ResponseType.REQUEST_TOO_LARGE,
    problem: PROBLEMS.contentTooLarge,
    detail: ERROR_MESSAGE,
  },
  {
    id: 'Throttled',
    type: ResponseType.THROTTLED,
    problem: PROBLEMS.throttled,
    detail: ERROR_MESSAGE,
    retryAfterSeconds: 1,
  },
  // The firewall's own rules answer 413, 415 and 429 with custom responses (api-firewall.ts); this is
  // what a managed rule group in block mode answers: a request that looks like an attack, not to retry.
  {
    id: 'WafBlocked',
    type: ResponseType.WAF_FILTERED,
    problem: PROBLEMS.forbidden,
    detail: ERROR_MESSAGE,
  },
  {
    id: 'Default5xx',
    type: ResponseType.DEFAULT_5XX,
    problem: PROBLEMS.unavailable,
    detail: '"The request may not have been accepted; retrying with the same body is safe."',
    retryAfterSeconds: 5,
  },
];

function addProblemResponse(api: apigw.RestApi, r: ProblemResponse): void {
  api.addGatewayResponse(r.id, {
    type: r.type,
    statusCode: String(r.problem.status),
    responseHeaders: {
      'Content-Type': `'${PROBLEM_CONTENT_TYPE}'`,
      ...(r.challenge ? { 'WWW-Authenticate': r.challenge } : {}),
      ...(r.retryAfterSeconds ? { 'Retry-After': `'${r.retryAfterSeconds}'` } : {}),
    },
    templates: {
      'application/json': JSON.stringify({
        type: r.problem.type,
        title: r.problem.title,
        status: r.problem.status,
      }).replace(/\}$/, `,"detail":${r.detail}}`),
    },
  });
}
