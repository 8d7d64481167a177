import {
  IdempotencyAlreadyInProgressError,
  IdempotencyPersistenceLayerError,
  IdempotencyValidationError,
} from '@aws-lambda-powertools/idempotency';
import { jest } from '@jest/globals';
import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { HttpError, ValidationError } from '#shared/errors.ts';
import { problemErrorHandler } from '#shared/handlers/errorHandler.ts';
import { PROBLEM_CONTENT_TYPE, PROBLEMS } from '#shared/handlers/problems.ts';
import { logger } from '#shared/observability.ts';
import { apiEvent, lambdaContext } from '#test/helpers/events.ts';

const context = lambdaContext();
const instance = `urn:request:${context.awsRequestId}`;
const problemHeaders = { 'Content-Type': PROBLEM_CONTENT_TYPE };

/** The real chain: a handler that throws `error`, behind the middleware. */
async function answerTo(
  error: unknown,
  options: Parameters<typeof problemErrorHandler>[0] = {},
): Promise<APIGatewayProxyResult & { json: unknown }> {
  const handler = middy(
    async (_event: APIGatewayProxyEvent, _context: Context): Promise<APIGatewayProxyResult> => {
      throw error;
    },
  ).use(problemErrorHandler(options));
  const result = await handler(apiEvent({ path: '/x' }), context);
  return { ...result, json: JSON.parse(result.body) };
}

const awsError = (name: string, fields: Record<string, unknown>) =>
  Object.assign(new Error(`${name} happened`), { name, ...fields });

let errorLog: ReturnType<typeof jest.spyOn>;
let infoLog: ReturnType<typeof jest.spyOn>;
beforeEach(() => {
  errorLog = jest.spyOn(logger, 'error').mockImplementation(() => undefined);
  infoLog = jest.spyOn(logger, 'info').mockImplementation(() => undefined);
});
afterEach(() => jest.restoreAllMocks());

describe('problemErrorHandler', () => {
  it('answers an HttpError with its own status, type, title, detail and headers', async () => {
    const error = new HttpError(PROBLEMS.unauthenticated, 'A bearer token is required.', {
      headers: { 'WWW-Authenticate': 'Bearer' },
    });
    expect(await answerTo(error)).toEqual({
      statusCode: 401,
      headers: { ...problemHeaders, 'WWW-Authenticate': 'Bearer' },
      body: expect.any(String),
      json: {
        type: PROBLEMS.unauthenticated.type,
        title: 'Unauthenticated',
        status: 401,
        detail: 'A bearer token is required.',
        instance,
      },
    });
    expect(infoLog).toHaveBeenCalledWith('Request refused', expect.objectContaining({ status: 401 }));
  });

  it('answers a validation error with every violation', async () => {
    const violations = [{ path: '/a', message: 'must be string' }];
    const answer = await answerTo(new ValidationError(violations));
    expect(answer.statusCode).toBe(422);
    expect(answer.json).toMatchObject({ type: PROBLEMS.validationFailed.type, errors: violations });
  });

  it('answers an idempotency conflict (same key, other body) with 409', async () => {
    expect(await answerTo(new IdempotencyValidationError('Payload does not match stored record'))).toEqual({
      statusCode: 409,
      headers: problemHeaders,
      body: expect.any(String),
      json: {
        type: PROBLEMS.conflictingDuplicate.type,
        title: 'Conflicting duplicate',
        status: 409,
        detail: 'A different message with the same business key was already accepted.',
        instance,
      },
    });
  });

  it('answers the same key still in flight with 503 and Retry-After: 1', async () => {
    expect(await answerTo(new IdempotencyAlreadyInProgressError('in progress'))).toEqual({
      statusCode: 503,
      headers: { ...problemHeaders, 'Retry-After': '1' },
      body: expect.any(String),
      json: {
        type: PROBLEMS.unavailable.type,
        title: 'Service unavailable',
        status: 503,
        detail: 'The same message is being accepted by a parallel request. Retry.',
        instance,
      },
    });
  });

  it.each([
    ['throttling', awsError('TooManyRequestsException', { $metadata: { httpStatusCode: 429 } })],
    [
      'a throttling error the SDK marked retryable',
      awsError('Throttled', { $retryable: { throttling: true } }),
    ],
    ['service unavailable', awsError('ServiceUnavailable', { $metadata: { httpStatusCode: 503 } })],
    ['a network failure', awsError('Error', { code: 'ECONNREFUSED' })],
    ['a timeout', awsError('TimeoutError', {})],
    [
      'a transient error under Powertools’ persistence error',
      new IdempotencyPersistenceLayerError('Failed to put record', {
        cause: awsError('InternalServerError', { $metadata: { httpStatusCode: 500 } }),
      }),
    ],
  ])('answers %s with 503, Retry-After: 5 and the transient detail', async (_name, error) => {
    expect(await answerTo(error, { unavailableDetail: 'Busy; retry.' })).toEqual({
      statusCode: 503,
      headers: { ...problemHeaders, 'Retry-After': '5' },
      body: expect.any(String),
      json: {
        type: PROBLEMS.unavailable.type,
        title: 'Service unavailable',
        status: 503,
        detail: 'Busy; retry.',
        instance,
      },
    });
    expect(errorLog).toHaveBeenCalledWith('Request failed', expect.objectContaining({ error }));
  });

  it('answers anything else with 503 and Retry-After, the detail in the logs only', async () => {
    const error = new TypeError('Cannot read properties of undefined (reading "secret-internal")');
    const answer = await answerTo(error, { logKeys: { flow: 'optOut' } });
    expect(answer).toEqual({
      statusCode: 503,
      headers: { ...problemHeaders, 'Retry-After': '5' },
      body: expect.any(String),
      json: {
        type: PROBLEMS.unavailable.type,
        title: 'Service unavailable',
        status: 503,
        detail: 'The integration failed unexpectedly. Quote the instance to support.',
        instance,
      },
    });
    expect(answer.body).not.toContain('secret-internal');
    expect(errorLog).toHaveBeenCalledWith('Request failed', { flow: 'optOut', error });
  });

  it('puts the route’s headers on every problem, under the error’s own', async () => {
    const headers = { Deprecation: 'true', 'Retry-After': 'route' };
    const refused = await answerTo(new HttpError(PROBLEMS.notFound, 'No such id.'), { headers });
    expect(refused.headers).toEqual({ ...problemHeaders, ...headers });
    const failed = await answerTo(new Error('boom'), { headers });
    expect(failed.headers).toEqual({ ...problemHeaders, Deprecation: 'true', 'Retry-After': '5' });
  });

  it('leaves an answer another middleware gave alone', async () => {
    const given = { statusCode: 418, body: '{}' };
    const handler = middy(async (): Promise<APIGatewayProxyResult> => {
      throw new Error('boom');
    })
      .use(problemErrorHandler())
      .use({
        onError: (request) => {
          request.response = given;
        },
      });
    expect(await handler(apiEvent({ path: '/x' }), context)).toBe(given);
  });
});
