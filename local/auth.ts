/**
 * The local stand-in for the Cognito user pool: an OAuth 2.0 client-credentials token endpoint whose
 * access tokens are RS256 JWTs shaped like Cognito's (`kid` header; `sub`, `client_id`, `scope`,
 * `token_use: access`, `iss`, `iat`, `exp`, `auth_time`, `jti`, `version`), and the JWKS that verifies
 * them. Nothing here verifies a token: the local gateway hands it to the real authorizer
 * (functions/authorizer/handler.ts), which fetches this JWKS as it fetches the user pool's on AWS.
 *
 * `npm start` generates the key pair once per run, in the supervisor, and writes it (private JWK) to
 * `<LOCAL_DATA_DIR>/token-signing-key.json`: the API process reads it there, so tokens survive
 * a restart of that process, and a test can sign its own token (an expired one, say) with it.
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  type JsonWebKey,
  type KeyObject,
  randomUUID,
  timingSafeEqual,
} from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { SignJWT } from 'jose';
import { CALLERS, type Caller } from '#shared/flows/registry.ts';

export interface LocalClient {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly scopes: readonly string[];
}

/** The default secret of every local client. */
export const DEFAULT_CLIENT_SECRET = 'local-secret';
export const DEFAULT_TOKEN_TTL_SECONDS = 3600;
/** Where an issuer publishes its keys, below its URL, as a Cognito user pool does. */
export const JWKS_PATH = '/.well-known/jwks.json';
/** The key file's name in the data directory. */
export const SIGNING_KEY_FILE = 'token-signing-key.json';
const ALG = 'RS256';

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

// ── The signing key ──────────────────────────────────────────────────────────────────────────────────

/** An RSA private key and the `kid` its tokens and its JWKS entry carry. */
export interface SigningKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
}

/** A fresh 2048-bit RSA key pair, as a user pool signs with. */
export async function generateSigningKey(): Promise<SigningKey> {
  const { privateKey } = await promisify(generateKeyPair)('rsa', { modulusLength: 2048 });
  return { kid: randomUUID(), privateKey };
}

/** The key as a private JWK (with `kid` and `alg`): what the key file holds. */
export function signingKeyJson(key: SigningKey): string {
  return JSON.stringify({ ...key.privateKey.export({ format: 'jwk' }), kid: key.kid, alg: ALG, use: 'sig' });
}

export function parseSigningKey(json: string): SigningKey {
  const jwk = JSON.parse(json) as JsonWebKey & { kid?: unknown };
  if (typeof jwk.kid !== 'string' || jwk.kty !== 'RSA' || !jwk.d) {
    throw new Error('not an RSA private JWK with a kid');
  }
  return { kid: jwk.kid, privateKey: createPrivateKey({ key: jwk, format: 'jwk' }) };
}

/** `<dataDir>/token-signing-key.json` */
export const signingKeyFile = (dataDir: string): string => resolve(dataDir, SIGNING_KEY_FILE);

/** Writes the key for the API process and the tests; readable by its owner only. */
export function writeSigningKey(file: string, key: SigningKey): void {
  writeFileSync(file, `${signingKeyJson(key)}\n`, { mode: 0o600 });
}

export function readSigningKey(file: string): SigningKey {
  return parseSigningKey(readFileSync(file, 'utf8'));
}

/** The JSON Web Key Set the token endpoint's tokens verify against. */
export interface PublicJwks {
  readonly keys: readonly (JsonWebKey & { kid: string; alg: string; use: string })[];
}

export function publicJwks(key: SigningKey): PublicJwks {
  const { kty, n, e } = createPublicKey(key.privateKey).export({ format: 'jwk' });
  return { keys: [{ kty, n, e, kid: key.kid, alg: ALG, use: 'sig' }] };
}

// ── The token endpoint ───────────────────────────────────────────────────────────────────────────────

/** `Authorization: Basic base64(id:secret)` → `{ clientId, clientSecret }`, or undefined. */
export function parseBasicAuth(
  header: string | undefined,
): { clientId: string; clientSecret: string } | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header ?? '');
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  try {
    return {
      clientId: decodeURIComponent(decoded.slice(0, colon)),
      clientSecret: decodeURIComponent(decoded.slice(colon + 1)),
    };
  } catch {
    return undefined;
  }
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
  readonly signingKey: SigningKey;
  /** Every token's `iss`; the JWKS is served at `<issuer>/.well-known/jwks.json`. */
  readonly issuer: string;
  readonly clients: readonly LocalClient[];
  /** @default 3600 */
  readonly ttlSeconds?: number;
}

export interface TokenService {
  readonly issuer: string;
  /** The token endpoint: form body and Authorization header in, OAuth answer out. */
  issue(form: URLSearchParams, authorization: string | undefined): Promise<TokenAnswer>;
  /** Signs a token for a client without checking its secret (tests). */
  sign(clientId: string, scopes: readonly string[], ttlSeconds?: number): Promise<string>;
  /** The public keys, as served at {@link JWKS_PATH}. */
  jwks(): PublicJwks;
}

/**
 * A Cognito-shaped access token of `clientId`, signed with `key`. `claims` overrides any claim (a test's
 * other issuer or expired `exp`).
 */
export function signAccessToken(
  key: SigningKey,
  issuer: string,
  clientId: string,
  scopes: readonly string[],
  ttlSeconds = DEFAULT_TOKEN_TTL_SECONDS,
  claims: Record<string, unknown> = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    sub: clientId,
    token_use: 'access',
    scope: scopes.join(' '),
    auth_time: now,
    iss: issuer,
    exp: now + ttlSeconds,
    iat: now,
    version: 2,
    jti: randomUUID(),
    client_id: clientId,
    ...claims,
  })
    .setProtectedHeader({ kid: key.kid, alg: ALG })
    .sign(key.privateKey);
}

export function createTokenService(options: TokenServiceOptions): TokenService {
  const ttl = options.ttlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS;
  const sign = (clientId: string, scopes: readonly string[], ttlSeconds = ttl) =>
    signAccessToken(options.signingKey, options.issuer, clientId, scopes, ttlSeconds);
  const keys = publicJwks(options.signingKey);
  return {
    issuer: options.issuer,
    sign,
    jwks: () => keys,
    async issue(form, authorization) {
      const client = authenticateClient(options.clients, form, authorization);
      if (!client) return { status: 401, body: { error: 'invalid_client' } };
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
  };
}

/** Client authentication first, as RFC 6749 §5.2 orders the errors: HTTP Basic, else the form. */
function authenticateClient(
  clients: readonly LocalClient[],
  form: URLSearchParams,
  authorization: string | undefined,
): LocalClient | undefined {
  const credentials = parseBasicAuth(authorization) ?? {
    clientId: form.get('client_id') ?? '',
    clientSecret: form.get('client_secret') ?? '',
  };
  const client = clients.find((c) => c.clientId === credentials.clientId);
  return client && equal(client.clientSecret, credentials.clientSecret) ? client : undefined;
}
