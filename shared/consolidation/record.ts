/**
 * Recording a sync request as its correlation record, and marking one DERMS refused.
 */
import { PENDING_CONSOLIDATION } from '#shared/store/tables.ts';
import { putAll } from './batch.ts';
import type { RecordContext } from './context.ts';
import { trimError } from './context.ts';
import { type DeviceItem, deviceKey, expiresAt, type HeaderItem, headerKey } from './items.ts';
import { createHeader, markEnrollmentRefused, readHeader } from './store.ts';
import type { AssetSyncRequest } from './types.ts';

/**
 * Writes the correlation record: devices first (BatchWrite, 25 per request, bounded parallelism), the
 * header last, so the header's existence means the record is complete. A redelivery finds the header and
 * writes nothing, so statuses already reported are never reset. Contact data is not stored.
 */
export async function recordSyncRequest(request: AssetSyncRequest, ctx: RecordContext): Promise<void> {
  const { syncRequestId, reason, sentDateTime } = request.sendDetails;
  if (await readHeader(syncRequestId)) return;
  const ttl = expiresAt(ctx.receivedAt);
  const devices = request.locationInfo.controllableDevices;
  const receivedAt = ctx.receivedAt.toISOString();
  const items: DeviceItem[] = devices.map((d, index) => ({
    ...deviceKey(syncRequestId, d.deviceId),
    // The sparse byDevice index: the sync requests that hold a device, for support's search.
    gsi2pk: d.deviceId,
    gsi2sk: `${receivedAt}#${syncRequestId}`,
    deviceId: d.deviceId,
    index,
    expected: d.registrationAction,
    headEndSystem: d.headEndSystem,
    nicId: d.nicId,
    expiresAt: ttl,
  }));
  await putAll(syncRequestId, items);
  const deadline = ctx.deadline.toISOString();
  const header: HeaderItem = {
    ...headerKey(syncRequestId),
    syncRequestId,
    reason,
    sentDateTime,
    messageId: ctx.messageId,
    receivedAt,
    deadline,
    deviceCount: devices.length,
    terminalCount: 0,
    infoVersion: 0,
    gsi1pk: PENDING_CONSOLIDATION,
    gsi1sk: deadline,
    expiresAt: ttl,
  };
  // False: a concurrent delivery of the same request wrote it first, with the same content.
  await createHeader(header);
}

/**
 * DERMS refused the enrollment sync for good (or it could not be delivered within the retry window):
 * the request becomes due now, and its deadline command consolidates it with trigger DERMS_REFUSED, every
 * device without status and DERMS's answer in exceptionInfo. False when it was consolidated already.
 */
export function refuseEnrollment(syncRequestId: string, answer: string, now: Date): Promise<boolean> {
  return markEnrollmentRefused(syncRequestId, trimError(answer), now);
}
