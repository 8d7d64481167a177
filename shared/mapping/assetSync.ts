/**
 * AssetSyncRequest → DERMS EnrollmentSync. DERMS takes the DACS structure as it is, with the sync
 * request id as its `dacsMessageId` (the key DERMS echoes in its acknowledgements). Entity groups and
 * the network address travel on each device.
 */
import type { AssetSyncRequest } from '#shared/contracts/types.ts';

export type EnrollmentSync = AssetSyncRequest & { dacsMessageId: string; syncRequestId: string };

export function toEnrollmentSync(request: AssetSyncRequest): EnrollmentSync {
  return {
    dacsMessageId: request.sendDetails.syncRequestId,
    syncRequestId: request.sendDetails.syncRequestId,
    ...request,
  };
}
