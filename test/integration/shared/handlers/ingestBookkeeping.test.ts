/**
 * Ingest against DynamoDB Local and fauxqs when the bookkeeping after the enqueue fails: the answer is
 * 202 because the message is on the queue, and a retry never puts a second different copy there. The
 * failure is injected on the shared DynamoDB client's middleware stack, for Powertools' completion
 * write (the UpdateItem on the idempotency table) only.
 */
import { type AttributeValue, ScanCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyResult, Context } from 'aws-lambda';
import { dynamoClient } from '#shared/aws/clients.ts';
import { FLOWS, type FlowId } from '#shared/flows/registry.ts';
import { getTrace, markDelivered } from '#shared/trace/store.ts';
import { apiEvent, lambdaContext } from '#test/helpers/events.ts';
import { optOut, unavailability } from '#test/helpers/messages.ts';
import { purge, receiveRecords, settle, sqs } from '#test/helpers/queues.ts';

type ApiHandler = (event: unknown, context: Context) => Promise<APIGatewayProxyResult>;

const MIDDLEWARE = 'failIdempotencyCompletion';
let failuresLeft = 0;
let failuresInjected = 0;
let client: SQSClient;
const ingest: Partial<Record<FlowId, ApiHandler>> = {};

const queueUrl = (flow: FlowId) => process.env[FLOWS[flow].queue.urlEnv] as string;
const dlqUrl = (flow: FlowId) => process.env[FLOWS[flow].queue.dlqUrlEnv] as string;

beforeAll(async () => {
  client = sqs();
  ingest.optOut = (await import('../../../../functions/optOut/ingest.ts')).handler as ApiHandler;
  ingest.unavailability = (await import('../../../../functions/unavailability/ingest.ts'))
    .handler as ApiHandler;
  const idempotencyTable = process.env.IDEMPOTENCY_TABLE;
  dynamoClient().middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { TableName?: string };
      if (
        failuresLeft > 0 &&
        context.commandName === 'UpdateItemCommand' &&
        input.TableName === idempotencyTable
      ) {
        failuresLeft -= 1;
        failuresInjected += 1;
        throw Object.assign(new Error('Injected: idempotency completion lost'), {
          name: 'InternalServerError',
          $metadata: { httpStatusCode: 500 },
        });
      }
      return next(args);
    },
    { step: 'initialize', name: MIDDLEWARE },
  );
});

afterAll(async () => {
  dynamoClient().middlewareStack.remove(MIDDLEWARE);
  client.destroy();
});

beforeEach(async () => {
  failuresLeft = 0;
  failuresInjected = 0;
  for (const flow of ['optOut', 'unavailability'] as const) await purge(client, queueUrl(flow), dlqUrl(flow));
});

async function post(
  flow: FlowId,
  body: unknown,
  context: Context = lambdaContext(`${flow}-ingest`),
): Promise<{ status: number; json: Record<string, unknown> }> {
  const answer = await ingest[flow]!(
    apiEvent({ path: FLOWS[flow].route.path, body, scope: FLOWS[flow].scope }),
    context,
  );
  return { status: answer.statusCode, json: JSON.parse(answer.body) };
}

/**
 * Time passes: every INPROGRESS idempotency record's in-progress window (the ingest Lambda's remaining
 * time, 30 s here) is over, as after the Lambda that wrote it died.
 */
async function endInProgressWindows(): Promise<void> {
  const table = process.env.IDEMPOTENCY_TABLE as string;
  const { Items = [] } = await dynamoClient().send(
    new ScanCommand({
      TableName: table,
      FilterExpression: '#status = :inprogress',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':inprogress': { S: 'INPROGRESS' } },
    }),
  );
  expect(Items.length).toBeGreaterThan(0);
  for (const item of Items) {
    await dynamoClient().send(
      new UpdateItemCommand({
        TableName: table,
        Key: { id: item.id as AttributeValue },
        UpdateExpression: 'SET in_progress_expiration = :past',
        ExpressionAttributeValues: { ':past': { N: String(Date.now() - 1) } },
      }),
    );
  }
}

/** Every message on the queue, received (and deleted) until it is empty. */
async function queued(flow: FlowId): Promise<{ messageId: string; receivedAt: string }[]> {
  const found: { messageId: string; receivedAt: string }[] = [];
  for (;;) {
    const records = await receiveRecords(client, queueUrl(flow), 10, 0);
    if (records.length === 0) return found;
    for (const record of records) found.push(JSON.parse(record.body));
    await settle(client, queueUrl(flow), records, []);
  }
}

it('answers 202 when the completion write fails once, and the retry is a duplicate: one copy queued', async () => {
  const message = optOut({ optOutId: 'OO-it-bookkeeping-1' });
  failuresLeft = 1;
  const first = await post('optOut', message);
  expect(failuresInjected).toBe(1);
  expect(first.status).toBe(202);
  expect(first.json).toEqual({ messageId: expect.any(String), status: 'ACCEPTED', duplicate: false });

  const retry = await post('optOut', message);
  expect(retry).toEqual({
    status: 202,
    json: { messageId: first.json.messageId, status: 'ACCEPTED', duplicate: true },
  });
  expect((await queued('optOut')).map((m) => m.messageId)).toEqual([first.json.messageId]);

  // The same key with another body is still a conflict.
  expect((await post('optOut', { ...message, reason: 'another reason' })).status).toBe(409);
});

it('after a completion lost for good and the in-progress window, a retry re-queues the same message, not a new one', async () => {
  const message = optOut({ optOutId: 'OO-it-bookkeeping-2' });
  failuresLeft = 2; // the completion and its second try
  const first = await post('optOut', message);
  expect(failuresInjected).toBe(2);
  expect(first.status).toBe(202);
  const messageId = first.json.messageId as string;
  await endInProgressWindows();

  // Nothing tells the retry that the first copy is queued (its trace is still ACCEPTED), so it queues
  // the same message again: same messageId and receivedAt, which the process function's trace check
  // and the receivers' Idempotency-Key make a duplicate receive.
  const retry = await post('optOut', message);
  expect(retry).toEqual({ status: 202, json: { messageId, status: 'ACCEPTED', duplicate: true } });
  const copies = await queued('optOut');
  expect(copies.map((m) => m.messageId)).toEqual([messageId, messageId]);
  expect(copies[1]?.receivedAt).toBe(copies[0]?.receivedAt);
  expect(await getTrace(messageId)).toMatchObject({ state: 'ACCEPTED', receivedAt: copies[0]?.receivedAt });

  // The retry completed the key: from now on a plain duplicate, nothing queued.
  expect((await post('optOut', message)).json).toEqual({ messageId, status: 'ACCEPTED', duplicate: true });
  expect(await queued('optOut')).toEqual([]);
});

it('after a completion lost for good, a retry of a message already processed queues nothing', async () => {
  const message = unavailability({ unavailabilityId: 'UA-it-bookkeeping-3' });
  failuresLeft = 2;
  const first = await post('unavailability', message);
  expect(first.status).toBe(202);
  const messageId = first.json.messageId as string;
  const [copy] = await queued('unavailability');
  expect(copy?.messageId).toBe(messageId);
  // Stand in for the process function having delivered it: the trace moved on from ACCEPTED.
  await markDelivered(messageId, { attempt: 1, at: new Date() });
  await endInProgressWindows();

  const retry = await post('unavailability', message);
  expect(retry).toEqual({ status: 202, json: { messageId, status: 'ACCEPTED', duplicate: true } });
  expect(await queued('unavailability')).toEqual([]);
});
