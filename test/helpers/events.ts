/** Builders for the AWS events the handlers receive, shaped as API Gateway and SQS deliver them. */
import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEvent, Context, SQSEvent, SQSRecord } from 'aws-lambda';

export interface ApiEventOptions {
  method?: string;
  path: string;
  resource?: string;
  body?: unknown;
  rawBody?: string;
  contentType?: string | null;
  scope?: string | null;
  clientId?: string;
  pathParameters?: Record<string, string>;
}

export function apiEvent(options: ApiEventOptions): APIGatewayProxyEvent {
  const headers: Record<string, string> = {};
  const contentType = options.contentType === undefined ? 'application/json' : options.contentType;
  if (contentType !== null) headers['Content-Type'] = contentType;
  const body = options.rawBody ?? (options.body === undefined ? null : JSON.stringify(options.body));
  const scope = options.scope === undefined ? 'integration/dacs' : options.scope;
  return {
    httpMethod: options.method ?? 'POST',
    path: options.path,
    resource: options.resource ?? options.path,
    headers,
    multiValueHeaders: {},
    body,
    isBase64Encoded: false,
    pathParameters: options.pathParameters ?? null,
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    stageVariables: null,
    requestContext: {
      requestId: randomUUID(),
      stage: 'test',
      authorizer:
        scope === null
          ? null
          : { claims: { scope, client_id: options.clientId ?? 'test-client', token_use: 'access' } },
    } as unknown as APIGatewayProxyEvent['requestContext'],
  };
}

export function lambdaContext(functionName = 'test-function'): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: '256',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'test',
    getRemainingTimeInMillis: () => 30_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

export function sqsRecord(
  body: unknown,
  options: { receiveCount?: number; groupId?: string; messageId?: string } = {},
): SQSRecord {
  const messageId = options.messageId ?? randomUUID();
  return {
    messageId,
    receiptHandle: `rh-${messageId}`,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    attributes: {
      ApproximateReceiveCount: String(options.receiveCount ?? 1),
      SentTimestamp: String(Date.now()),
      SenderId: 'test',
      ApproximateFirstReceiveTimestamp: String(Date.now()),
      ...(options.groupId ? { MessageGroupId: options.groupId, MessageDeduplicationId: messageId } : {}),
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:test',
    awsRegion: 'us-east-1',
  };
}

export const sqsEvent = (...records: SQSRecord[]): SQSEvent => ({ Records: records });
