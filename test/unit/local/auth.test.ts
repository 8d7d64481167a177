import { SignJWT } from 'jose';
import {
  bearerToken,
  createTokenService,
  DEFAULT_CLIENT_SECRET,
  hasScope,
  localClients,
  parseBasicAuth,
  TOKEN_ISSUER,
} from '#local/auth.ts';

const secret = 'a-test-secret-that-is-long-enough-for-hs256';
const tokens = createTokenService({ secret, clients: localClients() });
const basic = (id: string, pw: string) => `Basic ${Buffer.from(`${id}:${pw}`).toString('base64')}`;
const form = (body: string) => new URLSearchParams(body);

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

describe('scope and header parsing', () => {
  it('grants a scope only when the space-separated claim lists it', () => {
    expect(hasScope('integration/dacs', 'integration/dacs')).toBe(true);
    expect(hasScope('openid integration/derms', 'integration/derms')).toBe(true);
    expect(hasScope('integration/dacsx', 'integration/dacs')).toBe(false);
    expect(hasScope(undefined, 'integration/dacs')).toBe(false);
  });

  it('parses HTTP Basic and Bearer headers', () => {
    expect(parseBasicAuth(basic('dacs-local', 'a:b'))).toEqual({
      clientId: 'dacs-local',
      clientSecret: 'a:b',
    });
    expect(parseBasicAuth('Bearer x')).toBeUndefined();
    expect(parseBasicAuth(undefined)).toBeUndefined();
    expect(bearerToken('Bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(bearerToken('bearer   t ')).toBe('t');
    expect(bearerToken('Basic abc')).toBeUndefined();
  });
});

describe('token endpoint', () => {
  it('issues a Cognito-like access token for client credentials', async () => {
    const answer = await tokens.issue(
      form('grant_type=client_credentials'),
      basic('derms-local', 'local-secret'),
    );
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 3600 });
    const verified = await tokens.verify(answer.body.access_token as string);
    expect(verified).toEqual({
      ok: true,
      claims: expect.objectContaining({
        sub: 'derms-local',
        client_id: 'derms-local',
        scope: 'integration/derms',
        token_use: 'access',
      }),
    });
  });

  it('accepts client credentials in the form body too', async () => {
    const answer = await tokens.issue(
      form('grant_type=client_credentials&client_id=dacs-local&client_secret=local-secret'),
      undefined,
    );
    expect(answer.status).toBe(200);
  });

  it('refuses a wrong secret or an unknown client with 401 invalid_client', async () => {
    for (const auth of [basic('dacs-local', 'nope'), basic('who', 'local-secret'), undefined]) {
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

describe('token verification', () => {
  it('refuses an expired token', async () => {
    const token = await tokens.sign('dacs-local', ['integration/dacs'], -10);
    expect(await tokens.verify(token)).toEqual({ ok: false, reason: 'token expired' });
  });

  it('refuses a token signed with another key', async () => {
    const other = createTokenService({
      secret: 'another-secret-another-secret-another',
      clients: localClients(),
    });
    const token = await other.sign('dacs-local', ['integration/dacs']);
    expect(await tokens.verify(token)).toEqual({ ok: false, reason: 'token invalid' });
  });

  it('refuses garbage and an id token', async () => {
    expect((await tokens.verify('not.a.jwt')).ok).toBe(false);
    const idToken = await new SignJWT({ client_id: 'dacs-local', token_use: 'id' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(TOKEN_ISSUER)
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(secret));
    expect(await tokens.verify(idToken)).toEqual({ ok: false, reason: 'not an access token' });
  });
});
