import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import {
  createTokenService,
  generateSigningKey,
  localClients,
  type SigningKey,
  type TokenService,
} from '#local/auth.ts';
import { type ApiRoute, apiRoutes, createApiHost, matchRoute } from '#local/host.ts';
import { createHandlerLoader } from '#local/lambda.ts';
import { FLOW_IDS, FLOWS, SUPPORT_ROUTES } from '#shared/flows/registry.ts';
import { PROBLEMS } from '#shared/handlers/problems.ts';

describe('apiRoutes', () => {
  it('holds every flow route and support route of the registry, with its scope and module', () => {
    const routes = apiRoutes();
    for (const id of FLOW_IDS) {
      expect(routes).toContainEqual(
        expect.objectContaining({
          method: 'POST',
          path: FLOWS[id].route.path,
          scope: FLOWS[id].scope,
          module: FLOWS[id].handlers.ingest,
        }),
      );
    }
    for (const route of Object.values(SUPPORT_ROUTES)) {
      expect(routes).toContainEqual(
        expect.objectContaining({ method: route.method, path: route.path, module: route.handler }),
      );
    }
  });
});

describe('matchRoute', () => {
  const routes = apiRoutes();
  it('matches exact paths and fills path parameters', () => {
    expect(matchRoute(routes, 'POST', '/v1/dacs/asset-sync')).toMatchObject({
      route: { id: 'assetSync' },
      pathParameters: null,
    });
    expect(matchRoute(routes, 'GET', '/v1/messages/abc%20d')).toMatchObject({
      route: { id: 'message' },
      pathParameters: { messageId: 'abc d' },
    });
  });

  it('does not match another method, an empty parameter or extra segments', () => {
    expect(matchRoute(routes, 'GET', '/v1/dacs/asset-sync')).toBeUndefined();
    expect(matchRoute(routes, 'GET', '/v1/messages/')).toBeUndefined();
    expect(matchRoute(routes, 'GET', '/v1/messages/a/b')).toBeUndefined();
  });
});

/**
 * The host with the real authorizer (functions/authorizer/handler.ts), configured as the local stack
 * configures it: the host's own URL as the issuer, whose JWKS the authorizer fetches from the host.
 */
describe('createApiHost', () => {
  let key: SigningKey;
  let tokens: TokenService;
  const fixture = 'test/unit/local/fixtures/echoHandler.ts';
  // Routes of the registry (the real authorizer's policy covers those), behind stub functions.
  const registry = apiRoutes();
  const route = (id: string, module: string) => ({ ...registry.find((r) => r.id === id)!, module });
  const routes: ApiRoute[] = [
    route('assetSync', fixture),
    route('message', fixture),
    route('optOut', 'test/unit/local/fixtures/doesNotExist.ts'),
  ];
  const ECHO = '/v1/dacs/asset-sync';
  let server: Server;
  let base: string;

  beforeAll(async () => {
    key = await generateSigningKey();
    const later: { tokens?: TokenService } = {};
    server = createApiHost({
      routes,
      tokens: {
        get issuer() {
          return later.tokens!.issuer;
        },
        issue: (form, authorization) => later.tokens!.issue(form, authorization),
        sign: (clientId, scopes, ttl) => later.tokens!.sign(clientId, scopes, ttl),
        jwks: () => later.tokens!.jwks(),
      },
      loadHandler: createHandlerLoader(resolve(process.cwd())),
      openApiFile: resolve('test/unit/local/fixtures/openapi.json'),
      maxRequestBytes: 1024,
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    tokens = createTokenService({ signingKey: key, issuer: base, clients: localClients() });
    later.tokens = tokens;
    // What local/start.ts hands the function processes, read by the authorizer when first loaded.
    process.env.TOKEN_ISSUER_URL = base;
    process.env.COGNITO_CLIENT_IDS = 'dacs-local,derms-local,support-local';
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((done) => server.close(done));
  });

  const call = async (path: string, init: RequestInit = {}) => {
    const response = await fetch(`${base}${path}`, { method: 'POST', ...init });
    return {
      status: response.status,
      type: response.headers.get('content-type'),
      headers: response.headers,
      // biome-ignore lint/suspicious/noExplicitAny: a test reads whatever the stub answered
      body: (await response.json()) as Record<string, any>,
    };
  };
  const bearer = async (client: string, scope: string, ttl?: number) =>
    ({ Authorization: `Bearer ${await tokens.sign(client, [scope], ttl)}` }) as Record<string, string>;

  it('answers 404 problem+json on an unknown route, before any authentication', async () => {
    const answer = await call('/v1/nothing-here');
    expect(answer).toMatchObject({
      status: 404,
      type: 'application/problem+json',
      body: { type: PROBLEMS.notFound.type, title: 'Not found', status: 404, detail: expect.any(String) },
    });
  });

  it('serves the token endpoint’s JWKS, the public key only', async () => {
    const response = await fetch(`${base}/.well-known/jwks.json`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual(tokens.jwks());
  });

  it('answers 401 problem+json as API Gateway’s UNAUTHORIZED: no token, expired, forged, not a bearer token', async () => {
    const forger = createTokenService({
      signingKey: { ...(await generateSigningKey()), kid: key.kid },
      issuer: base,
      clients: [],
    });
    for (const headers of [
      {},
      await bearer('dacs-local', 'integration/dacs', -5),
      { Authorization: `Bearer ${await forger.sign('dacs-local', ['integration/dacs'])}` },
      { Authorization: 'Basic ZGFjcy1sb2NhbDpsb2NhbC1zZWNyZXQ=' },
      { Authorization: 'Bearer not.a.jwt' },
    ]) {
      const answer = await call(ECHO, { headers, body: '{}' });
      expect(answer).toMatchObject({
        status: 401,
        type: 'application/problem+json',
        body: {
          type: PROBLEMS.unauthenticated.type,
          title: PROBLEMS.unauthenticated.title,
          status: 401,
          detail: 'Unauthorized',
        },
      });
      expect(answer.headers.get('www-authenticate')).toBe('Bearer');
    }
  });

  it("answers 403 problem+json as API Gateway's ACCESS_DENIED for a token without the route's scope", async () => {
    const implicit = await call(ECHO, {
      headers: await bearer('derms-local', 'integration/derms'),
      body: '{}',
    });
    expect(implicit).toMatchObject({
      status: 403,
      type: 'application/problem+json',
      body: {
        type: PROBLEMS.forbidden.type,
        title: 'Forbidden',
        status: 403,
        detail: 'User is not authorized to access this resource',
      },
    });
    expect(implicit.headers.get('www-authenticate')).toBe('Bearer error="insufficient_scope"');
    const explicit = await call(ECHO, { headers: await bearer('dacs-local', 'openid'), body: '{}' });
    expect(explicit).toMatchObject({
      status: 403,
      body: { detail: 'User is not authorized to access this resource with an explicit deny' },
    });
  });

  it('invokes the handler with a proxy event carrying the authorizer’s context, and writes its answer back', async () => {
    const answer = await call(`${ECHO}?q=1`, {
      headers: { ...(await bearer('dacs-local', 'integration/dacs')), 'Content-Type': 'application/json' },
      body: '{"hello":"world"}',
    });
    expect(answer.status).toBe(202);
    expect(answer.headers.get('x-stub')).toBe('yes');
    expect(answer.headers.get('set-thing')).toBe('a, b');
    expect(answer.body.functionName).toBe('local-assetSync-ingest');
    expect(answer.body.remaining).toBeGreaterThan(0);
    expect(answer.body.event).toMatchObject({
      httpMethod: 'POST',
      path: ECHO,
      resource: ECHO,
      pathParameters: null,
      queryStringParameters: { q: '1' },
      body: '{"hello":"world"}',
      isBase64Encoded: false,
      requestContext: {
        stage: 'local',
        authorizer: {
          principalId: 'dacs-local',
          client_id: 'dacs-local',
          sub: 'dacs-local',
          scope: 'integration/dacs',
          integrationLatency: expect.any(Number),
        },
      },
    });
  });

  it('passes path parameters, and admits each caller to its own routes only', async () => {
    const support = await call('/v1/messages/m%201', {
      method: 'GET',
      headers: await bearer('support-local', 'integration/support'),
    });
    expect(support.status).toBe(202);
    expect(support.body.event).toMatchObject({
      resource: '/v1/messages/{messageId}',
      pathParameters: { messageId: 'm 1' },
      requestContext: { authorizer: { client_id: 'support-local', scope: 'integration/support' } },
    });
    const dacs = await call('/v1/messages/m-1', {
      method: 'GET',
      headers: await bearer('dacs-local', 'integration/dacs'),
    });
    expect(dacs.status).toBe(403);
  });

  it('answers 413 problem+json for a body over the gateway limit', async () => {
    const answer = await call(ECHO, {
      headers: await bearer('dacs-local', 'integration/dacs'),
      body: 'x'.repeat(5000),
    });
    expect(answer).toMatchObject({
      status: 413,
      type: 'application/problem+json',
      body: { type: PROBLEMS.contentTooLarge.type, title: 'Content Too Large', status: 413 },
    });
  });

  it('answers 503 problem+json (as the deployed API maps gateway errors) when the handler throws or cannot be loaded', async () => {
    const headers = await bearer('dacs-local', 'integration/dacs');
    expect(await call(ECHO, { headers, body: 'throw' })).toMatchObject({
      status: 503,
      type: 'application/problem+json',
      body: { type: PROBLEMS.unavailable.type, title: PROBLEMS.unavailable.title, status: 503 },
    });
    expect(await call('/v1/dacs/event-opt-outs', { headers, body: '{}' })).toMatchObject({
      status: 503,
      body: { status: 503 },
    });
  });

  it('serves the token endpoint', async () => {
    const response = await fetch(`${base}/oauth2/token`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        Authorization: `Basic ${Buffer.from('support-local:local-secret').toString('base64')}`,
      },
      body: 'grant_type=client_credentials',
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ token_type: 'Bearer', expires_in: 3600 });
    const bad = await fetch(`${base}/oauth2/token`, {
      method: 'POST',
      headers: { Authorization: `Basic ${Buffer.from('support-local:wrong').toString('base64')}` },
      body: 'grant_type=client_credentials',
    });
    expect(bad.status).toBe(401);
    expect(await bad.json()).toEqual({ error: 'invalid_client' });
  });

  it('serves the OpenAPI document from disk', async () => {
    const response = await fetch(`${base}/openapi.json`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ openapi: '3.1.0' });
  });
});

describe('createApiHost without its authorizer', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    const tokens = createTokenService({
      signingKey: await generateSigningKey(),
      issuer: 'http://127.0.0.1:1',
      clients: localClients(),
    });
    server = createApiHost({
      routes: apiRoutes(),
      tokens,
      loadHandler: createHandlerLoader(resolve(process.cwd())),
      authorizerModule: 'test/unit/local/fixtures/doesNotExist.ts',
      openApiFile: resolve('test/unit/local/fixtures/openapi.json'),
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((done) => server.close(done));
  });

  it('answers 503 problem+json, as API Gateway answers an authorizer it cannot run, and never calls the route', async () => {
    const response = await fetch(`${base}/v1/messages/m-1`, { headers: { Authorization: 'Bearer a.b.c' } });
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ type: PROBLEMS.unavailable.type, status: 503 });
  });
});

describe('createApiHost throttling', () => {
  let server: Server;
  beforeAll(async () => {
    server = createApiHost({
      routes: [],
      tokens: createTokenService({
        signingKey: await generateSigningKey(),
        issuer: 'http://127.0.0.1:1',
        clients: [],
      }),
      loadHandler: createHandlerLoader(resolve(process.cwd())),
      openApiFile: resolve('test/unit/local/fixtures/openapi.json'),
      throttle: { rateLimit: 0.001, burstLimit: 1 },
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((done) => server.close(done));
  });

  it('answers 429 problem+json with Retry-After once the burst is spent', async () => {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    expect((await fetch(`${base}/openapi.json`)).status).toBe(200);
    const throttled = await fetch(`${base}/openapi.json`);
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('content-type')).toBe('application/problem+json');
    expect(throttled.headers.get('retry-after')).toBe('1');
    expect(await throttled.json()).toEqual({
      type: PROBLEMS.throttled.type,
      title: 'Too Many Requests',
      status: 429,
      detail: 'Too many requests; slow down and retry.',
    });
  });

  it('still serves the JWKS, which is the issuer’s and not behind the stage throttle', async () => {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    expect((await fetch(`${base}/.well-known/jwks.json`)).status).toBe(200);
  });
});

describe('createThrottle', () => {
  it('admits a burst, refuses the next, and refills at the steady rate', async () => {
    const { createThrottle } = await import('#local/host.ts');
    let now = 0;
    const admit = createThrottle({ rateLimit: 10, burstLimit: 3 }, () => now);
    expect([admit(), admit(), admit(), admit()]).toEqual([true, true, true, false]);
    now += 100; // one token back at 10 per second
    expect([admit(), admit()]).toEqual([true, false]);
  });
});

describe('createRouteThrottles', () => {
  it('gives each route its own share, so one route’s burst leaves another’s intact', async () => {
    const { createRouteThrottles } = await import('#local/host.ts');
    const admit = createRouteThrottles(
      { rateLimit: 10, burstLimit: 20 },
      { optOut: 0.3, assetSync: 0.1, support: 0.05 },
      () => 0,
    );
    const syncs = Array.from({ length: 10 }, () => admit('assetSync'));
    expect(syncs.filter(Boolean)).toHaveLength(2); // 10 % of a burst of 20
    const optOuts = Array.from({ length: 6 }, () => admit('optOut'));
    expect(optOuts.every(Boolean)).toBe(true); // 30 %: all 6
    expect(admit('optOut')).toBe(false);
    // Support routes without a figure of their own share `support`.
    expect([admit('message'), admit('syncRequest')]).toEqual([true, false]);
  });
});

describe('createRateRule', () => {
  it('refuses a source past its limit for the rest of the 5-minute window, others unaffected', async () => {
    const { createRateRule, RATE_RULE_WINDOW_SECONDS } = await import('#local/host.ts');
    let now = 0;
    const admit = createRateRule(3, () => now);
    expect(['a', 'a', 'a', 'a', 'b'].map(admit)).toEqual([true, true, true, false, true]);
    now += RATE_RULE_WINDOW_SECONDS * 1000;
    expect(admit('a')).toBe(true);
  });
});

describe('createApiHost rate rule', () => {
  let server: Server;
  beforeAll(async () => {
    server = createApiHost({
      routes: [],
      tokens: createTokenService({
        signingKey: await generateSigningKey(),
        issuer: 'http://127.0.0.1:1',
        clients: [],
      }),
      loadHandler: createHandlerLoader(resolve(process.cwd())),
      openApiFile: resolve('test/unit/local/fixtures/openapi.json'),
      rateLimitPer5Min: 1,
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((done) => server.close(done));
  });

  it('answers 429 problem+json with the window as Retry-After, as the firewall does', async () => {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    expect((await fetch(`${base}/openapi.json`)).status).toBe(200);
    const refused = await fetch(`${base}/openapi.json`);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('300');
    expect(await refused.json()).toMatchObject({ type: PROBLEMS.throttled.type, status: 429 });
  });
});
