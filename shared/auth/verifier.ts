/**
 * Bearer token verification for the API authorizer: the token must be an access token of the callers'
 * issuer, issued to one of the callers' app clients, signed with a key of the issuer's JWKS and not
 * expired. `aws-jwt-verify` does the checks and caches the JWKS per process.
 *
 *   no / malformed / expired / forged / wrong-issuer / ID token  → UnauthorizedError     → 401
 *   valid token, scope of another caller (or none)              → policy without route → 403
 *   valid token with the route's scope                          → policy allowing it   → the function
 *   JWKS unreachable, bad configuration                          → AuthorizerUnavailableError → 503
 *
 * One verifier for AWS and the local stack, told apart only by where the issuer is:
 *
 *   AWS    COGNITO_USER_POOL_ID ─▶ issuer https://cognito-idp.<region>.amazonaws.com/<pool>
 *                                  (and Cognito's issuer-cognito-idp form, as CognitoJwtVerifier accepts)
 *   local  TOKEN_ISSUER_URL     ─▶ issuer http://127.0.0.1:<api port> (local/auth.ts signs RS256)
 *   both   JWKS at <issuer>/.well-known/jwks.json, COGNITO_CLIENT_IDS, Cognito's access-token checks
 *
 * `CognitoJwtVerifier` cannot be pointed at any issuer but a user pool's, so this is aws-jwt-verify's
 * generic verifier with the very checks `CognitoJwtVerifier` makes (`validateCognitoJwtFields`:
 * `token_use: access`, `client_id` one of the list), and a JWKS fetcher that speaks http as well.
 */

import { CognitoJwtVerifier, JwtRsaVerifier } from 'aws-jwt-verify';
import { validateCognitoJwtFields } from 'aws-jwt-verify/cognito-verifier';
import {
  FetchError,
  JwksValidationError,
  JwtBaseError,
  NonRetryableFetchError,
  ParameterValidationError,
} from 'aws-jwt-verify/error';
import type { Fetcher } from 'aws-jwt-verify/https';
import { type Jwks, SimpleJwksCache } from 'aws-jwt-verify/jwk';
import type { JwtPayload } from 'aws-jwt-verify/jwt-model';
import type { APIGatewayAuthorizerResult } from 'aws-lambda';
import { AuthorizerUnavailableError, UnauthorizedError } from '#shared/auth/errors.ts';
import { AUTHORIZER, authorizerResult } from '#shared/auth/policy.ts';
import { maybeString, requireString } from '#shared/config/env.ts';
import { ConfigurationError } from '#shared/errors.ts';

/** An issuer whose tokens are accepted, and where it publishes its signing keys. */
export interface TokenIssuer {
  readonly issuer: string;
  readonly jwksUri: string;
}

export interface AuthorizerConfig {
  /** Accepted issuers: a user pool's (both of Cognito's forms), or the local token endpoint. */
  readonly issuers: readonly TokenIssuer[];
  /** App client ids whose access tokens are accepted. */
  readonly clientIds: readonly string[];
}

/** An issuer's keys, where Cognito and the local token endpoint both publish them. */
const jwksUriOf = (issuer: string): TokenIssuer => ({
  issuer,
  jwksUri: `${issuer.replace(/\/+$/, '')}/.well-known/jwks.json`,
});

/**
 * A user pool's issuers and JWKS, as `CognitoJwtVerifier` derives them: `https://cognito-idp.<region>…`
 * and the `issuer-cognito-idp` form. A malformed pool id is a configuration error.
 */
export function cognitoIssuers(userPoolId: string): TokenIssuer[] {
  try {
    const regional = CognitoJwtVerifier.parseUserPoolId(userPoolId);
    const globalForm = regional.issuer.replace('https://cognito-idp.', 'https://issuer-cognito-idp.');
    return [regional, CognitoJwtVerifier.parseUserPoolId(userPoolId, globalForm)];
  } catch (error) {
    throw new ConfigurationError(`${AUTHORIZER.userPoolIdEnv} is not a user pool id: "${userPoolId}"`, {
      key: AUTHORIZER.userPoolIdEnv,
      cause: error,
    });
  }
}

/**
 * Reads the issuer and the allowed client ids: the user pool the construct sets on AWS
 * (`COGNITO_USER_POOL_ID`), or the local token endpoint's issuer (`TOKEN_ISSUER_URL`) that the local
 * stack sets instead (see `AUTHORIZER`).
 */
export function readAuthorizerConfig(env?: Record<string, string | undefined>): AuthorizerConfig {
  const localIssuer = maybeString(AUTHORIZER.issuerUrlEnv, env);
  const issuers = localIssuer
    ? [jwksUriOf(localIssuer)]
    : cognitoIssuers(requireString(AUTHORIZER.userPoolIdEnv, env));
  const clientIds = requireString(AUTHORIZER.clientIdsEnv, env)
    .split(',')
    .map((id) => id.trim())
    .filter(Boolean);
  return { issuers, clientIds };
}

/** The claims of a verified access token that the authorizer reads. */
export interface VerifiedAccessToken {
  readonly sub: string;
  readonly client_id: string;
  readonly scope?: string;
}

/** What the authorizer needs of a verifier. */
export interface AccessTokenVerifier {
  verify(token: string): Promise<VerifiedAccessToken>;
}

/** The verifier the authorizer holds for the life of its process. */
export interface CachingAccessTokenVerifier extends AccessTokenVerifier {
  /** Caches a JWKS for one issuer, or for every configured issuer (tests, and a warm start). */
  cacheJwks(jwks: Jwks, issuer?: string): void;
}

/** The library's timeout for a JWKS answer. */
const JWKS_RESPONSE_TIMEOUT_MS = 3000;

/**
 * Fetches a JWKS like aws-jwt-verify's own fetcher (a non-200 is final, any other failure is retried
 * once at once, 3 s per answer), over `fetch`, which takes http (the local issuer) as well as https.
 */
export const jwksFetcher: Fetcher = {
  async fetch(uri) {
    try {
      return await fetchOnce(uri);
    } catch (error) {
      if (error instanceof NonRetryableFetchError) throw error;
      return fetchOnce(uri);
    }
  },
};

async function fetchOnce(uri: string): Promise<ArrayBuffer> {
  let response: Response;
  try {
    response = await fetch(uri, { signal: AbortSignal.timeout(JWKS_RESPONSE_TIMEOUT_MS) });
  } catch (error) {
    throw new FetchError(uri, (error as Error).message);
  }
  if (response.status !== 200) {
    await response.body?.cancel();
    throw new NonRetryableFetchError(uri, `Status code is ${response.status}, expected 200`);
  }
  return response.arrayBuffer();
}

/**
 * A verifier of access tokens of `config.issuers` (RS256 against the issuer's JWKS, `exp`, `iss`),
 * with Cognito's access-token checks: `token_use: access`, `client_id` one of `config.clientIds`.
 * Access tokens carry no `aud`; the client id is their audience.
 */
export function createAccessTokenVerifier(config: AuthorizerConfig): CachingAccessTokenVerifier {
  const clientId = [...config.clientIds];
  const verifier = JwtRsaVerifier.create(
    config.issuers.map(({ issuer, jwksUri }) => ({
      issuer,
      jwksUri,
      audience: null,
      customJwtCheck: ({ payload }: { payload: JwtPayload }) =>
        validateCognitoJwtFields(payload, { tokenUse: 'access', clientId }),
    })),
    { jwksCache: new SimpleJwksCache({ fetcher: jwksFetcher }) },
  );
  return {
    verify: async (token) => (await verifier.verify(token)) as unknown as VerifiedAccessToken,
    cacheJwks(jwks, issuer) {
      for (const i of issuer ? [issuer] : config.issuers.map((c) => c.issuer)) verifier.cacheJwks(jwks, i);
    },
  };
}

/** `Bearer <token>` → the token, or undefined. The scheme is case-insensitive (RFC 9110). */
export function bearerToken(authorization: string | undefined): string | undefined {
  return /^Bearer[ \t]+([A-Za-z0-9\-._~+/]+=*)[ \t]*$/i.exec(authorization ?? '')?.[1];
}

/**
 * Verifies the `Authorization` header and answers with the policy for the token's scopes. Throws
 * {@link UnauthorizedError} for any token that is not a valid access token of an allowed client.
 */
export async function authorizeToken(
  verifier: AccessTokenVerifier,
  authorization: string | undefined,
  methodArn: string,
): Promise<APIGatewayAuthorizerResult> {
  const token = bearerToken(authorization);
  if (token === undefined) {
    throw new UnauthorizedError(authorization ? 'not a bearer token' : 'no Authorization header');
  }
  let payload: VerifiedAccessToken;
  try {
    payload = await verifier.verify(token);
  } catch (error) {
    throw classify(error);
  }
  return authorizerResult(
    {
      sub: payload.sub,
      client_id: payload.client_id,
      scope: typeof payload.scope === 'string' ? payload.scope : '',
    },
    methodArn,
  );
}

/**
 * A token fault is a 401; not being able to fetch the issuer's keys is not the caller's fault. (A token
 * of an issuer not configured surfaces as a `ParameterValidationError`, "issuer not configured": a
 * token fault.)
 */
function classify(error: unknown): unknown {
  if (error instanceof FetchError || error instanceof JwksValidationError) {
    return new AuthorizerUnavailableError(`Cannot verify tokens: ${error.message}`, { cause: error });
  }
  if (error instanceof ParameterValidationError || error instanceof JwtBaseError) {
    return new UnauthorizedError(error.message, { cause: error });
  }
  return error;
}
