/**
 * What the consolidation needs from its caller (the contexts), what it answers (the outcome), and its
 * settings. Shared by the intake, freeze, follow-up and sweep modules.
 */
import { loadSettings, type Settings } from '#shared/config/settings.ts';
import { TUNABLES } from '#shared/config/tunables.ts';
import type { ConsolidationTrigger, DacsAcknowledgement, FailureDecision } from './types.ts';

/** Single-item writes in flight per call (device updates, follow-up checks). */
export const DEVICE_WRITE_PARALLELISM = 32;

/**
 * The settings the consolidation reads through the accessors below. The ack processor hands over its
 * handler's settings when the handler is created ({@link configureConsolidation}); code that calls the
 * consolidation without a handler (tests, scripts) gets them read from `process.env` on first use.
 */
let settings: Settings | undefined;
const current = (): Settings => {
  settings ??= loadSettings();
  return settings;
};

/** Makes the consolidation use `handlerSettings`; called once, when the ack process handler is created. */
export function configureConsolidation(handlerSettings: Settings): void {
  settings = handlerSettings;
}

/** How long a final ack waits for the acks before it before consolidating without them. */
export const DEFAULT_FINAL_ACK_GRACE_SECONDS = TUNABLES.finalAckGraceSeconds.default;
export const finalAckGraceSeconds = (): number => current().finalAckGraceSeconds;

/**
 * How long a frozen consolidated ack may stay undelivered by its owner (counted from the freeze, or from
 * the owner's next attempt when it recorded one) before a deadline command adopts it; also the sweep's
 * interval between two deadline commands for one request.
 */
export const DEFAULT_DEADLINE_REQUEUE_SECONDS = TUNABLES.deadlineRequeueSeconds.default;
export const deadlineRequeueSeconds = (): number => current().deadlineRequeueSeconds;

/** How long a follow-up claim holds when its holder neither delivers nor records a failure. */
export const DEFAULT_FOLLOW_UP_LEASE_SECONDS = TUNABLES.followUpLeaseSeconds.default;
export const followUpLeaseSeconds = (): number => current().followUpLeaseSeconds;

/** Days that correlation items live (their TTL). */
export const retentionDays = (): number => current().retentionDays;

/** At most this many characters of an error are kept on an item (the trace keeps the whole reason). */
export const MAX_STORED_ERROR = 1000;
export const trimError = (reason: string): string =>
  reason.length <= MAX_STORED_ERROR ? reason : `${reason.slice(0, MAX_STORED_ERROR - 1)}…`;

/**
 * Delivers one acknowledgement to DACS. `correlationId` names the message DACS's support can look up;
 * the caller's own message id when absent.
 */
export type SendToDacs = (
  body: DacsAcknowledgement,
  idempotencyKey: string,
  correlationId?: string,
) => Promise<void>;

/** What the process handler will do with a failure if it is rethrown (`ProcessContext.failureDecision`). */
export type DecideFailure = (error: unknown) => FailureDecision;

export interface RecordContext {
  readonly messageId: string;
  readonly receivedAt: Date;
  readonly deadline: Date;
}

/** What every sending call needs: who it is, its clock, DACS, and the fate of a failed send. */
export interface DeadlineContext {
  readonly messageId: string;
  /** When the message's processing began. */
  readonly now: Date;
  /**
   * The time as the work goes on: `now` advanced by the time this message has spent since. Every time a
   * call writes for other messages to judge it by (a lease's end, the freeze, a delivery and its failure)
   * comes from it ({@link timeOf}): a message that works through a thousand devices for a minute must
   * not write a lease that ended before it was taken, nor a freeze that looks a minute old to adopters.
   * @default () => now (a fixed clock, as the tests set it)
   */
  readonly clock?: () => Date;
  readonly sendToDacs: SendToDacs;
  readonly failureDecision: DecideFailure;
}

/** The time now for `ctx`: its clock's, else the `now` its message began with. */
export const timeOf = (ctx: Pick<DeadlineContext, 'now' | 'clock'>): Date => ctx.clock?.() ?? ctx.now;

/** A clock that starts at `start` and advances with the monotonic time spent since it was made. */
export function advancingClock(start: Date, elapsedMs: () => number = stopwatch()): () => Date {
  return () => new Date(start.getTime() + elapsedMs());
}

const stopwatch = (): (() => number) => {
  const began = performance.now();
  return () => performance.now() - began;
};

export interface AckContext extends DeadlineContext {
  /** When the ack was first accepted; the uncorrelated window counts from here. */
  readonly firstReceivedAt: Date;
  readonly uncorrelatedWindowSeconds: number;
  /** The queue will not deliver this message again: forward an uncorrelated ack now. */
  readonly lastAttempt: boolean;
}

export const ACK_OUTCOMES = {
  /** Statuses recorded; nothing sent. */
  RECORDED: 'RECORDED',
  /** This call froze and delivered the consolidated ack (follow-ups of its sweep counted too). */
  CONSOLIDATED: 'CONSOLIDATED',
  /** Consolidated earlier; this call sent follow-ups. */
  FOLLOW_UPS_SENT: 'FOLLOW_UPS_SENT',
  /** Consolidated earlier (or by a concurrent call); nothing to send. */
  ALREADY_CONSOLIDATED: 'ALREADY_CONSOLIDATED',
  /** No correlation record after the window: forwarded as reported. */
  UNCORRELATED: 'UNCORRELATED',
  /** Deadline command before the deadline. */
  NOT_DUE: 'NOT_DUE',
  /** Deadline command for a sync request that has no record. */
  NOT_FOUND: 'NOT_FOUND',
} as const;
export type AckOutcomeStatus = (typeof ACK_OUTCOMES)[keyof typeof ACK_OUTCOMES];

/** What a call did, for logs and metrics. */
export interface AckOutcome {
  readonly status: AckOutcomeStatus;
  readonly syncRequestId: string;
  /** This call delivered the consolidated ack (count ConsolidatedAckSent). */
  readonly consolidatedAckSent: boolean;
  readonly trigger?: ConsolidationTrigger;
  /** Follow-up acks this call delivered (device follow-ups and late information). */
  readonly followUpsSent: number;
  /** Forwarded without a correlation record (count UncorrelatedAck). */
  readonly uncorrelated: boolean;
  /** The ack item existed already: a redelivery. */
  readonly duplicateAck: boolean;
  /** Device reports applied, ignored as older than the stored one, and not held by the request. */
  readonly devicesApplied: number;
  readonly staleReports: number;
  readonly unknownDevices: number;
}

/** What a consolidation (freeze, delivery, follow-up sweep) did. */
export interface ConsolidationResult {
  readonly consolidatedAckSent: boolean;
  readonly trigger?: ConsolidationTrigger;
  readonly followUpsSent: number;
}

export const outcome = (
  status: AckOutcomeStatus,
  syncRequestId: string,
  rest: Partial<Omit<AckOutcome, 'status' | 'syncRequestId'>> = {},
): AckOutcome => ({
  status,
  syncRequestId,
  consolidatedAckSent: false,
  followUpsSent: 0,
  uncorrelated: false,
  duplicateAck: false,
  devicesApplied: 0,
  staleReports: 0,
  unknownDevices: 0,
  ...rest,
});
