/**
 * A refused enrollment sync reaches DACS at once, through the real handlers against DynamoDB Local and
 * fauxqs: DERMS answers 422 to the asset sync, the process handler dead-letters it and the processor marks
 * the correlation record refused; the sweep's next run queues its deadline command, which sends DACS the
 * consolidated ack (every device D1NR, DERMS's answer in exceptionInfo). And a consolidated ack DACS
 * refuses is dead-lettered once and leaves the deadline index.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyResult, SQSBatchResponse } from 'aws-lambda';
import { getSyncRequestStatus } from '#shared/consolidation/index.ts';
import { FLOWS, type FlowId } from '#shared/flows/registry.ts';
import { getTrace } from '#shared/trace/store.ts';
import { apiEvent, lambdaContext } from '#test/helpers/events.ts';
import { assetSyncRequest } from '#test/helpers/messages.ts';
import { purge, receiveRecords, settle, sqs, toEvent } from '#test/helpers/queues.ts';
import { type Receiver, startReceiver } from '#test/helpers/receiver.ts';

type ApiHandler = (event: unknown, context: unknown) => Promise<APIGatewayProxyResult>;
type SqsHandler = (event: unknown, context: unknown) => Promise<SQSBatchResponse>;

let receiver: Receiver;
let client: SQSClient;
let ingestAssetSync: ApiHandler;
let processAssetSync: SqsHandler;
let processAcks: SqsHandler;
let sweep: (now?: Date) => Promise<{ overdue: number; queued: number }>;
const queueUrl = (flow: FlowId) => process.env[FLOWS[flow].queue.urlEnv] as string;
const dlqUrl = (flow: FlowId) => process.env[FLOWS[flow].queue.dlqUrlEnv] as string;

beforeAll(async () => {
  receiver = await startReceiver();
  process.env.DERMS_BASE_URL = receiver.url;
  process.env.DACS_BASE_URL = receiver.url;
  client = sqs();
  ingestAssetSync = (await import('../../../functions/assetSync/ingest.ts')).handler as ApiHandler;
  processAssetSync = (await import('../../../functions/assetSync/process.ts')).handler as SqsHandler;
  processAcks = (await import('../../../functions/assetSyncAck/process.ts')).handler as SqsHandler;
  sweep = (await import('../../../functions/sweep/handler.ts')).sweep;
  await purge(
    client,
    queueUrl('assetSync'),
    dlqUrl('assetSync'),
    queueUrl('assetSyncAck'),
    dlqUrl('assetSyncAck'),
  );
});

afterAll(async () => {
  await receiver.close();
  client.destroy();
});

async function drain(flow: FlowId, handler: SqsHandler): Promise<SQSBatchResponse> {
  const records = await receiveRecords(client, queueUrl(flow));
  if (records.length === 0) return { batchItemFailures: [] };
  const result = await handler(toEvent(records), lambdaContext(`${flow}-process`));
  await settle(
    client,
    queueUrl(flow),
    records,
    result.batchItemFailures.map((f) => f.itemIdentifier),
  );
  return result;
}

const dacsCallsFor = (syncRequestId: string) =>
  receiver.calls.filter(
    (c) =>
      (c.body as { syncRequestId?: string }).syncRequestId === syncRequestId &&
      c.path.includes('postAcknowledgement'),
  );

it("an enrollment sync DERMS refuses is consolidated at once with DERMS's answer", async () => {
  const syncRequestId = `SRREF${Date.now() % 100000}`;
  const request = assetSyncRequest({ sendDetails: { syncRequestId } });
  const answer = await ingestAssetSync(
    apiEvent({ path: FLOWS.assetSync.route.path, body: request, scope: FLOWS.assetSync.scope }),
    lambdaContext('assetSync-ingest'),
  );
  expect(answer.statusCode).toBe(202);
  const { messageId } = JSON.parse(answer.body);

  receiver.answers.push({ status: 422, body: '{"error":"unknown program"}' });
  expect(await drain('assetSync', processAssetSync)).toEqual({ batchItemFailures: [] });
  expect(await getTrace(messageId)).toMatchObject({ state: 'DEAD_LETTERED' });
  const refused = await getSyncRequestStatus(syncRequestId);
  expect(refused?.enrollmentRefused?.reason).toContain('422');
  expect(refused?.enrollmentRefused?.reason).toContain('unknown program');

  // The sweep's next run (every minute) queues its deadline command, long before the 24 h deadline.
  expect((await sweep(new Date())).queued).toBeGreaterThanOrEqual(1);
  await drain('assetSyncAck', processAcks);
  const [sent] = dacsCallsFor(syncRequestId);
  expect(sent?.headers['idempotency-key']).toBe(syncRequestId);
  const body = sent?.body as {
    hasError: boolean;
    exceptionInfo: { messageNumber: number; messageParameters: string[] }[];
    deviceHeadendStatus: { headEndRegistration: string }[];
  };
  expect(body.hasError).toBe(true);
  expect(body.deviceHeadendStatus.every((d) => d.headEndRegistration === 'D1NR')).toBe(true);
  expect(body.exceptionInfo).toEqual([
    expect.objectContaining({
      messageNumber: 1005,
      messageParameters: [expect.stringContaining('unknown program')],
    }),
  ]);
  expect((await getSyncRequestStatus(syncRequestId))?.consolidatedAck).toMatchObject({
    trigger: 'DERMS_REFUSED',
    delivery: { state: 'DELIVERED', attempts: 1 },
  });
});

it('a deadline ack DACS refuses is dead-lettered once, recorded, and never queued again', async () => {
  const syncRequestId = `SRDLQ${Date.now() % 100000}`;
  const { recordSyncRequest } = await import('#shared/consolidation/index.ts');
  await recordSyncRequest(assetSyncRequest({ sendDetails: { syncRequestId } }), {
    messageId: `m-${syncRequestId}`,
    receivedAt: new Date(Date.now() - 60_000),
    deadline: new Date(Date.now() - 1000),
  });
  expect((await sweep(new Date())).queued).toBeGreaterThanOrEqual(1);
  receiver.answers.push({ status: 400, body: '{"error":"bad ack"}' });
  expect(await drain('assetSyncAck', processAcks)).toEqual({ batchItemFailures: [] });
  const dead = await receiveRecords(client, dlqUrl('assetSyncAck'));
  expect(dead.filter((r) => JSON.parse(r.body).syncRequestId === syncRequestId)).toHaveLength(1);
  expect((await getSyncRequestStatus(syncRequestId))?.consolidatedAck?.delivery).toMatchObject({
    state: 'DEAD_LETTERED',
    attempts: 1,
    lastError: expect.stringContaining('400'),
  });
  // Out of the deadline index: a sweep an hour later queues nothing for it.
  await sweep(new Date(Date.now() + 3_600_000));
  const queued = await receiveRecords(client, queueUrl('assetSyncAck'));
  expect(queued.filter((r) => JSON.parse(r.body).syncRequestId === syncRequestId)).toHaveLength(0);
});
