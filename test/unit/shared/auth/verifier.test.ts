import { FetchError } from 'aws-jwt-verify/error';
import type { APIGatewayAuthorizerResult, Statement } from 'aws-lambda';
import { AuthorizerUnavailableError, UnauthorizedError } from '#shared/auth/errors.ts';
import {
  authorizeToken,
  bearerToken,
  createAccessTokenVerifier,
  readAuthorizerConfig,
} from '#shared/auth/verifier.ts';
import { CALLERS } from '#shared/flows/registry.ts';
import { CLIENT_IDS, createTestPool, ISSUER, type TestPool, USER_POOL_ID } from '#test/helpers/cognito.ts';

const API = 'arn:aws:execute-api:eu-west-1:123456789012:abc123def4/dev';
const DACS_ROUTE = `${API}/POST/v1/dacs/asset-sync`;
const DERMS_ROUTE = `${API}/POST/v1/derms/asset-sync-acks`;

let pool: TestPool;
const verifier = createAccessTokenVerifier({
  userPoolId: USER_POOL_ID,
  clientIds: Object.values(CLIENT_IDS),
});

beforeAll(async () => {
  pool = await createTestPool();
  verifier.cacheJwks(pool.jwks);
});

const authorize = (authorization: string | undefined, methodArn = DACS_ROUTE) =>
  authorizeToken(verifier, authorization, methodArn);
const statement = (result: APIGatewayAuthorizerResult) => result.policyDocument.Statement[0] as Statement;
const allowed = (result: APIGatewayAuthorizerResult): string[] => {
  const s = statement(result) as { Effect: string; Resource: string | string[] };
  return s.Effect === 'Allow' ? [s.Resource].flat() : [];
};

/** The rejection, checked to be the one API Gateway turns into 401: a message of exactly `Unauthorized`. */
async function refusal(promise: Promise<unknown>): Promise<UnauthorizedError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UnauthorizedError);
  expect((error as Error).message).toBe('Unauthorized');
  return error as UnauthorizedError;
}

describe('authorizeToken', () => {
  it('allows a DACS access token onto the DACS route, with its claims as context', async () => {
    const result = await authorize(`Bearer ${await pool.accessToken(CLIENT_IDS.dacs, CALLERS.dacs)}`);
    expect(allowed(result)).toContain(DACS_ROUTE);
    expect(result.principalId).toBe(CLIENT_IDS.dacs);
    expect(result.context).toEqual({ scope: CALLERS.dacs, client_id: CLIENT_IDS.dacs, sub: CLIENT_IDS.dacs });
  });

  it('accepts the scheme in any case', async () => {
    const token = await pool.accessToken(CLIENT_IDS.dacs, CALLERS.dacs);
    expect(allowed(await authorize(`bearer ${token}`))).toContain(DACS_ROUTE);
  });

  it('does not allow a valid DERMS token onto a DACS route: API Gateway answers 403', async () => {
    const result = await authorize(`Bearer ${await pool.accessToken(CLIENT_IDS.derms, CALLERS.derms)}`);
    expect(allowed(result)).toContain(DERMS_ROUTE);
    expect(allowed(result)).not.toContain(DACS_ROUTE);
    expect(allowed(result).some((arn) => arn.includes('/v1/dacs/'))).toBe(false);
  });

  it('denies everything to a valid token without any caller scope (403, not 401)', async () => {
    for (const scope of ['', 'openid', 'integration/other']) {
      const result = await authorize(`Bearer ${await pool.accessToken(CLIENT_IDS.dacs, scope)}`);
      expect(statement(result)).toMatchObject({ Effect: 'Deny', Resource: `${API}/*` });
    }
    const noScopeClaim = await pool.sign({ sub: CLIENT_IDS.dacs, client_id: CLIENT_IDS.dacs });
    expect(statement(await authorize(`Bearer ${noScopeClaim}`)).Effect).toBe('Deny');
  });

  it('refuses a missing or non-bearer Authorization header', async () => {
    for (const header of [undefined, '', 'Bearer', 'Bearer ', 'Basic ZGFjczpzZWNyZXQ=', 'Token abc']) {
      await refusal(authorize(header));
    }
  });

  it('refuses a malformed token', async () => {
    for (const token of ['abc', 'a.b.c', 'eyJhbGciOiJSUzI1NiJ9.e30.']) {
      await refusal(authorize(`Bearer ${token}`));
    }
  });

  it('refuses an expired token', async () => {
    const past = Math.floor(Date.now() / 1000) - 120;
    const token = await pool.accessToken(CLIENT_IDS.dacs, CALLERS.dacs, { exp: past, iat: past - 3600 });
    expect((await refusal(authorize(`Bearer ${token}`))).reason).toMatch(/expired/i);
  });

  it('refuses a forged signature under the pool’s key id', async () => {
    const token = await pool.sign(
      { sub: CLIENT_IDS.dacs, client_id: CLIENT_IDS.dacs, scope: CALLERS.dacs },
      { key: pool.forgerKey },
    );
    expect((await refusal(authorize(`Bearer ${token}`))).reason).toMatch(/signature/i);
  });

  it('refuses an unsigned token (alg none)', async () => {
    const encode = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const payload = {
      iss: ISSUER,
      token_use: 'access',
      client_id: CLIENT_IDS.dacs,
      sub: CLIENT_IDS.dacs,
      scope: CALLERS.dacs,
      exp: Math.floor(Date.now() / 1000) + 600,
    };
    await refusal(authorize(`Bearer ${encode({ alg: 'none', kid: 'test-key-1' })}.${encode(payload)}.`));
  });

  it('refuses a token of another issuer, even signed with the pool’s key', async () => {
    for (const iss of [
      'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_OtherPool',
      'https://idp.example/oauth2',
    ]) {
      const token = await pool.accessToken(CLIENT_IDS.dacs, CALLERS.dacs, { iss });
      await refusal(authorize(`Bearer ${token}`));
    }
  });

  it('refuses an ID token of the pool', async () => {
    const token = await pool.sign({
      token_use: 'id',
      aud: CLIENT_IDS.dacs,
      sub: 'a-user',
      'cognito:username': 'a-user',
      scope: undefined,
    });
    expect((await refusal(authorize(`Bearer ${token}`))).reason).toMatch(/token use/i);
  });

  it('refuses an access token of an app client that is not a caller', async () => {
    const token = await pool.accessToken('some-other-client', CALLERS.dacs);
    await refusal(authorize(`Bearer ${token}`));
  });

  it('answers "cannot tell" (not 401) when the pool’s keys cannot be fetched', async () => {
    const down = {
      verify: () => Promise.reject(new FetchError('https://cognito-idp/jwks.json', 'timeout')),
    };
    const error = await authorizeToken(down, 'Bearer abc.def.ghi', DACS_ROUTE).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthorizerUnavailableError);
    expect((error as Error).message).not.toBe('Unauthorized');
  });
});

describe('bearerToken', () => {
  it('takes the token out of a Bearer header and nothing else', () => {
    expect(bearerToken('Bearer a.b.c')).toBe('a.b.c');
    expect(bearerToken('BEARER a.b.c ')).toBe('a.b.c');
    expect(bearerToken('Bearer a.b.c extra')).toBeUndefined();
    expect(bearerToken('Basic a')).toBeUndefined();
  });
});

describe('readAuthorizerConfig', () => {
  it('reads the user pool id and the comma-separated client ids', () => {
    expect(
      readAuthorizerConfig({ COGNITO_USER_POOL_ID: USER_POOL_ID, COGNITO_CLIENT_IDS: 'a, b,c,' }),
    ).toEqual({ userPoolId: USER_POOL_ID, clientIds: ['a', 'b', 'c'] });
  });
  it('names a missing key', () => {
    expect(() => readAuthorizerConfig({ COGNITO_USER_POOL_ID: USER_POOL_ID })).toThrow(/COGNITO_CLIENT_IDS/);
  });
});
