/**
 * Freezing the consolidated ack, delivering it, and adopting it when its owner is gone.
 *
 *   consolidate ─▶ read header ─▶ snapshot ─▶ freezeHeader ──frozen──▶ deliverConsolidated ─▶ catch-up follow-ups
 *                      ▲                          │ taken: someone else owns it
 *                      └──── info-changed ────────┘
 *
 *   deliverConsolidated: write missing SENT# lines ─▶ send (key = syncRequestId)
 *       2xx        ─▶ DELIVERED, out of the deadline index
 *       retry      ─▶ RETRYING (attempts, lastError, nextAttemptAt); index entry at nextAttemptAt + requeue
 *       dead-letter─▶ DEAD_LETTERED, in the index's refused partition: support's resubmit (a new deadline
 *                     command owns it, shared/support/resubmitSyncRequest.ts) or a redrive of its owner sends it again
 *
 *   deadline command ─▶ frozen? ─owner─▶ deliver again
 *                          │ other, adoptable (not dead-lettered, owner's next move + requeue passed)
 *                          │   ─▶ adoptConsolidation (one conditional write) ─▶ deliver
 *                          └─ not frozen: due (deadline passed, or DERMS refused)? ─▶ consolidate
 */
import { RetryLaterError } from '#shared/errors.ts';
import { logger } from '#shared/observability.ts';
import { type AckSummary, assembleAck, type DeviceOutcome, deviceOutcomes, summarize } from './ack.ts';
import { getAll, transactAll } from './batch.ts';
import {
  ACK_OUTCOMES,
  type AckOutcome,
  type ConsolidationResult,
  type DeadlineContext,
  deadlineRequeueSeconds,
  outcome,
  timeOf,
  trimError,
} from './context.ts';
import { isTerminal } from './flags.ts';
import { catchUpFollowUps } from './followUps.ts';
import { expiresAt, type HeaderItem, type Partition, type SentItem, sentKey } from './items.ts';
import { deviceState, frameOf, publishedAcks } from './snapshot.ts';
import {
  ackStates,
  adoptConsolidation,
  type DeliveryFailure,
  freezeHeader,
  putSentLineOnce,
  readHeader,
  readPartition,
  recordConsolidatedDelivered,
  recordConsolidatedFailure,
  sentLineTransactItem,
} from './store.ts';
import {
  CONSOLIDATION_TRIGGERS,
  type ConsolidationTrigger,
  DELIVERY_STATES,
  type FailureDecision,
} from './types.ts';

/** Why a deadline command may consolidate now: DERMS refused the sync, or the deadline passed. */
export function dueTrigger(header: HeaderItem, now: Date): ConsolidationTrigger | undefined {
  if (header.refusedAt !== undefined) return CONSOLIDATION_TRIGGERS.DERMS_REFUSED;
  return now.getTime() >= Date.parse(header.deadline) ? CONSOLIDATION_TRIGGERS.DEADLINE : undefined;
}

/**
 * Whether a deadline command may take over a frozen, undelivered ack from its owner: never when it is
 * dead-lettered (a permanent refusal or an exhausted window); otherwise once a requeue interval has
 * passed since the owner's next move (its recorded next attempt, which honours DACS's Retry-After, or
 * else the freeze) without the owner recording anything newer.
 */
export function adoptable(header: HeaderItem, now: Date, requeueSeconds = deadlineRequeueSeconds()): boolean {
  if (header.consolidatedAt === undefined || header.consolidatedDeliveredAt !== undefined) return false;
  if (header.deliveryState === DELIVERY_STATES.DEAD_LETTERED) return false;
  const ownerDue = Date.parse(header.deliveryNextAttemptAt ?? header.consolidatedAt);
  return now.getTime() >= ownerDue + requeueSeconds * 1000;
}

/**
 * Whether a final ack may consolidate without every device terminal: a flag, or a read made only when the
 * snapshot needs the answer.
 */
export type FinalAck = boolean | (() => Promise<boolean>);

/** The trigger the snapshot supports: ALL_TERMINAL only when every device is terminal indeed. */
async function confirmTrigger(
  requested: ConsolidationTrigger,
  partition: Partition,
  finalAck: FinalAck,
): Promise<ConsolidationTrigger | undefined> {
  if (requested !== CONSOLIDATION_TRIGGERS.ALL_TERMINAL) return requested;
  if (partition.devices.every((d) => isTerminal(d.reportedStatus))) return requested;
  const mayFinish = typeof finalAck === 'function' ? await finalAck() : finalAck;
  return mayFinish ? CONSOLIDATION_TRIGGERS.FINAL_ACK : undefined;
}

const FREEZE_ATTEMPTS = 5;

/**
 * Builds the consolidated ack from a consistent snapshot (read after `header`) and freezes it with one
 * conditional write on the header. The winner delivers; a loser returns `undefined`. When an ack
 * published information after the header was read, the snapshot is read again.
 */
export async function consolidate(
  header: HeaderItem,
  requested: ConsolidationTrigger,
  ctx: DeadlineContext,
  finalAck: FinalAck = false,
): Promise<ConsolidationResult | undefined> {
  let current = header;
  for (let attempt = 1; attempt <= FREEZE_ATTEMPTS; attempt++) {
    const partition = await readPartition(current.syncRequestId);
    const trigger = await confirmTrigger(requested, partition, finalAck);
    if (!trigger) return undefined;
    const summary = summarize(
      frameOf(current, trigger),
      partition.devices.map(deviceState),
      publishedAcks(partition),
    );
    const at = timeOf(ctx);
    const result = await freezeHeader(current.syncRequestId, {
      by: ctx.messageId,
      at,
      trigger,
      summary,
      infoVersion: current.infoVersion ?? 0,
      recheckAt: new Date(at.getTime() + deadlineRequeueSeconds() * 1000),
    });
    if (result === 'frozen')
      return deliverAndCatchUp(frozen(current, trigger, summary, ctx.messageId, at), partition, ctx);
    if (result === 'taken') return undefined;
    const reread = await readHeader(current.syncRequestId);
    if (!reread || reread.consolidatedAt !== undefined) return undefined;
    current = reread;
  }
  throw new RetryLaterError(`Acks of ${header.syncRequestId} kept publishing during the freeze`, {
    delaySeconds: 1,
  });
}

const frozen = (
  header: HeaderItem,
  trigger: ConsolidationTrigger,
  summary: AckSummary,
  by: string,
  at: Date,
): HeaderItem => ({
  ...header,
  consolidatedAt: at.toISOString(),
  consolidatedBy: by,
  consolidationTrigger: trigger,
  consolidatedSummary: summary,
  deliveryState: DELIVERY_STATES.RETRYING,
});

/** Delivers the frozen ack this message owns, then sends every follow-up that became due meanwhile. */
export async function deliverAndCatchUp(
  header: HeaderItem,
  snapshot: Partition | undefined,
  ctx: DeadlineContext,
): Promise<ConsolidationResult> {
  const { delivered: consolidatedAckSent, fromSnapshot } = await deliverConsolidated(header, snapshot, ctx);
  const delivered = {
    ...header,
    consolidatedDeliveredAt: header.consolidatedDeliveredAt ?? timeOf(ctx).toISOString(),
  };
  const upToDate =
    fromSnapshot && snapshot !== undefined && (await nothingSince(header.syncRequestId, snapshot));
  const followUpsSent = upToDate ? 0 : await catchUpFollowUps(delivered, ctx);
  const trigger = header.consolidationTrigger;
  return { consolidatedAckSent, ...(trigger ? { trigger } : {}), followUpsSent };
}

/**
 * Whether nothing can have changed since `snapshot` was read: every ack it holds had all its reports
 * stored, and no ack has been recorded since (an ack is recorded before its reports are stored, and one
 * recorded after this read finds the ack delivered and sends its own follow-ups). Then every device's
 * report is the one its line was built from, and the catch-up, which reads the whole partition again
 * (20,000 items for 10,000 devices), would find nothing to send: it is skipped.
 */
async function nothingSince(syncRequestId: string, snapshot: Partition): Promise<boolean> {
  if (snapshot.followUps.length > 0 || !snapshot.acks.every((a) => a.appliedAt !== undefined)) return false;
  const known = new Set(snapshot.acks.map((a) => a.sk));
  const now = await ackStates(syncRequestId);
  return now.length === known.size && now.every((a) => known.has(a.sk));
}

/**
 * The frozen body: its summary and every device's SENT# line, writing the lines missing (all of them the
 * first time, from the snapshot the freeze was built on). Each line is written only where none is (an
 * owner and an adopter may write at once, from reads of different times); a line another sender wrote
 * first is read back and used. So every send carries the same body, and the lines say what DACS has.
 */
export async function frozenBody(header: HeaderItem, snapshot: Partition | undefined, now: Date) {
  return (await writeFrozenBody(header, snapshot, now)).body;
}

/** {@link frozenBody}, and whether this call wrote every line, from `snapshot` (`fromSnapshot`). */
async function writeFrozenBody(header: HeaderItem, snapshot: Partition | undefined, now: Date) {
  const { syncRequestId } = header;
  const partition = snapshot ?? (await readPartition(syncRequestId));
  const missing = partition.devices.filter((d) => !partition.sent.has(d.deviceId));
  const fromSnapshot = snapshot !== undefined && missing.length === partition.devices.length;
  const computed = deviceOutcomes(frameOf(header), missing.map(deviceState));
  const ttl = expiresAt(now);
  const lines: SentItem[] = computed.map((o, i) => ({
    ...sentKey(syncRequestId, o.deviceId),
    deviceId: o.deviceId,
    index: missing[i]!.index,
    flag: o.flag,
    message: o.message,
    isError: o.isError,
    expiresAt: ttl,
  }));
  // In transactions of 100 lines; a transaction another sender's line cancels is written line by line.
  const written = await transactAll(lines, {
    write: sentLineTransactItem,
    done: () => true,
    alone: putSentLineOnce,
  });
  const taken = lines.filter((_, i) => !written[i]);
  for (const line of lines.filter((_, i) => written[i])) partition.sent.set(line.deviceId, line);
  const theirs = await getAll(
    syncRequestId,
    taken.map((line) => sentKey(syncRequestId, line.deviceId)),
  );
  for (const line of theirs as unknown as SentItem[]) partition.sent.set(line.deviceId, line);
  const outcomes: DeviceOutcome[] = partition.devices.map((d) => {
    const line = partition.sent.get(d.deviceId)!;
    return { deviceId: d.deviceId, flag: line.flag, message: line.message, isError: line.isError };
  });
  const summary = header.consolidatedSummary ?? { ackError: false, exceptionInfo: [] };
  return {
    body: assembleAck(syncRequestId, summary, outcomes),
    fromSnapshot: fromSnapshot && taken.length === 0,
  };
}

/**
 * Sends the frozen ack (key = syncRequestId) and records what came of it. `delivered`: this call delivered
 * it; `fromSnapshot`: its every line was written by this call from `snapshot`.
 */
async function deliverConsolidated(
  header: HeaderItem,
  snapshot: Partition | undefined,
  ctx: DeadlineContext,
): Promise<{ delivered: boolean; fromSnapshot: boolean }> {
  if (header.consolidatedDeliveredAt !== undefined) return { delivered: false, fromSnapshot: false };
  const { body, fromSnapshot } = await writeFrozenBody(header, snapshot, timeOf(ctx));
  try {
    await ctx.sendToDacs(body, header.syncRequestId);
  } catch (error) {
    await recordFailure(header.syncRequestId, ctx, ctx.failureDecision(error));
    throw error;
  }
  await recordConsolidatedDelivered(header.syncRequestId, ctx.messageId, timeOf(ctx));
  return { delivered: true, fromSnapshot };
}

/** What a failed send of the consolidated ack records: the process handler's decision about it. */
export function deliveryFailure(decision: FailureDecision, now: Date): DeliveryFailure {
  const lastError = trimError(decision.reason);
  if (decision.action !== 'retry') return { state: DELIVERY_STATES.DEAD_LETTERED, lastError, at: now };
  const next = decision.nextAttemptAt ?? now;
  return {
    state: DELIVERY_STATES.RETRYING,
    lastError,
    nextAttemptAt: decision.nextAttemptAt,
    // The owner has the first go at its next attempt; adopters no sooner than a requeue interval later.
    recheckAt: new Date(next.getTime() + deadlineRequeueSeconds() * 1000),
  };
}

async function recordFailure(syncRequestId: string, ctx: DeadlineContext, decision: FailureDecision) {
  try {
    await recordConsolidatedFailure(syncRequestId, ctx.messageId, deliveryFailure(decision, timeOf(ctx)));
  } catch (error) {
    // The send's own failure is what the handler must act on; the record is for the support view.
    logger.warn('Could not record the consolidated ack delivery failure', { syncRequestId, error });
  }
}

/** A frozen ack met by a deadline command, or by a message after its freeze: resume, adopt, or leave it. */
export async function resumeFrozen(
  header: HeaderItem,
  ctx: DeadlineContext,
): Promise<AckOutcome | undefined> {
  const { syncRequestId } = header;
  if (header.consolidatedBy === ctx.messageId) {
    return outcome(ACK_OUTCOMES.CONSOLIDATED, syncRequestId, await deliverAndCatchUp(header, undefined, ctx));
  }
  if (!adoptable(header, timeOf(ctx))) return undefined;
  const adopted = await adoptConsolidation(syncRequestId, {
    from: header.consolidatedBy ?? '',
    to: ctx.messageId,
    attemptsSeen: header.deliveryAttempts,
  });
  if (!adopted) return undefined;
  const owned = { ...header, consolidatedBy: ctx.messageId };
  return outcome(ACK_OUTCOMES.CONSOLIDATED, syncRequestId, await deliverAndCatchUp(owned, undefined, ctx));
}

/**
 * A deadline command that meets a consolidated ack another message delivered: several commands may have
 * adopted it in turn, each catching up follow-ups after its send, and a command that crashed or timed out
 * meanwhile comes back no longer the owner. It finishes the follow-ups still due, its own leases first
 * (else they would wait for a message naming the device, which may never come), and those whose holder
 * died; leases keep each device to one sender.
 */
async function catchUpDelivered(header: HeaderItem, ctx: DeadlineContext): Promise<AckOutcome | undefined> {
  if (header.consolidatedDeliveredAt === undefined) return undefined;
  const followUpsSent = await catchUpFollowUps(header, ctx);
  if (followUpsSent === 0) return undefined;
  return outcome(ACK_OUTCOMES.FOLLOW_UPS_SENT, header.syncRequestId, { followUpsSent });
}

/**
 * A deadline command: freezes and delivers the consolidated ack of a sync request past its deadline (or
 * refused by DERMS), finishes a delivery it owns, or adopts one whose owner is gone. A no-op otherwise.
 */
export async function consolidateOnDeadline(
  syncRequestId: string,
  command: DeadlineContext,
): Promise<AckOutcome> {
  const header = await readHeader(syncRequestId);
  if (!header) return outcome(ACK_OUTCOMES.NOT_FOUND, syncRequestId);
  // A deadline command has no trace of its own: correlate what it sends with the sync request's message.
  const ctx: DeadlineContext = {
    ...command,
    sendToDacs: (body, key) => command.sendToDacs(body, key, header.messageId),
  };
  if (header.consolidatedAt !== undefined) {
    return (
      (await resumeFrozen(header, ctx)) ??
      (await catchUpDelivered(header, ctx)) ??
      outcome(ACK_OUTCOMES.ALREADY_CONSOLIDATED, syncRequestId)
    );
  }
  const trigger = dueTrigger(header, timeOf(ctx));
  if (!trigger) return outcome(ACK_OUTCOMES.NOT_DUE, syncRequestId);
  const result = await consolidate(header, trigger, ctx);
  return result
    ? outcome(ACK_OUTCOMES.CONSOLIDATED, syncRequestId, result)
    : outcome(ACK_OUTCOMES.ALREADY_CONSOLIDATED, syncRequestId);
}
