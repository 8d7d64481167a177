/**
 * Processors of the three DACS → DERMS flows and the legacy ack. Each maps the validated message and
 * delivers it; the process handler factory records the outcome and handles failures.
 */

import { optionalNumber } from '#shared/config/env.ts';
import { recordSyncRequest } from '#shared/consolidation/index.ts';
import type {
  AssetSyncRequest,
  LegacyMsgAck,
  OptOutNotification,
  UnavailabilityNotification,
} from '#shared/contracts/types.ts';
import { deliver, resolvePath } from '#shared/delivery/http.ts';
import { FLOWS } from '#shared/flows/registry.ts';
import type { FlowProcessor } from '#shared/handlers/process.ts';
import { OUTCOMES } from '#shared/handlers/process.ts';
import { toEnrollmentSync } from '#shared/mapping/assetSync.ts';
import { toReservationCancellation } from '#shared/mapping/optOut.ts';
import { toExemptionWindow } from '#shared/mapping/unavailability.ts';
import { claimLatest } from '#shared/unavailability/ordering.ts';

export const DEFAULT_SYNC_DEADLINE_SECONDS = 86_400;

export const optOutProcessor: FlowProcessor = {
  async process(message) {
    const optOut = message.payload as OptOutNotification;
    const result = await deliver({
      system: FLOWS.optOut.target.system,
      path: resolvePath(FLOWS.optOut.target),
      body: toReservationCancellation(optOut),
      idempotencyKey: message.businessKey,
      correlationId: message.messageId,
    });
    return { state: OUTCOMES.DELIVERED, detail: `DERMS answered ${result.status}` };
  },
};

export const unavailabilityProcessor: FlowProcessor = {
  async process(message, context) {
    const notification = message.payload as UnavailabilityNotification;
    const claim = await claimLatest(notification, message.messageId, context.now);
    if (!claim.applied) return { state: OUTCOMES.SUPERSEDED, reason: claim.reason };
    const result = await deliver({
      system: FLOWS.unavailability.target.system,
      path: resolvePath(FLOWS.unavailability.target),
      body: toExemptionWindow(notification),
      idempotencyKey: message.businessKey,
      correlationId: message.messageId,
    });
    return { state: OUTCOMES.DELIVERED, detail: `DERMS answered ${result.status}` };
  },
};

export const assetSyncProcessor: FlowProcessor = {
  async process(message) {
    const request = message.payload as AssetSyncRequest;
    const receivedAt = new Date(message.receivedAt);
    const deadlineSeconds = optionalNumber('SYNC_DEADLINE_SECONDS', DEFAULT_SYNC_DEADLINE_SECONDS);
    // The correlation record exists before DERMS hears of the request, so its acks find it.
    await recordSyncRequest(request, {
      messageId: message.messageId,
      receivedAt,
      deadline: new Date(receivedAt.getTime() + deadlineSeconds * 1000),
    });
    const result = await deliver({
      system: FLOWS.assetSync.target.system,
      path: resolvePath(FLOWS.assetSync.target),
      body: toEnrollmentSync(request),
      idempotencyKey: message.businessKey,
      correlationId: message.messageId,
    });
    return { state: OUTCOMES.DELIVERED, detail: `DERMS answered ${result.status}` };
  },
};

export const legacyAckProcessor: FlowProcessor = {
  async process(message) {
    const result = await deliver({
      system: FLOWS.legacyAck.target.system,
      path: resolvePath(FLOWS.legacyAck.target),
      body: message.payload as LegacyMsgAck,
      idempotencyKey: message.businessKey,
      correlationId: message.messageId,
    });
    return { state: OUTCOMES.DELIVERED, detail: `DACS answered ${result.status}` };
  },
};
