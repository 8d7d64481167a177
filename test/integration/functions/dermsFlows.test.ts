/**
 * Ingest → queue → process → receiver, through the real handlers against DynamoDB Local and fauxqs.
 * A scripted HTTP receiver stands in for DERMS and DACS.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyResult, SQSBatchResponse } from 'aws-lambda';
import { dynamoClient } from '#shared/aws/clients.ts';
import { recordRequests } from '#shared/aws/requestRecorder.ts';
import { loadSettings } from '#shared/config/settings.ts';
import { VALIDATORS } from '#shared/contracts/validate.ts';
import { FLOWS, type FlowId } from '#shared/flows/registry.ts';
import { createIngestHandler } from '#shared/handlers/ingest.ts';
import { getTrace } from '#shared/trace/store.ts';
import { apiEvent, lambdaContext } from '#test/helpers/events.ts';
import { assetSyncRequest, legacyAck, optOut, unavailability } from '#test/helpers/messages.ts';
import { depth, purge, receiveRecords, settle, sqs, toEvent } from '#test/helpers/queues.ts';
import { type Receiver, startReceiver } from '#test/helpers/receiver.ts';

type ApiHandler = (event: unknown, context: unknown) => Promise<APIGatewayProxyResult>;
type SqsHandler = (event: unknown, context: unknown) => Promise<SQSBatchResponse>;

let receiver: Receiver;
let client: SQSClient;
const handlers: Partial<Record<FlowId, { ingest: ApiHandler; process: SqsHandler }>> = {};

const queueUrl = (flow: FlowId) => process.env[FLOWS[flow].queue.urlEnv] as string;
const dlqUrl = (flow: FlowId) => process.env[FLOWS[flow].queue.dlqUrlEnv] as string;

beforeAll(async () => {
  receiver = await startReceiver();
  process.env.DERMS_BASE_URL = receiver.url;
  process.env.DACS_BASE_URL = receiver.url;
  process.env.RETRY_BASE_SECONDS = '1';
  client = sqs();
  for (const flow of ['optOut', 'unavailability', 'assetSync', 'legacyAck'] as const) {
    const ingest = (await import(`../../../functions/${flow}/ingest.ts`)).handler as ApiHandler;
    const process = (await import(`../../../functions/${flow}/process.ts`)).handler as SqsHandler;
    handlers[flow] = { ingest, process };
  }
});

afterAll(async () => {
  await receiver.close();
  client.destroy();
});

beforeEach(async () => {
  receiver.calls.length = 0;
  receiver.answers.length = 0;
  for (const flow of ['optOut', 'unavailability', 'assetSync', 'legacyAck'] as const)
    await purge(client, queueUrl(flow), dlqUrl(flow));
});

async function post(
  flow: FlowId,
  body: unknown,
  scope: string = FLOWS[flow].scope,
): Promise<APIGatewayProxyResult> {
  return handlers[flow]!.ingest(
    apiEvent({ path: FLOWS[flow].route.path, body, scope }),
    lambdaContext(`${flow}-ingest`),
  );
}

/** Receives what is on the flow's queue and runs the process handler on it, settling like the event source mapping. */
async function drain(flow: FlowId): Promise<SQSBatchResponse> {
  const records = await receiveRecords(client, queueUrl(flow));
  if (records.length === 0) return { batchItemFailures: [] };
  const result = await handlers[flow]!.process(toEvent(records), lambdaContext(`${flow}-process`));
  await settle(
    client,
    queueUrl(flow),
    records,
    result.batchItemFailures.map((f) => f.itemIdentifier),
  );
  return result;
}

describe('opt-out', () => {
  it('is accepted, delivered once to DERMS with both headers, and traced as DELIVERED', async () => {
    const message = optOut({ optOutId: 'OO-it-1' });
    const answer = await post('optOut', message);
    expect(answer.statusCode).toBe(202);
    const accepted = JSON.parse(answer.body);
    expect(accepted).toEqual({ messageId: expect.any(String), status: 'ACCEPTED', duplicate: false });

    expect(await drain('optOut')).toEqual({ batchItemFailures: [] });
    expect(receiver.calls).toHaveLength(1);
    const [call] = receiver.calls;
    expect(call?.path).toBe('/v1/event-opt-outs');
    expect(call?.headers['idempotency-key']).toBe('OO-it-1');
    expect(call?.headers['x-correlation-id']).toBe(accepted.messageId);
    expect(call?.body).toMatchObject({
      eventExternalIdentifier: message.eventExternalIdentifier,
      optOutId: 'OO-it-1',
      device: { deviceId: message.deviceId, headEndSystem: message.headEndSystem, nicId: message.nicId },
    });
    expect(await getTrace(accepted.messageId)).toMatchObject({
      state: 'DELIVERED',
      attempts: 1,
      flow: 'optOut',
    });
  });

  it('answers a repeat with duplicate: true and the first messageId, and delivers once', async () => {
    const message = optOut({ optOutId: 'OO-it-dup' });
    const first = JSON.parse((await post('optOut', message)).body);
    const again = await post('optOut', { ...message });
    expect(again.statusCode).toBe(202);
    expect(JSON.parse(again.body)).toEqual({
      messageId: first.messageId,
      status: 'ACCEPTED',
      duplicate: true,
    });
    await drain('optOut');
    expect(receiver.calls).toHaveLength(1);
  });

  it('answers the same key with another body with 409 and queues nothing more', async () => {
    await post('optOut', optOut({ optOutId: 'OO-it-409' }));
    const conflict = await post('optOut', optOut({ optOutId: 'OO-it-409', reason: 'changed my mind' }));
    expect(conflict.statusCode).toBe(409);
    expect(JSON.parse(conflict.body)).toMatchObject({ status: 409, title: 'Conflicting duplicate' });
    expect(await depth(client, queueUrl('optOut'))).toBe(1);
  });

  it('queues nothing for bad input', async () => {
    const invalid = await post('optOut', { ...optOut(), deviceId: '', extra: true });
    expect(invalid.statusCode).toBe(422);
    expect(JSON.parse(invalid.body).errors.length).toBeGreaterThanOrEqual(2);
    expect((await post('optOut', optOut(), 'integration/derms')).statusCode).toBe(403);
    expect(await depth(client, queueUrl('optOut'))).toBe(0);
  });

  it('dead-letters at once when DERMS answers a permanent 4xx, with the answer in the trace', async () => {
    receiver.answers.push({ status: 400, body: '{"error":"unknown event"}' });
    const accepted = JSON.parse((await post('optOut', optOut({ optOutId: 'OO-it-400' }))).body);
    expect(await drain('optOut')).toEqual({ batchItemFailures: [] });
    expect(await depth(client, queueUrl('optOut'))).toBe(0);
    const [dead] = await receiveRecords(client, dlqUrl('optOut'));
    expect(JSON.parse(dead!.body).messageId).toBe(accepted.messageId);
    const trace = await getTrace(accepted.messageId);
    expect(trace).toMatchObject({ state: 'DEAD_LETTERED' });
    expect(trace?.lastError).toContain('400');
    expect(trace?.lastError).toContain('unknown event');
  });

  it('retries a 503, honouring Retry-After, then delivers', async () => {
    receiver.answers.push({ status: 503, headers: { 'Retry-After': '1' } });
    const accepted = JSON.parse((await post('optOut', optOut({ optOutId: 'OO-it-503' }))).body);
    const first = await drain('optOut');
    expect(first.batchItemFailures).toHaveLength(1);
    expect(await getTrace(accepted.messageId)).toMatchObject({ state: 'RETRYING', attempts: 1 });
    // Invisible for the Retry-After second, then back.
    expect(await receiveRecords(client, queueUrl('optOut'), 10, 0)).toHaveLength(0);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect(await drain('optOut')).toEqual({ batchItemFailures: [] });
    expect(await getTrace(accepted.messageId)).toMatchObject({ state: 'DELIVERED', attempts: 2 });
    expect(receiver.calls).toHaveLength(1);
  });

  it('dead-letters a poison message without failing the rest of the batch', async () => {
    const { SendMessageCommand } = await import('@aws-sdk/client-sqs');
    await client.send(new SendMessageCommand({ QueueUrl: queueUrl('optOut'), MessageBody: 'not json' }));
    await post('optOut', optOut({ optOutId: 'OO-it-poison-neighbour' }));
    const records = await receiveRecords(client, queueUrl('optOut'));
    expect(records).toHaveLength(2);
    const result = await handlers.optOut!.process(toEvent(records), lambdaContext());
    expect(result).toEqual({ batchItemFailures: [] });
    expect(receiver.calls).toHaveLength(1);
    const dead = await receiveRecords(client, dlqUrl('optOut'));
    expect(dead.map((r) => r.body)).toEqual(['not json']);
    expect(dead[0]?.messageAttributes.reason?.stringValue).toContain('not JSON');
  });
});

describe('unavailability', () => {
  it('delivers in updatedDateTime order and supersedes a late, older update', async () => {
    const cancel = unavailability({
      unavailabilityId: 'UA-it-1',
      action: 'CANCEL',
      updatedDateTime: '2026-12-01T10:05:00-08:00',
      startDateTime: undefined,
      endDateTime: undefined,
    });
    const add = unavailability({
      unavailabilityId: 'UA-it-1',
      action: 'ADD',
      updatedDateTime: '2026-12-01T10:00:00-08:00',
    });
    const cancelId = JSON.parse((await post('unavailability', cancel)).body).messageId;
    await drain('unavailability');
    const addId = JSON.parse((await post('unavailability', add)).body).messageId;
    const recorder = recordRequests([dynamoClient()]);
    try {
      await drain('unavailability');
    } finally {
      recorder.stop();
    }

    expect(receiver.calls.map((c) => (c.body as { action: string }).action)).toEqual(['CANCEL']);
    expect(receiver.calls[0]?.body).not.toHaveProperty('startDateTime');
    expect(await getTrace(cancelId)).toMatchObject({ state: 'DELIVERED' });
    // The refused claim names the update that refused it, from the claim's own answer: the trace read
    // (is it a duplicate receive?), the claim and the SUPERSEDED mark, and no read of the claim item.
    expect(await getTrace(addId)).toMatchObject({
      state: 'SUPERSEDED',
      supersededBy: `Superseded by CANCEL of 2026-12-01T10:05:00-08:00 (message ${cancelId})`,
    });
    expect(recorder.counts().byOperation).toEqual({ 'DynamoDB:GetItem': 1, 'DynamoDB:UpdateItem': 2 });
  });

  it('compares instants, not strings, across offsets', async () => {
    const earlierInUtc = unavailability({
      unavailabilityId: 'UA-it-2',
      action: 'ADD',
      updatedDateTime: '2026-12-01T09:00:00-08:00',
    });
    const laterInUtc = unavailability({
      unavailabilityId: 'UA-it-2',
      action: 'UPDATE',
      updatedDateTime: '2026-12-01T18:30:00+01:00',
    });
    await post('unavailability', laterInUtc); // 17:30Z
    await drain('unavailability');
    await post('unavailability', earlierInUtc); // 17:00Z, arrives late
    await drain('unavailability');
    expect(receiver.calls.map((c) => (c.body as { action: string }).action)).toEqual(['UPDATE']);
  });
});

describe('asset sync', () => {
  it('goes through the S3 claim check when the message is over the threshold', async () => {
    // A handler whose settings put the claim-check threshold low (settings are read once, at creation).
    const ingest = createIngestHandler(FLOWS.assetSync, VALIDATORS[FLOWS.assetSync.messageType], {
      ...loadSettings(),
      claimCheckThresholdBytes: 1000,
    });
    {
      const request = assetSyncRequest({ sendDetails: { syncRequestId: 'SR-it-big' } });
      const answer = await ingest(
        apiEvent({ path: FLOWS.assetSync.route.path, body: request, scope: FLOWS.assetSync.scope }),
        lambdaContext('assetSync-ingest'),
      );
      expect(answer.statusCode).toBe(202);
      const [record] = await receiveRecords(client, queueUrl('assetSync'), 1, 0);
      expect(JSON.parse(record!.body)).toMatchObject({
        payloadRef: { key: expect.stringContaining('assetSync/') },
      });
      expect(JSON.parse(record!.body)).not.toHaveProperty('payload');
      const result = await handlers.assetSync!.process(toEvent([record!]), lambdaContext());
      expect(result).toEqual({ batchItemFailures: [] });
      expect(receiver.calls[0]?.path).toBe('/v1/enrollment-sync');
      expect(receiver.calls[0]?.body).toMatchObject({
        dacsMessageId: 'SR-it-big',
        locationInfo: request.locationInfo,
      });
    }
  });
});

describe('legacy ack', () => {
  it('forwards the ack unchanged with the Deprecation header', async () => {
    // A whenISO of this test's own: other files of the run post the default legacy ack to the same tables.
    const message = legacyAck({ MsgAck: { whenISO: '2026-12-01T14:06:17-08:00' } } as never);
    const answer = await post('legacyAck', message, 'integration/derms');
    expect(answer.statusCode).toBe(202);
    expect(answer.headers).toMatchObject({ Deprecation: 'true' });
    expect(answer.headers?.Link).toContain('/v1/derms/asset-sync-acks');
    expect(JSON.parse(answer.body)).toMatchObject({ duplicate: false });
    await drain('legacyAck');
    expect(receiver.calls).toHaveLength(1);
    expect(receiver.calls[0]?.body).toEqual(message);
  });
});
