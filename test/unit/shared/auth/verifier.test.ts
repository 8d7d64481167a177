import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FetchError, NonRetryableFetchError } from 'aws-jwt-verify/error';
import type { APIGatewayAuthorizerResult, Statement } from 'aws-lambda';
import { AuthorizerUnavailableError, UnauthorizedError } from '#shared/auth/errors.ts';
import {
  authorizeToken,
  bearerToken,
  cognitoIssuers,
  createAccessTokenVerifier,
  jwksFetcher,
  readAuthorizerConfig,
} from '#shared/auth/verifier.ts';
import { ConfigurationError } from '#shared/errors.ts';
import { CALLERS } from '#shared/flows/registry.ts';
import { CLIENT_IDS, createTestPool, ISSUER, type TestPool, USER_POOL_ID } from '#test/helpers/cognito.ts';

const API = 'arn:aws:execute-api:eu-west-1:123456789012:abc123def4/dev';
const DACS_ROUTE = `${API}/POST/v1/dacs/asset-sync`;
const DERMS_ROUTE = `${API}/POST/v1/derms/asset-sync-acks`;

let pool: TestPool;
const verifier = createAccessTokenVerifier({
  issuers: cognitoIssuers(USER_POOL_ID),
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

  it('accepts the pool’s tokens under Cognito’s other issuer form too, as CognitoJwtVerifier does', async () => {
    const iss = `https://issuer-cognito-idp.eu-west-1.amazonaws.com/${USER_POOL_ID}`;
    const token = await pool.accessToken(CLIENT_IDS.dacs, CALLERS.dacs, { iss });
    expect(allowed(await authorize(`Bearer ${token}`))).toContain(DACS_ROUTE);
  });

  it('refuses a token whose token_use is missing', async () => {
    const token = await pool.accessToken(CLIENT_IDS.dacs, CALLERS.dacs, { token_use: undefined });
    expect((await refusal(authorize(`Bearer ${token}`))).reason).toMatch(/token use/i);
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
  it('reads the user pool’s issuers (both of Cognito’s forms) and the comma-separated client ids', () => {
    expect(
      readAuthorizerConfig({ COGNITO_USER_POOL_ID: USER_POOL_ID, COGNITO_CLIENT_IDS: 'a, b,c,' }),
    ).toEqual({
      issuers: [
        { issuer: ISSUER, jwksUri: `${ISSUER}/.well-known/jwks.json` },
        {
          issuer: `https://issuer-cognito-idp.eu-west-1.amazonaws.com/${USER_POOL_ID}`,
          jwksUri: `https://issuer-cognito-idp.eu-west-1.amazonaws.com/${USER_POOL_ID}/.well-known/jwks.json`,
        },
      ],
      clientIds: ['a', 'b', 'c'],
    });
  });

  it('takes another issuer (the local token endpoint) instead of a pool when TOKEN_ISSUER_URL is set', () => {
    expect(
      readAuthorizerConfig({ TOKEN_ISSUER_URL: 'http://127.0.0.1:3000/', COGNITO_CLIENT_IDS: 'dacs-local' }),
    ).toEqual({
      issuers: [{ issuer: 'http://127.0.0.1:3000/', jwksUri: 'http://127.0.0.1:3000/.well-known/jwks.json' }],
      clientIds: ['dacs-local'],
    });
  });

  it('names a missing key, and refuses a malformed pool id', () => {
    expect(() => readAuthorizerConfig({ COGNITO_USER_POOL_ID: USER_POOL_ID })).toThrow(/COGNITO_CLIENT_IDS/);
    expect(() => readAuthorizerConfig({ COGNITO_CLIENT_IDS: 'a' })).toThrow(/COGNITO_USER_POOL_ID/);
    expect(() => readAuthorizerConfig({ COGNITO_USER_POOL_ID: 'nope', COGNITO_CLIENT_IDS: 'a' })).toThrow(
      ConfigurationError,
    );
  });
});

describe('jwksFetcher', () => {
  let server: Server;
  let base: string;
  let calls = 0;
  beforeAll(async () => {
    server = createServer((req, res) => {
      calls++;
      if (req.url === '/ok') res.writeHead(200).end('{"keys":[]}');
      else res.writeHead(503).end();
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((done) => server.close(done)));

  it('fetches over http as well as https', async () => {
    const body = await jwksFetcher.fetch(`${base}/ok`);
    expect(Buffer.from(body).toString()).toBe('{"keys":[]}');
  });

  it('does not retry a non-200 answer, and the authorizer then answers "cannot tell" (503), not 401', async () => {
    calls = 0;
    await expect(jwksFetcher.fetch(`${base}/down`)).rejects.toBeInstanceOf(NonRetryableFetchError);
    expect(calls).toBe(1);
    const unreachable = createAccessTokenVerifier({
      issuers: [{ issuer: ISSUER, jwksUri: `${base}/down` }],
      clientIds: [CLIENT_IDS.dacs],
    });
    const token = await pool.accessToken(CLIENT_IDS.dacs, CALLERS.dacs);
    const error = await authorizeToken(unreachable, `Bearer ${token}`, DACS_ROUTE).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthorizerUnavailableError);
  });

  it('retries a connection failure once, then fails with a FetchError', async () => {
    await expect(jwksFetcher.fetch('http://127.0.0.1:1/jwks.json')).rejects.toBeInstanceOf(FetchError);
  });
});
