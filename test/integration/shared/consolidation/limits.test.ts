/**
 * Size limits that hold: an ack at the schema's limits (10,000 devices, none held by the request, and
 * 1,000 errors of 2,000 characters) is accepted, applied, consolidated and sent, and no item of the
 * partition comes near DynamoDB's 400 KB. Measured by scanning the partition and sizing every item.
 */

import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from '@jest/globals';
import { documentClientFor } from '#shared/aws/clients.ts';
import {
  ACK_OUTCOMES,
  EXCEPTION_NUMBERS,
  getSyncRequestStatus,
  handleAck,
  MAX_EXCEPTION_INFO_BYTES,
  recordSyncRequest,
} from '#shared/consolidation/index.ts';
import { itemSize, MAX_ITEM_BYTES } from '#shared/consolidation/size.ts';
import type { AssetSyncAck } from '#shared/contracts/types.ts';
import { validateMessage } from '#shared/contracts/validate.ts';
import { ackContext, DEADLINE, dacs, newSyncRequestId, request, T0 } from './fixtures.ts';

async function partitionItems(syncRequestId: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const out = await documentClientFor().send(
      new QueryCommand({
        TableName: process.env.CORRELATION_TABLE,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': `SYNC#${syncRequestId}` },
        ExclusiveStartKey,
      }),
    );
    items.push(...(out.Items ?? []));
    ExclusiveStartKey = out.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return items;
}

/** An ack at the schema's limits: every field at its maximum length, multi-byte text. */
function ackAtLimits(syncRequestId: string): AssetSyncAck {
  return {
    syncRequestId,
    ackType: 'FAILURE',
    ackDateTime: '2026-12-01T14:30:00-08:00',
    sequence: 1,
    final: true,
    errors: Array.from({ length: 1000 }, (_, i) => ({
      code: `E${i}-`.padEnd(100, 'c'),
      message: 'é'.repeat(2000),
    })),
    devices: Array.from({ length: 10_000 }, (_, i) => ({
      deviceId: `U${String(i).padStart(11, '0')}`,
      headEndSystem: 'h'.repeat(50),
      nicId: 'n'.repeat(100),
      registrationStatus: 'FAILED' as const,
      message: 'ü'.repeat(2000),
    })),
  };
}

describe('an ack at the schema limits', () => {
  it('is applied, consolidated and sent, and every item of its partition stays far below 400 KB', async () => {
    const id = newSyncRequestId();
    await recordSyncRequest(request(id, [{ id: 'A' }, { id: 'B' }]), {
      messageId: `req-${id}`,
      receivedAt: T0,
      deadline: DEADLINE,
    });
    const message = ackAtLimits(id);
    expect(validateMessage('AssetSyncAck', message)).toMatchObject({ ok: true });
    const d = dacs();
    const out = await handleAck(message, ackContext(d.send));
    expect(out).toMatchObject({
      status: ACK_OUTCOMES.CONSOLIDATED,
      trigger: 'FINAL_ACK',
      unknownDevices: 10_000,
    });

    const body = d.calls[0]!.body;
    expect(d.calls.map((c) => c.key)).toEqual([id]);
    expect(body.hasError).toBe(true);
    expect(body.deviceHeadendStatus.map((s) => s.headEndRegistration)).toEqual(['D1NR', 'D1NR']);
    const infoBytes = Buffer.byteLength(JSON.stringify(body.exceptionInfo));
    expect(infoBytes).toBeLessThanOrEqual(MAX_EXCEPTION_INFO_BYTES);
    expect(body.exceptionInfo.at(-2)?.messageNumber).toBe(EXCEPTION_NUMBERS.DEADLINE);
    expect(body.exceptionInfo.at(-1)?.messageNumber).toBe(EXCEPTION_NUMBERS.TRUNCATED);

    const items = await partitionItems(id);
    const sizes = items.map((item) => ({ sk: item.sk as string, bytes: itemSize(item) }));
    const largest = sizes.reduce((a, b) => (b.bytes > a.bytes ? b : a));
    expect(sizes.filter((s) => s.sk.startsWith('UNKNOWN#'))).toHaveLength(10_000);
    expect(sizes.filter((s) => s.sk.startsWith('ERROR#'))).toHaveLength(1000);
    expect(largest.bytes).toBeLessThan(MAX_ITEM_BYTES / 4);
    const header = sizes.find((s) => s.sk === 'HEADER')!;
    expect(header.bytes).toBeLessThan(MAX_EXCEPTION_INFO_BYTES + 8 * 1024);

    const status = await getSyncRequestStatus(id);
    expect(status?.acks[0]).toMatchObject({ unknownDeviceCount: 10_000 });
    expect(status?.acks[0]?.errors).toHaveLength(1000);
    console.info(
      `schema limits: ${items.length} items, largest ${largest.sk.split('#')[0]} ${(largest.bytes / 1024).toFixed(1)} KiB, ` +
        `header ${(header.bytes / 1024).toFixed(1)} KiB, exceptionInfo ${(infoBytes / 1024).toFixed(1)} KiB`,
    );
  }, 180_000);
});
