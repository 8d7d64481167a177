import fc from 'fast-check';
import {
  CONTRACT_MIN_BODY_BYTES,
  EVENT_HEADROOM_BYTES,
  greaterThanPattern,
  LAMBDA_INVOKE_LIMIT_BYTES,
  MAX_SAFE_BODY_BYTES,
  WORST_CASE_ESCAPE_RATIO,
} from '#infra/body-limit.ts';
import { TUNABLES } from '#shared/config/tunables.ts';

/** API Gateway's limit on the request line and headers together. */
const REQUEST_LINE_AND_HEADERS_BYTES = 10_240;

/** The worst valid JSON body of `size` bytes: a string of backslashes, every byte of which escapes to two. */
function worstCaseBody(size: number): string {
  const pairs = Math.floor((size - 2) / 2);
  const body = `"${'\\\\'.repeat(pairs)}${size % 2 === 1 ? ' ' : ''}"`;
  expect(Buffer.byteLength(body)).toBe(size);
  return body;
}

/** Headers filling API Gateway's 10,240 bytes, every value of escaping characters (`"` and `\`). */
function worstCaseHeaders(path: string): Record<string, string> {
  const headers: Record<string, string> = {
    Authorization: `Bearer ${'e'.repeat(1_200)}.${'e'.repeat(1_200)}.${'e'.repeat(400)}`,
    'Content-Type': 'application/json',
    Host: 'api.utility.corp',
    'User-Agent': '"\\'.repeat(500),
  };
  const used = () =>
    `POST ${path} HTTP/1.1\r\n`.length +
    Object.entries(headers).reduce((n, [k, v]) => n + k.length + v.length + 4, 0);
  headers['X-Padding'] = '"'.repeat(REQUEST_LINE_AND_HEADERS_BYTES - used() - 'X-Padding'.length - 4);
  expect(used()).toBe(REQUEST_LINE_AND_HEADERS_BYTES);
  return headers;
}

/** A REST API proxy event as API Gateway builds it: headers twice, the user agent once more, the context. */
function proxyEvent(body: string) {
  const path = '/v1/dacs/asset-sync';
  const headers = worstCaseHeaders(path);
  return {
    resource: path,
    path,
    httpMethod: 'POST',
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    requestContext: {
      resourceId: 'abc123',
      resourcePath: path,
      httpMethod: 'POST',
      extendedRequestId: 'Aa0Bb1Cc2Dd3Ee4=',
      requestTime: '01/Dec/2026:14:00:00 +0000',
      path: `/prod${path}`,
      accountId: '111122223333',
      protocol: 'HTTP/1.1',
      stage: 'prod',
      domainPrefix: 'api',
      requestTimeEpoch: 1_796_133_600_000,
      requestId: '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0',
      identity: {
        cognitoIdentityPoolId: null,
        accountId: null,
        cognitoIdentityId: null,
        caller: null,
        sourceIp: '203.0.113.10',
        principalOrgId: null,
        accessKey: null,
        cognitoAuthenticationType: null,
        cognitoAuthenticationProvider: null,
        userArn: null,
        userAgent: headers['User-Agent'],
        user: null,
      },
      authorizer: {
        principalId: 'a1b2c3d4e5f6g7h8i9j0k1l2m3',
        scope: 'integration/dacs',
        client_id: 'a1b2c3d4e5f6g7h8i9j0k1l2m3',
        sub: 'a1b2c3d4e5f6g7h8i9j0k1l2m3',
        integrationLatency: 42,
      },
      domainName: 'api.utility.corp',
      deploymentId: 'abc123',
      apiId: 'a1b2c3d4e5',
    },
    body,
    isBase64Encoded: false,
  };
}

describe('inbound body limit', () => {
  it('is the largest body whose worst-case event fits 6 MB with room for headers and context', () => {
    expect(MAX_SAFE_BODY_BYTES).toBe(3_080_192);
    expect(WORST_CASE_ESCAPE_RATIO * MAX_SAFE_BODY_BYTES + EVENT_HEADROOM_BYTES).toBeLessThanOrEqual(
      LAMBDA_INVOKE_LIMIT_BYTES,
    );
  });

  it('defaults MAX_BODY_BYTES below that, and never below an asset sync of 10,000 devices (the contract)', () => {
    expect(TUNABLES.maxBodyBytes.default).toBe(3_000_000);
    expect(TUNABLES.maxBodyBytes.default).toBeLessThanOrEqual(MAX_SAFE_BODY_BYTES);
    expect(TUNABLES.maxBodyBytes.default).toBeGreaterThanOrEqual(CONTRACT_MIN_BODY_BYTES);
  });

  it.each([
    ['the default', TUNABLES.maxBodyBytes.default],
    ['the safe maximum', MAX_SAFE_BODY_BYTES],
  ])(
    'fits Lambda at %s: the worst-case event (every byte escaping, headers full) is ≤ 6,291,456 bytes',
    (_, size) => {
      const body = worstCaseBody(size);
      expect(() => JSON.parse(body)).not.toThrow(); // valid JSON: the gateway's model lets it through
      const event = JSON.stringify(proxyEvent(body));
      const eventBytes = Buffer.byteLength(event);
      expect(eventBytes).toBeLessThanOrEqual(LAMBDA_INVOKE_LIMIT_BYTES);
      // Every byte of the body doubled; the rest of the event within the headroom.
      expect(Buffer.byteLength(JSON.stringify(body)) - 2).toBe(2 * size);
      expect(eventBytes - 2 * size).toBeLessThanOrEqual(EVENT_HEADROOM_BYTES);
    },
  );

  it('would not fit at the old 5 MiB default: that body failed at the gateway, answered 503 "retry"', () => {
    const event = JSON.stringify(proxyEvent(worstCaseBody(5 * 1024 * 1024)));
    expect(Buffer.byteLength(event)).toBeGreaterThan(LAMBDA_INVOKE_LIMIT_BYTES);
  });

  it('never grows a valid JSON body more than twofold when the event is serialized, whatever it holds', () => {
    fc.assert(
      fc.property(fc.json({ stringUnit: 'binary', maxDepth: 3 }), (text) => {
        const bytes = Buffer.byteLength(text);
        expect(Buffer.byteLength(JSON.stringify(text)) - 2).toBeLessThanOrEqual(
          WORST_CASE_ESCAPE_RATIO * bytes,
        );
      }),
    );
  });
});

describe('greaterThanPattern', () => {
  const matches = (limit: number, value: string) => new RegExp(greaterThanPattern(limit)).test(value);

  it.each([
    [3_000_000, '3000001', true],
    [3_000_000, '3000000', false],
    [3_000_000, '2999999', false],
    [3_000_000, '10000000', true],
    [3_000_000, '0003000001', true],
    [3_000_000, '42', false],
    [0, '1', true],
    [0, '0', false],
    [999, '1000', true],
    [999, '999', false],
  ])('greater than %i: %s → %p', (limit, value, expected) => {
    expect(matches(limit, value)).toBe(expected);
  });

  it('matches exactly the integers above the limit', () => {
    fc.assert(
      fc.property(fc.nat(50_000_000), fc.nat(50_000_000), (limit, value) => {
        expect(matches(limit, String(value))).toBe(value > limit);
      }),
    );
  });
});
