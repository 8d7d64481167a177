/**
 * Processor of DERMS's device-level acknowledgements and of the sweep's deadline commands. The
 * consolidation rules live in `shared/consolidation/`; this module wires them to delivery, metrics,
 * the retry window for acks that overtake their own sync request, and the process handler's decision
 * about a failed send (which consolidation records before the handler acts on it).
 */
import { advancingClock, configureConsolidation } from '#shared/consolidation/context.ts';
import { consolidateOnDeadline, handleAck } from '#shared/consolidation/index.ts';
import type { AssetSyncAck, DacsAcknowledgement } from '#shared/contracts/types.ts';
import { deliver, resolvePath } from '#shared/delivery/http.ts';
import { FLOWS } from '#shared/flows/registry.ts';
import { type FlowProcessor, OUTCOMES } from '#shared/handlers/process.ts';
import { countMetric, logger, METRIC } from '#shared/observability.ts';

const flow = FLOWS.assetSyncAck;

function sender(messageId: string) {
  return async (
    body: DacsAcknowledgement,
    idempotencyKey: string,
    correlationId = messageId,
  ): Promise<void> => {
    await deliver({
      system: flow.target.system,
      path: resolvePath(flow.target),
      body,
      idempotencyKey,
      correlationId,
    });
  };
}

export const assetSyncAckProcessor: FlowProcessor = {
  async process(message, context) {
    const ack = message.payload as AssetSyncAck;
    const outcome = await handleAck(ack, {
      messageId: message.messageId,
      firstReceivedAt: new Date(message.receivedAt),
      now: context.now,
      // What the consolidation writes for others (leases, the freeze) is timed when it is written.
      clock: advancingClock(context.now),
      uncorrelatedWindowSeconds: context.settings.uncorrelatedAckWindowSeconds,
      lastAttempt: context.lastAttempt,
      sendToDacs: sender(message.messageId),
      failureDecision: (error) => context.failureDecision(error),
    });
    recordOutcome(outcome, ack.syncRequestId, message.messageId);
    return { state: OUTCOMES.DELIVERED, detail: describe(outcome) };
  },

  async deadline(command, context) {
    const outcome = await consolidateOnDeadline(command.syncRequestId, {
      messageId: command.messageId,
      now: context.now,
      clock: advancingClock(context.now),
      sendToDacs: sender(command.messageId),
      failureDecision: (error) => context.failureDecision(error),
    });
    recordOutcome(outcome, command.syncRequestId, command.messageId);
  },

  // The consolidation reads its grace, lease and requeue intervals deep inside; it gets them from here.
  configure: configureConsolidation,
};

type Outcome = Awaited<ReturnType<typeof handleAck>>;

function recordOutcome(outcome: Outcome, syncRequestId: string, messageId: string): void {
  if (outcome.consolidatedAckSent) countMetric(METRIC.ConsolidatedAckSent, flow.id);
  if (outcome.followUpsSent > 0) countMetric(METRIC.FollowUpAckSent, flow.id, outcome.followUpsSent);
  if (outcome.uncorrelated) countMetric(METRIC.UncorrelatedAck, flow.id);
  logger.info('Acknowledgement processed', { flow: flow.id, syncRequestId, messageId, outcome });
}

const describe = (outcome: Outcome): string => JSON.stringify(outcome).slice(0, 500);
