import { jest } from '@jest/globals';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { SUPPORT_ROUTES } from '#shared/flows/registry.ts';
import { PROBLEM_CONTENT_TYPE, PROBLEMS } from '#shared/handlers/problems.ts';
import { createSupportHandler, type Lookup } from '#shared/handlers/support.ts';
import { logger } from '#shared/observability.ts';
import { apiEvent, lambdaContext } from '#test/helpers/events.ts';

const route = SUPPORT_ROUTES.message;

async function get(
  lookup: Lookup,
  options: { id?: string; scope?: string | null } = {},
): Promise<APIGatewayProxyResult & { json: Record<string, unknown> }> {
  const handler = createSupportHandler('message', lookup, 'message');
  const id = options.id ?? 'm-1';
  const result = await handler(
    apiEvent({
      method: 'GET',
      path: `/v1/messages/${id}`,
      resource: route.path,
      scope: options.scope === undefined ? route.scope : options.scope,
      ...(id ? { pathParameters: { [route.pathParameter]: id } } : {}),
    }),
    lambdaContext(),
  );
  return { ...result, json: JSON.parse(result.body) };
}

afterEach(() => jest.restoreAllMocks());

describe('createSupportHandler', () => {
  it('answers what the lookup found, never cached', async () => {
    const result = await get(async (id) => ({ messageId: id, state: 'DELIVERED' }));
    expect(result).toMatchObject({
      statusCode: 200,
      headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' },
      json: { messageId: 'm-1', state: 'DELIVERED' },
    });
  });

  it('answers 404 problem+json for an id nobody knows', async () => {
    const result = await get(async () => undefined, { id: 'nope' });
    expect(result.statusCode).toBe(404);
    expect(result.headers?.['Content-Type']).toBe(PROBLEM_CONTENT_TYPE);
    expect(result.json).toMatchObject({
      type: PROBLEMS.notFound.type,
      title: 'Not found',
      detail: 'No message nope is known (or it has expired).',
    });
  });

  it('answers 403 to another caller’s scope, without looking anything up', async () => {
    const lookup = jest.fn<Lookup>();
    const result = await get(lookup, { scope: 'integration/dacs' });
    expect(result.statusCode).toBe(403);
    expect(lookup).not.toHaveBeenCalled();
  });

  it('answers 503 with Retry-After when the lookup fails, the cause in the logs only', async () => {
    const errorLog = jest.spyOn(logger, 'error').mockImplementation(() => undefined);
    const result = await get(async () => {
      throw new Error('table "secret-internal" missing');
    });
    expect(result.statusCode).toBe(503);
    expect(result.headers?.['Retry-After']).toBe('5');
    expect(result.body).not.toContain('secret-internal');
    expect(errorLog).toHaveBeenCalledWith('Request failed', expect.objectContaining({ route: 'message' }));
  });
});
