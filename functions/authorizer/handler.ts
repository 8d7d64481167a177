/**
 * The API's Lambda TOKEN authorizer: 401 for a token that is not a valid access token of the callers'
 * user pool, otherwise an IAM policy over the routes the token's scopes grant (403 on the others).
 * The logic lives in shared/auth/; the verifier and its JWKS cache live as long as the process. The
 * local stack's gateway (local/host.ts) invokes this same handler, against its own issuer.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayAuthorizerResult, APIGatewayTokenAuthorizerEvent } from 'aws-lambda';
import { UnauthorizedError } from '#shared/auth/errors.ts';
import {
  type AccessTokenVerifier,
  authorizeToken,
  createAccessTokenVerifier,
  readAuthorizerConfig,
} from '#shared/auth/verifier.ts';

// Logger only: the authorizer sits in front of every request, so it skips the metrics and tracer clients.
const logger = new Logger();

export const verifier = createAccessTokenVerifier(readAuthorizerConfig());

export async function authorizeEvent(
  event: APIGatewayTokenAuthorizerEvent,
  tokenVerifier: AccessTokenVerifier = verifier,
): Promise<APIGatewayAuthorizerResult> {
  try {
    const result = await authorizeToken(tokenVerifier, event.authorizationToken, event.methodArn);
    logger.debug('Token accepted', { principalId: result.principalId, scope: result.context?.scope });
    return result;
  } catch (error) {
    // Never log the token itself; the reason is enough to tell an expired token from a forged one.
    if (error instanceof UnauthorizedError) logger.info('Token refused', { reason: error.reason });
    else logger.error('Authorizer failed', { error });
    throw error;
  }
}

// The event is the bearer token itself: never logged, whatever POWERTOOLS_LOGGER_LOG_EVENT says.
export const handler = middy((event: APIGatewayTokenAuthorizerEvent) => authorizeEvent(event)).use(
  injectLambdaContext(logger, { resetKeys: true, logEvent: false }),
);
