import { describe, expect, it, jest } from '@jest/globals';
import type { APIGatewayAuthorizerResult, PolicyDocument } from 'aws-lambda';
import {
  createAuthorizerCache,
  evaluatePolicy,
  GATEWAY_MESSAGES,
  methodArn,
  runAuthorizer,
} from '#local/authorizer.ts';
import type { LambdaHandler } from '#local/lambda.ts';
import { policyFor } from '#shared/auth/policy.ts';

const ARN = methodArn('POST', '/v1/dacs/asset-sync');
const STAGE = 'arn:aws:execute-api:us-east-1:000000000000:local/local';

const allowing = (scope: string): APIGatewayAuthorizerResult => ({
  principalId: 'dacs-local',
  policyDocument: policyFor([scope], ARN),
  context: { scope, client_id: 'dacs-local', sub: 'dacs-local' },
});

const run = (handler: LambdaHandler, authorization: string | undefined = 'Bearer t') =>
  runAuthorizer({ authorization, method: 'POST', path: '/v1/dacs/asset-sync', load: async () => handler });

describe('methodArn', () => {
  it('is the method ARN API Gateway passes a TOKEN authorizer', () => {
    expect(methodArn('GET', '/v1/messages/m-1')).toBe(`${STAGE}/GET/v1/messages/m-1`);
  });
});

describe('evaluatePolicy', () => {
  const policy = (...Statement: PolicyDocument['Statement']): PolicyDocument => ({
    Version: '2012-10-17',
    Statement,
  });

  it('allows what an Allow lists, with IAM wildcards, and nothing else', () => {
    const p = policy({
      Action: 'execute-api:Invoke',
      Effect: 'Allow',
      Resource: [`${STAGE}/GET/v1/messages/*`],
    });
    expect(evaluatePolicy(p, `${STAGE}/GET/v1/messages/m-1`)).toBe('Allow');
    expect(evaluatePolicy(p, `${STAGE}/POST/v1/messages/m-1`)).toBe('ImplicitDeny');
    expect(evaluatePolicy(p, `${STAGE}/GET/v1/messagesX`)).toBe('ImplicitDeny');
  });

  it('lets an explicit Deny win over an Allow', () => {
    const p = policy(
      { Action: 'execute-api:Invoke', Effect: 'Allow', Resource: `${STAGE}/*` },
      { Action: 'execute-api:*', Effect: 'Deny', Resource: `${STAGE}/POST/*` },
    );
    expect(evaluatePolicy(p, ARN)).toBe('Deny');
    expect(evaluatePolicy(p, `${STAGE}/GET/v1/messages/m-1`)).toBe('Allow');
  });

  it('ignores statements about other actions, and treats regex characters literally', () => {
    const p = policy(
      { Action: 's3:GetObject', Effect: 'Allow', Resource: '*' },
      { Action: 'execute-api:Invoke', Effect: 'Allow', Resource: `${STAGE}/GET/v1/a.c` },
    );
    expect(evaluatePolicy(p, ARN)).toBe('ImplicitDeny');
    expect(evaluatePolicy(p, `${STAGE}/GET/v1/abc`)).toBe('ImplicitDeny');
  });
});

describe('runAuthorizer', () => {
  it('answers 401 without calling the authorizer when there is no Authorization header', async () => {
    const handler = jest.fn<LambdaHandler>();
    const verdict = await runAuthorizer({
      authorization: undefined,
      method: 'POST',
      path: '/v1/dacs/asset-sync',
      load: async () => handler,
    });
    expect(verdict).toEqual({
      ok: false,
      status: 401,
      detail: GATEWAY_MESSAGES.unauthorized,
      headers: { 'WWW-Authenticate': 'Bearer' },
    });
    expect(handler).not.toHaveBeenCalled();
  });

  it('calls the authorizer with the TOKEN event and admits an allowed request with its context', async () => {
    const handler = jest.fn<LambdaHandler>(async () => allowing('integration/dacs'));
    const verdict = await run(handler, 'Bearer abc');
    expect(handler.mock.calls[0]![0]).toEqual({
      type: 'TOKEN',
      authorizationToken: 'Bearer abc',
      methodArn: ARN,
    });
    expect(handler.mock.calls[0]![1].functionName).toBe('local-authorizer-handler');
    expect(verdict).toEqual({
      ok: true,
      context: {
        scope: 'integration/dacs',
        client_id: 'dacs-local',
        sub: 'dacs-local',
        principalId: 'dacs-local',
        integrationLatency: expect.any(Number),
      },
    });
  });

  it('answers 401 when the authorizer fails with Unauthorized', async () => {
    const verdict = await run(async () => {
      throw new Error('Unauthorized');
    });
    expect(verdict).toMatchObject({ ok: false, status: 401, detail: 'Unauthorized' });
  });

  it('answers 403, implicit or explicit deny, as ACCESS_DENIED words it', async () => {
    expect(await run(async () => allowing('integration/derms'))).toEqual({
      ok: false,
      status: 403,
      detail: GATEWAY_MESSAGES.implicitDeny,
      headers: { 'WWW-Authenticate': 'Bearer error="insufficient_scope"' },
    });
    expect(await run(async () => allowing('openid'))).toMatchObject({
      status: 403,
      detail: GATEWAY_MESSAGES.explicitDeny,
    });
  });

  it('answers 503 (AUTHORIZER_FAILURE) for any other failure, a malformed answer or a module that does not load', async () => {
    const failed = await run(async () => {
      throw new Error('Cannot verify tokens: JWKS down');
    });
    expect(failed).toMatchObject({ ok: false, status: 503, reason: expect.stringMatching(/JWKS down/) });
    expect(await run(async () => ({ principalId: 'x' }))).toMatchObject({ status: 503 });
    const unloadable = await runAuthorizer({
      authorization: 'Bearer t',
      method: 'POST',
      path: '/v1/dacs/asset-sync',
      load: () => Promise.reject(new Error('Missing required environment variable COGNITO_CLIENT_IDS')),
    });
    expect(unloadable).toMatchObject({ status: 503, reason: expect.stringMatching(/COGNITO_CLIENT_IDS/) });
  });
});

describe('the results cache', () => {
  it('keeps a policy per token and applies it to the next route the token calls', async () => {
    const cache = createAuthorizerCache(60_000);
    const handler = jest.fn<LambdaHandler>(async () => allowing('integration/dacs'));
    const call = (path: string) =>
      runAuthorizer({ authorization: 'Bearer t', method: 'POST', path, load: async () => handler, cache });
    expect((await call('/v1/dacs/asset-sync')).ok).toBe(true);
    expect((await call('/v1/dacs/event-opt-outs')).ok).toBe(true);
    expect(await call('/v1/derms/asset-sync-acks')).toMatchObject({
      status: 403,
      detail: GATEWAY_MESSAGES.implicitDeny,
    });
    expect(handler).toHaveBeenCalledTimes(1);
  });

  it('keeps no refusal, and forgets a policy after its time', async () => {
    let now = 0;
    const cache = createAuthorizerCache(1000, { now: () => now });
    const refusing = jest.fn<LambdaHandler>(async () => {
      throw new Error('Unauthorized');
    });
    const call = (handler: LambdaHandler) =>
      runAuthorizer({
        authorization: 'Bearer t',
        method: 'POST',
        path: '/v1/dacs/asset-sync',
        load: async () => handler,
        cache,
      });
    await call(refusing);
    await call(refusing);
    expect(refusing).toHaveBeenCalledTimes(2);
    const allow = jest.fn<LambdaHandler>(async () => allowing('integration/dacs'));
    await call(allow);
    now = 999;
    await call(allow);
    expect(allow).toHaveBeenCalledTimes(1);
    now = 1000;
    await call(allow);
    expect(allow).toHaveBeenCalledTimes(2);
  });

  it('keeps nothing with a time of 0, and at most maxEntries tokens', () => {
    const result = allowing('integration/dacs');
    const none = createAuthorizerCache(0);
    none.set('a', result);
    expect(none.get('a')).toBeUndefined();
    const small = createAuthorizerCache(60_000, { maxEntries: 2 });
    for (const key of ['a', 'b', 'c']) small.set(key, result);
    expect([small.get('a'), small.get('b'), small.get('c')]).toEqual([undefined, result, result]);
  });
});
