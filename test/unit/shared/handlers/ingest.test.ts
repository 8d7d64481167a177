import { DynamoDBClient, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DeleteCommand, DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { FLOWS, type FlowDefinition } from '#shared/flows/registry.ts';
import { createIngestHandler } from '#shared/handlers/ingest.ts';
import { apiEvent, lambdaContext } from '#test/helpers/events.ts';
import { legacyAck, optOut } from '#test/helpers/messages.ts';

for (const flow of Object.values(FLOWS))
  process.env[flow.queue.urlEnv] = `http://sqs.local/${flow.queue.name}`;
process.env.TRACE_TABLE = 'trace';
process.env.IDEMPOTENCY_TABLE = 'idempotency';
process.env.MAX_BODY_BYTES = '4096';

const ddb = mockClient(DynamoDBClient);
const doc = mockClient(DynamoDBDocumentClient);
const sqs = mockClient(SQSClient);

beforeEach(() => {
  ddb.reset();
  doc.reset();
  sqs.reset();
  ddb.on(PutItemCommand).resolves({});
  ddb.on(UpdateItemCommand).resolves({});
  doc.on(PutCommand).resolves({});
  doc.on(DeleteCommand).resolves({});
  sqs.on(SendMessageCommand).resolves({ MessageId: 'sqs-1' });
});

const call = async (
  flow: FlowDefinition,
  options: Partial<Parameters<typeof apiEvent>[0]> = {},
  handler = createIngestHandler(flow),
): Promise<APIGatewayProxyResult & { json: Record<string, unknown> }> => {
  const result = await handler(
    apiEvent({ path: flow.route.path, scope: flow.scope, ...options }),
    lambdaContext(),
  );
  return { ...result, json: JSON.parse(result.body) };
};

describe('createIngestHandler', () => {
  it('accepts a valid opt-out: trace written, message queued, 202', async () => {
    const result = await call(FLOWS.optOut, { body: optOut({ optOutId: 'OO-unit-1' }) });
    expect(result.statusCode).toBe(202);
    expect(result.json).toEqual({ messageId: expect.any(String), status: 'ACCEPTED', duplicate: false });
    expect(doc.commandCalls(PutCommand)[0]?.args[0].input.Item).toMatchObject({
      pk: result.json.messageId,
      flow: 'optOut',
      businessKey: 'OO-unit-1',
      state: 'ACCEPTED',
    });
    const sent = sqs.commandCalls(SendMessageCommand)[0]?.args[0].input;
    expect(sent?.QueueUrl).toBe('http://sqs.local/opt-out');
    expect(JSON.parse(sent?.MessageBody ?? '{}')).toMatchObject({
      kind: 'message',
      messageId: result.json.messageId,
    });
  });

  it('puts FIFO flows in the device’s message group', async () => {
    const { unavailability } = await import('#test/helpers/messages.ts');
    const message = unavailability();
    await call(FLOWS.unavailability, { body: message });
    const sent = sqs.commandCalls(SendMessageCommand)[0]?.args[0].input;
    expect(sent?.MessageGroupId).toBe(message.deviceId);
    expect(sent?.MessageDeduplicationId).toEqual(expect.any(String));
  });

  it.each([
    ['no token', { scope: null }, 401],
    ['another caller’s scope', { scope: 'integration/derms' }, 403],
    ['a non-JSON content type', { contentType: 'text/plain', rawBody: 'hello' }, 415],
    ['a body over the limit', { rawBody: JSON.stringify({ pad: 'x'.repeat(5000) }) }, 413],
    ['malformed JSON', { rawBody: '{"optOutId":' }, 400],
    ['a schema violation', { body: { optOutId: 'x' } }, 422],
  ])('refuses %s with a problem and queues nothing', async (_name, options, status) => {
    const result = await call(FLOWS.optOut, options as never);
    expect(result.statusCode).toBe(status);
    expect(result.headers?.['Content-Type']).toBe('application/problem+json');
    expect(result.json).toMatchObject({ status, title: expect.any(String), detail: expect.any(String) });
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('lists every violation in a 422', async () => {
    const result = await call(FLOWS.optOut, {
      body: { ...optOut(), channel: 'FAX', unknownField: 1, deviceId: '' },
    });
    expect(result.statusCode).toBe(422);
    const paths = (result.json.errors as { path: string }[]).map((e) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['/channel', '/unknownField', '/deviceId']));
  });

  it('answers 503 and removes the trace when the queue refuses the message', async () => {
    sqs.on(SendMessageCommand).rejects(new Error('queue unavailable'));
    const result = await call(FLOWS.optOut, { body: optOut({ optOutId: 'OO-unit-503' }) });
    expect(result.statusCode).toBe(503);
    expect(result.headers?.['Retry-After']).toBe('5');
    expect(doc.commandCalls(DeleteCommand)).toHaveLength(1);
  });

  it('marks legacy acks deprecated and forwards them by default', async () => {
    const result = await call(FLOWS.legacyAck, { body: legacyAck() });
    expect(result.statusCode).toBe(202);
    expect(result.headers).toMatchObject({
      Deprecation: 'true',
      Link: '</v1/derms/asset-sync-acks>; rel="successor-version"',
    });
  });

  it('answers 410 naming the new route when legacy acks are switched off', async () => {
    process.env.LEGACY_ACK_MODE = 'reject';
    try {
      const handler = createIngestHandler(FLOWS.legacyAck);
      const result = await call(FLOWS.legacyAck, { body: legacyAck() }, handler);
      expect(result.statusCode).toBe(410);
      expect(result.json.detail).toContain('/v1/derms/asset-sync-acks');
      expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
    } finally {
      delete process.env.LEGACY_ACK_MODE;
    }
  });
});
