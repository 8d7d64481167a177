import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { jest } from '@jest/globals';
import { mockClient } from 'aws-sdk-client-mock';
import { secretsManagerClient } from '#shared/aws/clients.ts';
import { createCredentialsProvider } from '#shared/delivery/credentials.ts';
import { CredentialsNotFilledError } from '#shared/delivery/errors.ts';
import { ConfigurationError, DeliveryError } from '#shared/errors.ts';

const ARN = 'arn:aws:secretsmanager:us-west-2:123456789012:secret:derms-credentials-AbCdEf';
const TOKEN_URL = 'https://auth.example.com/oauth2/token';
const FILLED = { clientId: 'derms-client', clientSecret: 'first-secret', tokenUrl: TOKEN_URL };

const ALL_BUT_DATE = [
  'hrtime',
  'nextTick',
  'performance',
  'queueMicrotask',
  'setImmediate',
  'clearImmediate',
  'setInterval',
  'clearInterval',
  'setTimeout',
  'clearTimeout',
] as const;

const secretsMock = mockClient(SecretsManagerClient);
const secrets = new SecretsManagerClient({ region: 'us-west-2' });

interface TokenCall {
  url: string;
  authorization: string;
  form: Record<string, string>;
}

/** A token endpoint as a fake `fetch`: records each request and answers with `answer(n, call)`. */
function tokenEndpoint(answer: (n: number, call: TokenCall) => Response = okToken()) {
  const calls: TokenCall[] = [];
  const fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const headers = new Headers(init?.headers);
    const call = {
      url: String(input),
      authorization: headers.get('authorization') ?? '',
      form: Object.fromEntries(new URLSearchParams(String(init?.body))),
    };
    calls.push(call);
    return answer(calls.length, call);
  };
  return { calls, fetch: fetch as typeof globalThis.fetch };
}

function okToken(expiresIn = 3600) {
  return (n: number) =>
    Response.json({ access_token: `token-${n}`, token_type: 'Bearer', expires_in: expiresIn });
}

const basicUser = (call: TokenCall) =>
  Buffer.from(call.authorization.replace(/^Basic /, ''), 'base64').toString('utf8');

async function failure(promise: Promise<unknown>): Promise<DeliveryError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DeliveryError);
  return error as DeliveryError;
}

beforeEach(() => secretsMock.reset());

describe('createCredentialsProvider', () => {
  it('gives no Authorization header, and touches nothing, when the system has no credentials', async () => {
    const endpoint = tokenEndpoint();
    const provider = createCredentialsProvider({ env: {}, fetch: endpoint.fetch, secrets });

    await expect(provider.authorizationHeader('DERMS')).resolves.toBeUndefined();
    expect(endpoint.calls).toHaveLength(0);
    expect(secretsMock.calls()).toHaveLength(0);
  });

  it('reads inline credentials from <SYSTEM>_CREDENTIALS, per system', async () => {
    const endpoint = tokenEndpoint();
    const provider = createCredentialsProvider({
      env: { DACS_CREDENTIALS: JSON.stringify({ ...FILLED, clientId: 'dacs-client', scope: 'dacs/ack' }) },
      fetch: endpoint.fetch,
    });

    await expect(provider.authorizationHeader('DACS')).resolves.toBe('Bearer token-1');
    await expect(provider.authorizationHeader('DERMS')).resolves.toBeUndefined();
    expect(endpoint.calls[0]!.form).toEqual({ grant_type: 'client_credentials', scope: 'dacs/ack' });
    expect(basicUser(endpoint.calls[0]!)).toBe('dacs-client:first-secret');
  });

  it('form-encodes the client id and secret before Basic encoding (RFC 6749 §2.3.1)', async () => {
    const endpoint = tokenEndpoint();
    const provider = createCredentialsProvider({
      env: { DERMS_CREDENTIALS: JSON.stringify({ ...FILLED, clientSecret: 'a:b+c d' }) },
      fetch: endpoint.fetch,
    });
    await provider.authorizationHeader('DERMS');
    expect(basicUser(endpoint.calls[0]!)).toBe('derms-client:a%3Ab%2Bc+d');
  });

  describe('from Secrets Manager', () => {
    const env = { DERMS_CREDENTIALS_SECRET_ARN: ARN, DERMS_CREDENTIALS: '{"ignored":true}' };

    it('prefers the secret to inline credentials and asks the token URL it names', async () => {
      secretsMock
        .on(GetSecretValueCommand, { SecretId: ARN })
        .resolves({ SecretString: JSON.stringify(FILLED) });
      const endpoint = tokenEndpoint();
      const provider = createCredentialsProvider({ env, fetch: endpoint.fetch, secrets });

      await expect(provider.authorizationHeader('DERMS')).resolves.toBe('Bearer token-1');
      expect(endpoint.calls[0]!.url).toBe(TOKEN_URL);
      expect(endpoint.calls[0]!.form).toEqual({ grant_type: 'client_credentials' });
      expect(secretsMock.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    });

    describe('with the wall clock faked', () => {
      // Powertools' secret cache reads `Date` itself, so the clock is faked there rather than injected.
      beforeEach(() => jest.useFakeTimers({ now: 0, doNotFake: [...ALL_BUT_DATE] }));
      afterEach(() => jest.useRealTimers());

      it('caches the secret for its max age, then reads it again', async () => {
        secretsMock.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(FILLED) });
        // expires_in 60 → refreshed after 30 s, so every step below needs a new token and so the secret.
        const endpoint = tokenEndpoint(okToken(60));
        const provider = createCredentialsProvider({
          env,
          fetch: endpoint.fetch,
          secrets,
          secretMaxAgeSeconds: 300,
        });

        await provider.authorizationHeader('DERMS');
        jest.setSystemTime(31_000);
        await provider.authorizationHeader('DERMS');
        expect(endpoint.calls).toHaveLength(2);
        expect(secretsMock.commandCalls(GetSecretValueCommand)).toHaveLength(1);

        jest.setSystemTime(331_000);
        await provider.authorizationHeader('DERMS');
        expect(secretsMock.commandCalls(GetSecretValueCommand)).toHaveLength(2);
      });
    });

    it('reads the secret through the shared X-Ray-wrapped client by default', async () => {
      secretsMock.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(FILLED) });
      const provider = createCredentialsProvider({ env, fetch: tokenEndpoint().fetch });

      await expect(provider.authorizationHeader('DERMS')).resolves.toBe('Bearer token-1');
      expect(secretsMock.commandCalls(GetSecretValueCommand)[0]!.thisValue).toBe(secretsManagerClient());
    });

    it('shares one secret read among concurrent callers', async () => {
      secretsMock.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(FILLED) });
      const endpoint = tokenEndpoint();
      const provider = createCredentialsProvider({ env, fetch: endpoint.fetch, secrets });

      await Promise.all(Array.from({ length: 10 }, () => provider.authorizationHeader('DERMS')));

      expect(secretsMock.commandCalls(GetSecretValueCommand)).toHaveLength(1);
      expect(endpoint.calls).toHaveLength(1);
    });

    it("keeps one system's cached secret when another system's secret is not filled", async () => {
      const DACS_ARN = ARN.replace('derms', 'dacs');
      secretsMock
        .on(GetSecretValueCommand, { SecretId: ARN })
        .resolves({ SecretString: JSON.stringify(FILLED) })
        .on(GetSecretValueCommand, { SecretId: DACS_ARN })
        .resolves({ SecretString: '{}' });
      const endpoint = tokenEndpoint(okToken(20)); // not cached: every call needs the secret
      const provider = createCredentialsProvider({
        env: { ...env, DACS_CREDENTIALS_SECRET_ARN: DACS_ARN },
        fetch: endpoint.fetch,
        secrets,
      });

      await provider.authorizationHeader('DERMS');
      await failure(provider.authorizationHeader('DACS'));
      await provider.authorizationHeader('DERMS');

      expect(secretsMock.commandCalls(GetSecretValueCommand, { SecretId: ARN })).toHaveLength(1);
    });

    it('names the secret to fill when it is empty, as a retryable failure', async () => {
      secretsMock.on(GetSecretValueCommand).resolves({ SecretString: '' });
      const provider = createCredentialsProvider({ env, fetch: tokenEndpoint().fetch, secrets });

      const error = await failure(provider.authorizationHeader('DERMS'));

      expect(error).toBeInstanceOf(CredentialsNotFilledError);
      expect(error.message).toBe(
        `DERMS credentials are not filled in: secret ${ARN} (DERMS_CREDENTIALS_SECRET_ARN) is empty. ` +
          'Fill it with JSON {"clientId", "clientSecret", "tokenUrl", "scope"?}.',
      );
      expect(error.retryable).toBe(true);
      expect(error).toMatchObject({ key: 'DERMS_CREDENTIALS_SECRET_ARN', secretArn: ARN });
      expect(error.cause).toBeInstanceOf(ConfigurationError);
      expect((error.cause as ConfigurationError).key).toBe('DERMS_CREDENTIALS_SECRET_ARN');
    });

    it('lists the missing fields of a CDK placeholder without echoing its values', async () => {
      secretsMock
        .on(GetSecretValueCommand)
        .resolves({ SecretString: JSON.stringify({ clientId: '', password: 'Gen3rated!Value' }) });
      const endpoint = tokenEndpoint();
      const provider = createCredentialsProvider({ env, fetch: endpoint.fetch, secrets });

      const error = await failure(provider.authorizationHeader('DERMS'));

      expect(error).toBeInstanceOf(CredentialsNotFilledError);
      expect(error.message).toContain(
        `secret ${ARN} (DERMS_CREDENTIALS_SECRET_ARN) lacks clientId, clientSecret, tokenUrl`,
      );
      expect(error.message).not.toContain('Gen3rated');
      expect(endpoint.calls).toHaveLength(0);
    });

    it.each([
      ['a generated password string', { SecretString: 'Gen3rated!Value' }, 'is not JSON'],
      ['a binary secret', { SecretBinary: new Uint8Array([1, 2]) }, 'is empty'],
      ['a JSON array', { SecretString: '[]' }, 'is not a JSON object'],
      [
        'a bad token URL',
        { SecretString: JSON.stringify({ ...FILLED, tokenUrl: 'auth.example.com' }) },
        'tokenUrl',
      ],
    ])('reports %s as not filled in', async (_what, answer, problem) => {
      secretsMock.on(GetSecretValueCommand).resolves(answer);
      const provider = createCredentialsProvider({ env, fetch: tokenEndpoint().fetch, secrets });
      const error = await failure(provider.authorizationHeader('DERMS'));
      expect(error).toBeInstanceOf(CredentialsNotFilledError);
      expect(error.message).toContain(problem);
      expect(error.message).not.toContain('Gen3rated');
    });

    it('picks up the secret on the next call once it has been filled', async () => {
      secretsMock
        .on(GetSecretValueCommand)
        .resolvesOnce({ SecretString: '{}' })
        .resolves({ SecretString: JSON.stringify(FILLED) });
      const provider = createCredentialsProvider({ env, fetch: tokenEndpoint().fetch, secrets });

      await failure(provider.authorizationHeader('DERMS'));
      await expect(provider.authorizationHeader('DERMS')).resolves.toBe('Bearer token-1');
    });

    it('retries when Secrets Manager cannot be read', async () => {
      secretsMock
        .on(GetSecretValueCommand)
        .rejects(new ResourceNotFoundException({ message: 'not found', $metadata: {} }));
      const provider = createCredentialsProvider({ env, fetch: tokenEndpoint().fetch, secrets });

      const error = await failure(provider.authorizationHeader('DERMS'));

      expect(error.message).toBe(
        `DERMS credentials could not be read from secret ${ARN} (DERMS_CREDENTIALS_SECRET_ARN): ResourceNotFoundException`,
      );
      expect(error.retryable).toBe(true);
      expect(error.cause).toBeInstanceOf(ResourceNotFoundException);
    });

    it('re-reads a cached secret once when the token endpoint rejects the client (rotation)', async () => {
      const rotated = { ...FILLED, clientSecret: 'second-secret' };
      secretsMock
        .on(GetSecretValueCommand)
        .resolvesOnce({ SecretString: JSON.stringify(FILLED) })
        .resolves({ SecretString: JSON.stringify(rotated) });
      let clock = 0;
      const endpoint = tokenEndpoint((n, call) =>
        basicUser(call).endsWith(':first-secret') && n > 1
          ? Response.json({ error: 'invalid_client' }, { status: 401 })
          : okToken(60)(n),
      );
      const provider = createCredentialsProvider({ env, fetch: endpoint.fetch, secrets, now: () => clock });

      await provider.authorizationHeader('DERMS');
      clock += 31_000; // token due for refresh, secret still cached
      await expect(provider.authorizationHeader('DERMS')).resolves.toBe('Bearer token-3');

      expect(secretsMock.commandCalls(GetSecretValueCommand)).toHaveLength(2);
      expect(endpoint.calls.map(basicUser)).toEqual([
        'derms-client:first-secret',
        'derms-client:first-secret',
        'derms-client:second-secret',
      ]);
    });

    it('fails, to be retried, when the token endpoint rejects a secret just read', async () => {
      secretsMock.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(FILLED) });
      const endpoint = tokenEndpoint(() => Response.json({ error: 'invalid_client' }, { status: 401 }));
      const provider = createCredentialsProvider({ env, fetch: endpoint.fetch, secrets });

      const error = await failure(provider.authorizationHeader('DERMS'));

      expect(error).toMatchObject({ retryable: true, statusCode: 401 });
      expect(error.message).toBe(`DERMS token endpoint ${TOKEN_URL} answered 401 (invalid_client)`);
      expect(endpoint.calls).toHaveLength(1);
      expect(secretsMock.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    });
  });

  describe('token cache', () => {
    const env = { DERMS_CREDENTIALS: JSON.stringify(FILLED) };

    it('refreshes at expires_in minus 10 % when that exceeds 30 s', async () => {
      let clock = 0;
      const endpoint = tokenEndpoint(okToken(1000));
      const provider = createCredentialsProvider({ env, fetch: endpoint.fetch, now: () => clock });

      await provider.authorizationHeader('DERMS');
      clock = 899_999;
      await expect(provider.authorizationHeader('DERMS')).resolves.toBe('Bearer token-1');
      clock = 900_000;
      await expect(provider.authorizationHeader('DERMS')).resolves.toBe('Bearer token-2');
    });

    it('does not cache a token that lives shorter than the margin', async () => {
      const endpoint = tokenEndpoint(okToken(20));
      const provider = createCredentialsProvider({ env, fetch: endpoint.fetch, now: () => 0 });
      await provider.authorizationHeader('DERMS');
      await provider.authorizationHeader('DERMS');
      expect(endpoint.calls).toHaveLength(2);
    });

    it('shares one in-flight token request among concurrent callers', async () => {
      const endpoint = tokenEndpoint();
      const provider = createCredentialsProvider({ env, fetch: endpoint.fetch });
      const headers = await Promise.all(
        Array.from({ length: 10 }, () => provider.authorizationHeader('DERMS')),
      );
      expect(new Set(headers)).toEqual(new Set(['Bearer token-1']));
      expect(endpoint.calls).toHaveLength(1);
    });

    it('invalidates only the token that was rejected', async () => {
      const endpoint = tokenEndpoint();
      const provider = createCredentialsProvider({ env, fetch: endpoint.fetch });

      const first = (await provider.authorizationHeader('DERMS'))!;
      provider.invalidate('DERMS', first);
      const second = await provider.authorizationHeader('DERMS');
      provider.invalidate('DERMS', first); // a late 401 for the old token: ignored
      await expect(provider.authorizationHeader('DERMS')).resolves.toBe(second);
      expect(endpoint.calls).toHaveLength(2);
    });

    it.each([
      [500, true],
      [429, true],
      // A refused client is our configuration, fixed by the platform team: retried, never dead-lettered at once.
      [400, true],
      [403, true],
    ])('maps a token endpoint %i to retryable %p', async (status, retryable) => {
      const endpoint = tokenEndpoint(() => Response.json({ error: 'invalid_request' }, { status }));
      const provider = createCredentialsProvider({ env, fetch: endpoint.fetch });
      const error = await failure(provider.authorizationHeader('DERMS'));
      expect(error).toMatchObject({ retryable, statusCode: status });
    });

    it('retries a network failure of the token endpoint', async () => {
      const reset = Object.assign(new Error('other side closed'), { code: 'ECONNRESET' });
      const provider = createCredentialsProvider({
        env,
        fetch: async () => {
          throw new TypeError('fetch failed', { cause: reset });
        },
      });
      const error = await failure(provider.authorizationHeader('DERMS'));
      expect(error.message).toBe(
        `DERMS token endpoint ${TOKEN_URL} could not be reached: connection reset (ECONNRESET)`,
      );
      expect(error.retryable).toBe(true);
    });

    it('fails permanently on a 2xx without an access token', async () => {
      const endpoint = tokenEndpoint(() => new Response('<html>login</html>', { status: 200 }));
      const provider = createCredentialsProvider({ env, fetch: endpoint.fetch });
      const error = await failure(provider.authorizationHeader('DERMS'));
      expect(error.retryable).toBe(false);
      expect(error.message).toContain('without a usable access_token');
    });

    it('accepts expires_in as a string and defaults it when absent', async () => {
      let clock = 0;
      const endpoint = tokenEndpoint((n) =>
        Response.json(n === 1 ? { access_token: 'a', expires_in: '100' } : { access_token: 'b' }),
      );
      const provider = createCredentialsProvider({ env, fetch: endpoint.fetch, now: () => clock });
      await expect(provider.authorizationHeader('DERMS')).resolves.toBe('Bearer a');
      clock = 69_999; // 100 s − 30 s
      await expect(provider.authorizationHeader('DERMS')).resolves.toBe('Bearer a');
      clock = 70_000;
      await expect(provider.authorizationHeader('DERMS')).resolves.toBe('Bearer b');
      clock = 70_000 + 269_999; // default 300 s − 30 s
      await expect(provider.authorizationHeader('DERMS')).resolves.toBe('Bearer b');
    });
  });
});
