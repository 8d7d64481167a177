/**
 * HTTP plumbing for API Gateway REST proxy handlers: problem+json answers (RFC 9457), body checks in
 * the contract's order (415, 413, 400), and the caller's identity from the authorizer context.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { HttpError, type Violation } from '#shared/errors.ts';
import type { Scope } from '#shared/flows/registry.ts';
import { PROBLEM_CONTENT_TYPE, PROBLEMS } from '#shared/handlers/problems.ts';

export { PROBLEM_CONTENT_TYPE };

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: Violation[];
  instance?: string;
}

export function problemResponse(error: HttpError, requestId?: string): APIGatewayProxyResult {
  const body: Problem = {
    type: error.type,
    title: error.title,
    status: error.statusCode,
    // What is not exposed stays in the logs; the caller gets a request id to quote.
    detail: error.expose
      ? error.message
      : 'The integration failed unexpectedly. Quote the instance to support.',
    ...(error.expose && error.violations ? { errors: error.violations } : {}),
    ...(requestId ? { instance: `urn:request:${requestId}` } : {}),
  };
  return {
    statusCode: error.statusCode,
    headers: { 'Content-Type': PROBLEM_CONTENT_TYPE, ...(error.headers ?? {}) },
    body: JSON.stringify(body),
  };
}

export function jsonResponse(
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): APIGatewayProxyResult {
  return {
    statusCode,
    headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(body),
  };
}

const header = (event: APIGatewayProxyEvent, name: string): string | undefined => {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === wanted && value !== undefined) return value;
  }
  return undefined;
};

/**
 * Reads a JSON body: 415 unless the content type is JSON, 413 over `maxBytes`, 400 when it does not
 * parse. The order matters: a huge non-JSON upload is a 415, not a parse attempt.
 */
export function parseJsonBody(event: APIGatewayProxyEvent, maxBytes: number): unknown {
  const contentType = header(event, 'content-type');
  const mediaType = contentType?.split(';')[0]?.trim().toLowerCase();
  if (mediaType !== 'application/json' && !mediaType?.endsWith('+json')) {
    throw new HttpError(
      PROBLEMS.unsupportedMediaType,
      `Send Content-Type: application/json (got ${contentType ?? 'none'}).`,
    );
  }
  const raw = event.body ?? '';
  const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf-8') : raw;
  const size = Buffer.byteLength(text, 'utf-8');
  if (size > maxBytes) {
    throw new HttpError(
      PROBLEMS.contentTooLarge,
      `The body is ${size} bytes; the limit is ${maxBytes} bytes.`,
    );
  }
  if (text.trim() === '')
    throw new HttpError(PROBLEMS.malformedJson, 'The body is empty; a JSON document is required.');
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new HttpError(PROBLEMS.malformedJson, `The body is not valid JSON: ${(cause as Error).message}`, {
      cause,
    });
  }
}

export interface Caller {
  clientId: string;
  scopes: string[];
}

/**
 * The caller's claims, in either shape API Gateway hands them over: `authorizer.claims.{scope,client_id}`
 * (Cognito-like; what the local host sends) or the flat context of the Lambda authorizer
 * (`authorizer.{scope,client_id,sub}`, see shared/auth/policy.ts). Undefined without either.
 */
function authorizerClaims(event: APIGatewayProxyEvent): Record<string, unknown> | undefined {
  const authorizer = event.requestContext?.authorizer as Record<string, unknown> | null | undefined;
  if (!authorizer || typeof authorizer !== 'object') return undefined;
  const claims = authorizer.claims;
  if (claims && typeof claims === 'object') return claims as Record<string, unknown>;
  if (typeof authorizer.scope === 'string' || typeof authorizer.client_id === 'string') return authorizer;
  return undefined;
}

/**
 * The caller as the authorizer saw it. API Gateway's Lambda authorizer already refused missing or
 * forged tokens (401) and other callers' routes (403); this check is defence in depth, so that a route
 * wired without its authorizer fails closed.
 */
export function authorize(event: APIGatewayProxyEvent, scope: Scope): Caller {
  const claims = authorizerClaims(event);
  if (!claims) {
    throw new HttpError(PROBLEMS.unauthenticated, 'A bearer token issued to this integration is required.', {
      headers: { 'WWW-Authenticate': 'Bearer' },
    });
  }
  const scopeClaim = claims.scope;
  const scopes = typeof scopeClaim === 'string' ? scopeClaim.split(' ').filter(Boolean) : [];
  const clientId = String(claims.client_id ?? claims.sub ?? 'unknown');
  if (!scopes.includes(scope)) {
    throw new HttpError(
      PROBLEMS.forbidden,
      `This route needs the scope ${scope}; the token carries ${scopes.join(' ') || 'none'}.`,
      {
        headers: { 'WWW-Authenticate': `Bearer error="insufficient_scope", scope="${scope}"` },
      },
    );
  }
  return { clientId, scopes };
}
