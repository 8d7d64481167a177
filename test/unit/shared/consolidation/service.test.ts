import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { beforeEach, describe, expect, it, jest } from '@jest/globals';
import { mockClient } from 'aws-sdk-client-mock';
import {
  ACK_OUTCOMES,
  consolidateOnDeadline,
  findOverdue,
  getSyncRequestStatus,
  handleAck,
  recordSyncRequest,
  UnprocessedItemsError,
} from '#shared/consolidation/index.ts';
import type { DacsAcknowledgement } from '#shared/contracts/types.ts';
import { RetryLaterError } from '#shared/errors.ts';
import { assetSyncAck, assetSyncRequest, controllableDevice } from '#test/helpers/messages.ts';

process.env.CORRELATION_TABLE = 'correlation-unit';
const ddb = mockClient(DynamoDBDocumentClient);
const ccf = () =>
  new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });

const sender = (impl: () => Promise<void> = async () => {}) =>
  jest.fn<(body: DacsAcknowledgement, key: string) => Promise<void>>(impl);
const T0 = new Date('2026-12-01T22:00:00.000Z');
const retry = (error: unknown) => ({
  action: 'retry' as const,
  reason: String(error),
  attempts: 1,
  permanent: false,
  nextAttemptAt: new Date(T0.getTime() + 70_000),
});
const header = {
  pk: 'SYNC#SR-1001',
  sk: 'HEADER',
  syncRequestId: 'SR-1001',
  reason: 'ENROLL',
  deadline: '2026-12-02T22:00:00.000Z',
  deviceCount: 3,
  terminalCount: 0,
};

const ctx = (overrides = {}) => ({
  messageId: 'm-1',
  firstReceivedAt: T0,
  now: new Date(T0.getTime() + 10_000),
  uncorrelatedWindowSeconds: 300,
  lastAttempt: false,
  sendToDacs: sender(),
  failureDecision: retry,
  ...overrides,
});

/**
 * Answers the held-devices read: every requested device is held, except `unknown` ones, with the stored
 * report given for it in `stored` (none otherwise).
 */
const holdDevices = (stored: Record<string, object> = {}, ...unknown: string[]) =>
  ddb
    .on(BatchGetCommand)
    .callsFake((input: { RequestItems: Record<string, { Keys: { sk: string }[] }> }) => ({
      Responses: Object.fromEntries(
        Object.entries(input.RequestItems).map(([table, { Keys }]) => [
          table,
          Keys.map((k) => k.sk.replace('DEVICE#', ''))
            .filter((deviceId) => !unknown.includes(deviceId))
            .map((deviceId) => ({ deviceId, ...stored[deviceId] })),
        ]),
      ),
    }));
const holdDevicesExcept = (...unknown: string[]) => holdDevices({}, ...unknown);

/** The final ack's last write (`recordFinalSequence`) answers the header as it left it. */
const finalSequenceAnswers = (item: object) =>
  ddb
    .on(UpdateCommand, { UpdateExpression: 'SET finalSequence = if_not_exists(finalSequence, :seq)' })
    .resolves({ Attributes: item });

beforeEach(() => {
  ddb.reset();
  holdDevicesExcept();
  ddb.on(BatchWriteCommand).resolves({});
  ddb.on(TransactWriteCommand).resolves({});
});

describe('recordSyncRequest', () => {
  const devices = Array.from({ length: 60 }, (_, i) => controllableDevice({ deviceId: `D${i}` }));
  const request = assetSyncRequest({ locationInfo: { controllableDevices: devices } });
  const context = { messageId: 'req-1', receivedAt: T0, deadline: new Date('2026-12-02T22:00:00Z') };

  it('writes nothing when the header exists (a redelivery keeps reported statuses)', async () => {
    ddb.on(GetCommand).resolves({ Item: header });
    await recordSyncRequest(request, context);
    expect(ddb.commandCalls(BatchWriteCommand)).toHaveLength(0);
    expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
  });

  it('batch-writes devices 25 at a time, retries unprocessed items, then puts the header last', async () => {
    ddb.on(GetCommand).resolves({});
    let first = true;
    ddb.on(BatchWriteCommand).callsFake((input) => {
      const requests = input.RequestItems['correlation-unit'];
      if (first) {
        first = false;
        return { UnprocessedItems: { 'correlation-unit': requests.slice(0, 2) } };
      }
      return {};
    });
    ddb.on(PutCommand).resolves({});
    await recordSyncRequest(request, context);
    const sizes = ddb
      .commandCalls(BatchWriteCommand)
      .map((c) => c.args[0].input.RequestItems?.['correlation-unit']?.length);
    expect(sizes.slice(0, 3).sort()).toEqual([10, 25, 25]);
    expect(sizes.slice(3)).toEqual([2]);
    const put = ddb.commandCalls(PutCommand)[0]!.args[0].input;
    expect(put.ConditionExpression).toBe('attribute_not_exists(pk)');
    expect(put.Item).toMatchObject({
      sk: 'HEADER',
      deviceCount: 60,
      terminalCount: 0,
      reason: 'ENROLL',
      gsi1pk: 'PENDING',
      gsi1sk: '2026-12-02T22:00:00.000Z',
      deadline: '2026-12-02T22:00:00.000Z',
      expiresAt: Math.floor(T0.getTime() / 1000) + 30 * 86_400,
    });
    expect(JSON.stringify(put.Item)).not.toMatch(/contactId|cisPersonId/);
  });

  it('gives up with UnprocessedItemsError when items stay unprocessed', async () => {
    ddb.on(GetCommand).resolves({});
    ddb.on(BatchWriteCommand).callsFake((input) => ({ UnprocessedItems: input.RequestItems }));
    await expect(
      recordSyncRequest(
        assetSyncRequest({ locationInfo: { controllableDevices: [controllableDevice()] } }),
        context,
      ),
    ).rejects.toBeInstanceOf(UnprocessedItemsError);
    expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
  }, 30_000);

  it('ignores a header written first by a concurrent delivery', async () => {
    ddb.on(GetCommand).resolves({});
    ddb.on(BatchWriteCommand).resolves({});
    ddb.on(PutCommand).rejects(ccf());
    await expect(recordSyncRequest(request, context)).resolves.toBeUndefined();
  });
});

describe('handleAck', () => {
  it('asks for a retry while an uncorrelated ack is within its window', async () => {
    ddb.on(GetCommand).resolves({});
    await expect(handleAck(assetSyncAck(), ctx())).rejects.toBeInstanceOf(RetryLaterError);
  });

  it('forwards an uncorrelated ack after the window with its own key', async () => {
    ddb.on(GetCommand).resolves({});
    const c = ctx({ now: new Date(T0.getTime() + 300_000) });
    const out = await handleAck(assetSyncAck(), c);
    expect(out).toMatchObject({ status: ACK_OUTCOMES.UNCORRELATED, uncorrelated: true });
    expect(c.sendToDacs).toHaveBeenCalledWith(
      expect.objectContaining({ syncRequestId: 'SR-1001' }),
      'SR-1001#uncorrelated#2026-12-01T14:05:00-08:00#1',
    );
  });

  it('recounts on a redelivered ack instead of adding, and classifies unknown and stale devices', async () => {
    ddb.on(GetCommand).resolves({});
    ddb.on(GetCommand, { Key: { pk: 'SYNC#SR-1001', sk: 'HEADER' } }).resolves({ Item: header });
    // D-1001 was PENDING; D-1002 holds a newer report than this ack's; D-1003 is not held.
    holdDevices(
      {
        'D-1001': { reportedStatus: 'PENDING', reportedAtMs: 0, ackSequence: 1 },
        'D-1002': {
          reportedStatus: 'FAILED',
          reportedAtMs: Date.parse('2026-12-02T00:00:00Z'),
          ackSequence: 1,
        },
      },
      'D-1003',
    );
    ddb.on(PutCommand).rejects(ccf());
    // The redelivery recounts: D-1001 (now REGISTERED) and D-1002 (FAILED earlier) are terminal.
    ddb.on(QueryCommand).resolves({
      Items: [
        { pk: 'SYNC#SR-1001', sk: 'DEVICE#D-1001', deviceId: 'D-1001', reportedStatus: 'REGISTERED' },
        { pk: 'SYNC#SR-1001', sk: 'DEVICE#D-1002', deviceId: 'D-1002', reportedStatus: 'FAILED' },
      ],
    });
    const out = await handleAck(assetSyncAck({ final: false }), ctx());
    expect(out).toMatchObject({
      status: ACK_OUTCOMES.RECORDED,
      duplicateAck: true,
      devicesApplied: 1,
      staleReports: 1,
      unknownDevices: 1,
    });
    const updates = ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input);
    expect(updates.some((u) => u.UpdateExpression === 'ADD terminalCount :n')).toBe(false);
    expect(
      updates.find((u) => u.UpdateExpression === 'SET terminalCount = :n')?.ExpressionAttributeValues,
    ).toEqual({ ':n': 2 });
    // The unknown device gets an item of its own, and the ack its count.
    const written = ddb
      .commandCalls(BatchWriteCommand)
      .flatMap((c) => c.args[0].input.RequestItems?.['correlation-unit'] ?? [])
      .map((r) => r.PutRequest?.Item);
    expect(written).toEqual([
      expect.objectContaining({ sk: 'UNKNOWN#2026-12-01T14:05:00-08:00#1#D-1003', deviceId: 'D-1003' }),
    ]);
    expect(
      updates.find((u) => u.UpdateExpression === 'SET unknownCount = :n')?.ExpressionAttributeValues,
    ).toEqual({ ':n': 1 });
    // D-1001's report alone is written (a transaction pinned to the PENDING read); the stale one costs
    // nothing. The ack's information (an unknown device) is published before the freeze, in one transaction.
    const transactions = ddb
      .commandCalls(TransactWriteCommand)
      .map((c) => c.args[0].input.TransactItems ?? []);
    expect(transactions).toHaveLength(2);
    expect(transactions[0]!.map((t) => t.Update?.Key)).toEqual([{ pk: 'SYNC#SR-1001', sk: 'DEVICE#D-1001' }]);
    expect(transactions[0]![0]!.Update?.ConditionExpression).toContain(
      '#s = :oldS AND reportedAtMs = :oldMs AND ackSequence = :oldSeq',
    );
    expect(ddb.commandCalls(UpdateCommand).some((u) => u.args[0].input.Key?.sk?.startsWith('DEVICE#'))).toBe(
      false,
    );
  });

  it('does not count a device that was terminal already', async () => {
    ddb.on(GetCommand).resolves({ Item: header });
    ddb.on(PutCommand).resolves({});
    ddb.on(UpdateCommand).resolves({});
    // Each device holds an older terminal report: the new one is written, but moves nothing to terminal.
    const older = { reportedStatus: 'FAILED', reportedAtMs: 0, ackSequence: 1 };
    holdDevices({ 'D-1001': older, 'D-1002': older, 'D-1003': older });
    await handleAck(assetSyncAck({ final: false }), ctx());
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(1);
    expect(
      ddb.commandCalls(UpdateCommand).some((c) => c.args[0].input.UpdateExpression?.startsWith('ADD')),
    ).toBe(false);
  });

  it('sends nothing when another call froze the consolidated ack first', async () => {
    // The read before the freeze, and the final ack's last write, see it pending; the read after the
    // failed freeze sees the other's.
    ddb
      .on(GetCommand)
      .resolvesOnce({ Item: { ...header, terminalCount: 3 } })
      .resolves({
        Item: {
          ...header,
          terminalCount: 3,
          consolidatedAt: '2026-12-01T22:05:00Z',
          consolidatedBy: 'other',
        },
      });
    ddb.on(PutCommand).resolves({});
    ddb.on(UpdateCommand).resolves({});
    finalSequenceAnswers({ ...header, terminalCount: 3, finalSequence: 1 });
    ddb
      .on(UpdateCommand, {
        Key: { pk: 'SYNC#SR-1001', sk: 'HEADER' },
        ConditionExpression:
          'attribute_exists(pk) AND attribute_not_exists(consolidatedAt) AND (attribute_not_exists(infoVersion) OR infoVersion = :v)',
      })
      .rejects(ccf());
    ddb.on(QueryCommand).resolves({
      Items: ['D-1001', 'D-1002', 'D-1003'].map((deviceId, index) => ({
        pk: 'SYNC#SR-1001',
        sk: `DEVICE#${deviceId}`,
        deviceId,
        index,
        expected: 'REGISTER',
        reportedStatus: 'REGISTERED',
      })),
    });
    const c = ctx();
    const out = await handleAck(assetSyncAck(), c);
    expect(out.status).toBe(ACK_OUTCOMES.ALREADY_CONSOLIDATED);
    expect(c.sendToDacs).not.toHaveBeenCalled();
  });

  it('rethrows a failed delivery of the consolidated ack and leaves it undelivered', async () => {
    ddb.on(GetCommand).resolves({ Item: { ...header, finalSequence: 1 } });
    ddb.on(PutCommand).resolves({});
    ddb.on(BatchWriteCommand).resolves({});
    ddb.on(UpdateCommand).resolves({ Attributes: {} });
    finalSequenceAnswers({ ...header, finalSequence: 1 });
    ddb.on(QueryCommand).resolves({
      Items: [
        { pk: 'SYNC#SR-1001', sk: 'DEVICE#D-1001', deviceId: 'D-1001', index: 0, expected: 'REGISTER' },
      ],
    });
    // The final ack (sequence 1) is the only one, and applied: the request is due.
    ddb
      .on(QueryCommand, { ExpressionAttributeValues: { ':pk': 'SYNC#SR-1001', ':ack': 'ACK#' } })
      .resolves({ Items: [{ sequence: 1, appliedAt: '2026-12-01T22:05:00Z' }] });
    const c = ctx({ sendToDacs: sender(async () => Promise.reject(new Error('DACS down'))) });
    await expect(handleAck(assetSyncAck(), c)).rejects.toThrow('DACS down');
    expect(c.sendToDacs).toHaveBeenCalledWith(
      expect.objectContaining({ syncRequestId: 'SR-1001' }),
      'SR-1001',
    );
    const freeze = ddb
      .commandCalls(UpdateCommand)
      .find((u) => u.args[0].input.ConditionExpression?.includes('consolidatedAt'));
    expect(freeze?.args[0].input).toMatchObject({
      ConditionExpression:
        'attribute_exists(pk) AND attribute_not_exists(consolidatedAt) AND (attribute_not_exists(infoVersion) OR infoVersion = :v)',
      ExpressionAttributeValues: expect.objectContaining({ ':by': 'm-1', ':t': 'FINAL_ACK' }),
    });
    // Undelivered, it stays in the deadline index (moved one requeue interval ahead) for adoption.
    expect(freeze?.args[0].input.UpdateExpression).toContain('gsi1sk = :recheck');
    expect(freeze?.args[0].input.UpdateExpression).not.toContain('REMOVE');
    expect(
      ddb
        .commandCalls(UpdateCommand)
        .some((u) => u.args[0].input.UpdateExpression?.includes('consolidatedDeliveredAt')),
    ).toBe(false);
  });
});

describe('consolidateOnDeadline', () => {
  it('does nothing before the deadline', async () => {
    ddb.on(GetCommand).resolves({ Item: header });
    const out = await consolidateOnDeadline('SR-1001', {
      messageId: 's',
      now: T0,
      sendToDacs: sender(),
      failureDecision: retry,
    });
    expect(out.status).toBe(ACK_OUTCOMES.NOT_DUE);
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
  });
});

describe('findOverdue', () => {
  it('queries the sparse deadline index up to now', async () => {
    ddb.on(QueryCommand).resolves({ Items: [{ pk: 'SYNC#A' }, { pk: 'SYNC#B' }] });
    expect(await findOverdue(T0, 5)).toEqual(['A', 'B']);
    expect(ddb.commandCalls(QueryCommand)[0]!.args[0].input).toMatchObject({
      IndexName: 'byDeadline',
      KeyConditionExpression: 'gsi1pk = :p AND gsi1sk <= :now',
      ExpressionAttributeValues: { ':p': 'PENDING', ':now': T0.toISOString() },
      Limit: 5,
    });
  });
});

describe('getSyncRequestStatus', () => {
  it('is undefined for an unknown sync request', async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    expect(await getSyncRequestStatus('nope')).toBeUndefined();
  });
});
