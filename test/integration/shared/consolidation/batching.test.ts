/**
 * The batched write path of the consolidation: conditional transactions of 100 with a per-item fallback,
 * and device reports written in transactions pinned to the stored report that was read.
 */
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { documentClientFor } from '#shared/aws/clients.ts';
import { type RequestRecorder, recordRequests } from '#shared/aws/requestRecorder.ts';
import { transactAll } from '#shared/consolidation/batch.ts';
import { handleAck, recordSyncRequest } from '#shared/consolidation/index.ts';
import type { SentItem } from '#shared/consolidation/items.ts';
import { deviceKey, sentKey, tableName } from '#shared/consolidation/items.ts';
import {
  putSentLineOnce,
  type Report,
  readDevice,
  readHeader,
  sentLineTransactItem,
  storeReport,
  supersedes,
} from '#shared/consolidation/store.ts';
import { ack, ackContext, DEADLINE, dacs, ids, newSyncRequestId, request, T0 } from './fixtures.ts';

let recorder: RequestRecorder;
beforeAll(() => {
  recorder = recordRequests();
});
afterAll(() => recorder.stop());
const op = (name: string) => recorder.counts().byOperation[`DynamoDB:${name}`] ?? 0;

const line = (syncRequestId: string, deviceId: string, flag = 'D1RE'): SentItem =>
  ({
    pk: `SYNC#${syncRequestId}`,
    sk: `SENT#${deviceId}`,
    deviceId,
    index: 0,
    flag,
    message: 'ok',
    isError: false,
    expiresAt: 1,
  }) as unknown as SentItem;

describe('transactAll', () => {
  it('writes 100 a transaction, and a cancelled transaction item by item, each condition deciding alone', async () => {
    const id = newSyncRequestId();
    const deviceIds = ids(150, 'TX');
    // Another sender wrote line 120 first: the second transaction is cancelled as a whole.
    await putSentLineOnce(line(id, deviceIds[120]!, 'D1NR'));
    recorder.reset();
    const written = await transactAll(
      deviceIds.map((d) => line(id, d)),
      { write: sentLineTransactItem, done: () => true, alone: putSentLineOnce },
    );
    expect(written.filter((w) => !w)).toHaveLength(1);
    expect(written[120]).toBe(false);
    expect(op('TransactWriteItems')).toBe(2);
    expect(op('PutItem')).toBe(50); // the cancelled transaction's 50 lines, one by one
    // The first writer's line stands; the others are this call's.
    const [kept, ours] = await Promise.all(
      [120, 121].map((i) =>
        documentClientFor().send(
          new GetCommand({ TableName: tableName(), Key: sentKey(id, deviceIds[i]!), ConsistentRead: true }),
        ),
      ),
    );
    expect([kept?.Item?.flag, ours?.Item?.flag]).toEqual(['D1NR', 'D1RE']);
  });
});

describe('device reports in transactions', () => {
  it('counts a device named twice in one ack once, and applies its newest report', async () => {
    const id = newSyncRequestId();
    const deviceIds = ids(3, 'TW');
    await recordSyncRequest(
      request(
        id,
        deviceIds.map((x) => ({ id: x })),
      ),
      {
        messageId: `req-${id}`,
        receivedAt: T0,
        deadline: DEADLINE,
      },
    );
    const d = dacs();
    const twice = ack(id, 1, [
      [deviceIds[0]!, 'PENDING'],
      [deviceIds[1]!, 'REGISTERED'],
      [deviceIds[0]!, 'REGISTERED'],
    ]);
    const outcome = await handleAck(twice, ackContext(d.send));
    expect(outcome.devicesApplied).toBe(3);
    expect((await readDevice(id, deviceIds[0]!))?.reportedStatus).toBe('REGISTERED');
    // Two devices terminal, each counted once; the third still without a report, so nothing sent.
    expect((await readHeader(id))?.terminalCount).toBe(2);
    expect(d.calls).toHaveLength(0);
    const last = await handleAck(ack(id, 2, [[deviceIds[2]!, 'REGISTERED']]), ackContext(d.send));
    expect(last.status).toBe('CONSOLIDATED');
  });

  it('skips exactly the reports DynamoDB would refuse as older (supersedes ≡ the write condition)', async () => {
    const id = newSyncRequestId();
    const deviceIds = ids(1, 'PR');
    await recordSyncRequest(
      request(
        id,
        deviceIds.map((x) => ({ id: x })),
      ),
      {
        messageId: `req-${id}`,
        receivedAt: T0,
        deadline: DEADLINE,
      },
    );
    const deviceId = deviceIds[0]!;
    const status = fc.constantFrom('PENDING', 'REGISTERED', 'FAILED') as fc.Arbitrary<
      'PENDING' | 'REGISTERED'
    >;
    const report = fc.record({
      status,
      ms: fc.integer({ min: 0, max: 3 }),
      seq: fc.integer({ min: 1, max: 3 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.option(report, { nil: undefined }), report, async (stored, next) => {
        await documentClientFor().send(
          new PutCommand({
            TableName: tableName(),
            Item: {
              ...deviceKey(id, deviceId),
              deviceId,
              index: 0,
              ...(stored
                ? { reportedStatus: stored.status, reportedAtMs: stored.ms, ackSequence: stored.seq }
                : {}),
            },
          }),
        );
        const r: Report = {
          device: { deviceId, headEndSystem: 'H', nicId: 'N', registrationStatus: next.status },
          ackDateTime: '2026-12-01T14:00:00Z',
          ackAtMs: next.ms,
          sequence: next.seq,
          messageId: 'm',
        };
        const predicted = supersedes(
          r,
          stored ? { reportedStatus: stored.status, reportedAtMs: stored.ms, ackSequence: stored.seq } : {},
        );
        const result = await storeReport(id, r);
        expect(result !== 'stale').toBe(predicted);
      }),
      { numRuns: 60 },
    );
  });
});
