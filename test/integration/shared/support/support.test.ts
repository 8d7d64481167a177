/**
 * Support search and resubmit through the real handlers against DynamoDB Local and fauxqs: messages are
 * ingested, dead-lettered by a receiver that refuses them, found by their business ids through the
 * indexes (a recording client proves no Scan is ever sent), resubmitted, and delivered once even when
 * their DLQ copy is redriven afterwards.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyResult, SQSBatchResponse } from 'aws-lambda';
import { moveMessages } from '#local/redrive.ts';
import { documentClientFor } from '#shared/aws/clients.ts';
import { FLOWS, type FlowId } from '#shared/flows/registry.ts';
import { createResubmitHandler, createSearchHandler } from '#shared/handlers/support.ts';
import { getTrace } from '#shared/trace/store.ts';
import { apiEvent, lambdaContext } from '#test/helpers/events.ts';
import { assetSyncRequest, legacyAck, optOut, unavailability } from '#test/helpers/messages.ts';
import { depth, purge, receiveRecords, settle, sqs, toEvent } from '#test/helpers/queues.ts';
import { type Receiver, startReceiver } from '#test/helpers/receiver.ts';

// biome-ignore lint/suspicious/noExplicitAny: answers are read field by field, as JSON
type Answer = any;
type ApiHandler = (event: unknown, context: unknown) => Promise<APIGatewayProxyResult>;
type SqsHandler = (event: unknown, context: unknown) => Promise<SQSBatchResponse>;
const FLOWS_TESTED = ['optOut', 'unavailability', 'assetSync', 'legacyAck'] as const;

let receiver: Receiver;
let client: SQSClient;
const handlers: Partial<Record<FlowId, { ingest: ApiHandler; process: SqsHandler }>> = {};
const search = createSearchHandler() as unknown as ApiHandler;
const resubmit = createResubmitHandler() as unknown as ApiHandler;
/** Every DynamoDB command the functions send, by name: the no-scan proof. */
const sent: string[] = [];

const queueUrl = (flow: FlowId) => process.env[FLOWS[flow].queue.urlEnv] as string;
const dlqUrl = (flow: FlowId) => process.env[FLOWS[flow].queue.dlqUrlEnv] as string;

beforeAll(async () => {
  receiver = await startReceiver();
  process.env.DERMS_BASE_URL = receiver.url;
  process.env.DACS_BASE_URL = receiver.url;
  client = sqs();
  for (const flow of FLOWS_TESTED) {
    const ingest = (await import(`../../../../functions/${flow}/ingest.ts`)).handler as ApiHandler;
    const process = (await import(`../../../../functions/${flow}/process.ts`)).handler as SqsHandler;
    handlers[flow] = { ingest, process };
  }
  documentClientFor().middlewareStack.add(
    (next, context) => (args) => {
      sent.push(String(context.commandName));
      return next(args);
    },
    { step: 'initialize', name: 'recordCommands' },
  );
});

afterAll(async () => {
  // The proof: every command any handler sent in this file, and not one Scan among them.
  expect(sent.length).toBeGreaterThan(0);
  expect(sent.filter((name) => /Scan/.test(name))).toEqual([]);
  expect(sent).toContain('QueryCommand');
  await receiver.close();
  client.destroy();
});

beforeEach(async () => {
  receiver.calls.length = 0;
  receiver.answers.length = 0;
  for (const flow of [...FLOWS_TESTED, 'assetSyncAck'] as const)
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

/** Ingests a message and has the receiver refuse it for good (400): it is dead-lettered with a copy kept. */
async function deadLettered(flow: FlowId, body: unknown): Promise<string> {
  const messageId = await post(flow, body);
  receiver.answers.push({ status: 400, body: '{"error":"refused"}' });
  await drain(flow);
  expect(await getTrace(messageId)).toMatchObject({ state: 'DEAD_LETTERED' });
  expect(await depth(client, dlqUrl(flow))).toBe(1);
  return messageId;
}

async function find(params: Record<string, string>): Promise<{ status: number; body: Answer }> {
  const event = { ...apiEvent({ path: '/v1/messages', method: 'GET', scope: 'integration/support' }) };
  event.queryStringParameters = params;
  const answer = await search(event, lambdaContext('search'));
  return { status: answer.statusCode, body: JSON.parse(answer.body) };
}

async function resubmitOf(messageId: string): Promise<{ status: number; body: Answer }> {
  const event = apiEvent({
    path: `/v1/messages/${messageId}/resubmit`,
    scope: 'integration/support',
    clientId: 'support-it',
    pathParameters: { messageId },
  });
  const answer = await resubmit(event, lambdaContext('resubmit'));
  return { status: answer.statusCode, body: JSON.parse(answer.body) };
}

const ids = (body: { items: { messageId: string }[] }) => body.items.map((t) => t.messageId);

describe('search', () => {
  it('finds an opt-out by each of its keys, and lists it among the dead letters', async () => {
    const message = optOut({ optOutId: 'OO-s-1', eventExternalIdentifier: 'EVT-s-1', deviceId: 'D-s-1' });
    const messageId = await deadLettered('optOut', message);
    const queries: Record<string, string>[] = [
      { optOutId: 'OO-s-1' },
      { eventExternalIdentifier: 'EVT-s-1' },
      { deviceId: 'D-s-1' },
      { deviceId: 'D-s-1', state: 'DEAD_LETTERED' },
      { state: 'DEAD_LETTERED', flow: 'optOut' },
      { state: 'DEAD_LETTERED' },
    ];
    for (const params of queries) {
      const { status, body } = await find(params);
      expect({ params, status }).toEqual({ params, status: 200 });
      expect(ids(body)).toContain(messageId);
    }
    expect(ids((await find({ deviceId: 'D-s-1', state: 'DELIVERED' })).body)).toEqual([]);
    expect(ids((await find({ optOutId: 'OO-s-1', flow: 'assetSync' })).body)).toEqual([]);
    const [trace] = (await find({ optOutId: 'OO-s-1' })).body.items;
    expect(trace).toMatchObject({ state: 'DEAD_LETTERED', lastError: expect.stringContaining('400') });
    expect(Object.keys(trace)).not.toEqual(expect.arrayContaining(['resubmitCopy']));
    expect(Object.keys(trace)).not.toEqual(expect.arrayContaining(['deadLetterKey']));
  });

  it('finds by unavailabilityId, by syncRequestId and by dacsMessageId; a device finds its sync requests', async () => {
    const unav = await post(
      'unavailability',
      unavailability({ unavailabilityId: 'UN-s-1', deviceId: 'D-s-2' }),
    );
    const sync = await post(
      'assetSync',
      assetSyncRequest({ sendDetails: { syncRequestId: 'SR-s-1' } } as never),
    );
    await drain('assetSync');
    const legacy = await post('legacyAck', legacyAck());
    expect(ids((await find({ unavailabilityId: 'UN-s-1' })).body)).toEqual([unav]);
    expect(ids((await find({ deviceId: 'D-s-2' })).body)).toEqual([unav]);
    expect(ids((await find({ syncRequestId: 'SR-s-1' })).body)).toEqual([sync]);
    const device = assetSyncRequest().locationInfo.controllableDevices[0]!.deviceId;
    expect(ids((await find({ deviceId: device, syncRequestId: 'SR-s-1' })).body)).toEqual([sync]);
    expect(ids((await find({ deviceId: device })).body)).toContain(sync);
    const dacsMessageId = legacyAck().MsgAck.responses.response[0]!.dacsMessageId;
    expect(ids((await find({ dacsMessageId })).body)).toContain(legacy);
  });

  it('pages newest first with a cursor until the last page', async () => {
    const posted: string[] = [];
    for (let i = 1; i <= 5; i++) {
      posted.push(await post('optOut', optOut({ optOutId: `OO-p-${i}`, deviceId: 'D-page' })));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const { status, body } = await find({ deviceId: 'D-page', limit: '2', ...(cursor ? { cursor } : {}) });
      expect(status).toBe(200);
      expect(body.items.length).toBeLessThanOrEqual(2);
      seen.push(...ids(body));
      cursor = body.cursor;
      pages++;
    } while (cursor && pages < 10);
    expect(seen).toEqual([...posted].reverse());
    expect(pages).toBe(3);
  });

  it('answers a bad query with 400 problem+json listing every problem', async () => {
    const { status, body } = await find({ color: 'red', limit: '1000' });
    expect(status).toBe(400);
    expect(body).toMatchObject({ status: 400, title: 'Bad Request' });
    expect(body.errors.map((e: { path: string }) => e.path).sort()).toEqual([
      '/color',
      '/deviceId',
      '/limit',
    ]);
  });
});

describe('resubmit', () => {
  it.each([
    ['optOut', () => optOut({ optOutId: 'OO-r-1', deviceId: 'D-r-1' })],
    ['unavailability', () => unavailability({ unavailabilityId: 'UN-r-1', deviceId: 'D-r-2' })],
    ['assetSync', () => assetSyncRequest({ sendDetails: { syncRequestId: 'SR-r-1' } } as never)],
    ['legacyAck', () => legacyAck({ MsgAck: { whenISO: '2026-12-01T10:00:00Z' } } as never)],
  ] as const)(
    '%s: queues the kept copy again, records who and when, and delivers it once',
    async (flow, make) => {
      const messageId = await deadLettered(flow, make());
      const answer = await resubmitOf(messageId);
      expect(answer).toEqual({ status: 202, body: { messageId, status: 'RESUBMITTED' } });
      const trace = await getTrace(messageId);
      expect(trace).toMatchObject({ state: 'ACCEPTED', resubmissions: 1, resubmittedBy: 'support-it' });
      expect(trace?.events.at(-1)).toEqual({
        at: trace?.resubmittedAt,
        state: 'RESUBMITTED',
        detail: 'by support-it',
      });
      expect(ids((await find({ state: 'DEAD_LETTERED', flow })).body)).not.toContain(messageId);

      receiver.calls.length = 0;
      await drain(flow);
      expect(await getTrace(messageId)).toMatchObject({ state: 'DELIVERED' });
      expect(receiver.calls.length).toBeGreaterThanOrEqual(1);
      const keys = new Set(receiver.calls.map((c) => c.headers['idempotency-key']));
      expect(keys.size).toBe(1);
      expect((await resubmitOf(messageId)).status).toBe(409);
    },
  );

  it('delivers a resubmitted opt-out once, even after its DLQ copy is redriven too', async () => {
    const messageId = await deadLettered('optOut', optOut({ optOutId: 'OO-r-once', deviceId: 'D-r-once' }));
    expect((await resubmitOf(messageId)).status).toBe(202);
    // The DLQ copy goes back onto the queue beside the resubmitted one.
    expect(await moveMessages(client, dlqUrl('optOut'), queueUrl('optOut'), false)).toBe(1);
    receiver.calls.length = 0;
    await drain('optOut');
    await drain('optOut');
    expect(receiver.calls).toHaveLength(1);
    expect(receiver.calls[0]?.headers['idempotency-key']).toBe('OO-r-once');
    expect(await getTrace(messageId)).toMatchObject({ state: 'DELIVERED' });
    expect(await depth(client, queueUrl('optOut'))).toBe(0);
  });

  it('skips the redriven DLQ copy while the resubmitted one is still queued', async () => {
    const messageId = await deadLettered('optOut', optOut({ optOutId: 'OO-r-first', deviceId: 'D-r-first' }));
    expect((await resubmitOf(messageId)).status).toBe(202);
    // Only the stale copy reaches the process function first: it is skipped, nothing is sent.
    const dlq = await receiveRecords(client, dlqUrl('optOut'));
    await handlers.optOut!.process(toEvent(dlq), lambdaContext('optOut-process'));
    expect(receiver.calls).toHaveLength(0);
    expect(await getTrace(messageId)).toMatchObject({ state: 'ACCEPTED' });
    await drain('optOut');
    expect(receiver.calls).toHaveLength(1);
  });

  it('answers 409 unless DEAD_LETTERED, and 404 for an unknown id', async () => {
    const messageId = await post('optOut', optOut({ optOutId: 'OO-r-409' }));
    const conflict = await resubmitOf(messageId);
    expect(conflict.status).toBe(409);
    expect(conflict.body).toMatchObject({ status: 409, title: 'Not dead-lettered' });
    expect(conflict.body.detail).toMatch(/ACCEPTED/);
    const unknown = await resubmitOf('no-such-message');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ status: 404 });
  });

  it('lets only one of two resubmits at once through', async () => {
    const messageId = await deadLettered('optOut', optOut({ optOutId: 'OO-r-race' }));
    const answers = await Promise.all([resubmitOf(messageId), resubmitOf(messageId)]);
    expect(answers.map((a) => a.status).sort()).toEqual([202, 409]);
    expect(await depth(client, queueUrl('optOut'))).toBe(1);
  });
});
