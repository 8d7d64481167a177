/**
 * The OAuth 2.0 client credentials grant (RFC 6749 §4.4): one token request, its answer turned into a
 * bearer header with a refresh time, or into a {@link DeliveryError} classified for the retry policy.
 */
import type { ClientCredentials } from '#shared/delivery/credentialSource.ts';
import { classifyHttpStatus, parseRetryAfter } from '#shared/delivery/retry.ts';
import {
  type FetchLike,
  isTimeout,
  networkReason,
  trimBody,
  USER_AGENT,
} from '#shared/delivery/transport.ts';
import { DeliveryError } from '#shared/errors.ts';
import type { TargetSystem } from '#shared/flows/registry.ts';

export interface IssuedToken {
  readonly header: string;
  /** Epoch ms after which the token is fetched again. */
  readonly refreshAt: number;
}

export interface TokenRequestDeps {
  readonly fetch: FetchLike;
  /** Wall clock in epoch milliseconds. */
  readonly now: () => number;
  readonly timeoutMs: number;
}

interface TokenAnswer {
  readonly status: number;
  readonly retryAfter: string | null;
  readonly text: string;
}

/** Used when a token answer omits `expires_in`. RFC 6749 leaves the lifetime to the server then. */
const DEFAULT_TOKEN_LIFETIME_SECONDS = 300;
const HEADER_SAFE = /^[\x21-\x7e]+$/;

export async function requestToken(
  system: TargetSystem,
  credentials: ClientCredentials,
  deps: TokenRequestDeps,
): Promise<IssuedToken> {
  const endpoint = displayUrl(credentials.tokenUrl);
  const sentAt = deps.now();
  const answer = await postTokenRequest(system, endpoint, credentials, deps);
  // Every token failure is retried, a refused client (400/401 invalid_client) too: it is our
  // configuration (a rotated or mistyped secret), fixed by the platform team, not a fault of the
  // message. The message backs off and dead-letters only after maxReceiveCount, reason recorded.
  if (classifyHttpStatus(answer.status) !== 'ok') throw refusal(system, endpoint, answer, deps.now());
  const token = parseTokenAnswer(answer.text);
  if (token === undefined) {
    // A 2xx without a usable token is a misconfigured tokenUrl (an HTML page, a proxy), not a blip.
    throw new DeliveryError(
      `${system} token endpoint ${endpoint} answered ${answer.status} without a usable access_token`,
      { retryable: false, statusCode: answer.status },
    );
  }
  const marginSeconds = Math.max(30, token.expiresIn * 0.1);
  return {
    header: `Bearer ${token.accessToken}`,
    refreshAt: sentAt + (token.expiresIn - marginSeconds) * 1000,
  };
}

/** The token endpoint refused the client itself (400/401), which a rotated secret would explain. */
export function isRejectedClient(error: unknown): boolean {
  return error instanceof DeliveryError && (error.statusCode === 400 || error.statusCode === 401);
}

/** POSTs the grant with HTTP Basic client authentication (RFC 6749 §2.3.1); a network failure is retryable. */
async function postTokenRequest(
  system: TargetSystem,
  endpoint: string,
  credentials: ClientCredentials,
  { fetch, timeoutMs }: TokenRequestDeps,
): Promise<TokenAnswer> {
  const form = new URLSearchParams({ grant_type: 'client_credentials' });
  if (credentials.scope) form.set('scope', credentials.scope);
  // RFC 6749 §2.3.1: the client id and secret are form-encoded before Basic encoding.
  const basic = Buffer.from(
    `${formEncode(credentials.clientId)}:${formEncode(credentials.clientSecret)}`,
    'utf8',
  ).toString('base64');
  try {
    const response = await fetch(credentials.tokenUrl, {
      method: 'POST',
      headers: {
        Authorization: `Basic ${basic}`,
        'Content-Type': 'application/x-www-form-urlencoded',
        Accept: 'application/json',
        'User-Agent': USER_AGENT,
      },
      body: form.toString(),
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    const retryAfter = response.headers.get('retry-after');
    return { status: response.status, retryAfter, text: await response.text() };
  } catch (cause) {
    const what = isTimeout(cause)
      ? `did not answer within ${timeoutMs} ms`
      : `could not be reached: ${networkReason(cause)}`;
    throw new DeliveryError(`${system} token endpoint ${endpoint} ${what}`, { retryable: true, cause });
  }
}

function refusal(system: TargetSystem, endpoint: string, answer: TokenAnswer, now: number): DeliveryError {
  const code = oauthErrorCode(answer.text);
  const retryAfterSeconds = parseRetryAfter(answer.retryAfter, new Date(now));
  const responseBody = trimBody(answer.text);
  return new DeliveryError(
    `${system} token endpoint ${endpoint} answered ${answer.status}${code ? ` (${code})` : ''}`,
    {
      retryable: true,
      statusCode: answer.status,
      ...(retryAfterSeconds !== undefined && { retryAfterSeconds }),
      ...(responseBody !== undefined && { responseBody }),
    },
  );
}

function parseTokenAnswer(text: string): { accessToken: string; expiresIn: number } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { access_token: accessToken, expires_in: rawExpiresIn } = parsed as Record<string, unknown>;
  if (typeof accessToken !== 'string' || !HEADER_SAFE.test(accessToken)) return undefined;
  // Some servers send expires_in as a string.
  const expiresIn = Number(rawExpiresIn ?? DEFAULT_TOKEN_LIFETIME_SECONDS);
  return {
    accessToken,
    expiresIn: Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : DEFAULT_TOKEN_LIFETIME_SECONDS,
  };
}

/** The RFC 6749 `error` code of a token error answer, when it is a short printable string. */
function oauthErrorCode(text: string): string | undefined {
  try {
    const { error } = JSON.parse(text) as { error?: unknown };
    return typeof error === 'string' && /^[\x20-\x7e]{1,64}$/.test(error) ? error : undefined;
  } catch {
    return undefined;
  }
}

const formEncode = (value: string): string => new URLSearchParams({ v: value }).toString().slice(2);

/** Origin and path only: a query string could carry something that does not belong in a trace. */
function displayUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
}
