/**
 * Support routes: read-only views for the engineer on call. Scope `integration/support` only.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { HttpError } from '#shared/errors.ts';
import { SUPPORT_ROUTES, type SupportRouteId } from '#shared/flows/registry.ts';
import { authorize, internalErrorResponse, jsonResponse, problemResponse } from '#shared/handlers/http.ts';
import { logger } from '#shared/observability.ts';

export type Lookup = (id: string) => Promise<unknown | undefined>;

export function createSupportHandler(routeId: SupportRouteId, lookup: Lookup, what: string) {
  const route = SUPPORT_ROUTES[routeId];
  const handle = async (event: APIGatewayProxyEvent, context: Context): Promise<APIGatewayProxyResult> => {
    try {
      authorize(event, route.scope);
      const id = event.pathParameters?.[route.pathParameter];
      if (!id) throw new HttpError(404, 'Not found', `No ${what} id in the path.`);
      // API Gateway hands path parameters over decoded already.
      const found = await lookup(id);
      if (found === undefined)
        throw new HttpError(404, 'Not found', `No ${what} ${id} is known (or it has expired).`);
      return jsonResponse(200, found, { 'Cache-Control': 'no-store' });
    } catch (error) {
      if (error instanceof HttpError) return problemResponse(error, context.awsRequestId);
      logger.error('Support lookup failed', { route: routeId, error });
      return internalErrorResponse(context.awsRequestId);
    }
  };
  return middy(handle).use(injectLambdaContext(logger, { resetKeys: true }));
}
