/**
 * Per-unavailabilityId ordering. Updates apply in `updatedDateTime` order, whatever order they arrive
 * in: one conditional write claims "this is the newest update", and only its winner is delivered.
 *
 *   stored newer than this one          → SUPERSEDED (a late ADD after its CANCEL lands here)
 *   nothing stored, or stored older     → claim, deliver
 *   stored is this very message         → a retry of our own claim, deliver again
 *
 * Timestamps are compared as instants (epoch ms), so offsets never confuse the order.
 *
 * One request either way: a refused claim returns the stored item that refused it
 * (`ReturnValuesOnConditionCheckFailure`), which names the newer update in the SUPERSEDED reason. (It
 * used to be read again with a GetItem, whose answer could not change the outcome, only its wording, and
 * could name a later update than the one that refused the claim.)
 */

import { type AttributeValue, ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
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
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
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
    return { applied: false, reason: supersededBy(error.Item) };
  }
}

/** The reason a claim was refused, from the stored item that refused it (DynamoDB's own form). */
export function supersededBy(item: Record<string, AttributeValue> | undefined): string {
  const text = (name: string, otherwise: string): string => item?.[name]?.S ?? otherwise;
  return (
    `Superseded by ${text('action', 'a newer update')} of ${text('updatedDateTime', 'a later time')} ` +
    `(message ${text('messageId', 'unknown')})`
  );
}
