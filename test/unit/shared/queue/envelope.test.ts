import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { messageGroupIdFor } from '#shared/delivery/keys.ts';
import { FLOWS, type FlowDefinition } from '#shared/flows/registry.ts';
import {
  enqueueDeadline,
  enqueueMessage,
  type MessageEnvelope,
  parseQueueMessage,
  resolvePayload,
  serializeForQueue,
} from '#shared/queue/envelope.ts';

/** The body characters fauxqs takes: SQS's set without the non-BMP range, so stricter than SQS. */
const QUEUE_SAFE = /^[\t\n\r\x20-\ud7ff\ue000-\ufffd]*$/;

for (const flow of Object.values(FLOWS))
  process.env[flow.queue.urlEnv] = `http://sqs.local/${flow.queue.name}`;
process.env.CLAIM_CHECK_BUCKET = 'claim-check';

const sqs = mockClient(SQSClient);
const s3 = mockClient(S3Client);
const objects = new Map<string, string>();

beforeEach(() => {
  sqs.reset();
  s3.reset();
  objects.clear();
  sqs.on(SendMessageCommand).resolves({ MessageId: 'sqs-1' });
  s3.on(PutObjectCommand).callsFake((input: { Key: string; Body: string }) => {
    objects.set(input.Key, input.Body);
    return {};
  });
  s3.on(GetObjectCommand).callsFake((input: { Key: string }) => {
    const text = objects.get(input.Key);
    return { Body: { transformToString: async () => text } };
  });
});

const CONTROLS = Array.from({ length: 0x20 }, (_, c) => String.fromCharCode(c)).join('');
/** Everything a JSON string can hold that SQS or its emulator could refuse, and some neighbours. */
const AWKWARD = {
  emoji: 'Opt-out 🔌⚡ by 👩‍🔧',
  nonBmp: '𝔇𝔈𝔕𝔐𝔖 \u{10FFFF} \u{10000}',
  edges: '\uFFFE\uFFFF\uFFFD\uE000\uD7FF\u007F\u0085\u2028\u2029\uFEFF',
  lone: ['\uD800', '\uDFFF', 'a\uDC00b\uD83D', '\uDC00\uD800'],
  controls: CONTROLS,
  escapes: '\\u0000 \\ud83d " \\',
  [`key 🔌 ${CONTROLS}\uFFFF\uD800`]: 'keys too',
};

const sentBodies = () => sqs.commandCalls(SendMessageCommand).map((c) => c.args[0].input.MessageBody ?? '');

/** Enqueues `payload` on `flow` and reads it back as the process handler does. */
const envelopeOf = (flow: FlowDefinition, payload: unknown) => ({
  messageId: 'msg-1',
  flowId: flow.id,
  businessKey: 'OPT-é1 🔌',
  receivedAt: '2026-05-01T10:00:00.000Z',
  payload,
});

async function roundTrip(flow: FlowDefinition, payload: unknown, groupId?: string, threshold?: number) {
  const envelope = envelopeOf(flow, payload);
  const { claimCheck } = await enqueueMessage(flow, envelope, {
    ...(groupId === undefined ? {} : { groupId }),
    ...(threshold === undefined ? {} : { claimCheckThresholdBytes: threshold }),
  });
  const [body] = sentBodies();
  const parsed = parseQueueMessage({ body: body!, messageId: 'sqs-1' }) as MessageEnvelope;
  return { claimCheck, body: body!, envelope, resolved: await resolvePayload(parsed) };
}

describe('serializeForQueue', () => {
  it('writes what SQS could refuse as JSON escapes, which JSON.parse undoes exactly', () => {
    const text = serializeForQueue(AWKWARD);
    expect(text).toMatch(QUEUE_SAFE);
    expect(text).toContain('\\ud83d\\udd0c'); // 🔌 as its surrogate pair
    expect(text).toContain('\\ufffe\\uffff');
    expect(JSON.parse(text)).toEqual(AWKWARD);
  });

  it('gives any JSON value queue-safe text that parses to what JSON.stringify would give', () => {
    fc.assert(
      fc.property(fc.jsonValue({ stringUnit: 'binary', maxDepth: 3 }), (value) => {
        const text = serializeForQueue(value);
        return (
          QUEUE_SAFE.test(text) &&
          fc.stringify(JSON.parse(text)) === fc.stringify(JSON.parse(JSON.stringify(value)))
        );
      }),
    );
  });

  it('changes nothing in text SQS takes as it is', () => {
    const bmp = fc.string({
      unit: fc
        .integer({ min: 0x20, max: 0xfffd })
        .filter((c) => c < 0xd800 || c > 0xdfff)
        .map((c) => String.fromCharCode(c)),
    });
    fc.assert(
      fc.property(fc.dictionary(bmp, bmp), (value) => serializeForQueue(value) === JSON.stringify(value)),
    );
  });

  it('refuses a value without a JSON form', () => {
    expect(() => serializeForQueue(undefined)).toThrow(TypeError);
  });
});

describe('enqueueMessage', () => {
  it('delivers emoji, U+FFFF, lone surrogates and every control character to the processor unchanged', async () => {
    const { claimCheck, body, envelope, resolved } = await roundTrip(FLOWS.optOut, AWKWARD);
    expect(claimCheck).toBe(false);
    expect(body).toMatch(QUEUE_SAFE);
    expect(resolved).toEqual({ v: 1, kind: 'message', ...envelope, claimCheck: false });
  });

  it('decides the claim check on the escaped size, and keeps the S3 object plain JSON', async () => {
    // 200 emoji: 800 bytes raw, 2400 escaped.
    const payload = { text: '🔌'.repeat(200), lone: '\uD800' };
    const full = { v: 1, kind: 'message', ...envelopeOf(FLOWS.optOut, payload) };
    const raw = Buffer.byteLength(JSON.stringify(full));
    expect(Buffer.byteLength(serializeForQueue(full))).toBeGreaterThan(raw + 1000);
    const { claimCheck, body, resolved } = await roundTrip(FLOWS.optOut, payload, undefined, raw + 500);

    expect(claimCheck).toBe(true);
    expect(body).toMatch(QUEUE_SAFE);
    expect(JSON.parse(body).payload).toBeUndefined();
    const [stored] = [...objects.values()];
    expect(stored).toBe(JSON.stringify(payload));
    expect(stored).toContain('🔌');
    expect(resolved.payload).toEqual(payload);
    expect(resolved.claimCheck).toBe(true);
  });

  it('keeps a payload inline while its escaped size is under the threshold', async () => {
    const payload = { text: '🔌'.repeat(200) };
    const threshold = Buffer.byteLength(serializeForQueue(payload)) + 500;
    const { claimCheck, resolved } = await roundTrip(FLOWS.optOut, payload, undefined, threshold);
    expect(claimCheck).toBe(false);
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0);
    expect(resolved.payload).toEqual(payload);
  });

  it.each([
    ['an id SQS takes, as it is', 'D1', 'D1'],
    ['a non-ASCII id, hashed', 'OPT-é1', messageGroupIdFor('OPT-é1')],
    ['an id with a trailing blank, hashed', 'SUB-1 ', messageGroupIdFor('SUB-1 ')],
  ])('puts a FIFO message in the group of %s', async (_what, groupId, expected) => {
    await roundTrip(FLOWS.unavailability, { deviceId: groupId }, groupId);
    const sent = sqs.commandCalls(SendMessageCommand)[0]?.args[0].input;
    expect(sent?.MessageGroupId).toBe(expected);
    expect(sent?.MessageGroupId).toMatch(/^[\x21-\x7e]{1,128}$/);
    expect(sent?.MessageDeduplicationId).toBe('msg-1');
  });

  it('puts a FIFO message without a group in its own', async () => {
    await roundTrip(FLOWS.unavailability, {});
    expect(sqs.commandCalls(SendMessageCommand)[0]?.args[0].input.MessageGroupId).toBe('msg-1');
  });

  it('sets no group on a standard queue', async () => {
    await roundTrip(FLOWS.optOut, {}, 'OPT-é1');
    expect(sqs.commandCalls(SendMessageCommand)[0]?.args[0].input.MessageGroupId).toBeUndefined();
  });
});

describe('enqueueDeadline', () => {
  it('queues a command for any sync request id in queue-safe text', async () => {
    const syncRequestId = 'SR-🔌\uFFFF\uD800\t';
    await enqueueDeadline(FLOWS.assetSyncAck, syncRequestId, new Date('2026-05-01T10:00:00Z'));
    const [body] = sentBodies();
    expect(body).toMatch(QUEUE_SAFE);
    expect(parseQueueMessage({ body: body!, messageId: 'sqs-1' })).toMatchObject({
      kind: 'deadline',
      syncRequestId,
      requestedAt: '2026-05-01T10:00:00.000Z',
    });
  });
});
