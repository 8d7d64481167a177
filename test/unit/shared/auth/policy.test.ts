import type { Statement } from 'aws-lambda';
import { authorizerResult, parseMethodArn, policyFor, ROUTE_GRANTS, routeArn } from '#shared/auth/policy.ts';
import { CALLERS, flowList } from '#shared/flows/registry.ts';

const API = 'arn:aws:execute-api:eu-west-1:123456789012:abc123def4';
const methodArn = (method: string, path: string) => `${API}/prod/${method}${path}`;
const statementOf = (scopes: string[], arn = methodArn('POST', '/v1/dacs/asset-sync')): Statement => {
  const policy = policyFor(scopes, arn);
  expect(policy.Statement).toHaveLength(1);
  return policy.Statement[0]!;
};
const resources = (s: Statement): string[] => {
  const r = (s as { Resource: string | string[] }).Resource;
  return Array.isArray(r) ? r : [r];
};

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
/** Whether an IAM resource pattern (`*` matches anything, `/` included) matches an ARN. */
const matches = (pattern: string, arn: string) =>
  new RegExp(`^${pattern.split('*').map(escapeRegExp).join('.*')}$`).test(arn);
const allows = (scopes: string[], arn: string) => {
  const s = statementOf(scopes);
  return s.Effect === 'Allow' && resources(s).some((p) => matches(p, arn));
};

describe('parseMethodArn', () => {
  it('splits the API ARN and the stage off a method ARN', () => {
    expect(parseMethodArn(methodArn('GET', '/v1/messages/m-1'))).toEqual({ apiArn: API, stage: 'prod' });
  });
  it('refuses anything that is not an execute-api method ARN', () => {
    expect(() => parseMethodArn('arn:aws:lambda:eu-west-1:123456789012:function:x')).toThrow(
      /Unrecognised method ARN/,
    );
  });
});

describe('routeArn', () => {
  it('turns a {param} segment into a wildcard', () => {
    expect(
      routeArn(parseMethodArn(methodArn('GET', '/x')), { method: 'GET', path: '/v1/messages/{messageId}' }),
    ).toBe(`${API}/prod/GET/v1/messages/*`);
  });
});

describe('policyFor', () => {
  it('covers every route of the registry and the support routes', () => {
    expect(ROUTE_GRANTS.map((r) => `${r.method} ${r.path}`).sort()).toEqual(
      [
        ...flowList().map((f) => `POST ${f.route.path}`),
        'GET /v1/sync-requests/{syncRequestId}',
        'GET /v1/messages/{messageId}',
        'GET /v1/messages',
        'POST /v1/messages/{messageId}/resubmit',
        'POST /v1/sync-requests/{syncRequestId}/resubmit',
      ].sort(),
    );
  });

  it('allows exactly the DACS routes to a DACS token, on the stage of the method ARN', () => {
    expect(statementOf([CALLERS.dacs])).toEqual({
      Action: 'execute-api:Invoke',
      Effect: 'Allow',
      Resource: [
        `${API}/prod/POST/v1/dacs/asset-sync`,
        `${API}/prod/POST/v1/dacs/event-opt-outs`,
        `${API}/prod/POST/v1/dacs/unavailability`,
      ],
    });
  });

  it('allows the support routes with any path parameter to a support token', () => {
    expect(allows([CALLERS.support], methodArn('GET', '/v1/messages/0190-abc'))).toBe(true);
    expect(allows([CALLERS.support], methodArn('GET', '/v1/sync-requests/SR-1'))).toBe(true);
    expect(allows([CALLERS.support], methodArn('GET', '/v1/messages'))).toBe(true);
    expect(allows([CALLERS.support], methodArn('POST', '/v1/messages/0190-abc/resubmit'))).toBe(true);
    expect(allows([CALLERS.dacs], methodArn('POST', '/v1/messages/0190-abc/resubmit'))).toBe(false);
    expect(allows([CALLERS.support], methodArn('POST', '/v1/sync-requests/SR-1/resubmit'))).toBe(true);
    expect(allows([CALLERS.derms], methodArn('POST', '/v1/sync-requests/SR-1/resubmit'))).toBe(false);
    expect(allows([CALLERS.support], methodArn('POST', '/v1/dacs/asset-sync'))).toBe(false);
  });

  it('never lets DERMS onto a DACS route, nor DACS onto a DERMS route (403)', () => {
    for (const flow of flowList()) {
      const arn = methodArn('POST', flow.route.path);
      expect(allows([CALLERS.dacs], arn)).toBe(flow.caller === 'dacs');
      expect(allows([CALLERS.derms], arn)).toBe(flow.caller === 'derms');
      expect(allows([CALLERS.support], arn)).toBe(false);
    }
  });

  it('lists every granted route whichever route was called, so a cached policy stays right', () => {
    const fromAck = policyFor([CALLERS.derms], methodArn('POST', '/v1/derms/asset-sync-acks'));
    const fromDacsRoute = policyFor([CALLERS.derms], methodArn('POST', '/v1/dacs/asset-sync'));
    expect(fromAck).toEqual(fromDacsRoute);
  });

  it('allows the union of routes to a token with several scopes', () => {
    // 3 DACS routes and the 5 support routes.
    expect(resources(statementOf([CALLERS.dacs, CALLERS.support]))).toHaveLength(8);
  });

  it('denies the whole stage to a token with none of the callers’ scopes', () => {
    for (const scopes of [[], ['openid'], ['integration/other']]) {
      expect(statementOf(scopes)).toEqual({
        Action: 'execute-api:Invoke',
        Effect: 'Deny',
        Resource: `${API}/prod/*`,
      });
    }
  });
});

describe('authorizerResult', () => {
  it('passes scope, client_id and sub as context, with the client as principal', () => {
    const result = authorizerResult(
      { sub: 'c-1', client_id: 'c-1', scope: 'integration/derms' },
      methodArn('POST', '/v1/derms/legacy-acks'),
    );
    expect(result.principalId).toBe('c-1');
    expect(result.context).toEqual({ scope: 'integration/derms', client_id: 'c-1', sub: 'c-1' });
  });
});
