/**
 * Support routes for the engineer on call, scope `integration/support` only: the read-only views of one
 * item, the search by business id, the resubmit of one dead-lettered message, and the resubmit of a
 * sync request's refused consolidated ack.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { HttpError } from '#shared/errors.ts';
import { SUPPORT_ROUTES, type SupportViewId } from '#shared/flows/registry.ts';
import { problemErrorHandler } from '#shared/handlers/errorHandler.ts';
import { authorize, jsonResponse } from '#shared/handlers/http.ts';
import { PROBLEMS } from '#shared/handlers/problems.ts';
import { logger } from '#shared/observability.ts';
import { resubmitMessage } from '#shared/support/resubmit.ts';
import { resubmitSyncRequest } from '#shared/support/resubmitSyncRequest.ts';
import { parseSearchQuery, searchMessages } from '#shared/support/search.ts';

export type Lookup = (id: string) => Promise<unknown | undefined>;

export function createSupportHandler(routeId: SupportViewId, lookup: Lookup, what: string) {
  const route = SUPPORT_ROUTES[routeId];
  const handle = async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
    authorize(event, route.scope);
    const id = event.pathParameters?.[route.pathParameter];
    if (!id) throw new HttpError(PROBLEMS.notFound, `No ${what} id in the path.`);
    // API Gateway hands path parameters over decoded already.
    const found = await lookup(id);
    if (found === undefined)
      throw new HttpError(PROBLEMS.notFound, `No ${what} ${id} is known (or it has expired).`);
    return jsonResponse(200, found, { 'Cache-Control': 'no-store' });
  };
  return middy(handle)
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(problemErrorHandler({ logKeys: { route: routeId } }));
}

const withMiddleware = (
  route: string,
  handle: (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>,
) =>
  middy(handle)
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(problemErrorHandler({ logKeys: { route } }));

/** `GET /v1/messages?…`: 200 `{ items, cursor? }`; 400 for a bad query. */
export function createSearchHandler(search = searchMessages) {
  return withMiddleware('search', async (event) => {
    authorize(event, SUPPORT_ROUTES.search.scope);
    const query = parseSearchQuery({ ...(event.queryStringParameters ?? {}) });
    return jsonResponse(200, await search(query), { 'Cache-Control': 'no-store' });
  });
}

/** `POST /v1/messages/{messageId}/resubmit`: 202 `{ messageId, status: RESUBMITTED }`; 404; 409. */
export function createResubmitHandler(resubmit = resubmitMessage) {
  return withMiddleware('resubmit', async (event) => {
    const caller = authorize(event, SUPPORT_ROUTES.resubmit.scope);
    const id = event.pathParameters?.[SUPPORT_ROUTES.resubmit.pathParameter];
    if (!id) throw new HttpError(PROBLEMS.notFound, 'No message id in the path.');
    return jsonResponse(202, await resubmit(id, caller.clientId), { 'Cache-Control': 'no-store' });
  });
}

/**
 * `POST /v1/sync-requests/{syncRequestId}/resubmit`: 202 `{ syncRequestId, status: RESUBMITTED, delivery,
 * resubmissions, resubmittedAt, resubmittedBy }`; 404; 409 unless the consolidated ack is DEAD_LETTERED.
 */
export function createResubmitSyncRequestHandler(resubmit = resubmitSyncRequest) {
  const route = SUPPORT_ROUTES.resubmitSyncRequest;
  return withMiddleware('resubmitSyncRequest', async (event) => {
    const caller = authorize(event, route.scope);
    const id = event.pathParameters?.[route.pathParameter];
    if (!id) throw new HttpError(PROBLEMS.notFound, 'No sync request id in the path.');
    return jsonResponse(202, await resubmit(id, caller.clientId), { 'Cache-Control': 'no-store' });
  });
}
