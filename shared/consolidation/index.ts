/**
 * Consolidation of DERMS's device-level acks into one DACS acknowledgement per sync request: what the
 * rest of the integration uses. Modules, in the order a request meets them:
 *
 *   record.ts     recording a sync request; marking one DERMS refused
 *   intake.ts     taking in an ack, as a short list of named steps
 *   freeze.ts     freezing, delivering and adopting the consolidated ack; deadline commands
 *   followUps.ts  follow-ups after the consolidated ack (device changes, late ack information)
 *   sweep.ts      the deadline index: findOverdue / claimOverdue
 *   status.ts     the support view
 *   store.ts      every DynamoDB read and conditional write, as typed operations (items.ts: the shapes)
 *   ack.ts, flags.ts  the DACS bodies and the status-to-flag table (pure)
 */
export {
  type AckRecord,
  buildConsolidatedAck,
  type DeviceState,
  EXCEPTION_NUMBERS,
  MAX_EXCEPTION_INFO_BYTES,
  MAX_EXCEPTIONS,
} from './ack.ts';
export {
  ACK_OUTCOMES,
  type AckContext,
  type AckOutcome,
  advancingClock,
  type DeadlineContext,
  type DecideFailure,
  type RecordContext,
  type SendToDacs,
} from './context.ts';
export { UnprocessedItemsError } from './errors.ts';
export { flagFor, isTerminal } from './flags.ts';
export { handleAck } from './intake.ts';
export { recordSyncRequest, refuseEnrollment } from './record.ts';
export { getSyncRequestStatus } from './status.ts';
export { claimOverdue, consolidateOnDeadline, deadlineRequeueSeconds, findOverdue } from './sweep.ts';
export { CONSOLIDATION_TRIGGERS, type ConsolidationTrigger, DELIVERY_STATES } from './types.ts';
