/**
 * Support routes: read-only views for the engineer on call. Scope `integration/support` only.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { HttpError } from '#shared/errors.ts';
import { SUPPORT_ROUTES, type SupportRouteId } from '#shared/flows/registry.ts';
import { problemErrorHandler } from '#shared/handlers/errorHandler.ts';
import { authorize, jsonResponse } from '#shared/handlers/http.ts';
import { PROBLEMS } from '#shared/handlers/problems.ts';
import { logger } from '#shared/observability.ts';

export type Lookup = (id: string) => Promise<unknown | undefined>;

export function createSupportHandler(routeId: SupportRouteId, lookup: Lookup, what: string) {
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
