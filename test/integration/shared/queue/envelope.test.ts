/**
 * Envelopes through the real fauxqs queues and bucket: text SQS could refuse (emoji and other
 * non-BMP characters, U+FFFF, lone surrogates, control characters) and identifiers that are no
 * valid message group id arrive as they were sent.
 */
import { randomUUID } from 'node:crypto';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { messageGroupIdFor } from '#shared/delivery/keys.ts';
import { FLOWS, type FlowId } from '#shared/flows/registry.ts';
import {
  enqueueDeadline,
  enqueueMessage,
  type MessageEnvelope,
  parseQueueMessage,
  resolvePayload,
} from '#shared/queue/envelope.ts';
import { purge, receiveRecords, settle, sqs } from '#test/helpers/queues.ts';

const FLOW_IDS = ['optOut', 'unavailability', 'assetSyncAck'] as const;
const queueUrl = (flow: FlowId) => process.env[FLOWS[flow].queue.urlEnv] as string;

const CONTROLS = Array.from({ length: 0x20 }, (_, c) => String.fromCharCode(c)).join('');
const PAYLOAD = {
  comments: 'Kunde meldet 🔌⚡ Ausfall — 👩‍🔧 unterwegs',
  nonBmp: '𝔇𝔈𝔕𝔐𝔖 \u{10FFFF}',
  edges: '\uFFFE\uFFFF\uFFFD',
  lone: 'a\uD800b\uDC00',
  controls: CONTROLS,
};

let client: SQSClient;

beforeAll(() => {
  client = sqs();
});
afterAll(() => client.destroy());
beforeEach(async () => {
  await purge(client, ...FLOW_IDS.map(queueUrl));
});

async function receiveOne(flow: FlowId) {
  const records = await receiveRecords(client, queueUrl(flow));
  expect(records).toHaveLength(1);
  return records[0]!;
}

const envelopeOf = (flow: FlowId, messageId: string, payload: unknown) => ({
  messageId,
  flowId: flow,
  businessKey: 'UNAV-é 🔌#2026-05-01T10:00:00Z',
  receivedAt: '2026-05-01T10:00:00.000Z',
  payload,
});

describe('queue bodies through fauxqs', () => {
  it('needs the escaping: fauxqs refuses a raw emoji', async () => {
    await expect(
      client.send(
        new SendMessageCommand({ QueueUrl: queueUrl('optOut'), MessageBody: JSON.stringify(PAYLOAD) }),
      ),
    ).rejects.toThrow(/Invalid characters/);
  });

  it('carries emoji, non-BMP text, U+FFFF, lone surrogates and control characters unchanged', async () => {
    const envelope = envelopeOf('optOut', randomUUID(), PAYLOAD);
    expect(await enqueueMessage(FLOWS.optOut, envelope)).toEqual({ claimCheck: false });

    const record = await receiveOne('optOut');
    const resolved = await resolvePayload(parseQueueMessage(record) as MessageEnvelope);
    expect(resolved).toEqual({ v: 1, kind: 'message', ...envelope, claimCheck: false });
  });

  it('carries them through the claim check too', async () => {
    const envelope = envelopeOf('optOut', randomUUID(), PAYLOAD);
    expect(await enqueueMessage(FLOWS.optOut, envelope, { claimCheckThresholdBytes: 200 })).toEqual({
      claimCheck: true,
    });

    const record = await receiveOne('optOut');
    const parsed = parseQueueMessage(record) as MessageEnvelope;
    expect(parsed.payloadRef).toBeDefined();
    expect((await resolvePayload(parsed)).payload).toEqual(PAYLOAD);
  });

  it('queues a deadline command for a sync request id with an emoji', async () => {
    const syncRequestId = 'SR-🔌\uFFFF';
    await enqueueDeadline(FLOWS.assetSyncAck, syncRequestId, new Date('2026-05-01T10:00:00Z'));
    expect(parseQueueMessage(await receiveOne('assetSyncAck'))).toMatchObject({
      kind: 'deadline',
      syncRequestId,
    });
  });
});

describe('FIFO message groups through fauxqs', () => {
  it.each([
    ['a device id SQS takes', 'D1'],
    ['a non-ASCII device id', 'DEV-é1'],
    ['a device id with an emoji and a trailing blank', 'DEV-🔌 '],
  ])('keeps %s in one stable group, in order', async (_what, deviceId) => {
    for (const n of [1, 2, 3]) {
      await enqueueMessage(
        FLOWS.unavailability,
        envelopeOf('unavailability', randomUUID(), { deviceId, n }),
        {
          groupId: deviceId,
        },
      );
    }
    // Processed one by one, as the event source mapping does: a group's next message waits for the last.
    const records = [];
    for (let received = await receiveRecords(client, queueUrl('unavailability')); received.length > 0; ) {
      records.push(...received);
      await settle(client, queueUrl('unavailability'), received, []);
      received = await receiveRecords(client, queueUrl('unavailability'), 10, 0);
    }
    expect(records.map((r) => (parseQueueMessage(r) as MessageEnvelope).payload)).toEqual([
      { deviceId, n: 1 },
      { deviceId, n: 2 },
      { deviceId, n: 3 },
    ]);
    for (const record of records) {
      expect(record.attributes.MessageGroupId).toBe(messageGroupIdFor(deviceId));
    }
    expect(messageGroupIdFor(deviceId) === deviceId).toBe(deviceId === 'D1');
  });
});
