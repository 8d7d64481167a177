import type { ServerResponse } from 'node:http';
import { createCredentialsProvider } from '#shared/delivery/credentials.ts';
import { CredentialsNotFilledError } from '#shared/delivery/errors.ts';
import { createDeliverer, type DeliveryRequest, resolvePath } from '#shared/delivery/http.ts';
import { USER_AGENT } from '#shared/delivery/transport.ts';
import { ConfigurationError, DeliveryError } from '#shared/errors.ts';
import { FLOWS } from '#shared/flows/registry.ts';
import { json, type ReceivedCall, sleep, startServer, type TestServer } from './testServer.ts';

const PATH = '/v1/event-opt-outs';
const REQUEST: DeliveryRequest = {
  system: 'DERMS',
  path: PATH,
  body: { optOutId: 'OO-1', eventExternalIdentifier: 'EV-9' },
  idempotencyKey: 'OO-1',
  correlationId: 'msg-123',
};
const CLIENT = { clientId: 'derms-client', clientSecret: 's3cr3t+/=', scope: 'derms/write' };

let server: TestServer;
let tokenCount = 0;
let receiver: (call: ReceivedCall, res: ServerResponse) => void | Promise<void>;
let tokenAnswer: (res: ServerResponse, n: number) => void | Promise<void>;

beforeAll(async () => {
  server = await startServer(async (call, _req, res) => {
    if (call.path === '/oauth2/token') {
      tokenCount += 1;
      await tokenAnswer(res, tokenCount);
    } else {
      await receiver(call, res);
    }
  });
});
afterAll(() => server.close());
beforeEach(() => {
  server.calls.length = 0;
  tokenCount = 0;
  receiver = (_call, res) => json(res, 202, { accepted: true });
  tokenAnswer = (res, n) =>
    json(res, 200, { access_token: `token-${n}`, token_type: 'Bearer', expires_in: 3600 });
});

const receiverCalls = () => server.calls.filter((c) => c.path !== '/oauth2/token');

/** A deliverer against the test server; `credentials: true` configures inline client credentials. */
function deliverer(
  options: { credentials?: boolean; env?: Record<string, string>; now?: () => number } = {},
) {
  const env: Record<string, string> = {
    DERMS_BASE_URL: `${server.url}/`,
    DACS_BASE_URL: server.url,
    HTTP_TIMEOUT_MS: '300',
    ...(options.credentials && {
      DERMS_CREDENTIALS: JSON.stringify({ ...CLIENT, tokenUrl: `${server.url}/oauth2/token` }),
    }),
    ...options.env,
  };
  const credentials = createCredentialsProvider({ env, ...(options.now && { now: options.now }) });
  return createDeliverer({ env, credentials });
}

async function failure(promise: Promise<unknown>): Promise<DeliveryError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DeliveryError);
  return error as DeliveryError;
}

describe('deliver', () => {
  it('posts the JSON body with every contract header and returns the answer', async () => {
    const result = await deliverer({ credentials: true })(REQUEST);

    expect(result).toEqual({ status: 202, durationMs: expect.any(Number), body: '{"accepted":true}' });
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
    const [call] = receiverCalls();
    expect(call).toMatchObject({ method: 'POST', path: PATH });
    expect(JSON.parse(call!.body)).toEqual(REQUEST.body);
    expect(call!.headers).toMatchObject({
      'content-type': 'application/json',
      'idempotency-key': 'OO-1',
      'x-correlation-id': 'msg-123',
      authorization: 'Bearer token-1',
      'user-agent': USER_AGENT,
    });
  });

  it('sends no Authorization header when the system has no credentials', async () => {
    await deliverer()(REQUEST);
    expect(receiverCalls()[0]!.headers.authorization).toBeUndefined();
    expect(tokenCount).toBe(0);
  });

  it('joins a base URL with a path prefix and a path without a leading slash', async () => {
    await deliverer({ env: { DACS_BASE_URL: `${server.url}/ords/` } })({
      ...REQUEST,
      system: 'DACS',
      path: 'rest/ack',
    });
    expect(receiverCalls()[0]!.path).toBe('/ords/rest/ack');
  });

  it('leaves the body out of the result when the receiver sends none', async () => {
    receiver = (_call, res) => {
      res.writeHead(204).end();
    };
    expect(await deliverer()(REQUEST)).toEqual({ status: 204, durationMs: expect.any(Number) });
  });

  it.each([400, 409, 422])('treats %i as permanent, with the answer recorded', async (status) => {
    receiver = (_call, res) => json(res, status, { title: 'nope' });

    const error = await failure(deliverer()(REQUEST));

    expect(error.message).toBe(`DERMS answered ${status} to POST ${PATH}`);
    expect(error).toMatchObject({ retryable: false, statusCode: status, responseBody: '{"title":"nope"}' });
    expect(error.retryAfterSeconds).toBeUndefined();
  });

  it('retries a 503 and reads its Retry-After', async () => {
    receiver = (_call, res) => json(res, 503, { title: 'busy' }, { 'Retry-After': '120' });

    const error = await failure(deliverer()(REQUEST));

    expect(error.message).toBe(`DERMS answered 503 to POST ${PATH}`);
    expect(error).toMatchObject({ retryable: true, statusCode: 503, retryAfterSeconds: 120 });
    expect(error.responseBody).toBe('{"title":"busy"}');
  });

  it('retries a 429 and reads a Retry-After HTTP-date', async () => {
    const inAMinute = new Date(Date.now() + 60_000).toUTCString();
    receiver = (_call, res) => json(res, 429, {}, { 'Retry-After': inAMinute });

    const error = await failure(deliverer()(REQUEST));

    expect(error).toMatchObject({ retryable: true, statusCode: 429 });
    expect(error.retryAfterSeconds).toBeGreaterThanOrEqual(58);
    expect(error.retryAfterSeconds).toBeLessThanOrEqual(61);
  });

  it('retries a 408', async () => {
    receiver = (_call, res) => {
      res.writeHead(408).end();
    };
    const error = await failure(deliverer()(REQUEST));
    expect(error).toMatchObject({
      retryable: true,
      statusCode: 408,
      message: `DERMS answered 408 to POST ${PATH}`,
    });
    expect(error.responseBody).toBeUndefined();
  });

  it('keeps the permanent fields on a 4xx with Retry-After', async () => {
    receiver = (_call, res) => json(res, 403, {}, { 'Retry-After': '5' });
    expect(await failure(deliverer()(REQUEST))).toMatchObject({ retryable: false, retryAfterSeconds: 5 });
  });

  it('trims a long answer to 1000 characters', async () => {
    receiver = (_call, res) => {
      res.writeHead(500, { 'Content-Type': 'text/plain' }).end('x'.repeat(5000));
    };
    const error = await failure(deliverer()(REQUEST));
    expect(error.retryable).toBe(true);
    expect(error.responseBody).toHaveLength(1000);
    expect(error.responseBody!.endsWith('…')).toBe(true);
  });

  it('does not follow a redirect, and treats it as permanent', async () => {
    receiver = (call, res) => {
      if (call.path === PATH) res.writeHead(307, { Location: '/elsewhere' }).end();
      else json(res, 202, {});
    };
    const error = await failure(deliverer()(REQUEST));
    expect(error).toMatchObject({ retryable: false, statusCode: 307 });
    expect(receiverCalls()).toHaveLength(1);
  });

  it('gives up on a receiver that does not answer within HTTP_TIMEOUT_MS', async () => {
    receiver = async (_call, res) => {
      await sleep(1000);
      if (!res.destroyed) json(res, 202, {});
    };
    const error = await failure(deliverer({ env: { HTTP_TIMEOUT_MS: '100' } })(REQUEST));
    expect(error.message).toBe(`DERMS did not answer POST ${PATH} within 100 ms`);
    expect(error.retryable).toBe(true);
    expect(error.statusCode).toBeUndefined();
  });

  it('retries a connection reset', async () => {
    receiver = (_call, res) => {
      res.socket?.destroy();
    };
    const error = await failure(deliverer()(REQUEST));
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(new RegExp(`^DERMS could not be reached for POST ${PATH}: connection`));
    expect(error.statusCode).toBeUndefined();
  });

  it('retries a refused connection', async () => {
    const closed = await startServer(() => {});
    const url = closed.url;
    await closed.close();
    const error = await failure(deliverer({ env: { DERMS_BASE_URL: url } })(REQUEST));
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('connection refused (ECONNREFUSED)');
  });

  it('names the missing base URL variable', async () => {
    const deliver = createDeliverer({ env: {}, credentials: createCredentialsProvider({ env: {} }) });
    const error = await failure(deliver({ ...REQUEST, system: 'DACS' }));
    expect(error.message).toBe('Cannot deliver to DACS: environment variable DACS_BASE_URL is not set');
    expect(error.retryable).toBe(true);
    expect(error.cause).toBeInstanceOf(ConfigurationError);
    expect((error.cause as ConfigurationError).key).toBe('DACS_BASE_URL');
  });

  it('rejects a base URL that is not http(s)', async () => {
    const error = await failure(deliverer({ env: { DERMS_BASE_URL: 'derms.example.com' } })(REQUEST));
    expect(error.message).toBe('Cannot deliver to DERMS: DERMS_BASE_URL is not an http(s) URL');
  });

  it.each([
    ['a non-ASCII key', 'OPT-é1', 'OPT-%C3%A91'],
    ['a trailing blank', 'OO-1 ', 'OO-1%20'],
    ['an emoji', 'OO-\u{1F50C}', 'OO-%F0%9F%94%8C'],
    ['a line break that would inject a header', 'clé\r\nX-Evil: 1', 'cl%C3%A9%0D%0AX-Evil:%201'],
    ['a lone surrogate', 'OO-\ud800', 'OO-%ED%A0%80'],
    ['a percent sign', 'OO-100%', 'OO-100%25'],
  ])('delivers %s, percent-encoded in the Idempotency-Key header', async (_what, key, header) => {
    const result = await deliverer()({ ...REQUEST, idempotencyKey: key, correlationId: key });
    expect(result.status).toBe(202);
    const [call] = receiverCalls();
    expect(call!.headers['idempotency-key']).toBe(header);
    expect(call!.headers['x-correlation-id']).toBe(header);
    expect(call!.headers['x-evil']).toBeUndefined();
  });

  it('sends an ASCII key with every punctuation mark byte for byte', async () => {
    const key = `OO-1!"#$&'()*+,-./:;<=>?@[\\]^_\`{|}~`;
    await deliverer()({ ...REQUEST, idempotencyKey: key });
    expect(receiverCalls()[0]!.headers['idempotency-key']).toBe(key);
  });

  it.each([
    ['Idempotency-Key', { idempotencyKey: '' }],
    ['X-Correlation-Id', { correlationId: '' }],
  ])('refuses, permanently, an empty %s', async (name, change) => {
    const error = await failure(deliverer()({ ...REQUEST, ...change }));
    expect(error.retryable).toBe(false);
    expect(error.message).toContain(`${name} is missing or empty`);
    expect(receiverCalls()).toHaveLength(0);
  });

  it('refuses, permanently, a body that is not JSON-serialisable', async () => {
    const error = await failure(deliverer()({ ...REQUEST, body: { n: 1n } }));
    expect(error.retryable).toBe(false);
    expect(receiverCalls()).toHaveLength(0);
  });
});

describe('deliver with OAuth client credentials', () => {
  it('requests a client-credentials token with HTTP Basic and the scope', async () => {
    await deliverer({ credentials: true })(REQUEST);

    const [token] = server.callsTo('/oauth2/token');
    expect(token!.method).toBe('POST');
    expect(token!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    const form = new URLSearchParams(token!.body);
    expect(Object.fromEntries(form)).toEqual({ grant_type: 'client_credentials', scope: 'derms/write' });
    const basic = Buffer.from(token!.headers.authorization!.replace(/^Basic /, ''), 'base64').toString(
      'utf8',
    );
    const [id, secret] = basic.split(':').map(decodeURIComponent);
    expect([id, secret]).toEqual([CLIENT.clientId, CLIENT.clientSecret]);
  });

  it('fetches the token once and reuses it across calls', async () => {
    const deliver = deliverer({ credentials: true });
    await deliver(REQUEST);
    await deliver(REQUEST);
    await deliver(REQUEST);

    expect(tokenCount).toBe(1);
    expect(receiverCalls().map((c) => c.headers.authorization)).toEqual(Array(3).fill('Bearer token-1'));
  });

  it('refreshes the token shortly before it expires', async () => {
    let clock = Date.parse('2026-12-01T00:00:00Z');
    const deliver = deliverer({ credentials: true, now: () => clock });

    await deliver(REQUEST);
    clock += (3600 - 360 - 1) * 1000; // expires_in 3600, margin max(30 s, 10 %) = 360 s
    await deliver(REQUEST);
    expect(tokenCount).toBe(1);

    clock += 2000;
    await deliver(REQUEST);
    expect(tokenCount).toBe(2);
    expect(receiverCalls().map((c) => c.headers.authorization)).toEqual([
      'Bearer token-1',
      'Bearer token-1',
      'Bearer token-2',
    ]);
  });

  it('shares one token request among concurrent calls', async () => {
    tokenAnswer = async (res, n) => {
      await sleep(50);
      json(res, 200, { access_token: `token-${n}`, expires_in: 3600 });
    };
    const deliver = deliverer({ credentials: true });

    const results = await Promise.all(Array.from({ length: 8 }, () => deliver(REQUEST)));

    expect(results.every((r) => r.status === 202)).toBe(true);
    expect(tokenCount).toBe(1);
    expect(new Set(receiverCalls().map((c) => c.headers.authorization))).toEqual(new Set(['Bearer token-1']));
  });

  it('drops a token the receiver rejects with 401 and tries once more with a new one', async () => {
    receiver = (call, res) => {
      if (call.headers.authorization === 'Bearer token-1') json(res, 401, { title: 'expired' });
      else json(res, 202, {});
    };
    const deliver = deliverer({ credentials: true });

    expect((await deliver(REQUEST)).status).toBe(202);
    await deliver(REQUEST);

    expect(tokenCount).toBe(2);
    expect(receiverCalls().map((c) => c.headers.authorization)).toEqual([
      'Bearer token-1',
      'Bearer token-2',
      'Bearer token-2',
    ]);
  });

  it('gives up after one refresh when the receiver keeps answering 401', async () => {
    receiver = (_call, res) => json(res, 401, { title: 'no' });

    const error = await failure(deliverer({ credentials: true })(REQUEST));

    expect(error.message).toBe(`DERMS answered 401 to POST ${PATH} (after a token refresh)`);
    expect(error).toMatchObject({ retryable: false, statusCode: 401 });
    expect(tokenCount).toBe(2);
    expect(receiverCalls()).toHaveLength(2);
  });

  it('does not retry a 401 when no token was sent', async () => {
    receiver = (_call, res) => json(res, 401, {});
    const error = await failure(deliverer()(REQUEST));
    expect(error.message).toBe(`DERMS answered 401 to POST ${PATH}`);
    expect(receiverCalls()).toHaveLength(1);
  });

  it('fails, to be retried, without calling the receiver, when the token endpoint rejects the client', async () => {
    tokenAnswer = (res) => json(res, 401, { error: 'invalid_client' });

    const error = await failure(deliverer({ credentials: true })(REQUEST));

    expect(error.message).toBe(
      `DERMS token endpoint ${server.url}/oauth2/token answered 401 (invalid_client)`,
    );
    expect(error).toMatchObject({ retryable: true, statusCode: 401 });
    expect(error.message).not.toContain(CLIENT.clientSecret);
    expect(receiverCalls()).toHaveLength(0);
  });

  it('retries when the token endpoint is unavailable, and asks again next time', async () => {
    tokenAnswer = (res, n) =>
      n === 1
        ? json(res, 503, {}, { 'Retry-After': '7' })
        : json(res, 200, { access_token: 'token-ok', expires_in: 3600 });
    const deliver = deliverer({ credentials: true });

    const error = await failure(deliver(REQUEST));
    expect(error).toMatchObject({ retryable: true, statusCode: 503, retryAfterSeconds: 7 });

    expect((await deliver(REQUEST)).status).toBe(202);
    expect(receiverCalls()[0]!.headers.authorization).toBe('Bearer token-ok');
  });

  it('retries when the token endpoint does not answer in time', async () => {
    tokenAnswer = async (res) => {
      await sleep(1000);
      if (!res.destroyed) json(res, 200, { access_token: 'late', expires_in: 3600 });
    };
    const error = await failure(deliverer({ credentials: true, env: { HTTP_TIMEOUT_MS: '100' } })(REQUEST));
    expect(error.message).toBe(
      `DERMS token endpoint ${server.url}/oauth2/token did not answer within 100 ms`,
    );
    expect(error.retryable).toBe(true);
  });

  it('reports credentials that are not filled in, as retryable', async () => {
    const error = await failure(deliverer({ env: { DERMS_CREDENTIALS: '{"clientId":"x"}' } })(REQUEST));
    expect(error).toBeInstanceOf(CredentialsNotFilledError);
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('DERMS_CREDENTIALS lacks clientSecret, tokenUrl');
    expect(receiverCalls()).toHaveLength(0);
  });
});

describe('resolvePath', () => {
  const target = FLOWS.optOut.target;

  it('uses the contract default', () => {
    expect(resolvePath(target, {})).toBe('/v1/event-opt-outs');
  });

  it('uses the override from the target path variable', () => {
    expect(resolvePath(target, { [target.pathEnv]: '/v2/opt-outs' })).toBe('/v2/opt-outs');
  });
});
