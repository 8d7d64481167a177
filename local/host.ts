/**
 * The local API Gateway: a `node:http` server that routes by the flow registry, runs the real Lambda
 * TOKEN authorizer as API Gateway does (local/authorizer.ts: 401 without a valid token, 403 without
 * the route's scope), turns the request into a REST proxy event and writes the handler's answer back.
 * It also serves the token endpoint, its JWKS (what Cognito serves on AWS) and the OpenAPI document.
 * No business logic lives here.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { JWKS_PATH, type TokenService } from '#local/auth.ts';
import {
  AUTHORIZER_CACHE_TTL_MS,
  type AuthorizerCache,
  createAuthorizerCache,
  type GatewayVerdict,
  runAuthorizer,
} from '#local/authorizer.ts';
import { send } from '#local/http.ts';
import { buildProxyEvent, functionName, type LambdaHandler, lambdaContext } from '#local/lambda.ts';
import { isSupportPagePath, serveSupportPage } from '#local/supportPage.ts';
import { AUTHORIZER } from '#shared/auth/policy.ts';
import { FLOW_IDS, FLOWS, SUPPORT_ROUTES } from '#shared/flows/registry.ts';
import { PROBLEM_CONTENT_TYPE, problemForStatus } from '#shared/handlers/problems.ts';

export interface ApiRoute {
  /** Flow id or support route id. */
  readonly id: string;
  readonly method: string;
  /** Template, e.g. `/v1/messages/{messageId}`. */
  readonly path: string;
  readonly scope: string;
  /** Handler module, repository-relative. */
  readonly module: string;
  readonly functionName: string;
}

/** Every route of the registry: each flow's ingest route, then the support routes. */
export function apiRoutes(): ApiRoute[] {
  return [
    ...FLOW_IDS.map((id) => {
      const flow = FLOWS[id];
      return {
        id,
        method: flow.route.method,
        path: flow.route.path,
        scope: flow.scope,
        module: flow.handlers.ingest,
        functionName: functionName(id, 'ingest'),
      };
    }),
    ...Object.entries(SUPPORT_ROUTES).map(([id, route]) => ({
      id,
      method: route.method,
      path: route.path,
      scope: route.scope,
      module: route.handler,
      functionName: functionName(`support-${id}`, 'handler'),
    })),
  ];
}

export interface RouteMatch {
  readonly route: ApiRoute;
  readonly pathParameters: Record<string, string> | null;
}

/** Matches a method and path against route templates; `{name}` matches one non-empty segment. */
export function matchRoute(
  routes: readonly ApiRoute[],
  method: string,
  path: string,
): RouteMatch | undefined {
  const segments = path.split('/');
  for (const route of routes) {
    if (route.method !== method) continue;
    const template = route.path.split('/');
    if (template.length !== segments.length) continue;
    const params: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < template.length && ok; i++) {
      const t = template[i]!;
      const s = segments[i]!;
      const param = /^\{(\w+)\}$/.exec(t)?.[1];
      if (param) {
        if (s === '') ok = false;
        else {
          try {
            params[param] = decodeURIComponent(s);
          } catch {
            ok = false;
          }
        }
      } else if (t !== s) ok = false;
    }
    if (ok) return { route, pathParameters: Object.keys(params).length ? params : null };
  }
  return undefined;
}

/**
 * An RFC 9457 problem body, typed and titled from the integration's one problem table, so a caller sees
 * the same `type` and `title` whether the local gateway or a handler refused it.
 */
export function problem(status: number, detail: string) {
  const { type, title } = problemForStatus(status);
  return { type, title, status, detail };
}

export interface ApiHostOptions {
  readonly routes: readonly ApiRoute[];
  /** The token endpoint, and the JWKS served at `GET /.well-known/jwks.json`. */
  readonly tokens: TokenService;
  readonly loadHandler: (modulePath: string) => Promise<LambdaHandler>;
  /** The TOKEN authorizer in front of every route, loaded with `loadHandler`. @default AUTHORIZER.handler */
  readonly authorizerModule?: string;
  /** How long a policy is kept per token (API Gateway's results cache); 0 calls the authorizer each time. @default 300000 */
  readonly authorizerCacheTtlMs?: number;
  /** The OpenAPI document served at `GET /openapi.json`. */
  readonly openApiFile: string;
  /** Bodies above this answer 413 before any handler runs; the handler applies the contract's limit. @default 10 MiB */
  readonly maxRequestBytes?: number;
  /** API Gateway's integration timeout. @default 29000 */
  readonly integrationTimeoutMs?: number;
  /** Stage throttling, as API Gateway applies it: steady requests per second and burst. @default 100 / 200 */
  readonly throttle?: { readonly rateLimit: number; readonly burstLimit: number };
  /**
   * Each route's share of the stage throttle, as `apiThrottle.routes` gives it on AWS: a route's own
   * bucket, checked before the stage's, so a burst of one route (bulk asset syncs) never takes another's
   * share (the opt-outs' reserve). @default {@link ROUTE_SHARES}
   */
  readonly routeShares?: Readonly<Record<string, number>>;
  /** The firewall's rate rule: requests per source address per 5 minutes, then 429. @default 45000 */
  readonly rateLimitPer5Min?: number;
  readonly log?: (line: string) => void;
}

/**
 * The routes' shares of the local stage throttle (opt-outs 30 %, asset syncs 20 %, …): like prod's
 * `cdk.json` figures, they add up to at most the whole, so every route keeps its share.
 */
export const ROUTE_SHARES: Readonly<Record<string, number>> = {
  optOut: 0.3,
  assetSync: 0.2,
  unavailability: 0.15,
  assetSyncAck: 0.15,
  legacyAck: 0.1,
  support: 0.1,
};

/** The WAF rate rule's window, and how long its 429 asks a caller to wait. */
export const RATE_RULE_WINDOW_SECONDS = 300;

/**
 * The firewall's rate rule: at most `limit` requests per source address in a window of 5 minutes
 * (WAF's own is a sliding evaluation; a fixed window is close enough to show callers the same answer).
 * Returns false when the request must be refused.
 */
export function createRateRule(limit: number, now: () => number = Date.now): (source: string) => boolean {
  let windowStart = now();
  const counts = new Map<string, number>();
  return (source) => {
    if (now() - windowStart >= RATE_RULE_WINDOW_SECONDS * 1000) {
      windowStart = now();
      counts.clear();
    }
    const count = (counts.get(source) ?? 0) + 1;
    counts.set(source, count);
    return count <= limit;
  };
}

/** One token bucket per route, each its share of the stage figures; support routes share `support`. */
export function createRouteThrottles(
  stage: { readonly rateLimit: number; readonly burstLimit: number },
  shares: Readonly<Record<string, number>>,
  now: () => number = Date.now,
): (routeId: string) => boolean {
  const buckets = new Map<string, () => boolean>();
  for (const [key, share] of Object.entries(shares)) {
    buckets.set(
      key,
      createThrottle(
        { rateLimit: stage.rateLimit * share, burstLimit: Math.max(1, Math.floor(stage.burstLimit * share)) },
        now,
      ),
    );
  }
  return (routeId) => (buckets.get(routeId) ?? buckets.get('support'))?.() ?? true;
}

const sendProblem = (
  res: ServerResponse,
  status: number,
  detail: string,
  headers: Record<string, string> = {},
) => send(res, status, problem(status, detail), { 'Content-Type': PROBLEM_CONTENT_TYPE, ...headers });

/** Reads the body, draining (not keeping) whatever is past `limit`, so the caller still gets an answer. */
async function readBody(req: IncomingMessage, limit: number): Promise<{ body: Buffer; tooLarge: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      tooLarge = true;
      chunks.length = 0;
    } else if (!tooLarge) chunks.push(chunk);
  }
  return { body: Buffer.concat(chunks), tooLarge };
}

/** Writes an API Gateway proxy result back as HTTP. */
export function writeProxyResult(
  res: ServerResponse,
  result: APIGatewayProxyResult,
  requestId: string,
): void {
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(result.multiValueHeaders ?? {})) headers[k] = v.map(String);
  for (const [k, v] of Object.entries(result.headers ?? {})) headers[k] = String(v);
  const body = Buffer.from(result.body ?? '', result.isBase64Encoded ? 'base64' : 'utf8');
  res.writeHead(result.statusCode, {
    ...headers,
    'x-amzn-RequestId': requestId,
    'Content-Length': body.length,
  });
  res.end(body);
}

/**
 * A token bucket like API Gateway's stage throttle: `burstLimit` requests at once, refilled at
 * `rateLimit` per second. Returns false when the request must be throttled.
 */
export function createThrottle(
  limits: { readonly rateLimit: number; readonly burstLimit: number },
  now: () => number = Date.now,
): () => boolean {
  let tokens = limits.burstLimit;
  let last = now();
  return () => {
    const at = now();
    tokens = Math.min(limits.burstLimit, tokens + ((at - last) / 1000) * limits.rateLimit);
    last = at;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  };
}

/** The options with their defaults applied, and the throttle's bucket: what every request needs. */
interface Host {
  readonly routes: readonly ApiRoute[];
  readonly tokens: TokenService;
  readonly loadHandler: (modulePath: string) => Promise<LambdaHandler>;
  readonly authorizerModule: string;
  readonly authorizerCache: AuthorizerCache;
  readonly openApiFile: string;
  readonly maxRequestBytes: number;
  readonly integrationTimeoutMs: number;
  readonly log: (line: string) => void;
  readonly admit: () => boolean;
  readonly admitRoute: (routeId: string) => boolean;
  readonly admitSource: (source: string) => boolean;
}

const DEFAULT_STAGE_THROTTLE = { rateLimit: 100, burstLimit: 200 } as const;

export function createApiHost(options: ApiHostOptions): Server {
  const host: Host = {
    routes: options.routes,
    tokens: options.tokens,
    loadHandler: options.loadHandler,
    authorizerModule: options.authorizerModule ?? AUTHORIZER.handler,
    authorizerCache: createAuthorizerCache(options.authorizerCacheTtlMs ?? AUTHORIZER_CACHE_TTL_MS),
    openApiFile: options.openApiFile,
    maxRequestBytes: options.maxRequestBytes ?? 10 * 1024 * 1024,
    integrationTimeoutMs: options.integrationTimeoutMs ?? 29_000,
    log: options.log ?? (() => {}),
    admit: createThrottle(options.throttle ?? DEFAULT_STAGE_THROTTLE),
    admitRoute: createRouteThrottles(
      options.throttle ?? DEFAULT_STAGE_THROTTLE,
      options.routeShares ?? ROUTE_SHARES,
    ),
    admitSource: createRateRule(options.rateLimitPer5Min ?? 45_000),
  };
  return createServer((req, res) => {
    handleRequest(host, req, res).catch((error: unknown) => {
      host.log(`[api] ${req.method} ${req.url}: ${(error as Error).stack ?? error}`);
      if (!res.headersSent) sendProblem(res, 503, 'The local gateway failed; retry.');
      else res.destroy();
    });
  });
}

/** What API Gateway does before the integration (throttle, size limit, routing, authorizer), then the call. */
async function handleRequest(host: Host, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://local');
  const method = req.method ?? 'GET';
  // The issuer's keys, which the authorizer fetches: Cognito's on AWS, so not behind the stage throttle.
  if (url.pathname === JWKS_PATH && method === 'GET') {
    req.resume();
    return send(res, 200, host.tokens.jwks(), { 'Cache-Control': 'max-age=300' });
  }
  // The firewall first, as on AWS: its rate rule counts every request of a source address.
  if (!host.admitSource(req.socket.remoteAddress ?? 'unknown')) {
    req.resume();
    const detail = 'Too many requests from this address; retry after the rate window.';
    return sendProblem(res, 429, detail, { 'Retry-After': String(RATE_RULE_WINDOW_SECONDS) });
  }
  const routed = matchRoute(host.routes, method, url.pathname);
  // A route's own share first, so a throttled burst of one route takes nothing of the stage's.
  if ((routed && !host.admitRoute(routed.route.id)) || !host.admit()) {
    req.resume();
    return sendProblem(res, 429, 'Too many requests; slow down and retry.', { 'Retry-After': '1' });
  }
  const { body, tooLarge } = await readBody(req, host.maxRequestBytes);
  if (tooLarge) {
    const detail = `The request body is over the local gateway's limit of ${host.maxRequestBytes} bytes.`;
    return sendProblem(res, 413, detail);
  }
  if (url.pathname === '/oauth2/token') {
    if (method !== 'POST') return sendProblem(res, 404, `No route ${method} ${url.pathname}`);
    return serveToken(host.tokens, req, res, body);
  }
  if (url.pathname === '/openapi.json' && method === 'GET') return serveOpenApi(host.openApiFile, res);
  // The dashboard's support widgets, served locally behind the support client's credentials.
  if (isSupportPagePath(url.pathname)) {
    return serveSupportPage({ tokens: host.tokens }, req, res, { method, url, body });
  }

  const match = routed;
  if (!match) return sendProblem(res, 404, `No route ${method} ${url.pathname}`);
  const verdict = await authorize(host, req.headers.authorization, method, url.pathname);
  if (!verdict.ok) return sendProblem(res, verdict.status, verdict.detail, verdict.headers);
  await invokeRoute(host, req, res, { method, url, body, match, authorizer: verdict.context });
}

async function serveToken(tokens: TokenService, req: IncomingMessage, res: ServerResponse, body: Buffer) {
  const answer = await tokens.issue(new URLSearchParams(body.toString('utf8')), req.headers.authorization);
  res.setHeader('Cache-Control', 'no-store');
  if (answer.status === 401) res.setHeader('WWW-Authenticate', 'Basic realm="local"');
  send(res, answer.status, answer.body);
}

async function serveOpenApi(openApiFile: string, res: ServerResponse) {
  try {
    const text = await readFile(openApiFile);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': text.length });
    res.end(text);
  } catch {
    sendProblem(res, 404, 'docs/openapi.json has not been generated yet (npm run gen).');
  }
}

/** API Gateway's TOKEN authorizer: the real authorizer function, its policy applied to this request. */
async function authorize(
  host: Host,
  authorization: string | undefined,
  method: string,
  path: string,
): Promise<GatewayVerdict> {
  const verdict = await runAuthorizer({
    authorization,
    method,
    path,
    load: () => host.loadHandler(host.authorizerModule),
    cache: host.authorizerCache,
  });
  if (!verdict.ok && verdict.reason) host.log(`[api] ${method} ${path}: ${verdict.reason}`);
  return verdict;
}

/** An admitted, authorized request to a route. */
interface RouteCall {
  readonly method: string;
  readonly url: URL;
  readonly body: Buffer;
  readonly match: RouteMatch;
  /** The authorizer's context, principal and latency: `requestContext.authorizer` on AWS. */
  readonly authorizer: Record<string, string | number | boolean>;
}

/** The integration: the route's function with a proxy event, its answer written back. */
async function invokeRoute(host: Host, req: IncomingMessage, res: ServerResponse, call: RouteCall) {
  const { route } = call.match;
  const requestId = crypto.randomUUID();
  const event = routeEvent(req, call, requestId);
  const context = lambdaContext({
    functionName: route.functionName,
    timeoutMs: host.integrationTimeoutMs,
    awsRequestId: requestId,
  });
  let handler: LambdaHandler;
  try {
    handler = await host.loadHandler(route.module);
  } catch (error) {
    host.log(`[api] cannot load ${route.module}: ${(error as Error).message}`);
    const detail = `The function behind ${route.path} could not be loaded; nothing was accepted. Retry.`;
    return sendProblem(res, 503, detail);
  }
  await answerWithinTimeout(host, res, route, requestId, () => handler(event, context));
}

function routeEvent(req: IncomingMessage, call: RouteCall, requestId: string): APIGatewayProxyEvent {
  const event = buildProxyEvent({
    method: call.method,
    path: call.url.pathname,
    resource: call.match.route.path,
    pathParameters: call.match.pathParameters,
    rawHeaders: req.rawHeaders,
    query: call.url.searchParams,
    body: call.body.length > 0 ? call.body.toString('utf8') : null,
    claims: null,
    sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
    requestId,
  });
  // A Lambda authorizer's context reaches the function flat, as on AWS (not as Cognito `claims`).
  event.requestContext.authorizer = call.authorizer;
  return event;
}

/**
 * Writes the function's proxy result back, or a 503 (as the deployed API maps gateway errors) when it
 * fails, answers something else, or is not done within the integration timeout.
 */
async function answerWithinTimeout(
  host: Host,
  res: ServerResponse,
  route: ApiRoute,
  requestId: string,
  invoke: () => Promise<unknown>,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const result = (await Promise.race([
      invoke(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new GatewayTimeout()), host.integrationTimeoutMs);
      }),
    ])) as APIGatewayProxyResult | undefined;
    if (!result || typeof result.statusCode !== 'number') {
      host.log(`[api] ${route.module} returned no proxy result`);
      return sendProblem(res, 503, 'The function returned a malformed proxy response; retry.');
    }
    writeProxyResult(res, result, requestId);
  } catch (error) {
    if (error instanceof GatewayTimeout) {
      return sendProblem(
        res,
        503,
        `The function did not answer within ${host.integrationTimeoutMs} ms; retry (a repeat is answered as a duplicate if it was accepted).`,
      );
    }
    host.log(`[api] ${route.functionName} failed: ${(error as Error).stack ?? error}`);
    sendProblem(res, 503, 'The function failed; nothing was accepted. Retry.');
  } finally {
    clearTimeout(timer);
  }
}

class GatewayTimeout extends Error {}
