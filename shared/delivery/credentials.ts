/**
 * Credentials for outbound calls: OAuth 2.0 client credentials per receiver, turned into a cached
 * bearer token.
 *
 * Where the client id and secret come from, per system (`DERMS` or `DACS`):
 *
 *   <SYSTEM>_CREDENTIALS_SECRET_ARN set ──▶ Secrets Manager, JSON, cached for `secretTtlMs` (AWS)
 *   else <SYSTEM>_CREDENTIALS set       ──▶ the same JSON inline (local stack)
 *   else                                ──▶ no credentials: no Authorization header
 *
 * The JSON is `{ clientId, clientSecret, tokenUrl, scope? }`. A token is reused until shortly before it
 * expires (`expires_in` minus the larger of 30 s and 10 %), concurrent callers share one token request,
 * and a receiver's 401 drops the token it rejected (see {@link CredentialsProvider.invalidate}).
 */
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { secretsManagerClient } from '#shared/aws/clients.ts';
import { maybeString, optionalNumber } from '#shared/config/env.ts';
import { CredentialsNotFilledError } from '#shared/delivery/errors.ts';
import { classifyHttpStatus, parseRetryAfter } from '#shared/delivery/retry.ts';
import {
  DEFAULT_HTTP_TIMEOUT_MS,
  type FetchLike,
  isTimeout,
  networkReason,
  trimBody,
  USER_AGENT,
} from '#shared/delivery/transport.ts';
import { DeliveryError } from '#shared/errors.ts';
import type { TargetSystem } from '#shared/flows/registry.ts';

type Env = Record<string, string | undefined>;

export interface ClientCredentials {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly tokenUrl: string;
  readonly scope?: string;
}

export interface CredentialsProvider {
  /** `Bearer <token>` for the system, or `undefined` when it has no credentials configured. */
  authorizationHeader(system: TargetSystem): Promise<string | undefined>;
  /**
   * The receiver answered 401 to `header`: forget that token so the next call fetches a new one. A
   * header that is no longer the cached one (another caller already refreshed it) is ignored, so a burst
   * of 401s costs one token request, not one each.
   */
  invalidate(system: TargetSystem, header: string): void;
}

export interface CredentialsProviderDeps {
  /** @default the global `fetch` */
  readonly fetch?: FetchLike;
  /** @default `process.env`, through `#shared/config/env.ts` */
  readonly env?: Env;
  /** @default `secretsManagerClient()`, created only when a secret ARN is configured */
  readonly secrets?: SecretsManagerClient;
  /** Wall clock in epoch milliseconds, for token and secret expiry. @default Date.now */
  readonly now?: () => number;
  /** How long a secret read from Secrets Manager is reused. @default 300000 (5 min) */
  readonly secretTtlMs?: number;
  /** Token request timeout. @default `HTTP_TIMEOUT_MS`, else 10000 */
  readonly timeoutMs?: number;
}

/** Used when a token answer omits `expires_in`. RFC 6749 leaves the lifetime to the server then. */
const DEFAULT_TOKEN_LIFETIME_SECONDS = 300;
const DEFAULT_SECRET_TTL_MS = 5 * 60_000;
const FILL_HINT = 'Fill it with JSON {"clientId", "clientSecret", "tokenUrl", "scope"?}.';
const HEADER_SAFE = /^[\x21-\x7e]+$/;

type Source =
  | { readonly kind: 'none' }
  | { readonly kind: 'secret'; readonly key: string; readonly arn: string }
  | { readonly kind: 'inline'; readonly key: string; readonly raw: string };

interface CachedToken {
  readonly header: string;
  /** Epoch ms after which the token is fetched again. */
  readonly refreshAt: number;
}

interface LoadedCredentials {
  readonly credentials: ClientCredentials;
  /** True when served from the secret cache rather than read just now. */
  readonly cached: boolean;
}

export function createCredentialsProvider(deps: CredentialsProviderDeps = {}): CredentialsProvider {
  const fetchFn: FetchLike = deps.fetch ?? ((input, init) => fetch(input, init));
  const now = deps.now ?? Date.now;
  const secretTtlMs = deps.secretTtlMs ?? DEFAULT_SECRET_TTL_MS;
  const timeoutMs = deps.timeoutMs ?? optionalNumber('HTTP_TIMEOUT_MS', DEFAULT_HTTP_TIMEOUT_MS, deps.env);

  const sources = new Map<TargetSystem, Source>();
  const secretCache = new Map<TargetSystem, { credentials: ClientCredentials; readAt: number }>();
  const secretReads = new Map<TargetSystem, Promise<ClientCredentials>>();
  const tokens = new Map<TargetSystem, CachedToken>();
  const tokenRequests = new Map<TargetSystem, Promise<string>>();

  /** The environment is read once per system. */
  function sourceFor(system: TargetSystem): Source {
    let source = sources.get(system);
    if (source === undefined) {
      const secretKey = `${system}_CREDENTIALS_SECRET_ARN`;
      const inlineKey = `${system}_CREDENTIALS`;
      const arn = maybeString(secretKey, deps.env);
      const raw = arn === undefined ? maybeString(inlineKey, deps.env) : undefined;
      source =
        arn !== undefined
          ? { kind: 'secret', key: secretKey, arn }
          : raw !== undefined
            ? { kind: 'inline', key: inlineKey, raw }
            : { kind: 'none' };
      sources.set(system, source);
    }
    return source;
  }

  async function readSecret(
    system: TargetSystem,
    source: Source & { kind: 'secret' },
  ): Promise<ClientCredentials> {
    let answer: { SecretString?: string };
    try {
      answer = await (deps.secrets ?? secretsManagerClient()).send(
        new GetSecretValueCommand({ SecretId: source.arn }),
      );
    } catch (cause) {
      // Access denied, a secret not created yet, throttling: all fixed without touching the message.
      const reason = (cause as { name?: unknown } | null)?.name;
      throw new DeliveryError(
        `${system} credentials could not be read from secret ${source.arn} (${source.key}): ${typeof reason === 'string' ? reason : 'unknown error'}`,
        { retryable: true, cause },
      );
    }
    const credentials = parseCredentials(system, answer.SecretString, source);
    secretCache.set(system, { credentials, readAt: now() });
    return credentials;
  }

  async function loadCredentials(
    system: TargetSystem,
    source: Source,
    fresh: boolean,
  ): Promise<LoadedCredentials> {
    if (source.kind === 'inline')
      return { credentials: parseCredentials(system, source.raw, source), cached: false };
    if (source.kind !== 'secret') throw new Error(`no credentials source for ${system}`);
    const hit = secretCache.get(system);
    if (!fresh && hit !== undefined && now() - hit.readAt < secretTtlMs) {
      return { credentials: hit.credentials, cached: true };
    }
    let read = secretReads.get(system);
    if (read === undefined) {
      read = readSecret(system, source).finally(() => secretReads.delete(system));
      secretReads.set(system, read);
    }
    return { credentials: await read, cached: false };
  }

  async function requestToken(system: TargetSystem, credentials: ClientCredentials): Promise<CachedToken> {
    const endpoint = displayUrl(credentials.tokenUrl);
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (credentials.scope) form.set('scope', credentials.scope);
    // RFC 6749 §2.3.1: the client id and secret are form-encoded before Basic encoding.
    const basic = Buffer.from(
      `${formEncode(credentials.clientId)}:${formEncode(credentials.clientSecret)}`,
      'utf8',
    ).toString('base64');
    const sentAt = now();
    let status: number;
    let retryAfter: string | null;
    let text: string;
    try {
      const response = await fetchFn(credentials.tokenUrl, {
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
      status = response.status;
      retryAfter = response.headers.get('retry-after');
      text = await response.text();
    } catch (cause) {
      const what = isTimeout(cause)
        ? `did not answer within ${timeoutMs} ms`
        : `could not be reached: ${networkReason(cause)}`;
      throw new DeliveryError(`${system} token endpoint ${endpoint} ${what}`, { retryable: true, cause });
    }

    // Every token failure is retried, a refused client (400/401 invalid_client) too: it is our
    // configuration (a rotated or mistyped secret), fixed by the platform team, not a fault of the
    // message. The message backs off and dead-letters only after maxReceiveCount, reason recorded.
    if (classifyHttpStatus(status) !== 'ok') {
      const code = oauthErrorCode(text);
      const retryAfterSeconds = parseRetryAfter(retryAfter, new Date(now()));
      const responseBody = trimBody(text);
      throw new DeliveryError(
        `${system} token endpoint ${endpoint} answered ${status}${code ? ` (${code})` : ''}`,
        {
          retryable: true,
          statusCode: status,
          ...(retryAfterSeconds !== undefined && { retryAfterSeconds }),
          ...(responseBody !== undefined && { responseBody }),
        },
      );
    }

    const token = parseTokenAnswer(text);
    if (token === undefined) {
      // A 2xx without a usable token is a misconfigured tokenUrl (an HTML page, a proxy), not a blip.
      throw new DeliveryError(
        `${system} token endpoint ${endpoint} answered ${status} without a usable access_token`,
        {
          retryable: false,
          statusCode: status,
        },
      );
    }
    const marginSeconds = Math.max(30, token.expiresIn * 0.1);
    return {
      header: `Bearer ${token.accessToken}`,
      refreshAt: sentAt + (token.expiresIn - marginSeconds) * 1000,
    };
  }

  async function fetchToken(system: TargetSystem, source: Source): Promise<string> {
    const first = await loadCredentials(system, source, false);
    let token: CachedToken;
    try {
      token = await requestToken(system, first.credentials);
    } catch (error) {
      // The secret may have been rotated since we cached it: read it again, and retry once if it changed.
      if (!(first.cached && isRejectedClient(error))) throw error;
      const fresh = await loadCredentials(system, source, true);
      if (sameClient(fresh.credentials, first.credentials)) throw error;
      token = await requestToken(system, fresh.credentials);
    }
    // A token that lives shorter than the safety margin is used once and not cached.
    if (token.refreshAt > now()) tokens.set(system, token);
    return token.header;
  }

  return {
    async authorizationHeader(system) {
      const source = sourceFor(system);
      if (source.kind === 'none') return undefined;
      const cached = tokens.get(system);
      if (cached !== undefined && now() < cached.refreshAt) return cached.header;
      let request = tokenRequests.get(system);
      if (request === undefined) {
        request = fetchToken(system, source).finally(() => tokenRequests.delete(system));
        tokenRequests.set(system, request);
      }
      return request;
    },
    invalidate(system, header) {
      if (tokens.get(system)?.header === header) tokens.delete(system);
    },
  };
}

/** Validates the credentials JSON without ever echoing a value of it. */
function parseCredentials(
  system: TargetSystem,
  raw: string | undefined,
  source: Source & { kind: 'secret' | 'inline' },
): ClientCredentials {
  const where =
    source.kind === 'secret' ? `secret ${source.arn} (${source.key})` : `environment variable ${source.key}`;
  const notFilled = (problem: string) =>
    new CredentialsNotFilledError(
      `${system} credentials are not filled in: ${where} ${problem}. ${FILL_HINT}`,
      {
        key: source.key,
        ...(source.kind === 'secret' && { secretArn: source.arn }),
      },
    );

  if (raw === undefined || raw.trim() === '') throw notFilled('is empty');
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw notFilled('is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw notFilled('is not a JSON object');
  }
  const record = parsed as Record<string, unknown>;
  const missing = (['clientId', 'clientSecret', 'tokenUrl'] as const).filter(
    (field) => typeof record[field] !== 'string' || (record[field] as string).trim() === '',
  );
  if (missing.length > 0) throw notFilled(`lacks ${missing.join(', ')}`);
  const tokenUrl = record.tokenUrl as string;
  if (!URL.canParse(tokenUrl) || !/^https?:$/.test(new URL(tokenUrl).protocol)) {
    throw notFilled('has a tokenUrl that is not an http(s) URL');
  }
  if (record.scope !== undefined && typeof record.scope !== 'string') {
    throw notFilled('has a scope that is not a string');
  }
  return {
    clientId: record.clientId as string,
    clientSecret: record.clientSecret as string,
    tokenUrl,
    ...(typeof record.scope === 'string' && record.scope !== '' && { scope: record.scope }),
  };
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

/** The token endpoint refused the client itself (400/401), which a rotated secret would explain. */
function isRejectedClient(error: unknown): boolean {
  return error instanceof DeliveryError && (error.statusCode === 400 || error.statusCode === 401);
}

const sameClient = (a: ClientCredentials, b: ClientCredentials): boolean =>
  a.clientId === b.clientId &&
  a.clientSecret === b.clientSecret &&
  a.tokenUrl === b.tokenUrl &&
  a.scope === b.scope;

const formEncode = (value: string): string => new URLSearchParams({ v: value }).toString().slice(2);

/** Origin and path only: a query string could carry something that does not belong in a trace. */
function displayUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
}
