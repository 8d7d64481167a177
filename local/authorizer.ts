/**
 * What API Gateway does with a Lambda TOKEN authorizer, for the local gateway: it calls the real
 * authorizer function (functions/authorizer/handler.ts, the same code as on AWS) with the
 * `Authorization` header and the method ARN, evaluates the IAM policy it answers against that ARN, and
 * answers as the deployed API's gateway responses do (infra/constructs/problem-responses.ts):
 *
 *   no Authorization header                  → 401 UNAUTHORIZED (the function is not called)
 *   the function fails with `Unauthorized`   → 401 UNAUTHORIZED
 *   policy: explicit Deny on the method ARN  → 403 ACCESS_DENIED
 *   policy: no Allow on the method ARN       → 403 ACCESS_DENIED
 *   policy: Allow                            → the integration, with the policy's context
 *   any other failure, a malformed answer    → 500 AUTHORIZER_FAILURE → DEFAULT_5XX → 503
 *
 * Like API Gateway's results cache (5 minutes on AWS), a policy is kept per `Authorization` value and
 * applied to whichever route the same token calls next, so that the policy listing every route the
 * token's scopes grant is exercised locally too. Refusals and failures are not kept.
 */
import type {
  APIGatewayAuthorizerResult,
  APIGatewayTokenAuthorizerEvent,
  PolicyDocument,
  Statement,
} from 'aws-lambda';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from '#local/constants.ts';
import { functionName, type LambdaHandler, LOCAL_STAGE, lambdaContext } from '#local/lambda.ts';
import { AUTHORIZER } from '#shared/auth/policy.ts';

/** The API id in the local method ARNs and request contexts. */
export const LOCAL_API_ID = 'local';
/** The authorizer function's timeout, as the construct sets it. */
export const AUTHORIZER_TIMEOUT_MS = 10_000;
/** How long API Gateway keeps an authorizer's policy per token, as the construct sets it by default. */
export const AUTHORIZER_CACHE_TTL_MS = AUTHORIZER.cacheTtlSeconds * 1000;
export const AUTHORIZER_FUNCTION_NAME = functionName('authorizer', 'handler');

/** The messages `$context.error.messageString` carries, as API Gateway words them. */
export const GATEWAY_MESSAGES = {
  unauthorized: 'Unauthorized',
  explicitDeny: 'User is not authorized to access this resource with an explicit deny',
  implicitDeny: 'User is not authorized to access this resource',
  failure: 'The request may not have been accepted; retrying with the same body is safe.',
} as const;

/** The challenges the deployed gateway responses carry. */
const CHALLENGES = { 401: 'Bearer', 403: 'Bearer error="insufficient_scope"' } as const;

export type GatewayVerdict =
  | {
      readonly ok: true;
      /** `requestContext.authorizer`: the policy's context, the principal and the latency. */
      readonly context: Record<string, string | number | boolean>;
    }
  | {
      readonly ok: false;
      readonly status: 401 | 403 | 503;
      readonly detail: string;
      readonly headers: Record<string, string>;
      /** Why, for the gateway's log (never the token). */
      readonly reason?: string;
    };

/** `arn:aws:execute-api:<region>:<account>:<api>/<stage>/<METHOD><path>`, as API Gateway passes it. */
export const methodArn = (method: string, path: string): string =>
  `arn:aws:execute-api:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:${LOCAL_API_ID}/${LOCAL_STAGE}/${method}${path}`;

export interface AuthorizerCall {
  /** The `Authorization` header as received. */
  readonly authorization: string | undefined;
  readonly method: string;
  readonly path: string;
  /** Loads the authorizer function (throws when it cannot be loaded). */
  readonly load: () => Promise<LambdaHandler>;
  /** The results cache; none: every request calls the authorizer. */
  readonly cache?: AuthorizerCache;
}

/** Runs the authorizer for a request (or takes its cached policy) and answers what API Gateway would. */
export async function runAuthorizer(call: AuthorizerCall): Promise<GatewayVerdict> {
  if (!call.authorization) return refusal(401, GATEWAY_MESSAGES.unauthorized);
  const arn = methodArn(call.method, call.path);
  const started = Date.now();
  let result = call.cache?.get(call.authorization);
  if (!result) {
    const answer = await invokeAuthorizer(call.load, call.authorization, arn);
    if (!answer.ok) return answer.verdict;
    result = answer.result;
    call.cache?.set(call.authorization, result);
  }
  const effect = evaluatePolicy(result.policyDocument, arn);
  if (effect === 'Deny') return refusal(403, GATEWAY_MESSAGES.explicitDeny);
  if (effect === 'ImplicitDeny') return refusal(403, GATEWAY_MESSAGES.implicitDeny);
  return {
    ok: true,
    context: { ...result.context, principalId: result.principalId, integrationLatency: Date.now() - started },
  };
}

type Invocation =
  | { readonly ok: true; readonly result: APIGatewayAuthorizerResult }
  | { readonly ok: false; readonly verdict: GatewayVerdict };

/** One call of the authorizer function: its policy, or what the gateway answers instead. */
async function invokeAuthorizer(
  load: () => Promise<LambdaHandler>,
  authorization: string,
  arn: string,
): Promise<Invocation> {
  let result: unknown;
  try {
    const handler = await load();
    result = await invokeWithin(handler, {
      type: 'TOKEN',
      authorizationToken: authorization,
      methodArn: arn,
    });
  } catch (error) {
    if ((error as Error)?.message === GATEWAY_MESSAGES.unauthorized) {
      return { ok: false, verdict: refusal(401, GATEWAY_MESSAGES.unauthorized) };
    }
    return { ok: false, verdict: failure(`authorizer failed: ${(error as Error)?.message ?? error}`) };
  }
  if (!isAuthorizerResult(result)) return { ok: false, verdict: failure('authorizer answered no policy') };
  return { ok: true, result };
}

/** API Gateway's authorizer results cache: policies per `Authorization` value. */
export interface AuthorizerCache {
  get(authorization: string): APIGatewayAuthorizerResult | undefined;
  set(authorization: string, result: APIGatewayAuthorizerResult): void;
}

/** At most `maxEntries` policies (the oldest go first), each for `ttlMs`; a `ttlMs` of 0 keeps none. */
export function createAuthorizerCache(
  ttlMs: number,
  { maxEntries = 1000, now = Date.now }: { maxEntries?: number; now?: () => number } = {},
): AuthorizerCache {
  const entries = new Map<string, { result: APIGatewayAuthorizerResult; until: number }>();
  return {
    get(authorization) {
      const entry = entries.get(authorization);
      if (entry && entry.until > now()) return entry.result;
      entries.delete(authorization);
      return undefined;
    },
    set(authorization, result) {
      if (ttlMs <= 0) return;
      entries.delete(authorization);
      entries.set(authorization, { result, until: now() + ttlMs });
      if (entries.size > maxEntries) entries.delete(entries.keys().next().value as string);
    },
  };
}

const refusal = (status: 401 | 403, detail: string): GatewayVerdict => ({
  ok: false,
  status,
  detail,
  headers: { 'WWW-Authenticate': CHALLENGES[status] },
});

const failure = (reason: string): GatewayVerdict => ({
  ok: false,
  status: 503,
  detail: GATEWAY_MESSAGES.failure,
  headers: {},
  reason,
});

async function invokeWithin(handler: LambdaHandler, event: APIGatewayTokenAuthorizerEvent): Promise<unknown> {
  const context = lambdaContext({ functionName: AUTHORIZER_FUNCTION_NAME, timeoutMs: AUTHORIZER_TIMEOUT_MS });
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      handler(event, context),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`timed out after ${AUTHORIZER_TIMEOUT_MS} ms`)),
          AUTHORIZER_TIMEOUT_MS,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function isAuthorizerResult(value: unknown): value is APIGatewayAuthorizerResult {
  const result = value as Partial<APIGatewayAuthorizerResult> | undefined;
  return (
    typeof result?.principalId === 'string' &&
    Array.isArray(result.policyDocument?.Statement) &&
    (result.context === undefined || result.context === null || typeof result.context === 'object')
  );
}

export type PolicyEffect = 'Allow' | 'Deny' | 'ImplicitDeny';

/**
 * IAM's evaluation of an authorizer policy for `execute-api:Invoke` on `arn`: an explicit Deny wins,
 * then an Allow; nothing matching is an implicit deny. `*` and `?` are IAM's wildcards.
 */
export function evaluatePolicy(policy: PolicyDocument, arn: string): PolicyEffect {
  const matching = policy.Statement.filter((s) => statementMatches(s, arn));
  if (matching.some((s) => s.Effect === 'Deny')) return 'Deny';
  return matching.some((s) => s.Effect === 'Allow') ? 'Allow' : 'ImplicitDeny';
}

function statementMatches(statement: Statement, arn: string): boolean {
  const { Action, Resource } = statement as { Action?: string | string[]; Resource?: string | string[] };
  const actions = [Action ?? []].flat();
  const resources = [Resource ?? []].flat();
  return (
    actions.some((a) => wildcard(a.toLowerCase()).test('execute-api:invoke')) &&
    resources.some((r) => wildcard(r).test(arn))
  );
}

const wildcard = (pattern: string): RegExp =>
  new RegExp(
    `^${pattern
      .split('')
      .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\/]/g, '\\$&')))
      .join('')}$`,
    's',
  );
