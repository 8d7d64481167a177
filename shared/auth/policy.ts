/**
 * What the API authorizer answers for a verified token: an IAM policy over the routes of the flow
 * registry. Pure functions of the token's scopes and the method ARN API Gateway passes in, so that the
 * contract's 403 rule is tested without AWS.
 *
 * The policy lists every route the token's scopes grant, not only the route being called. API Gateway
 * caches the result per token (the authorizer's results cache), and the cached policy is then applied
 * to whichever route the same token calls next:
 *
 *   token with integration/derms ──▶ Allow POST …/v1/derms/asset-sync-acks, POST …/v1/derms/legacy-acks
 *        POST /v1/derms/legacy-acks  → allowed                       → the route's function
 *        POST /v1/dacs/asset-sync    → not listed (implicit deny)    → 403 ACCESS_DENIED
 *   token with no caller scope  ──▶ Deny …/<stage>/*                 → 403 on every route
 *
 * This module imports no AWS client and no JWT library, so CDK code can read `AUTHORIZER` from it.
 */
import type { APIGatewayAuthorizerResult, PolicyDocument } from 'aws-lambda';
import { AuthorizerUnavailableError } from '#shared/auth/errors.ts';
import { flowList, type Scope, SUPPORT_ROUTES } from '#shared/flows/registry.ts';

/** The authorizer function's entry (relative to the repository root) and the environment it reads. */
export const AUTHORIZER = {
  handler: 'functions/authorizer/handler.ts',
  /** The Cognito user pool that issues the callers' access tokens (AWS). */
  userPoolIdEnv: 'COGNITO_USER_POOL_ID',
  /**
   * Instead of a user pool, the issuer URL of another token endpoint serving its JWKS at
   * `<issuer>/.well-known/jwks.json`: the local stack's (local/auth.ts). Never set on AWS.
   */
  issuerUrlEnv: 'TOKEN_ISSUER_URL',
  /** Comma-separated app client ids whose access tokens are accepted (one per caller). */
  clientIdsEnv: 'COGNITO_CLIENT_IDS',
  /**
   * How long API Gateway (and the local host, likewise) keeps the policy per token: short, so an expired
   * token is refused within a minute.
   */
  cacheTtlSeconds: 60,
} as const;

/** One route and the single scope it requires. */
export interface RouteGrant {
  readonly method: string;
  /** Path as in the contract; `{param}` segments match any value. */
  readonly path: string;
  readonly scope: Scope;
}

/** Every route of the API, from the flow registry and the support routes. */
export const ROUTE_GRANTS: readonly RouteGrant[] = [
  ...flowList().map((f) => ({ method: f.route.method, path: f.route.path, scope: f.scope })),
  ...Object.values(SUPPORT_ROUTES).map((r) => ({ method: r.method, path: r.path, scope: r.scope })),
];

/** The parts of `arn:<partition>:execute-api:<region>:<account>:<apiId>/<stage>/<METHOD>/<path>`. */
export interface MethodArn {
  /** `arn:<partition>:execute-api:<region>:<account>:<apiId>` */
  readonly apiArn: string;
  readonly stage: string;
}

export function parseMethodArn(methodArn: string): MethodArn {
  const match = /^(arn:[^:]+:execute-api:[^:]+:[^:]+:[^/:]+)\/([^/]+)\/[^/]+\//.exec(methodArn);
  if (!match) throw new AuthorizerUnavailableError(`Unrecognised method ARN ${methodArn}`);
  return { apiArn: match[1]!, stage: match[2]! };
}

/** The method ARN of a route on the API and stage of `arn`: `{param}` becomes `*`. */
export function routeArn(arn: MethodArn, route: Pick<RouteGrant, 'method' | 'path'>): string {
  return `${arn.apiArn}/${arn.stage}/${route.method}${route.path.replace(/\{[^}/]+\}/g, '*')}`;
}

/**
 * The IAM policy for a token carrying `scopes`, on the API and stage of `methodArn`: Allow on exactly
 * the routes whose scope the token carries; an explicit Deny on the whole stage when it carries none.
 * A route not allowed is denied either way, and API Gateway answers it with 403.
 */
export function policyFor(
  scopes: readonly string[],
  methodArn: string,
  routes: readonly RouteGrant[] = ROUTE_GRANTS,
): PolicyDocument {
  const arn = parseMethodArn(methodArn);
  const allowed = [...new Set(routes.filter((r) => scopes.includes(r.scope)).map((r) => routeArn(arn, r)))];
  return {
    Version: '2012-10-17',
    Statement: [
      allowed.length > 0
        ? { Action: 'execute-api:Invoke', Effect: 'Allow', Resource: allowed }
        : { Action: 'execute-api:Invoke', Effect: 'Deny', Resource: `${arn.apiArn}/${arn.stage}/*` },
    ],
  };
}

/** The verified claims the authorizer passes on. */
export interface CallerClaims {
  readonly sub: string;
  readonly client_id: string;
  /** Space-separated, as in the token. */
  readonly scope: string;
}

/** Splits a space-separated `scope` claim. */
export const scopesOf = (scope: string): string[] => scope.split(/\s+/).filter(Boolean);

/**
 * The authorizer's answer: the policy, with the caller's claims as context. Handlers read them at
 * `event.requestContext.authorizer.scope` and `.client_id` (see `authorize()` in shared/handlers/http.ts).
 */
export function authorizerResult(claims: CallerClaims, methodArn: string): APIGatewayAuthorizerResult {
  return {
    principalId: claims.client_id || claims.sub,
    policyDocument: policyFor(scopesOf(claims.scope), methodArn),
    context: { scope: claims.scope, client_id: claims.client_id, sub: claims.sub },
  };
}
