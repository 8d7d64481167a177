import type { SQSEvent } from 'aws-lambda';
import {
  apiGatewayTime,
  authorizerClaims,
  buildProxyEvent,
  buildSqsEvent,
  headerMaps,
  lambdaContext,
  queryParameterMaps,
  scheduledEvent,
  succeededRecords,
} from '#local/lambda.ts';

describe('buildProxyEvent', () => {
  const base = {
    method: 'GET',
    path: '/v1/messages/m-1',
    resource: '/v1/messages/{messageId}',
    pathParameters: { messageId: 'm-1' },
    rawHeaders: ['Host', '127.0.0.1:3000', 'X-Multi', 'a', 'X-Multi', 'b', 'User-Agent', 'jest'],
    query: new URLSearchParams(),
    body: null,
    claims: { scope: 'integration/support', client_id: 'support-local' },
    sourceIp: '127.0.0.1',
    requestId: 'req-1',
    now: new Date('2026-12-01T14:00:05Z'),
  };

  it('builds a REST proxy (v1) event with the authorizer claims', () => {
    const event = buildProxyEvent(base);
    expect(event).toMatchObject({
      resource: '/v1/messages/{messageId}',
      path: '/v1/messages/m-1',
      httpMethod: 'GET',
      pathParameters: { messageId: 'm-1' },
      queryStringParameters: null,
      multiValueQueryStringParameters: null,
      stageVariables: null,
      body: null,
      isBase64Encoded: false,
      requestContext: {
        requestId: 'req-1',
        stage: 'local',
        httpMethod: 'GET',
        resourcePath: '/v1/messages/{messageId}',
        path: '/local/v1/messages/m-1',
        authorizer: { claims: { scope: 'integration/support', client_id: 'support-local' } },
        identity: { sourceIp: '127.0.0.1', userAgent: 'jest' },
        requestTimeEpoch: Date.parse('2026-12-01T14:00:05Z'),
        requestTime: '01/Dec/2026:14:00:05 +0000',
      },
    });
  });

  it('keeps the last value per header in headers and every value in multiValueHeaders', () => {
    const event = buildProxyEvent(base);
    expect(event.headers['X-Multi']).toBe('b');
    expect(event.multiValueHeaders['X-Multi']).toEqual(['a', 'b']);
    expect(event.headers.Host).toBe('127.0.0.1:3000');
  });

  it('fills the query parameters when there are some', () => {
    const event = buildProxyEvent({ ...base, query: new URLSearchParams('a=1&a=2&b=3') });
    expect(event.queryStringParameters).toEqual({ a: '2', b: '3' });
    expect(event.multiValueQueryStringParameters).toEqual({ a: ['1', '2'], b: ['3'] });
  });

  it('has no authorizer without claims', () => {
    expect(buildProxyEvent({ ...base, claims: null }).requestContext.authorizer).toBeNull();
  });

  it('passes claims as strings, as API Gateway does', () => {
    expect(authorizerClaims({ exp: 12, scope: 's', gone: undefined })).toEqual({ exp: '12', scope: 's' });
  });

  it('formats requestTime like API Gateway', () => {
    expect(apiGatewayTime(new Date('2026-01-02T03:04:05Z'))).toBe('02/Jan/2026:03:04:05 +0000');
  });
});

describe('headerMaps', () => {
  it("keeps the caller's spelling, the last value per name, and every value per name", () => {
    expect(headerMaps(['X-A', '1', 'x-a', '2', 'X-A', '3', 'dangling'])).toEqual({
      headers: { 'X-A': '3', 'x-a': '2' },
      multiValueHeaders: { 'X-A': ['1', '3'], 'x-a': ['2'] },
    });
  });
});

describe('queryParameterMaps', () => {
  it('is null for both maps without a query string', () => {
    expect(queryParameterMaps(new URLSearchParams())).toEqual({
      queryStringParameters: null,
      multiValueQueryStringParameters: null,
    });
  });

  it('keeps the last value per name, and every value per name', () => {
    expect(queryParameterMaps(new URLSearchParams('a=1&b=x&a=2'))).toEqual({
      queryStringParameters: { a: '2', b: 'x' },
      multiValueQueryStringParameters: { a: ['1', '2'], b: ['x'] },
    });
  });
});

describe('lambdaContext', () => {
  it('counts the remaining time down from the timeout', () => {
    const context = lambdaContext({
      functionName: 'local-optOut-process',
      timeoutMs: 30_000,
      awsRequestId: 'r',
    });
    expect(context.functionName).toBe('local-optOut-process');
    expect(context.awsRequestId).toBe('r');
    expect(context.invokedFunctionArn).toBe(
      'arn:aws:lambda:us-east-1:000000000000:function:local-optOut-process',
    );
    expect(context.getRemainingTimeInMillis()).toBeGreaterThan(29_000);
    expect(context.getRemainingTimeInMillis()).toBeLessThanOrEqual(30_000);
  });
});

describe('SQS events', () => {
  const arn = 'arn:aws:sqs:us-east-1:000000000000:local-asset-sync.fifo';
  const event = buildSqsEvent(
    [
      {
        MessageId: 'm1',
        ReceiptHandle: 'h1',
        Body: '{"a":1}',
        MD5OfBody: 'md5',
        Attributes: {
          ApproximateReceiveCount: '3',
          SentTimestamp: '1700000000000',
          MessageGroupId: 'sub-1',
          MessageDeduplicationId: 'd1',
        },
        MessageAttributes: { kind: { DataType: 'String', StringValue: 'claim-check' } },
      },
      { MessageId: 'm2', ReceiptHandle: 'h2', Body: 'x' },
    ],
    arn,
  );

  it('builds records like the event source mapping', () => {
    expect(event.Records[0]).toEqual({
      messageId: 'm1',
      receiptHandle: 'h1',
      body: '{"a":1}',
      attributes: expect.objectContaining({
        ApproximateReceiveCount: '3',
        SentTimestamp: '1700000000000',
        MessageGroupId: 'sub-1',
        MessageDeduplicationId: 'd1',
      }),
      messageAttributes: {
        kind: { dataType: 'String', stringValue: 'claim-check', stringListValues: [], binaryListValues: [] },
      },
      md5OfBody: 'md5',
      eventSource: 'aws:sqs',
      eventSourceARN: arn,
      awsRegion: 'us-east-1',
    });
    expect(event.Records[1]?.attributes.ApproximateReceiveCount).toBe('1');
  });

  const ids = (e: SQSEvent, outcome: Parameters<typeof succeededRecords>[1]) =>
    succeededRecords(e, outcome).map((r) => r.messageId);

  it('deletes every record after a success without failures', () => {
    expect(ids(event, { ok: true, value: undefined })).toEqual(['m1', 'm2']);
    expect(ids(event, { ok: true, value: { batchItemFailures: [] } })).toEqual(['m1', 'm2']);
  });

  it('keeps the records listed in batchItemFailures', () => {
    expect(ids(event, { ok: true, value: { batchItemFailures: [{ itemIdentifier: 'm2' }] } })).toEqual([
      'm1',
    ]);
  });

  it('fails the whole batch when the handler throws', () => {
    expect(ids(event, { ok: false })).toEqual([]);
  });

  it('fails the whole batch when a failure names no record of the batch', () => {
    expect(ids(event, { ok: true, value: { batchItemFailures: [{ itemIdentifier: 'other' }] } })).toEqual([]);
    expect(ids(event, { ok: true, value: { batchItemFailures: [{}] } })).toEqual([]);
    expect(ids(event, { ok: true, value: { batchItemFailures: 'm1' } })).toEqual([]);
  });
});

describe('scheduledEvent', () => {
  it('looks like an EventBridge schedule', () => {
    const event = scheduledEvent('local-sweep', new Date('2026-12-01T00:00:00.123Z'));
    expect(event).toMatchObject({
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      time: '2026-12-01T00:00:00Z',
      resources: ['arn:aws:events:us-east-1:000000000000:rule/local-sweep'],
      detail: {},
    });
  });
});
