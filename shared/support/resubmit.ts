/**
 * Resubmit one DEAD_LETTERED message (`POST /v1/messages/{messageId}/resubmit`): queue it again exactly
 * as it was accepted, from the copy its trace kept when it was dead-lettered (a large one keeps its
 * claim check), and record `RESUBMITTED` with who asked and when.
 *
 * Delivered at most once in effect:
 * - the trace moves DEAD_LETTERED → ACCEPTED under a condition, so of two resubmits one wins (409);
 * - the copy carries the trace's new resubmission count, and the process handler skips a copy whose
 *   count is lower: the DLQ copy, redriven later, is not delivered again;
 * - the receiver sees the same `Idempotency-Key` (the business key), and a delivered trace is final.
 */

import { readHeader } from '#shared/consolidation/store.ts';
import { DELIVERY_STATES } from '#shared/consolidation/types.ts';
import { HttpError } from '#shared/errors.ts';
import { FLOWS } from '#shared/flows/registry.ts';
import { PROBLEMS } from '#shared/handlers/problems.ts';
import { logger } from '#shared/observability.ts';
import { type MessageEnvelope, requeueCopy } from '#shared/queue/envelope.ts';
import {
  getTraceWithCopy,
  type MessageTraceItem,
  markResubmitted,
  revertResubmitted,
  TRACE_STATES,
} from '#shared/trace/store.ts';

export interface ResubmitResult {
  messageId: string;
  status: 'RESUBMITTED';
}

/** Throws a 404 HttpError for an unknown id and a 409 one unless the message is DEAD_LETTERED. */
export async function resubmitMessage(messageId: string, requestedBy: string): Promise<ResubmitResult> {
  const found = await getTraceWithCopy(messageId);
  if (!found) throw new HttpError(PROBLEMS.notFound, `No message ${messageId} is known (or it has expired).`);
  const { trace, copy } = found;
  const envelope = readCopy(trace, copy);
  await refuseRefusedConsolidation(trace);
  const resubmission = (trace.resubmissions ?? 0) + 1;
  const at = new Date();
  if (!(await markResubmitted(messageId, { resubmission, by: requestedBy, at }))) {
    throw conflict(messageId, 'it changed meanwhile (another resubmit or a redrive moved it on)');
  }
  try {
    await requeueCopy(FLOWS[trace.flow], envelope, resubmission);
  } catch (cause) {
    await revertResubmitted(messageId, {
      resubmission,
      flow: trace.flow,
      deadLetteredAt: trace.deadLetteredAt ?? at.toISOString(),
      at: new Date(),
      reason: `resubmit by ${requestedBy} could not be queued`,
    }).catch((error: unknown) => logger.error('Could not revert a failed resubmit', { messageId, error }));
    throw new HttpError(
      PROBLEMS.unavailable,
      'The message could not be queued again; nothing changed. Retry.',
      {
        cause,
        headers: { 'Retry-After': '5' },
      },
    );
  }
  logger.info('Message resubmitted', { flow: trace.flow, messageId, resubmission, requestedBy });
  return { messageId, status: 'RESUBMITTED' };
}

const conflict = (messageId: string, why: string): HttpError =>
  new HttpError(PROBLEMS.notDeadLettered, `Message ${messageId} cannot be resubmitted: ${why}.`);

/** The kept copy of a DEAD_LETTERED trace; 409 for any other state, or a dead letter without a copy. */
function readCopy(trace: MessageTraceItem, copy: string | undefined): MessageEnvelope {
  if (trace.state !== TRACE_STATES.DEAD_LETTERED) {
    throw conflict(trace.messageId, `it is ${trace.state}, and only a DEAD_LETTERED message can be`);
  }
  if (copy === undefined) {
    throw conflict(
      trace.messageId,
      "no copy was kept when it was dead-lettered; redrive its flow's dead-letter queue instead",
    );
  }
  return JSON.parse(copy) as MessageEnvelope;
}

/**
 * An ack message dead-lettered because DACS refused the consolidated ack it owned is not queued again
 * here: 409 pointing to `POST /v1/sync-requests/{syncRequestId}/resubmit`, which sends the frozen body
 * through the normal retrying path. Once that route moved the consolidated ack on, the ack message no
 * longer owns it and can be resubmitted here (its reprocessing then sends nothing twice).
 */
async function refuseRefusedConsolidation(trace: MessageTraceItem): Promise<void> {
  const syncRequestId = trace.keys?.syncRequestId;
  if (trace.flow !== FLOWS.assetSyncAck.id || !syncRequestId) return;
  const header = await readHeader(syncRequestId);
  if (
    header?.consolidatedBy === trace.messageId &&
    header.consolidatedDeliveredAt === undefined &&
    header.deliveryState === DELIVERY_STATES.DEAD_LETTERED
  ) {
    throw conflict(
      trace.messageId,
      `DACS refused the consolidated ack of sync request ${syncRequestId} it carried; resubmit that with ` +
        `POST /v1/sync-requests/${encodeURIComponent(syncRequestId)}/resubmit`,
    );
  }
}
