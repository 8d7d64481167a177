/**
 * Per-unavailabilityId ordering. Updates apply in `updatedDateTime` order, whatever order they arrive
 * in: one conditional write claims "this is the newest update", and only its winner is delivered.
 *
 *   stored newer than this one          → SUPERSEDED (a late ADD after its CANCEL lands here)
 *   nothing stored, or stored older     → claim, deliver
 *   stored is this very message         → a retry of our own claim, deliver again
 *
 * Timestamps are compared as instants (epoch ms), so offsets never confuse the order.
 */

import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { documentClientFor } from '#shared/aws/clients.ts';
import { requireString } from '#shared/config/env.ts';
import { TUNABLES } from '#shared/config/tunables.ts';
import { instantMs } from '#shared/contracts/rules.ts';
import type { UnavailabilityNotification } from '#shared/contracts/types.ts';
import { CORRELATION_TABLE } from '#shared/store/tables.ts';

export type ClaimResult = { applied: true } | { applied: false; reason: string };

const key = (unavailabilityId: string) => ({ pk: `UNAV#${unavailabilityId}`, sk: 'VERSION' });

export async function claimLatest(
  n: UnavailabilityNotification,
  messageId: string,
  now: Date,
  retentionDays: number = TUNABLES.retentionDays.default,
): Promise<ClaimResult> {
  const tableName = requireString(CORRELATION_TABLE.nameEnv);
  const updatedAtMs = instantMs(n.updatedDateTime);
  const expiresAt = Math.floor(now.getTime() / 1000) + retentionDays * 86_400;
  try {
    await documentClientFor().send(
      new UpdateCommand({
        TableName: tableName,
        Key: key(n.unavailabilityId),
        UpdateExpression:
          'SET updatedAtMs = :t, updatedDateTime = :dt, messageId = :m, #action = :a, deviceId = :d, appliedAt = :now, expiresAt = :exp',
        ConditionExpression:
          'attribute_not_exists(pk) OR updatedAtMs < :t OR (updatedAtMs = :t AND messageId = :m)',
        ExpressionAttributeNames: { '#action': 'action' },
        ExpressionAttributeValues: {
          ':t': updatedAtMs,
          ':dt': n.updatedDateTime,
          ':m': messageId,
          ':a': n.action,
          ':d': n.deviceId,
          ':now': now.toISOString(),
          ':exp': expiresAt,
        },
      }),
    );
    return { applied: true };
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    const { Item } = await documentClientFor().send(
      new GetCommand({ TableName: tableName, Key: key(n.unavailabilityId), ConsistentRead: true }),
    );
    return {
      applied: false,
      reason: `Superseded by ${String(Item?.action ?? 'a newer update')} of ${String(Item?.updatedDateTime ?? 'a later time')} (message ${String(Item?.messageId ?? 'unknown')})`,
    };
  }
}
