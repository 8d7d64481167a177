/**
 * The consolidated acks DACS refused (DEAD_LETTERED now), as the Dead letters widget lists them: one Query
 * of the refused partition of the correlation table's `byDeadline` index, newest first, never a scan.
 */
import { findRefusedConsolidated } from '#shared/consolidation/store.ts';
import type { RefusedAckView } from '#shared/support/widgets/deadLetters.ts';

export async function findRefusedAcks(query: {
  from: Date;
  to: Date;
  limit: number;
}): Promise<RefusedAckView[]> {
  const headers = await findRefusedConsolidated(query);
  return headers.map((h) => ({
    syncRequestId: h.syncRequestId,
    deadLetteredAt: h.gsi1sk ?? '',
    attempts: h.deliveryAttempts ?? 0,
    ...(h.deliveryLastError ? { lastError: h.deliveryLastError } : {}),
    ...(h.resubmissions ? { resubmissions: h.resubmissions } : {}),
  }));
}
