/**
 * The deadline sweep against DynamoDB Local and fauxqs: an overdue sync request gets one deadline
 * command per requeue interval, and that command consolidates it with D1NR for every silent device.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse } from 'aws-lambda';
import { recordSyncRequest } from '#shared/consolidation/index.ts';
import { FLOWS } from '#shared/flows/registry.ts';
import { lambdaContext } from '#test/helpers/events.ts';
import { assetSyncRequest } from '#test/helpers/messages.ts';
import { purge, receiveRecords, settle, sqs, toEvent } from '#test/helpers/queues.ts';
import { type Receiver, startReceiver } from '#test/helpers/receiver.ts';

type SqsHandler = (event: unknown, context: unknown) => Promise<SQSBatchResponse>;

let receiver: Receiver;
let client: SQSClient;
let sweep: (now?: Date) => Promise<{ overdue: number; queued: number }>;
let processAcks: SqsHandler;
const ackQueue = () => process.env[FLOWS.assetSyncAck.queue.urlEnv] as string;

beforeAll(async () => {
  receiver = await startReceiver();
  process.env.DACS_BASE_URL = receiver.url;
  client = sqs();
  sweep = (await import('../../../functions/sweep/handler.ts')).sweep;
  processAcks = (await import('../../../functions/assetSyncAck/process.ts')).handler as SqsHandler;
  await purge(client, ackQueue());
});

afterAll(async () => {
  await receiver.close();
  client.destroy();
});

it('queues one deadline command per overdue request per interval, and it consolidates with D1NR', async () => {
  const syncRequestId = `SRSWEEP${Date.now() % 100000}`;
  const request = assetSyncRequest({ sendDetails: { syncRequestId } });
  const receivedAt = new Date(Date.now() - 60_000);
  await recordSyncRequest(request, {
    messageId: 'm-sweep',
    receivedAt,
    deadline: new Date(Date.now() - 1000),
  });

  const first = await sweep(new Date());
  expect(first.queued).toBeGreaterThanOrEqual(1);
  // The claim moved it forward in the index: the next sweep within the interval queues nothing for it.
  const second = await sweep(new Date());
  expect(second.queued).toBe(0);

  const records = await receiveRecords(client, ackQueue());
  const mine = records.filter((r) => JSON.parse(r.body).syncRequestId === syncRequestId);
  expect(mine).toHaveLength(1);
  const result = await processAcks(toEvent(records), lambdaContext('ack-process'));
  await settle(
    client,
    ackQueue(),
    records,
    result.batchItemFailures.map((f) => f.itemIdentifier),
  );

  const ack = receiver.calls.find(
    (c) => (c.body as { syncRequestId: string }).syncRequestId === syncRequestId,
  );
  expect(ack?.headers['idempotency-key']).toBe(syncRequestId);
  const body = ack?.body as {
    hasError: boolean;
    deviceHeadendStatus: { headEndRegistration: string; message: string }[];
  };
  expect(body.hasError).toBe(true);
  expect(body.deviceHeadendStatus.map((d) => d.headEndRegistration)).toEqual(['D1NR', 'D1NR', 'D1NR']);
  expect(body.deviceHeadendStatus[0]?.message).toMatch(/deadline/i);

  // Consolidated: gone from the deadline index for good.
  const { QueryCommand } = await import('@aws-sdk/lib-dynamodb');
  const { documentClientFor } = await import('#shared/aws/clients.ts');
  const pending = await documentClientFor().send(
    new QueryCommand({
      TableName: process.env.CORRELATION_TABLE,
      IndexName: 'byDeadline',
      KeyConditionExpression: 'gsi1pk = :p',
      ExpressionAttributeValues: { ':p': 'PENDING' },
    }),
  );
  expect((pending.Items ?? []).some((i) => i.pk === `SYNC#${syncRequestId}`)).toBe(false);
});
