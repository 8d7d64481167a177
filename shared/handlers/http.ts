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

/** A problem lists at most this many violations; its `detail` says how many more there were. */
export const MAX_LISTED_VIOLATIONS = 100;
/** The JSON bytes the listed violations take at most, so that a problem body stays under 64 KiB. */
export const MAX_LISTED_VIOLATION_BYTES = 48 * 1024;
/** The longest `path` or `message` of a listed violation, in UTF-16 code units; longer is cut with "…". */
export const MAX_VIOLATION_TEXT = 512;
/** The longest `detail`; a detail may echo the caller's input (a content type, a parse error). */
export const MAX_DETAIL_TEXT = 1000;

/** `text` cut to `max` code units, ending in "…" when cut, never in half a surrogate pair. */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max - 1);
  return `${/[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut}…`;
}

/**
 * The violations a problem lists: the first {@link MAX_LISTED_VIOLATIONS}, each cut to
 * {@link MAX_VIOLATION_TEXT}, as many as fit in {@link MAX_LISTED_VIOLATION_BYTES}; and how many were
 * left out. A body with thousands of unknown properties has thousands of violations, and one with a
 * megabyte-long key echoes it: neither may turn the answer into a bigger document than the request.
 */
export function listedViolations(violations: readonly Violation[]): {
  errors: Violation[];
  omitted: number;
} {
  const errors: Violation[] = [];
  let bytes = 2;
  for (const violation of violations) {
    if (errors.length === MAX_LISTED_VIOLATIONS) break;
    const listed = {
      path: clip(violation.path, MAX_VIOLATION_TEXT),
      message: clip(violation.message, MAX_VIOLATION_TEXT),
    };
    bytes += Buffer.byteLength(JSON.stringify(listed)) + 1;
    if (bytes > MAX_LISTED_VIOLATION_BYTES) break;
    errors.push(listed);
  }
  return { errors, omitted: violations.length - errors.length };
}

/** The problem's `detail` and `errors`: what is not exposed stays in the logs, the list is capped. */
function detailAndErrors(error: HttpError): Pick<Problem, 'detail' | 'errors'> {
  // The caller gets a request id to quote instead.
  if (!error.expose) return { detail: 'The integration failed unexpectedly. Quote the instance to support.' };
  const detail = clip(error.message, MAX_DETAIL_TEXT);
  if (!error.violations) return { detail };
  const { errors, omitted } = listedViolations(error.violations);
  if (omitted === 0) return { detail, errors };
  const more = `${omitted} more violation${omitted === 1 ? ' is' : 's are'} not listed (${errors.length} of ${error.violations.length} shown).`;
  return { detail: `${detail} ${more}`, errors };
}

export function problemResponse(error: HttpError, requestId?: string): APIGatewayProxyResult {
  const body: Problem = {
    type: error.type,
    title: error.title,
    status: error.statusCode,
    ...detailAndErrors(error),
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

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The text of a body API Gateway handed over as bytes (base64). JSON is UTF-8 (RFC 8259): bytes that are not
 * are refused rather than read with replacement characters, which would change the identifiers they carry.
 */
function utf8Text(bytes: Buffer): string {
  try {
    return UTF8.decode(bytes);
  } catch (cause) {
    throw new HttpError(PROBLEMS.malformedJson, 'The body is not valid UTF-8; JSON must be.', { cause });
  }
}

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
      `Send Content-Type: application/json (got ${contentType === undefined ? 'none' : clip(contentType, 200)}).`,
    );
  }
  const raw = event.body ?? '';
  const bytes = event.isBase64Encoded ? Buffer.from(raw, 'base64') : undefined;
  const size = bytes ? bytes.length : Buffer.byteLength(raw, 'utf-8');
  if (size > maxBytes) {
    throw new HttpError(
      PROBLEMS.contentTooLarge,
      `The body is ${size} bytes; the limit is ${maxBytes} bytes.`,
    );
  }
  const text = bytes ? utf8Text(bytes) : raw;
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
