/**
 * The store's typed operations answer in domain terms: the condition of each write names what it
 * requires, and a failed condition becomes the answer, never an exception.
 */
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { beforeEach, describe, expect, it } from '@jest/globals';
import { mockClient } from 'aws-sdk-client-mock';
import {
  claimOverdue,
  freezeHeader,
  ifCondition,
  publishAckInfo,
  recordConsolidatedFailure,
  takeFollowUpLease,
} from '#shared/consolidation/store.ts';

process.env.CORRELATION_TABLE = 'correlation-unit';
const ddb = mockClient(DynamoDBDocumentClient);
const ccf = () =>
  new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });
const T0 = new Date('2026-12-01T22:00:00.000Z');
const lastUpdate = () => ddb.commandCalls(UpdateCommand).at(-1)!.args[0].input;

beforeEach(() => {
  ddb.reset();
});

describe('ifCondition', () => {
  it('turns a failed condition into undefined and rethrows anything else', async () => {
    await expect(ifCondition(Promise.reject(ccf()))).resolves.toBeUndefined();
    await expect(ifCondition(Promise.reject(new Error('throttled')))).rejects.toThrow('throttled');
    await expect(ifCondition(Promise.resolve(1))).resolves.toBe(1);
  });
});

describe('claimOverdue', () => {
  it('requires the request overdue, in the index, undelivered, not dead-lettered, and past any Retry-After', async () => {
    ddb.on(UpdateCommand).resolves({});
    expect(await claimOverdue('SR1', T0, 300)).toBe(true);
    expect(lastUpdate().ConditionExpression).toBe(
      'gsi1pk = :pending AND gsi1sk <= :now AND attribute_not_exists(consolidatedDeliveredAt) AND ' +
        '(attribute_not_exists(deliveryState) OR deliveryState <> :deadLettered) AND ' +
        '(attribute_not_exists(deliveryNextAttemptAt) OR deliveryNextAttemptAt <= :now)',
    );
    ddb.on(UpdateCommand).rejects(ccf());
    expect(await claimOverdue('SR1', T0, 300)).toBe(false);
  });
});

describe('freezeHeader', () => {
  const freeze = {
    by: 'm',
    at: T0,
    trigger: 'DEADLINE' as const,
    summary: { ackError: false, exceptionInfo: [] },
    infoVersion: 2,
    recheckAt: T0,
  };

  it('answers frozen, taken (someone froze first) or info-changed (an ack published since)', async () => {
    ddb.on(UpdateCommand).resolves({});
    expect(await freezeHeader('SR1', freeze)).toBe('frozen');
    expect(lastUpdate().ConditionExpression).toContain('infoVersion = :v');
    ddb.on(UpdateCommand).rejects(ccf());
    ddb.on(GetCommand).resolves({ Item: { consolidatedAt: T0.toISOString() } });
    expect(await freezeHeader('SR1', freeze)).toBe('taken');
    ddb.on(GetCommand).resolves({ Item: { infoVersion: 3 } });
    expect(await freezeHeader('SR1', freeze)).toBe('info-changed');
  });
});

describe('recordConsolidatedFailure', () => {
  it('keeps a RETRYING ack in the index no sooner than its recheck, and takes a DEAD_LETTERED one out', async () => {
    ddb.on(UpdateCommand).resolves({});
    await recordConsolidatedFailure('SR1', 'owner', {
      state: 'RETRYING',
      lastError: '503',
      nextAttemptAt: T0,
      recheckAt: new Date(T0.getTime() + 300_000),
    });
    expect(lastUpdate()).toMatchObject({
      UpdateExpression:
        'SET deliveryState = :state, deliveryLastError = :error, gsi1pk = :pending, gsi1sk = :recheck, ' +
        'deliveryNextAttemptAt = :next ADD deliveryAttempts :one',
      ExpressionAttributeValues: expect.objectContaining({ ':recheck': '2026-12-01T22:05:00.000Z' }),
    });
    await recordConsolidatedFailure('SR1', 'owner', { state: 'DEAD_LETTERED', lastError: '422', at: T0 });
    // Out of the sweep's partition, into the refused one (support lists and resubmits it from there).
    expect(lastUpdate()).toMatchObject({
      UpdateExpression:
        'SET deliveryState = :state, deliveryLastError = :error, gsi1pk = :refused, gsi1sk = :at ' +
        'ADD deliveryAttempts :one REMOVE deliveryNextAttemptAt',
      ExpressionAttributeValues: expect.objectContaining({
        ':refused': 'DEAD_LETTERED',
        ':at': T0.toISOString(),
      }),
    });
    expect(lastUpdate().ConditionExpression).toBe(
      'consolidatedBy = :by AND attribute_not_exists(consolidatedDeliveredAt)',
    );
  });
});

describe('takeFollowUpLease', () => {
  it('is conditional on the report and follow-up version read and a free or expired lease', async () => {
    ddb.on(UpdateCommand).resolves({ Attributes: { followUpSeq: 4 } });
    const claim = {
      by: 'm',
      flag: 'D1RE' as const,
      message: 'x',
      now: T0,
      until: T0,
      reportedAtMs: 1,
      ackSequence: 2,
      seenSeq: 3,
    };
    expect(await takeFollowUpLease('SR1', 'A', claim)).toBe(4);
    expect(lastUpdate().ConditionExpression).toBe(
      'reportedAtMs = :ms AND ackSequence = :ackSeq AND followUpSeq = :seen AND (attribute_not_exists(leaseBy) OR leaseUntil <= :now)',
    );
    ddb.on(UpdateCommand).rejects(ccf());
    expect(await takeFollowUpLease('SR1', 'A', claim)).toBeUndefined();
  });
});

describe('publishAckInfo', () => {
  it('publishes in one transaction while the header is not frozen', async () => {
    ddb.on(GetCommand).resolves({ Item: {} });
    ddb.on(TransactWriteCommand).resolves({});
    expect(await publishAckInfo('SR1', 'ACK#t#1', T0)).toBe('published');
  });

  it('marks the ack late when the header was frozen first', async () => {
    ddb
      .on(GetCommand, { Key: { pk: 'SYNC#SR1', sk: 'ACK#t#1' } })
      .resolvesOnce({ Item: {} })
      .resolves({ Item: { lateInfo: true } });
    ddb
      .on(GetCommand, { Key: { pk: 'SYNC#SR1', sk: 'HEADER' } })
      .resolves({ Item: { consolidatedAt: T0.toISOString() } });
    ddb
      .on(TransactWriteCommand)
      .rejects(new TransactionCanceledException({ message: 'cancelled', $metadata: {} }));
    ddb.on(UpdateCommand).resolves({});
    expect(await publishAckInfo('SR1', 'ACK#t#1', T0)).toBe('late');
    expect(lastUpdate()).toMatchObject({
      UpdateExpression: 'SET lateInfo = :true',
      ConditionExpression: 'attribute_not_exists(infoPublishedAt)',
    });
  });

  it('answers from the ack item when a redelivery finds the decision made', async () => {
    ddb.on(GetCommand).resolves({ Item: { infoPublishedAt: T0.toISOString() } });
    expect(await publishAckInfo('SR1', 'ACK#t#1', T0)).toBe('published');
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
  });
});
