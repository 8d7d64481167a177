import * as apigw from 'aws-cdk-lib/aws-apigateway';

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
  readonly status: number;
  readonly title: string;
  readonly detail: string;
  /** `WWW-Authenticate`, the challenge the handlers' own 401/403 carry (RFC 6750). @default none */
  readonly challenge?: string;
}

const VALIDATION_ERRORS = '"$context.error.validationErrorString"';
const ERROR_MESSAGE = '$context.error.messageString';
const { ResponseType } = apigw;

const PROBLEM_RESPONSES: readonly ProblemResponse[] = [
  {
    id: 'BadRequestBody',
    type: ResponseType.BAD_REQUEST_BODY,
    status: 400,
    title: 'Bad Request',
    detail: VALIDATION_ERRORS,
  },
  {
    id: 'BadRequestParameters',
    type: ResponseType.BAD_REQUEST_PARAMETERS,
    status: 400,
    title: 'Bad Request',
    detail: VALIDATION_ERRORS,
  },
  {
    id: 'Unauthorized',
    type: ResponseType.UNAUTHORIZED,
    status: 401,
    title: 'Unauthorized',
    detail: ERROR_MESSAGE,
    challenge: "'Bearer'",
  },
  {
    id: 'MissingToken',
    type: ResponseType.MISSING_AUTHENTICATION_TOKEN,
    status: 401,
    title: 'Unauthorized',
    detail: ERROR_MESSAGE,
  },
  {
    id: 'AccessDenied',
    type: ResponseType.ACCESS_DENIED,
    status: 403,
    title: 'Forbidden',
    detail: ERROR_MESSAGE,
    challenge: `'Bearer error="insufficient_scope"'`,
  },
  {
    id: 'TooLarge',
    type: ResponseType.REQUEST_TOO_LARGE,
    status: 413,
    title: 'Content Too Large',
    detail: ERROR_MESSAGE,
  },
  {
    id: 'Throttled',
    type: ResponseType.THROTTLED,
    status: 429,
    title: 'Too Many Requests',
    detail: ERROR_MESSAGE,
  },
  {
    id: 'WafBlocked',
    type: ResponseType.WAF_FILTERED,
    status: 403,
    title: 'Forbidden',
    detail: ERROR_MESSAGE,
  },
  {
    id: 'Default5xx',
    type: ResponseType.DEFAULT_5XX,
    status: 503,
    title: 'Service Unavailable',
    detail: '"The request may not have been accepted; retrying with the same body is safe."',
  },
];

function addProblemResponse(api: apigw.RestApi, r: ProblemResponse): void {
  api.addGatewayResponse(r.id, {
    type: r.type,
    statusCode: String(r.status),
    responseHeaders: {
      'Content-Type': "'application/problem+json'",
      ...(r.challenge ? { 'WWW-Authenticate': r.challenge } : {}),
    },
    templates: {
      'application/json': `{"type":"about:blank","title":"${r.title}","status":${r.status},"detail":${r.detail}}`,
    },
  });
}
