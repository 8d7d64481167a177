import type { APIGatewayAuthorizerResult, APIGatewayTokenAuthorizerEvent } from 'aws-lambda';
import { CALLERS } from '#shared/flows/registry.ts';
import { CLIENT_IDS, createTestPool, type TestPool, USER_POOL_ID } from '#test/helpers/cognito.ts';
import { lambdaContext } from '#test/helpers/events.ts';

// The handler reads its configuration at module initialisation, as on a cold start.
process.env.COGNITO_USER_POOL_ID = USER_POOL_ID;
process.env.COGNITO_CLIENT_IDS = Object.values(CLIENT_IDS).join(',');
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
const { handler, verifier } = await import('#functions/authorizer/handler.ts');

const METHOD_ARN = 'arn:aws:execute-api:eu-west-1:123456789012:abc123def4/dev/GET/v1/messages/m-1';
const event = (authorizationToken: string): APIGatewayTokenAuthorizerEvent => ({
  type: 'TOKEN',
  authorizationToken,
  methodArn: METHOD_ARN,
});
const invoke = (authorizationToken: string) =>
  handler(event(authorizationToken), lambdaContext('authorizer')) as Promise<APIGatewayAuthorizerResult>;

let pool: TestPool;
beforeAll(async () => {
  pool = await createTestPool();
  verifier.cacheJwks(pool.jwks);
});

describe('authorizer handler', () => {
  it('answers a support token with a policy allowing the support routes and the flat context', async () => {
    const token = await pool.accessToken(CLIENT_IDS.support, CALLERS.support);
    await expect(invoke(`Bearer ${token}`)).resolves.toEqual({
      principalId: CLIENT_IDS.support,
      policyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Action: 'execute-api:Invoke',
            Effect: 'Allow',
            Resource: [
              'arn:aws:execute-api:eu-west-1:123456789012:abc123def4/dev/GET/v1/sync-requests/*',
              'arn:aws:execute-api:eu-west-1:123456789012:abc123def4/dev/GET/v1/messages/*',
              'arn:aws:execute-api:eu-west-1:123456789012:abc123def4/dev/GET/v1/messages',
              'arn:aws:execute-api:eu-west-1:123456789012:abc123def4/dev/POST/v1/messages/*/resubmit',
              'arn:aws:execute-api:eu-west-1:123456789012:abc123def4/dev/POST/v1/sync-requests/*/resubmit',
            ],
          },
        ],
      },
      context: { scope: CALLERS.support, client_id: CLIENT_IDS.support, sub: CLIENT_IDS.support },
    });
  });

  it('fails with exactly "Unauthorized" for a bad token, which API Gateway answers with 401', async () => {
    const forged = await pool.sign(
      { sub: CLIENT_IDS.dacs, client_id: CLIENT_IDS.dacs, scope: CALLERS.dacs },
      { key: pool.forgerKey },
    );
    for (const header of ['', 'Bearer not-a-jwt', `Bearer ${forged}`]) {
      await expect(invoke(header)).rejects.toThrow(/^Unauthorized$/);
    }
  });
});
