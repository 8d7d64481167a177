/**
 * Support's resubmit of a consolidated ack DACS refused, through the real handlers against DynamoDB Local
 * and fauxqs: an asset sync is recorded, its final ack's consolidated ack is refused (400) and
 * DEAD_LETTERED, a later ack's follow-up is held back; `POST /v1/sync-requests/{id}/resubmit` sends the
 * frozen body once with the same Idempotency-Key, then the follow-up goes out; a second resubmit is a 409;
 * the old DLQ copy, redriven, sends nothing. The refused acks are listed from the deadline index's refused
 * partition, and a recording client proves no Scan is sent. Also `POST /v1/messages/{id}/resubmit` of an
 * assetSyncAck message (its refused follow-up) and of an asset sync whose kept copy is over 300 KB.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyResult, SQSBatchResponse } from 'aws-lambda';
import { moveMessages } from '#local/redrive.ts';
import { documentClientFor } from '#shared/aws/clients.ts';
import { getSyncRequestStatus } from '#shared/consolidation/index.ts';
import { findRefusedConsolidated } from '#shared/consolidation/store.ts';
import { FLOWS, type FlowId } from '#shared/flows/registry.ts';
import { createResubmitHandler, createResubmitSyncRequestHandler } from '#shared/handlers/support.ts';
import { toEnrollmentSync } from '#shared/mapping/assetSync.ts';
import { MAX_KEPT_COPY_BYTES } from '#shared/queue/envelope.ts';
import { resubmitSyncRequest } from '#shared/support/resubmitSyncRequest.ts';
import { getTrace } from '#shared/trace/store.ts';
import { apiEvent, lambdaContext } from '#test/helpers/events.ts';
import { ackDevice, assetSyncAck, assetSyncRequest, controllableDevice } from '#test/helpers/messages.ts';
import { depth, purge, receiveRecords, settle, sqs, toEvent } from '#test/helpers/queues.ts';
import { type Receiver, startReceiver } from '#test/helpers/receiver.ts';

// biome-ignore lint/suspicious/noExplicitAny: answers are read field by field, as JSON
type Answer = any;
type ApiHandler = (event: unknown, context: unknown) => Promise<APIGatewayProxyResult>;
type SqsHandler = (event: unknown, context: unknown) => Promise<SQSBatchResponse>;

// A requeue interval of 1 s, so the sweep's rescue of a resubmit whose command was lost is seen at once.
process.env.DEADLINE_REQUEUE_SECONDS = '1';

let receiver: Receiver;
let client: SQSClient;
const handlers: Partial<Record<FlowId, { ingest: ApiHandler; process: SqsHandler }>> = {};
let sweep: (now?: Date) => Promise<{ overdue: number; queued: number }>;
const resubmitSync = createResubmitSyncRequestHandler() as unknown as ApiHandler;
const resubmitMessage = createResubmitHandler() as unknown as ApiHandler;
const sent: string[] = [];

const queueUrl = (flow: FlowId) => process.env[FLOWS[flow].queue.urlEnv] as string;
const dlqUrl = (flow: FlowId) => process.env[FLOWS[flow].queue.dlqUrlEnv] as string;

beforeAll(async () => {
  receiver = await startReceiver();
  process.env.DERMS_BASE_URL = receiver.url;
  process.env.DACS_BASE_URL = receiver.url;
  client = sqs();
  for (const flow of ['assetSync', 'assetSyncAck'] as const) {
    handlers[flow] = {
      ingest: (await import(`../../../../functions/${flow}/ingest.ts`)).handler as ApiHandler,
      process: (await import(`../../../../functions/${flow}/process.ts`)).handler as SqsHandler,
    };
  }
  sweep = (await import('../../../../functions/sweep/handler.ts')).sweep;
  documentClientFor().middlewareStack.add(
    (next, context) => (args) => {
      sent.push(String(context.commandName));
      return next(args);
    },
    { step: 'initialize', name: 'recordCommandsResubmitSync' },
  );
});

afterAll(async () => {
  // Every command any handler (and the refused-ack listing) sent in this file: not one Scan.
  expect(sent).toContain('QueryCommand');
  expect(sent.filter((name) => /Scan/.test(name))).toEqual([]);
  await receiver.close();
  client.destroy();
});

beforeEach(async () => {
  receiver.calls.length = 0;
  receiver.answers.length = 0;
  for (const flow of ['assetSync', 'assetSyncAck'] as const)
    await purge(client, queueUrl(flow), dlqUrl(flow));
});

async function post(flow: FlowId, body: unknown): Promise<string> {
  const answer = await handlers[flow]!.ingest(
    apiEvent({ path: FLOWS[flow].route.path, body, scope: FLOWS[flow].scope }),
    lambdaContext(`${flow}-ingest`),
  );
  expect(answer.statusCode).toBe(202);
  return JSON.parse(answer.body).messageId;
}

async function drain(flow: FlowId, from = queueUrl(flow)): Promise<void> {
  const records = await receiveRecords(client, from);
  if (records.length === 0) return;
  const result = await handlers[flow]!.process(toEvent(records), lambdaContext(`${flow}-process`));
  await settle(
    client,
    from,
    records,
    result.batchItemFailures.map((f) => f.itemIdentifier),
  );
}

async function call(handler: ApiHandler, path: string, params: Record<string, string>) {
  const event = apiEvent({
    path,
    scope: 'integration/support',
    clientId: 'support-it',
    pathParameters: params,
  });
  const answer = await handler(event, lambdaContext('resubmit'));
  return { status: answer.statusCode, body: JSON.parse(answer.body) as Answer };
}
const resubmitSyncOf = (syncRequestId: string) =>
  call(resubmitSync, `/v1/sync-requests/${syncRequestId}/resubmit`, { syncRequestId });
const resubmitMessageOf = (messageId: string) =>
  call(resubmitMessage, `/v1/messages/${messageId}/resubmit`, { messageId });

const dacsCalls = (syncRequestId: string) =>
  receiver.calls.filter(
    (c) =>
      c.path.includes('postAcknowledgement') &&
      (c.body as { syncRequestId?: string }).syncRequestId === syncRequestId,
  );

const recentlyRefused = async () =>
  (
    await findRefusedConsolidated({
      from: new Date(Date.now() - 3_600_000),
      to: new Date(Date.now() + 60_000),
      limit: 100,
    })
  ).map((h) => h.syncRequestId);

/** A two-device asset sync whose final ack (A REGISTERED, B PENDING) DACS refuses: its consolidated ack is DEAD_LETTERED. */
async function refusedConsolidation(syncRequestId: string): Promise<{ ackMessageId: string }> {
  const devices = ['A1', 'B1'].map((deviceId, i) =>
    controllableDevice({ deviceId, nicId: `NIC-${i}`, networkAddress: `10.0.0.${i + 1}` }),
  );
  await post(
    'assetSync',
    assetSyncRequest({
      sendDetails: { syncRequestId },
      locationInfo: { controllableDevices: devices },
    } as never),
  );
  await drain('assetSync');
  const final = assetSyncAck({
    syncRequestId,
    sequence: 1,
    final: true,
    devices: [
      ackDevice({ deviceId: 'A1', nicId: 'NIC-0', registrationStatus: 'REGISTERED' }),
      ackDevice({ deviceId: 'B1', nicId: 'NIC-1', registrationStatus: 'PENDING' }),
    ],
  });
  const ackMessageId = await post('assetSyncAck', final);
  receiver.answers.push({ status: 400, body: '{"error":"DACS refused"}' });
  await drain('assetSyncAck');
  expect(await getTrace(ackMessageId)).toMatchObject({ state: 'DEAD_LETTERED' });
  expect(await depth(client, dlqUrl('assetSyncAck'))).toBe(1);
  return { ackMessageId };
}

describe('POST /v1/sync-requests/{syncRequestId}/resubmit', () => {
  it('sends the refused consolidated ack once, unchanged, with the same key; then the held-back follow-up; a second resubmit is 409', async () => {
    const syncRequestId = `SRRS${Date.now() % 1e8}`;
    const { ackMessageId } = await refusedConsolidation(syncRequestId);
    const refused = await getSyncRequestStatus(syncRequestId);
    expect(refused?.consolidatedAck?.delivery).toMatchObject({ state: 'DEAD_LETTERED', attempts: 1 });
    const frozen = refused?.consolidatedAck?.acknowledgement;
    expect(await recentlyRefused()).toContain(syncRequestId);

    // B1 registers meanwhile: its follow-up waits for the consolidated ack.
    await post(
      'assetSyncAck',
      assetSyncAck({
        syncRequestId,
        sequence: 2,
        final: false,
        ackDateTime: '2026-12-01T14:06:00-08:00',
        devices: [ackDevice({ deviceId: 'B1', nicId: 'NIC-1', registrationStatus: 'REGISTERED' })],
      }),
    );
    await drain('assetSyncAck');
    expect(dacsCalls(syncRequestId)).toHaveLength(0);

    // The ack message that owned it points to this route instead of queueing itself again.
    const pointed = await resubmitMessageOf(ackMessageId);
    expect(pointed.status).toBe(409);
    expect(pointed.body.detail).toContain(`/v1/sync-requests/${syncRequestId}/resubmit`);

    // Two at once: one 202, one 409, one deadline command queued.
    const answers = await Promise.all([resubmitSyncOf(syncRequestId), resubmitSyncOf(syncRequestId)]);
    expect(answers.map((a) => a.status).sort()).toEqual([202, 409]);
    const accepted = answers.find((a) => a.status === 202)!.body;
    expect(accepted).toMatchObject({
      syncRequestId,
      status: 'RESUBMITTED',
      delivery: { state: 'RETRYING', attempts: 1 },
      resubmissions: 1,
      resubmittedBy: 'support-it',
    });
    expect(answers.find((a) => a.status === 409)!.body).toMatchObject({ title: 'Not dead-lettered' });
    expect(await depth(client, queueUrl('assetSyncAck'))).toBe(1);
    expect(await recentlyRefused()).not.toContain(syncRequestId);
    expect((await getSyncRequestStatus(syncRequestId))?.consolidatedAck).toMatchObject({
      delivery: { state: 'RETRYING' },
      resubmissions: 1,
      resubmittedAt: accepted.resubmittedAt,
      resubmittedBy: 'support-it',
    });

    await drain('assetSyncAck');
    const calls = dacsCalls(syncRequestId);
    expect(calls.map((c) => c.headers['idempotency-key'])).toEqual([
      syncRequestId,
      `${syncRequestId}#B1#D1RE#followup`,
    ]);
    expect(calls[0]?.body).toEqual(frozen);
    const delivered = await getSyncRequestStatus(syncRequestId);
    expect(delivered?.consolidatedAck).toMatchObject({
      delivery: { state: 'DELIVERED', attempts: 2 },
      resubmissions: 1,
    });
    expect(delivered?.followUps).toHaveLength(1);

    const again = await resubmitSyncOf(syncRequestId);
    expect(again.status).toBe(409);
    expect(again.body.detail).toMatch(/DELIVERED/);

    // The old DLQ copy of the owner, redriven, sends nothing more.
    receiver.calls.length = 0;
    expect(await moveMessages(client, dlqUrl('assetSyncAck'), queueUrl('assetSyncAck'), false)).toBe(1);
    await drain('assetSyncAck');
    expect(dacsCalls(syncRequestId)).toHaveLength(0);
    // So does the ack message resubmitted by the message route now that the consolidated ack moved on.
    const owner = await resubmitMessageOf(ackMessageId);
    expect(owner.status === 202 || owner.status === 409).toBe(true);
    await drain('assetSyncAck');
    expect(dacsCalls(syncRequestId)).toHaveLength(0);
  }, 30_000);

  it('answers 404 for an unknown sync request and 409 before consolidation', async () => {
    const unknown = await resubmitSyncOf('NO-SUCH-SR');
    expect(unknown).toMatchObject({ status: 404, body: { status: 404 } });
    const syncRequestId = `SRRN${Date.now() % 1e8}`;
    await post('assetSync', assetSyncRequest({ sendDetails: { syncRequestId } }));
    await drain('assetSync');
    const early = await resubmitSyncOf(syncRequestId);
    expect(early.status).toBe(409);
    expect(early.body).toMatchObject({ type: expect.stringContaining('not-dead-lettered') });
  }, 30_000);

  it('a resubmitted ack DACS refuses again is DEAD_LETTERED again, listed again, and can be resubmitted again', async () => {
    const syncRequestId = `SRR2${Date.now() % 1e8}`;
    await refusedConsolidation(syncRequestId);
    expect((await resubmitSyncOf(syncRequestId)).status).toBe(202);
    receiver.answers.push({ status: 422, body: '{"error":"still refused"}' });
    await drain('assetSyncAck');
    expect((await getSyncRequestStatus(syncRequestId))?.consolidatedAck?.delivery).toMatchObject({
      state: 'DEAD_LETTERED',
      attempts: 2,
      lastError: expect.stringContaining('422'),
    });
    expect(await recentlyRefused()).toContain(syncRequestId);
    const second = await resubmitSyncOf(syncRequestId);
    expect(second).toMatchObject({ status: 202, body: { resubmissions: 2 } });
    await drain('assetSyncAck');
    expect(dacsCalls(syncRequestId).map((c) => c.headers['idempotency-key'])).toEqual([syncRequestId]);
  }, 30_000);
});

describe('a resubmit whose deadline command could not be queued', () => {
  it('is answered 202 and sent by the sweep a requeue interval later, once', async () => {
    const syncRequestId = `SRRL${Date.now() % 1e8}`;
    await refusedConsolidation(syncRequestId);
    const answer = await resubmitSyncRequest(syncRequestId, 'support-it', {
      enqueue: async () => {
        throw new Error('SQS unavailable');
      },
    });
    expect(answer.delivery.state).toBe('RETRYING');
    expect(await depth(client, queueUrl('assetSyncAck'))).toBe(0);
    // Before its requeue interval, the sweep leaves it to its (lost) owner.
    await sweep(new Date());
    await drain('assetSyncAck');
    expect(dacsCalls(syncRequestId)).toHaveLength(0);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect((await sweep(new Date())).queued).toBeGreaterThanOrEqual(1);
    await drain('assetSyncAck');
    expect(dacsCalls(syncRequestId).map((c) => c.headers['idempotency-key'])).toEqual([syncRequestId]);
    expect((await getSyncRequestStatus(syncRequestId))?.consolidatedAck?.delivery.state).toBe('DELIVERED');
  }, 30_000);
});

describe('POST /v1/messages/{messageId}/resubmit', () => {
  it('an assetSyncAck message whose follow-up DACS refused is queued again and its follow-up delivered once', async () => {
    const syncRequestId = `SRFU${Date.now() % 1e8}`;
    const devices = ['A1', 'B1'].map((deviceId, i) =>
      controllableDevice({ deviceId, nicId: `NIC-${i}`, networkAddress: `10.0.0.${i + 1}` }),
    );
    await post(
      'assetSync',
      assetSyncRequest({
        sendDetails: { syncRequestId },
        locationInfo: { controllableDevices: devices },
      } as never),
    );
    await drain('assetSync');
    await post(
      'assetSyncAck',
      assetSyncAck({
        syncRequestId,
        sequence: 1,
        final: true,
        devices: [
          ackDevice({ deviceId: 'A1', nicId: 'NIC-0', registrationStatus: 'REGISTERED' }),
          ackDevice({ deviceId: 'B1', nicId: 'NIC-1', registrationStatus: 'PENDING' }),
        ],
      }),
    );
    await drain('assetSyncAck');
    expect(dacsCalls(syncRequestId).map((c) => c.headers['idempotency-key'])).toEqual([syncRequestId]);

    const second = await post(
      'assetSyncAck',
      assetSyncAck({
        syncRequestId,
        sequence: 2,
        final: false,
        ackDateTime: '2026-12-01T14:06:00-08:00',
        devices: [ackDevice({ deviceId: 'B1', nicId: 'NIC-1', registrationStatus: 'REGISTERED' })],
      }),
    );
    receiver.answers.push({ status: 400, body: '{"error":"follow-up refused"}' });
    await drain('assetSyncAck');
    expect(await getTrace(second)).toMatchObject({ state: 'DEAD_LETTERED' });
    expect(dacsCalls(syncRequestId)).toHaveLength(1);

    const answer = await resubmitMessageOf(second);
    expect(answer).toEqual({ status: 202, body: { messageId: second, status: 'RESUBMITTED' } });
    await drain('assetSyncAck');
    expect(await getTrace(second)).toMatchObject({ state: 'DELIVERED', resubmissions: 1 });
    const followUps = dacsCalls(syncRequestId).slice(1);
    // One follow-up for B1 (a refused follow-up claimed again gets the next number in its key).
    expect(followUps.map((c) => c.headers['idempotency-key'])).toEqual([
      `${syncRequestId}#B1#D1RE#followup#2`,
    ]);
    expect((followUps[0]!.body as { deviceHeadendStatus: unknown[] }).deviceHeadendStatus).toEqual([
      expect.objectContaining({ deviceId: 'B1', headEndRegistration: 'D1RE' }),
    ]);
    // Its DLQ copy, redriven, is stale: nothing more reaches DACS.
    expect(await moveMessages(client, dlqUrl('assetSyncAck'), queueUrl('assetSyncAck'), false)).toBe(1);
    await drain('assetSyncAck');
    expect(dacsCalls(syncRequestId)).toHaveLength(2);
  }, 30_000);

  it('a message whose kept copy is over 300 KB (its payload moved to the claim check) is delivered as accepted', async () => {
    const syncRequestId = `SRBIG${Date.now() % 1e8}`;
    const devices = Array.from({ length: 1200 }, (_, i) =>
      controllableDevice({
        deviceId: `BG${String(i).padStart(5, '0')}`,
        nicId: `NIC-BG-${i}`,
        networkAddress: `10.${Math.floor(i / 250)}.${i % 250}.1`,
      }),
    );
    const request = assetSyncRequest({
      sendDetails: { syncRequestId },
      locationInfo: { controllableDevices: devices },
    } as never);
    const size = Buffer.byteLength(JSON.stringify(request));
    expect(size).toBeGreaterThan(MAX_KEPT_COPY_BYTES);
    expect(size).toBeLessThan(900_000);
    const messageId = await post('assetSync', request);
    receiver.answers.push({ status: 400, body: '{"error":"refused"}' });
    await drain('assetSync');
    expect(await getTrace(messageId)).toMatchObject({ state: 'DEAD_LETTERED' });
    const { Item } = await documentClientFor().send(
      new GetCommand({ TableName: process.env.TRACE_TABLE, Key: { pk: messageId } }),
    );
    const copy = JSON.parse(Item?.resubmitCopy as string);
    expect(copy.payload).toBeUndefined();
    expect(copy.payloadRef).toEqual({ bucket: expect.any(String), key: `assetSync/${messageId}.json` });
    expect(Buffer.byteLength(Item?.resubmitCopy as string)).toBeLessThan(10_000);

    expect((await resubmitMessageOf(messageId)).status).toBe(202);
    receiver.calls.length = 0;
    await drain('assetSync');
    expect(await getTrace(messageId)).toMatchObject({ state: 'DELIVERED', resubmissions: 1 });
    const enrollments = receiver.calls.filter((c) => c.path.includes('enrollment-sync'));
    expect(enrollments).toHaveLength(1);
    expect(enrollments[0]?.headers['idempotency-key']).toBe(syncRequestId);
    expect(enrollments[0]?.body).toEqual(JSON.parse(JSON.stringify(toEnrollmentSync(request))));
  }, 60_000);
});
