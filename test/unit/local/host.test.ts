import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { createTokenService, localClients } from '#local/auth.ts';
import { type ApiRoute, apiRoutes, authorize, createApiHost, matchRoute } from '#local/host.ts';
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
        expect.objectContaining({ method: 'GET', path: route.path, module: route.handler }),
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

describe('createApiHost', () => {
  const secret = 'host-test-secret-host-test-secret-1234';
  const tokens = createTokenService({ secret, clients: localClients() });
  const fixture = 'test/unit/local/fixtures/echoHandler.ts';
  const routes: ApiRoute[] = [
    {
      id: 'echo',
      method: 'POST',
      path: '/v1/echo/{thing}',
      scope: 'integration/dacs',
      module: fixture,
      functionName: 'local-echo-ingest',
    },
    {
      id: 'missing',
      method: 'POST',
      path: '/v1/missing',
      scope: 'integration/dacs',
      module: 'test/unit/local/fixtures/doesNotExist.ts',
      functionName: 'local-missing-ingest',
    },
  ];
  let server: Server;
  let base: string;

  beforeAll(async () => {
    server = createApiHost({
      routes,
      tokens,
      loadHandler: createHandlerLoader(resolve(process.cwd())),
      openApiFile: resolve('test/unit/local/fixtures/openapi.json'),
      maxRequestBytes: 1024,
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
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

  it('answers 401 problem+json without a token, with an expired one and with a forged one', async () => {
    const forged = createTokenService({ secret: 'forged-forged-forged-forged-forged-123', clients: [] });
    for (const headers of [
      {},
      await bearer('dacs-local', 'integration/dacs', -5),
      { Authorization: `Bearer ${await forged.sign('dacs-local', ['integration/dacs'])}` },
      { Authorization: 'Basic ZGFjcy1sb2NhbDpsb2NhbC1zZWNyZXQ=' },
    ]) {
      const answer = await call('/v1/echo/x', { headers, body: '{}' });
      expect(answer).toMatchObject({
        status: 401,
        type: 'application/problem+json',
        body: { type: PROBLEMS.unauthenticated.type, title: PROBLEMS.unauthenticated.title, status: 401 },
      });
      expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
  });

  it("answers 403 problem+json for a token without the route's scope", async () => {
    const answer = await call('/v1/echo/x', {
      headers: await bearer('derms-local', 'integration/derms'),
      body: '{}',
    });
    expect(answer).toMatchObject({
      status: 403,
      type: 'application/problem+json',
      body: { type: PROBLEMS.forbidden.type, title: 'Forbidden', status: 403 },
    });
    expect(answer.headers.get('www-authenticate')).toBe(
      'Bearer error="insufficient_scope", scope="integration/dacs"',
    );
  });

  it('invokes the handler with a proxy event and writes its answer back', async () => {
    const answer = await call('/v1/echo/thing-1?q=1', {
      headers: { ...(await bearer('dacs-local', 'integration/dacs')), 'Content-Type': 'application/json' },
      body: '{"hello":"world"}',
    });
    expect(answer.status).toBe(202);
    expect(answer.headers.get('x-stub')).toBe('yes');
    expect(answer.headers.get('set-thing')).toBe('a, b');
    expect(answer.body.functionName).toBe('local-echo-ingest');
    expect(answer.body.remaining).toBeGreaterThan(0);
    expect(answer.body.event).toMatchObject({
      httpMethod: 'POST',
      path: '/v1/echo/thing-1',
      resource: '/v1/echo/{thing}',
      pathParameters: { thing: 'thing-1' },
      queryStringParameters: { q: '1' },
      body: '{"hello":"world"}',
      isBase64Encoded: false,
      requestContext: {
        stage: 'local',
        authorizer: {
          claims: {
            client_id: 'dacs-local',
            sub: 'dacs-local',
            scope: 'integration/dacs',
            token_use: 'access',
          },
        },
      },
    });
  });

  it('answers 413 problem+json for a body over the gateway limit', async () => {
    const answer = await call('/v1/echo/x', {
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
    expect(await call('/v1/echo/x', { headers, body: 'throw' })).toMatchObject({
      status: 503,
      type: 'application/problem+json',
      body: { type: PROBLEMS.unavailable.type, title: PROBLEMS.unavailable.title, status: 503 },
    });
    expect(await call('/v1/missing', { headers, body: '{}' })).toMatchObject({
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

describe('createApiHost throttling', () => {
  let server: Server;
  beforeAll(async () => {
    server = createApiHost({
      routes: [],
      tokens: createTokenService({ secret: 'throttle-test-secret-throttle-test-12', clients: [] }),
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

describe('authorize', () => {
  const tokens = createTokenService({
    secret: 'authorize-test-secret-authorize-test-1',
    clients: localClients(),
  });
  const bearer = async (scopes: string[], ttl?: number) =>
    `Bearer ${await tokens.sign('dacs-local', scopes, ttl)}`;

  it('asks for a bearer token when there is none', async () => {
    expect(await authorize(tokens, 'Basic abc', 'integration/dacs')).toEqual({
      ok: false,
      status: 401,
      detail: 'A bearer token is required.',
      headers: { 'WWW-Authenticate': 'Bearer' },
    });
  });

  it('refuses an expired token as invalid', async () => {
    expect(await authorize(tokens, await bearer(['integration/dacs'], -5), 'integration/dacs')).toEqual({
      ok: false,
      status: 401,
      detail: 'The bearer token was refused: token expired.',
      headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' },
    });
  });

  it("refuses a valid token without the route's scope with 403", async () => {
    expect(await authorize(tokens, await bearer(['integration/derms']), 'integration/dacs')).toEqual({
      ok: false,
      status: 403,
      detail: 'This route needs the scope integration/dacs.',
      headers: { 'WWW-Authenticate': 'Bearer error="insufficient_scope", scope="integration/dacs"' },
    });
  });

  it("admits a token with the route's scope among others, with its claims", async () => {
    const verdict = await authorize(tokens, await bearer(['a/b', 'integration/dacs']), 'integration/dacs');
    expect(verdict).toMatchObject({
      ok: true,
      claims: { client_id: 'dacs-local', scope: 'a/b integration/dacs', token_use: 'access' },
    });
  });
});
