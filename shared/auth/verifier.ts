/**
 * Bearer token verification for the API authorizer: the token must be a Cognito access token of the
 * callers' user pool, issued to one of the callers' app clients, signed with a key of the pool's JWKS
 * and not expired. `aws-jwt-verify` does the checks and caches the JWKS per process.
 *
 *   no / malformed / expired / forged / wrong-issuer / ID token  → UnauthorizedError     → 401
 *   valid token, scope of another caller (or none)              → policy without route → 403
 *   valid token with the route's scope                          → policy allowing it   → the function
 *   JWKS unreachable, bad configuration                          → AuthorizerUnavailableError → 503
 */

import { CognitoJwtVerifier } from 'aws-jwt-verify';
import { FetchError, JwksValidationError, JwtBaseError } from 'aws-jwt-verify/error';
import type { APIGatewayAuthorizerResult } from 'aws-lambda';
import { AuthorizerUnavailableError, UnauthorizedError } from '#shared/auth/errors.ts';
import { AUTHORIZER, authorizerResult } from '#shared/auth/policy.ts';
import { requireString } from '#shared/config/env.ts';

export interface AuthorizerConfig {
  readonly userPoolId: string;
  /** App client ids whose access tokens are accepted. */
  readonly clientIds: readonly string[];
}

/** Reads the user pool id and the allowed client ids the construct sets (see `AUTHORIZER`). */
export function readAuthorizerConfig(env?: Record<string, string | undefined>): AuthorizerConfig {
  const userPoolId = requireString(AUTHORIZER.userPoolIdEnv, env);
  const clientIds = requireString(AUTHORIZER.clientIdsEnv, env)
    .split(',')
    .map((id) => id.trim())
    .filter(Boolean);
  return { userPoolId, clientIds };
}

/** The claims of a verified access token that the authorizer reads. */
export interface VerifiedAccessToken {
  readonly sub: string;
  readonly client_id: string;
  readonly scope?: string;
}

/** What the authorizer needs of a verifier; a `CognitoJwtVerifier` for access tokens is one. */
export interface AccessTokenVerifier {
  verify(token: string): Promise<VerifiedAccessToken>;
}

/** A verifier of the pool's access tokens (`token_use: access`, `client_id` one of `clientIds`). */
export function createAccessTokenVerifier(config: AuthorizerConfig) {
  return CognitoJwtVerifier.create({
    userPoolId: config.userPoolId,
    tokenUse: 'access',
    clientId: [...config.clientIds],
  });
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
 * A token fault is a 401; not being able to fetch the pool's keys is not the caller's fault. (A token of
 * another issuer surfaces as a `ParameterValidationError`, "issuer not configured": a token fault.)
 */
function classify(error: unknown): unknown {
  if (error instanceof FetchError || error instanceof JwksValidationError) {
    return new AuthorizerUnavailableError(`Cannot verify tokens: ${error.message}`, { cause: error });
  }
  if (error instanceof JwtBaseError) return new UnauthorizedError(error.message, { cause: error });
  return error;
}
