import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { jest } from '@jest/globals';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { DEFAULT_SETTINGS } from '#shared/config/settings.ts';
import { VALIDATORS } from '#shared/contracts/validate.ts';
import { FLOWS, type FlowDefinition } from '#shared/flows/registry.ts';
import { createIngestHandler, messageIdFor } from '#shared/handlers/ingest.ts';
import { apiEvent, lambdaContext } from '#test/helpers/events.ts';
import { legacyAck, optOut, unavailability } from '#test/helpers/messages.ts';

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
  handler = createIngestHandler(flow, VALIDATORS[flow.messageType]),
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

  it('titles a body over the limit as RFC 9110 does', async () => {
    const result = await call(FLOWS.optOut, { rawBody: JSON.stringify({ pad: 'x'.repeat(5000) }) });
    expect(result.json).toMatchObject({ status: 413, title: 'Content Too Large' });
  });

  it('takes its body limit and retention from the settings read at its creation', async () => {
    const handler = createIngestHandler(FLOWS.optOut, VALIDATORS[FLOWS.optOut.messageType], {
      ...DEFAULT_SETTINGS,
      maxBodyBytes: 50,
      retentionDays: 2,
    });
    process.env.MAX_BODY_BYTES = '1000000';
    try {
      const tooLarge = await call(FLOWS.optOut, { body: optOut({ optOutId: 'OO-unit-limit' }) }, handler);
      expect(tooLarge.statusCode).toBe(413);
    } finally {
      process.env.MAX_BODY_BYTES = '4096';
    }
    const before = Math.floor(Date.now() / 1000);
    const accepted = await call(
      FLOWS.optOut,
      { body: optOut({ optOutId: 'OO-unit-keep' }) },
      createIngestHandler(FLOWS.optOut, VALIDATORS[FLOWS.optOut.messageType], {
        ...DEFAULT_SETTINGS,
        retentionDays: 2,
      }),
    );
    expect(accepted.statusCode).toBe(202);
    const expiresAt = doc.commandCalls(PutCommand)[0]?.args[0].input.Item?.expiresAt as number;
    expect(expiresAt - before).toBeGreaterThanOrEqual(2 * 86_400);
    expect(expiresAt - before).toBeLessThanOrEqual(2 * 86_400 + 5);
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
      const handler = createIngestHandler(FLOWS.legacyAck, VALIDATORS[FLOWS.legacyAck.messageType]);
      const result = await call(FLOWS.legacyAck, { body: legacyAck() }, handler);
      expect(result.statusCode).toBe(410);
      expect(result.headers).toMatchObject({
        'Content-Type': 'application/problem+json',
        Deprecation: 'true',
      });
      expect(result.json).toMatchObject({ type: expect.stringContaining('/gone'), title: 'Gone' });
      expect(result.json.detail).toContain('/v1/derms/asset-sync-acks');
      expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
    } finally {
      delete process.env.LEGACY_ACK_MODE;
    }
  });
});

/**
 * A small stateful stand-in for the two tables ingest writes, so that a retry meets what the first call
 * left behind: the idempotency table with Powertools' conditional put (absent, expired, or INPROGRESS
 * past its in-progress expiry), and the trace table with `attribute_not_exists(pk)`. `fail` makes the
 * next calls of one operation throw.
 */
function fakeTables() {
  const idempotency = new Map<string, Record<string, AttributeValue>>();
  const traces = new Map<string, Record<string, unknown>>();
  const failures: Record<string, Error[]> = {};
  const failIfAsked = (operation: string) => {
    const error = failures[operation]?.shift();
    if (error) throw error;
  };
  const conditionFailed = (item?: Record<string, AttributeValue>) =>
    new ConditionalCheckFailedException({
      message: 'The conditional request failed',
      $metadata: {},
      ...(item ? { Item: item } : {}),
    });
  const keyOf = (key: Record<string, AttributeValue> | undefined) => key?.id?.S ?? '';

  ddb.on(PutItemCommand).callsFake((input: { Item: Record<string, AttributeValue> }) => {
    failIfAsked('idempotency.put');
    const id = keyOf(input.Item);
    const old = idempotency.get(id);
    if (old) {
      const now = Date.now();
      const expired = Number(old.expiration?.N) < now / 1000;
      const inProgressExpired =
        old.status?.S === 'INPROGRESS' &&
        old.in_progress_expiration !== undefined &&
        Number(old.in_progress_expiration.N) < now;
      if (!expired && !inProgressExpired) throw conditionFailed(old);
    }
    idempotency.set(id, { ...input.Item });
    return {};
  });
  ddb
    .on(UpdateItemCommand)
    .callsFake(
      (input: {
        Key: Record<string, AttributeValue>;
        UpdateExpression: string;
        ExpressionAttributeNames: Record<string, string>;
        ExpressionAttributeValues: Record<string, AttributeValue>;
      }) => {
        failIfAsked('idempotency.update');
        const id = keyOf(input.Key);
        const item = { ...(idempotency.get(id) ?? input.Key) };
        for (const assignment of input.UpdateExpression.replace(/^SET /, '').split(', ')) {
          const [name = '', value = ''] = assignment.split(' = ');
          const attribute = input.ExpressionAttributeNames[name];
          const written = input.ExpressionAttributeValues[value];
          if (attribute && written) item[attribute] = written;
        }
        idempotency.set(id, item);
        return {};
      },
    );
  ddb.on(GetItemCommand).callsFake((input: { Key: Record<string, AttributeValue> }) => {
    const item = idempotency.get(keyOf(input.Key));
    return item ? { Item: item } : {};
  });
  ddb.on(DeleteItemCommand).callsFake((input: { Key: Record<string, AttributeValue> }) => {
    failIfAsked('idempotency.delete');
    idempotency.delete(keyOf(input.Key));
    return {};
  });
  doc.on(PutCommand).callsFake((input: { Item: Record<string, unknown> }) => {
    failIfAsked('trace.put');
    const pk = String(input.Item.pk);
    if (traces.has(pk)) throw conditionFailed();
    traces.set(pk, { ...input.Item });
    return {};
  });
  doc.on(GetCommand).callsFake((input: { Key: { pk: string } }) => {
    const item = traces.get(input.Key.pk);
    return item ? { Item: item } : {};
  });
  doc.on(DeleteCommand).callsFake((input: { Key: { pk: string } }) => {
    failIfAsked('trace.delete');
    traces.delete(input.Key.pk);
    return {};
  });

  return {
    idempotency,
    traces,
    fail(operation: string, error: Error, times = 1) {
      failures[operation] = [...(failures[operation] ?? []), ...Array.from({ length: times }, () => error)];
    },
    /** Time passes: every INPROGRESS record's in-progress window is over. */
    endInProgressWindows() {
      for (const item of idempotency.values())
        if (item.status?.S === 'INPROGRESS') item.in_progress_expiration = { N: String(Date.now() - 1) };
    },
    /** The idempotency records, readable. */
    records: () => [...idempotency.values()].map((item) => unmarshall(item)),
  };
}

const throttled = () =>
  Object.assign(new Error('Rate exceeded'), {
    name: 'ProvisionedThroughputExceededException',
    $metadata: { httpStatusCode: 400 },
  });

/** The metric names the handler printed (EMF lines on stdout) while `run` ran. */
async function metricsDuring<T>(run: () => Promise<T>): Promise<{ result: T; metrics: string[] }> {
  const lines: string[] = [];
  const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    const result = await run();
    const metrics = lines
      .flatMap((line) => line.split('\n'))
      .filter((line) => line.includes('"CloudWatchMetrics"'))
      .flatMap((line) =>
        (JSON.parse(line)._aws.CloudWatchMetrics as { Metrics: { Name: string }[] }[]).flatMap((m) =>
          m.Metrics.map((metric) => metric.Name),
        ),
      );
    return { result, metrics };
  } finally {
    write.mockRestore();
  }
}

describe('createIngestHandler once the message is on the queue', () => {
  let tables: ReturnType<typeof fakeTables>;
  beforeEach(() => {
    tables = fakeTables();
  });

  const sends = () => sqs.commandCalls(SendMessageCommand).map((c) => c.args[0].input);
  const sentMessageIds = () => sends().map((input) => JSON.parse(input.MessageBody ?? '{}').messageId);

  it('answers 202 when the idempotency record cannot be completed, and a retry is a duplicate, queued once', async () => {
    const handler = createIngestHandler(FLOWS.optOut, VALIDATORS[FLOWS.optOut.messageType]);
    const body = optOut({ optOutId: 'OO-unit-bookkeeping' });
    tables.fail('idempotency.update', throttled());

    const { result: first, metrics } = await metricsDuring(() => call(FLOWS.optOut, { body }, handler));
    expect(first.statusCode).toBe(202);
    expect(first.json).toEqual({ messageId: expect.any(String), status: 'ACCEPTED', duplicate: false });
    expect(metrics).toContain('IngestBookkeepingFailed');
    // The record was written a second time and is COMPLETED now.
    expect(tables.records()).toEqual([expect.objectContaining({ status: 'COMPLETED' })]);

    const retry = await call(FLOWS.optOut, { body }, handler);
    expect(retry.statusCode).toBe(202);
    expect(retry.json).toEqual({ messageId: first.json.messageId, status: 'ACCEPTED', duplicate: true });
    expect(sentMessageIds()).toEqual([first.json.messageId]);
  });

  it('still answers 202 when the second write fails too; a retry in the in-progress window queues nothing', async () => {
    const handler = createIngestHandler(FLOWS.optOut, VALIDATORS[FLOWS.optOut.messageType]);
    const body = optOut({ optOutId: 'OO-unit-bookkeeping-2' });
    tables.fail('idempotency.update', throttled(), 2);

    const { result: first, metrics } = await metricsDuring(() => call(FLOWS.optOut, { body }, handler));
    expect(first.statusCode).toBe(202);
    expect(first.json).toMatchObject({ status: 'ACCEPTED', duplicate: false });
    expect(metrics).toEqual(expect.arrayContaining(['IngestBookkeepingFailed', 'MessageReceived']));
    expect(tables.records()).toEqual([expect.objectContaining({ status: 'INPROGRESS' })]);

    // The record still says INPROGRESS: this call accepts nothing and says so.
    const retry = await call(FLOWS.optOut, { body }, handler);
    expect(retry.statusCode).toBe(503);
    expect(retry.headers?.['Retry-After']).toBe('1');
    expect(sends()).toHaveLength(1);
  });

  it('after the in-progress window, a retry finds the trace and queues the same messageId again, once', async () => {
    const handler = createIngestHandler(FLOWS.unavailability, VALIDATORS[FLOWS.unavailability.messageType]);
    const body = unavailability();
    tables.fail('idempotency.update', throttled(), 2);
    const first = await call(FLOWS.unavailability, { body }, handler);
    expect(first.statusCode).toBe(202);
    const messageId = first.json.messageId;
    tables.endInProgressWindows();

    // Nobody can tell whether the first copy is on the queue (it is), so the retry sends it again under
    // the same messageId and FIFO deduplication id: SQS and the process function drop the second copy.
    const retry = await call(FLOWS.unavailability, { body }, handler);
    expect(retry.statusCode).toBe(202);
    expect(retry.json).toEqual({ messageId, status: 'ACCEPTED', duplicate: true });
    expect(sentMessageIds()).toEqual([messageId, messageId]);
    expect(sends().map((input) => input.MessageDeduplicationId)).toEqual([messageId, messageId]);
    const [firstEnvelope, againEnvelope] = sends().map((input) => JSON.parse(input.MessageBody ?? '{}'));
    expect(againEnvelope.receivedAt).toBe(firstEnvelope.receivedAt);
    expect(tables.records()).toEqual([expect.objectContaining({ status: 'COMPLETED' })]);

    // Completed now: the next retry is a plain duplicate.
    const third = await call(FLOWS.unavailability, { body }, handler);
    expect(third.json).toEqual({ messageId, status: 'ACCEPTED', duplicate: true });
    expect(sends()).toHaveLength(2);
  });

  it('after the in-progress window, a retry queues nothing when the process function has seen the message', async () => {
    const handler = createIngestHandler(FLOWS.optOut, VALIDATORS[FLOWS.optOut.messageType]);
    const body = optOut({ optOutId: 'OO-unit-processed' });
    tables.fail('idempotency.update', throttled(), 2);
    const first = await call(FLOWS.optOut, { body }, handler);
    const messageId = first.json.messageId as string;
    const trace = tables.traces.get(messageId);
    if (trace) trace.state = 'DELIVERED';
    tables.endInProgressWindows();

    const retry = await call(FLOWS.optOut, { body }, handler);
    expect(retry.statusCode).toBe(202);
    expect(retry.json).toEqual({ messageId, status: 'ACCEPTED', duplicate: true });
    expect(sends()).toHaveLength(1);
  });

  it('a retry after a failed send (trace left behind) queues the message under the same messageId', async () => {
    const handler = createIngestHandler(FLOWS.optOut, VALIDATORS[FLOWS.optOut.messageType]);
    const body = optOut({ optOutId: 'OO-unit-send-failed' });
    sqs.on(SendMessageCommand).rejectsOnce(new Error('queue unavailable')).resolves({ MessageId: 'sqs-2' });
    tables.fail('trace.delete', new Error('table unavailable'));

    const first = await call(FLOWS.optOut, { body }, handler);
    expect(first.statusCode).toBe(503);
    expect(tables.records()).toEqual([]);
    const [leftover] = [...tables.traces.keys()];

    const retry = await call(FLOWS.optOut, { body }, handler);
    expect(retry.statusCode).toBe(202);
    expect(retry.json).toEqual({ messageId: leftover, status: 'ACCEPTED', duplicate: true });
    expect(sentMessageIds()).toEqual([leftover, leftover]);
    expect(tables.records()).toEqual([expect.objectContaining({ status: 'COMPLETED' })]);
  });

  it('answers 503 with Retry-After and queues nothing when the idempotency table is unreachable', async () => {
    tables.fail(
      'idempotency.put',
      Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
    );
    const result = await call(FLOWS.optOut, { body: optOut({ optOutId: 'OO-unit-down' }) });
    expect(result.statusCode).toBe(503);
    expect(result.headers?.['Retry-After']).toBe('5');
    expect(sends()).toHaveLength(0);
    expect(tables.traces.size).toBe(0);
  });

  it('answers 503 and queues nothing when the trace cannot be written, and frees the key', async () => {
    const handler = createIngestHandler(FLOWS.optOut, VALIDATORS[FLOWS.optOut.messageType]);
    const body = optOut({ optOutId: 'OO-unit-trace-down' });
    tables.fail('trace.put', throttled());
    const result = await call(FLOWS.optOut, { body }, handler);
    expect(result.statusCode).toBe(503);
    expect(sends()).toHaveLength(0);
    expect(tables.records()).toEqual([]);
    expect((await call(FLOWS.optOut, { body }, handler)).statusCode).toBe(202);
  });

  it('keeps duplicate for the same body and 409 for another body under the same key', async () => {
    const handler = createIngestHandler(FLOWS.optOut, VALIDATORS[FLOWS.optOut.messageType]);
    const body = optOut({ optOutId: 'OO-unit-conflict' });
    const first = await call(FLOWS.optOut, { body }, handler);
    const again = await call(FLOWS.optOut, { body }, handler);
    const other = await call(FLOWS.optOut, { body: { ...body, reason: 'something else' } }, handler);
    expect(first.json.duplicate).toBe(false);
    expect(again.json).toEqual({ messageId: first.json.messageId, status: 'ACCEPTED', duplicate: true });
    expect(other.statusCode).toBe(409);
    expect(sends()).toHaveLength(1);
  });

  it('gives the same message the same messageId, and another body another one', () => {
    const id = messageIdFor('optOut', 'OO-1', 'hash-a');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(messageIdFor('optOut', 'OO-1', 'hash-a')).toBe(id);
    expect(messageIdFor('optOut', 'OO-1', 'hash-b')).not.toBe(id);
    expect(messageIdFor('unavailability', 'OO-1', 'hash-a')).not.toBe(id);
  });
});
