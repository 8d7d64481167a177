import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import {
  createTokenService,
  DEFAULT_CLIENT_SECRET,
  generateSigningKey,
  localClients,
  parseBasicAuth,
  parseSigningKey,
  publicJwks,
  readSigningKey,
  type SigningKey,
  signingKeyFile,
  signingKeyJson,
  type TokenService,
  writeSigningKey,
} from '#local/auth.ts';
import { authorizeToken, createAccessTokenVerifier, readAuthorizerConfig } from '#shared/auth/verifier.ts';

const ISSUER = 'http://127.0.0.1:3999';
const basic = (id: string, pw: string) => `Basic ${Buffer.from(`${id}:${pw}`).toString('base64')}`;
const form = (body: string) => new URLSearchParams(body);

let key: SigningKey;
let tokens: TokenService;
beforeAll(async () => {
  key = await generateSigningKey();
  tokens = createTokenService({ signingKey: key, issuer: ISSUER, clients: localClients() });
});

/** Verifies as a relying party would: RS256 against the served JWKS, with the issuer. */
const verify = (token: string, jwks = tokens.jwks()) =>
  jwtVerify(token, createLocalJWKSet(jwks as never), { issuer: ISSUER, algorithms: ['RS256'] });

describe('localClients', () => {
  it('has one client per caller with the scope of its name and the local secret', () => {
    expect(localClients()).toEqual([
      { clientId: 'dacs-local', clientSecret: DEFAULT_CLIENT_SECRET, scopes: ['integration/dacs'] },
      { clientId: 'derms-local', clientSecret: DEFAULT_CLIENT_SECRET, scopes: ['integration/derms'] },
      { clientId: 'support-local', clientSecret: DEFAULT_CLIENT_SECRET, scopes: ['integration/support'] },
    ]);
  });

  it('takes secrets from the environment, per client over all', () => {
    const clients = localClients({ LOCAL_CLIENT_SECRET: 'all', DERMS_LOCAL_CLIENT_SECRET: 'derms' });
    expect(clients.map((c) => c.clientSecret)).toEqual(['all', 'derms', 'all']);
  });
});

describe('parseBasicAuth', () => {
  it('parses HTTP Basic, with percent-encoded parts', () => {
    expect(parseBasicAuth(basic('dacs-local', 'a%3Ab'))).toEqual({
      clientId: 'dacs-local',
      clientSecret: 'a:b',
    });
    expect(parseBasicAuth('Bearer x')).toBeUndefined();
    expect(parseBasicAuth(undefined)).toBeUndefined();
  });

  it('answers nothing (not a URIError) for a malformed percent-encoding', () => {
    expect(parseBasicAuth(basic('dacs%', 'x'))).toBeUndefined();
  });
});

describe('token endpoint', () => {
  it('issues an RS256 access token shaped like Cognito’s, which verifies against the JWKS', async () => {
    const answer = await tokens.issue(
      form('grant_type=client_credentials'),
      basic('derms-local', 'local-secret'),
    );
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 3600 });
    const token = answer.body.access_token as string;
    expect(decodeProtectedHeader(token)).toEqual({ kid: key.kid, alg: 'RS256' });
    const { payload } = await verify(token);
    expect(payload).toEqual({
      sub: 'derms-local',
      client_id: 'derms-local',
      scope: 'integration/derms',
      token_use: 'access',
      iss: ISSUER,
      iat: expect.any(Number),
      exp: (payload.iat as number) + 3600,
      auth_time: payload.iat,
      version: 2,
      jti: expect.any(String),
    });
  });

  it('accepts client credentials in the form body too', async () => {
    const answer = await tokens.issue(
      form('grant_type=client_credentials&client_id=dacs-local&client_secret=local-secret'),
      undefined,
    );
    expect(answer.status).toBe(200);
  });

  it('refuses a wrong secret, an unknown client or a malformed header with 401 invalid_client', async () => {
    for (const auth of [
      basic('dacs-local', 'nope'),
      basic('who', 'local-secret'),
      basic('dacs%', 'x'),
      undefined,
    ]) {
      expect(await tokens.issue(form('grant_type=client_credentials'), auth)).toEqual({
        status: 401,
        body: { error: 'invalid_client' },
      });
    }
  });

  it('refuses another grant with 400 unsupported_grant_type', async () => {
    expect(await tokens.issue(form('grant_type=password'), basic('dacs-local', 'local-secret'))).toEqual({
      status: 400,
      body: { error: 'unsupported_grant_type' },
    });
  });

  it('refuses a scope the client does not hold', async () => {
    const answer = await tokens.issue(
      form('grant_type=client_credentials&scope=integration/derms'),
      basic('dacs-local', 'local-secret'),
    );
    expect(answer).toEqual({ status: 400, body: { error: 'invalid_scope' } });
  });
});

describe('signing key and JWKS', () => {
  it('serves only the public half, under the key id, for RS256', () => {
    const [jwk] = tokens.jwks().keys;
    expect(Object.keys(jwk!).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use']);
    expect(jwk).toMatchObject({ kty: 'RSA', kid: key.kid, alg: 'RS256', use: 'sig' });
  });

  it('round-trips through the key file, readable by its owner only, so tokens outlive a restart', async () => {
    const dir = mkdtempSync(resolve(tmpdir(), 'auth-test-'));
    try {
      const file = signingKeyFile(dir);
      writeSigningKey(file, key);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const reread = readSigningKey(file);
      expect(reread.kid).toBe(key.kid);
      const restarted = createTokenService({ signingKey: reread, issuer: ISSUER, clients: localClients() });
      await expect(verify(await restarted.sign('dacs-local', ['integration/dacs']))).resolves.toBeDefined();
      expect(publicJwks(reread)).toEqual(tokens.jwks());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a key file that is no RSA private key', () => {
    const publicOnly = JSON.stringify({ ...tokens.jwks().keys[0] });
    expect(() => parseSigningKey(publicOnly)).toThrow(/private/);
    expect(JSON.parse(signingKeyJson(key))).toMatchObject({
      kty: 'RSA',
      kid: key.kid,
      d: expect.any(String),
    });
  });
});

describe('local tokens and the authorizer’s verifier', () => {
  const arn = 'arn:aws:execute-api:us-east-1:000000000000:local/local/POST/v1/dacs/asset-sync';
  const verifier = () => {
    const v = createAccessTokenVerifier(
      readAuthorizerConfig({
        TOKEN_ISSUER_URL: ISSUER,
        COGNITO_CLIENT_IDS: 'dacs-local,derms-local,support-local',
      }),
    );
    v.cacheJwks(tokens.jwks() as never);
    return v;
  };

  it('accepts a token of the local token endpoint, as the real authorizer is configured locally', async () => {
    const token = await tokens.sign('dacs-local', ['integration/dacs']);
    await expect(authorizeToken(verifier(), `Bearer ${token}`, arn)).resolves.toMatchObject({
      principalId: 'dacs-local',
      context: { scope: 'integration/dacs', client_id: 'dacs-local', sub: 'dacs-local' },
    });
  });

  it('refuses an expired one and one signed with another key', async () => {
    const expired = await tokens.sign('dacs-local', ['integration/dacs'], -10);
    await expect(authorizeToken(verifier(), `Bearer ${expired}`, arn)).rejects.toThrow(/^Unauthorized$/);
    const other = createTokenService({
      signingKey: { ...(await generateSigningKey()), kid: key.kid },
      issuer: ISSUER,
      clients: localClients(),
    });
    const forged = await other.sign('dacs-local', ['integration/dacs']);
    await expect(authorizeToken(verifier(), `Bearer ${forged}`, arn)).rejects.toThrow(/^Unauthorized$/);
  });
});
