/**
 * Processors of the three DACS → DERMS flows and the legacy ack. Each maps the validated message and
 * delivers it; the process handler factory records the outcome and handles failures.
 */
import { recordSyncRequest, refuseEnrollment } from '#shared/consolidation/index.ts';
import type {
  AssetSyncRequest,
  LegacyMsgAck,
  OptOutNotification,
  UnavailabilityNotification,
} from '#shared/contracts/types.ts';
import { deliver, resolvePath } from '#shared/delivery/http.ts';
import { FLOWS, type FlowDefinition } from '#shared/flows/registry.ts';
import {
  type FlowProcessor,
  OUTCOMES,
  type ProcessContext,
  type ProcessOutcome,
} from '#shared/handlers/process.ts';
import { toEnrollmentSync } from '#shared/mapping/assetSync.ts';
import { toReservationCancellation } from '#shared/mapping/optOut.ts';
import { toExemptionWindow } from '#shared/mapping/unavailability.ts';
import { logger } from '#shared/observability.ts';
import type { ResolvedEnvelope } from '#shared/queue/envelope.ts';
import { claimLatest } from '#shared/unavailability/ordering.ts';

/** Delivers a mapped message to its flow's target, keyed by its business key and correlated by its id. */
async function deliverToTarget(
  flow: FlowDefinition,
  message: ResolvedEnvelope,
  body: unknown,
): Promise<ProcessOutcome> {
  const result = await deliver({
    system: flow.target.system,
    path: resolvePath(flow.target),
    body,
    idempotencyKey: message.businessKey,
    correlationId: message.messageId,
  });
  return { state: OUTCOMES.DELIVERED, detail: `${flow.target.system} answered ${result.status}` };
}

export const optOutProcessor: FlowProcessor = {
  async process(message) {
    const optOut = message.payload as OptOutNotification;
    return deliverToTarget(FLOWS.optOut, message, toReservationCancellation(optOut));
  },
};

export const unavailabilityProcessor: FlowProcessor = {
  async process(message, context) {
    const notification = message.payload as UnavailabilityNotification;
    const claim = await claimLatest(
      notification,
      message.messageId,
      context.now,
      context.settings.retentionDays,
    );
    if (!claim.applied) return { state: OUTCOMES.SUPERSEDED, reason: claim.reason };
    return deliverToTarget(FLOWS.unavailability, message, toExemptionWindow(notification));
  },
};

export const assetSyncProcessor: FlowProcessor = {
  async process(message, context) {
    const request = message.payload as AssetSyncRequest;
    const receivedAt = new Date(message.receivedAt);
    const deadlineSeconds = context.settings.syncDeadlineSeconds;
    // The correlation record exists before DERMS hears of the request, so its acks find it.
    await recordSyncRequest(request, {
      messageId: message.messageId,
      receivedAt,
      deadline: new Date(receivedAt.getTime() + deadlineSeconds * 1000),
    });
    try {
      return await deliverToTarget(FLOWS.assetSync, message, toEnrollmentSync(request));
    } catch (error) {
      await refuseIfFinal(request.sendDetails.syncRequestId, error, context);
      throw error;
    }
  },
};

/**
 * When this failure dead-letters the enrollment sync (DERMS refused it for good, or the retry window is
 * over), DACS must hear at once: the correlation record is marked refused with DERMS's answer and due now,
 * so the sweep's next run (every minute) queues the deadline command that consolidates it (trigger
 * DERMS_REFUSED, every device without status). The delivery's own failure is what the handler acts on.
 */
async function refuseIfFinal(syncRequestId: string, error: unknown, context: ProcessContext): Promise<void> {
  const decision = context.failureDecision(error);
  if (decision.action !== 'dead-letter') return;
  try {
    const marked = await refuseEnrollment(syncRequestId, decision.reason, context.now);
    logger.warn('Enrollment sync refused; its consolidation is due now', { syncRequestId, marked });
  } catch (markError) {
    logger.error('Could not mark the enrollment sync refused; the deadline will consolidate it', {
      syncRequestId,
      error: markError,
    });
  }
}

export const legacyAckProcessor: FlowProcessor = {
  async process(message) {
    return deliverToTarget(FLOWS.legacyAck, message, message.payload as LegacyMsgAck);
  },
};
