/**
 * Resubmit a consolidated ack that DACS refused (`POST /v1/sync-requests/{syncRequestId}/resubmit`): send
 * the FROZEN body again (nothing is consolidated anew), through the normal retrying path, and record who
 * asked and when on the correlation record.
 *
 *   read header ─▶ DEAD_LETTERED? (else 409) ─▶ markConsolidatedResubmitted (one conditional write:
 *   DEAD_LETTERED → RETRYING, owned by a new deadline command, due now, back in the sweep's partition of
 *   the deadline index) ─▶ queue that deadline command on the ack queue
 *
 * The command is the owner, so when it runs it sends the frozen body (`Idempotency-Key` = syncRequestId,
 * as every send of it), records DELIVERED, RETRYING or DEAD_LETTERED as any owner does, with a retry window
 * that counts from the resubmit (the command's `requestedAt`), then sends the follow-ups held back meanwhile.
 * Should the command never run (it could not be queued, or is lost), the sweep finds the header in the
 * deadline index a requeue interval later and a deadline command adopts it.
 *
 * Delivered at most once in effect: of two resubmits the conditional write lets one through (the other is a
 * 409); a redriven DLQ copy of the old owner is no longer the owner, and a delivered ack is never sent again;
 * DACS sees the same `Idempotency-Key` on every send.
 */
import { randomUUID } from 'node:crypto';
import { deadlineRequeueSeconds } from '#shared/consolidation/context.ts';
import type { HeaderItem } from '#shared/consolidation/items.ts';
import { deliveryView } from '#shared/consolidation/status.ts';
import { markConsolidatedResubmitted, readHeader } from '#shared/consolidation/store.ts';
import { DELIVERY_STATES } from '#shared/consolidation/types.ts';
import type { SyncRequestStatus } from '#shared/contracts/types.ts';
import { HttpError } from '#shared/errors.ts';
import { FLOWS } from '#shared/flows/registry.ts';
import { PROBLEMS } from '#shared/handlers/problems.ts';
import { logger } from '#shared/observability.ts';
import { enqueueDeadline } from '#shared/queue/envelope.ts';

type Delivery = NonNullable<SyncRequestStatus['consolidatedAck']>['delivery'];

/** The 202 answer. */
export interface SyncRequestResubmitted {
  syncRequestId: string;
  status: 'RESUBMITTED';
  /** The consolidated ack's delivery after the resubmit: RETRYING, its next attempt now. */
  delivery: Delivery;
  resubmissions: number;
  resubmittedAt: string;
  resubmittedBy: string;
}

export interface ResubmitSyncDeps {
  readonly now?: () => Date;
  /** Queues the owner's deadline command (the ack queue). */
  readonly enqueue?: (syncRequestId: string, at: Date, commandId: string) => Promise<void>;
  readonly newId?: () => string;
}

const conflict = (syncRequestId: string, why: string): HttpError =>
  new HttpError(
    PROBLEMS.notDeadLettered,
    `The consolidated ack of sync request ${syncRequestId} cannot be resubmitted: ${why}.`,
  );

/** 404 for an unknown sync request; 409 unless its consolidated ack is DEAD_LETTERED now. */
function requireDeadLettered(syncRequestId: string, header: HeaderItem | undefined): HeaderItem {
  if (!header)
    throw new HttpError(PROBLEMS.notFound, `No sync request ${syncRequestId} is known (or it has expired).`);
  if (header.consolidatedAt === undefined) throw conflict(syncRequestId, 'it has not been consolidated yet');
  const { state } = deliveryView(header);
  if (state !== DELIVERY_STATES.DEAD_LETTERED) {
    throw conflict(syncRequestId, `its delivery is ${state}, and only a DEAD_LETTERED one can be`);
  }
  return header;
}

/** Resubmits the DEAD_LETTERED consolidated ack of `syncRequestId` on behalf of `requestedBy` (a client id). */
export async function resubmitSyncRequest(
  syncRequestId: string,
  requestedBy: string,
  deps: ResubmitSyncDeps = {},
): Promise<SyncRequestResubmitted> {
  const header = requireDeadLettered(syncRequestId, await readHeader(syncRequestId));
  const at = (deps.now ?? (() => new Date()))();
  const owner = (deps.newId ?? randomUUID)();
  const updated = await markConsolidatedResubmitted(syncRequestId, {
    owner,
    by: requestedBy,
    at,
    seen: header.resubmissions,
    recheckAt: new Date(at.getTime() + deadlineRequeueSeconds() * 1000),
  });
  if (!updated) {
    throw conflict(syncRequestId, 'it changed meanwhile (another resubmit or a redrive moved it on)');
  }
  const enqueue =
    deps.enqueue ??
    ((id: string, when: Date, commandId: string) => enqueueDeadline(FLOWS.assetSyncAck, id, when, commandId));
  try {
    await enqueue(syncRequestId, at, owner);
  } catch (error) {
    // Nothing is lost: the header waits in the deadline index, and the sweep's command adopts it.
    logger.warn('Could not queue the resubmitted consolidated ack; the deadline sweep will send it', {
      syncRequestId,
      error,
    });
  }
  logger.info('Consolidated ack resubmitted', {
    syncRequestId,
    resubmission: updated.resubmissions,
    requestedBy,
    owner,
  });
  return {
    syncRequestId,
    status: 'RESUBMITTED',
    delivery: deliveryView(updated),
    resubmissions: updated.resubmissions ?? 1,
    resubmittedAt: at.toISOString(),
    resubmittedBy: requestedBy,
  };
}
