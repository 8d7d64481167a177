/**
 * The local stand-in for the Cognito user pool: an OAuth 2.0 client-credentials token endpoint and the
 * verification API Gateway's Cognito authorizer does. Tokens are HS256 JWTs shaped like Cognito access
 * tokens (`client_id`, `sub`, `scope`, `token_use: access`).
 *
 * The signing secret comes from `LOCAL_JWT_SECRET`; `npm start` generates one per run and hands it to
 * the functions process, so tokens survive a restart of that process. A test can sign its own token
 * (an expired one, say) with the same secret.
 */
import { randomUUID, timingSafeEqual } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { CALLERS, type Caller } from '#shared/flows/registry.ts';

export interface LocalClient {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly scopes: readonly string[];
}

/** The default secret of every local client. */
export const DEFAULT_CLIENT_SECRET = 'local-secret';
export const DEFAULT_TOKEN_TTL_SECONDS = 3600;
export const TOKEN_ISSUER = 'local-integration';

/**
 * `dacs-local`, `derms-local` and `support-local`, each with the scope of its name. The secret is
 * `local-secret` unless `LOCAL_CLIENT_SECRET` (all clients) or `<CALLER>_LOCAL_CLIENT_SECRET`
 * (e.g. `DACS_LOCAL_CLIENT_SECRET`) says otherwise.
 */
export function localClients(env: Readonly<Record<string, string | undefined>> = {}): LocalClient[] {
  return (Object.keys(CALLERS) as Caller[]).map((caller) => ({
    clientId: `${caller}-local`,
    clientSecret:
      env[`${caller.toUpperCase()}_LOCAL_CLIENT_SECRET`] || env.LOCAL_CLIENT_SECRET || DEFAULT_CLIENT_SECRET,
    scopes: [CALLERS[caller]],
  }));
}

/** The claims API Gateway's Cognito authorizer puts into `requestContext.authorizer.claims`. */
export interface AccessClaims {
  readonly sub: string;
  readonly client_id: string;
  readonly scope: string;
  readonly token_use: 'access';
  readonly iss: string;
  readonly exp: number;
  readonly iat: number;
  readonly jti: string;
}

/** Whether a space-separated `scope` claim grants `required`. */
export function hasScope(scopeClaim: string | undefined, required: string): boolean {
  return (scopeClaim ?? '').split(/\s+/).includes(required);
}

/** `Authorization: Basic base64(id:secret)` → `{ clientId, clientSecret }`, or undefined. */
export function parseBasicAuth(
  header: string | undefined,
): { clientId: string; clientSecret: string } | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header ?? '');
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return {
    clientId: decodeURIComponent(decoded.slice(0, colon)),
    clientSecret: decodeURIComponent(decoded.slice(colon + 1)),
  };
}

/** `Authorization: Bearer <token>` → the token, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}

const equal = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

export interface TokenAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

export interface TokenServiceOptions {
  /** HS256 secret, at least 32 characters. */
  readonly secret: string;
  readonly clients: readonly LocalClient[];
  /** @default 3600 */
  readonly ttlSeconds?: number;
}

export type VerifyResult = { ok: true; claims: AccessClaims } | { ok: false; reason: string };

export interface TokenService {
  /** The token endpoint: form body and Authorization header in, OAuth answer out. */
  issue(form: URLSearchParams, authorization: string | undefined): Promise<TokenAnswer>;
  /** Signs a token for a client without checking its secret (tests, the DERMS simulator). */
  sign(clientId: string, scopes: readonly string[], ttlSeconds?: number): Promise<string>;
  verify(token: string): Promise<VerifyResult>;
}

export function createTokenService(options: TokenServiceOptions): TokenService {
  const key = new TextEncoder().encode(options.secret);
  const ttl = options.ttlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS;

  const sign = (clientId: string, scopes: readonly string[], ttlSeconds = ttl) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ client_id: clientId, scope: scopes.join(' '), token_use: 'access' })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(clientId)
      .setIssuer(TOKEN_ISSUER)
      .setIssuedAt(now)
      .setExpirationTime(now + ttlSeconds)
      .setJti(randomUUID())
      .sign(key);
  };

  return {
    sign,
    async issue(form, authorization) {
      // Client authentication first, as RFC 6749 §5.2 orders the errors.
      const basic = parseBasicAuth(authorization);
      const credentials = basic ?? {
        clientId: form.get('client_id') ?? '',
        clientSecret: form.get('client_secret') ?? '',
      };
      const client = options.clients.find((c) => c.clientId === credentials.clientId);
      if (!client || !equal(client.clientSecret, credentials.clientSecret)) {
        return { status: 401, body: { error: 'invalid_client' } };
      }
      if (form.get('grant_type') !== 'client_credentials') {
        return { status: 400, body: { error: 'unsupported_grant_type' } };
      }
      const requested = form.get('scope')?.split(/\s+/).filter(Boolean);
      const scopes = requested?.length ? requested : client.scopes;
      if (!scopes.every((s) => client.scopes.includes(s))) {
        return { status: 400, body: { error: 'invalid_scope' } };
      }
      return {
        status: 200,
        body: { access_token: await sign(client.clientId, scopes), token_type: 'Bearer', expires_in: ttl },
      };
    },
    async verify(token) {
      try {
        const { payload } = await jwtVerify(token, key, { issuer: TOKEN_ISSUER, algorithms: ['HS256'] });
        if (payload.token_use !== 'access' || typeof payload.client_id !== 'string') {
          return { ok: false, reason: 'not an access token' };
        }
        return { ok: true, claims: payload as unknown as AccessClaims };
      } catch (error) {
        if (error instanceof joseErrors.JWTExpired) return { ok: false, reason: 'token expired' };
        return { ok: false, reason: 'token invalid' };
      }
    },
  };
}
