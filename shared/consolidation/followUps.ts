/**
 * Follow-ups: what reaches DACS after the consolidated ack was delivered.
 *
 * A device whose flag differs from what DACS accepted (its last delivered follow-up, else its consolidated
 * line) gets a one-device follow-up. At most one per device is in flight: its claim is a lease
 * (`FOLLOW_UP_LEASE_SECONDS`) taken by a conditional write on the report and follow-up version read, and
 * it ends when its holder delivers (then `toldFlag` is what DACS has), is refused for good (released, what
 * DACS has unchanged), or dies (it expires; whoever takes it over sends the holder's follow-up again
 * under the holder's key, since its send may have reached DACS). A Retry-After extends it past the next
 * attempt, so no other message sends sooner. The holder re-reads the device after delivering, so a report
 * that lost the race against the lease is sent by the holder, and sends of one device never overtake
 * each other.
 *
 *   read ─▶ differs from told? ─▶ takeFollowUpLease ─▶ send ─2xx─▶ recordFollowUpTold ─▶ re-read ─┐
 *    ▲                                                    ├─retry─▶ renew lease past nextAttemptAt   │
 *    │                                                    └─refused─▶ recordFollowUpRefused          │
 *    └──────────────────────────────────────────────────────────────────────────────────────────────┘
 *
 * A refused follow-up is not sent again for the same report unless its own message is redriven; a later
 * report of the same state goes out.
 *
 * An ack whose information (errors, unknown devices) came after the freeze has its own follow-up, keyed
 * by the ack, sent once under the same kind of lease on its ACK# item.
 */
import { logger } from '#shared/observability.ts';
import { buildFollowUpAck, buildLateInfoAck } from './ack.ts';
import { getAll, mapLimit } from './batch.ts';
import {
  DEVICE_WRITE_PARALLELISM,
  type DeadlineContext,
  followUpLeaseSeconds,
  timeOf,
  trimError,
} from './context.ts';
import { assessDevice, isTerminal } from './flags.ts';
import {
  type AckItem,
  type DeviceItem,
  deviceKey,
  expiresAt,
  followUpSk,
  type HeaderItem,
  lateInfoSk,
  type Partition,
  pkOf,
  type SentItem,
  SK,
  sentKey,
} from './items.ts';
import { ackRecord, deviceState } from './snapshot.ts';
import {
  consolidatedToldError,
  putFollowUp,
  readAckInfo,
  readDevice,
  readPartition,
  recordFollowUpRefused,
  recordFollowUpTold,
  recordLateInfoOutcome,
  renewFollowUpLease,
  renewLateInfoLease,
  takeFollowUpLease,
  takeLateInfoLease,
} from './store.ts';
import type { FailureDecision, HeadEndFlag } from './types.ts';

/** The version of a device's report, as a refusal remembers it. */
export const reportVersion = (d: DeviceItem): string => `${d.reportedAtMs ?? ''}#${d.ackSequence ?? ''}`;

export type FollowUpStep =
  | { readonly kind: 'none' }
  | { readonly kind: 'resume'; readonly seq: number; readonly flag: HeadEndFlag; readonly message: string }
  | { readonly kind: 'claim'; readonly flag: HeadEndFlag; readonly message: string };

const NONE: FollowUpStep = { kind: 'none' };

/**
 * What to do for one device, from what was read: resume the follow-up this message holds, claim one for
 * a flag DACS has not accepted, or nothing (a PENDING, what DACS has, another's live lease, or a report
 * whose follow-up DACS refused, unless this is the message it refused).
 */
export function nextFollowUp(
  header: Pick<HeaderItem, 'deadline'>,
  device: DeviceItem,
  consolidatedFlag: HeadEndFlag,
  me: string,
  now: Date,
): FollowUpStep {
  if (device.leaseBy === me && device.leaseFlag !== undefined && device.followUpSeq !== undefined) {
    return {
      kind: 'resume',
      seq: device.followUpSeq,
      flag: device.leaseFlag,
      message: device.leaseMessage ?? '',
    };
  }
  if (!isTerminal(device.reportedStatus)) return NONE;
  if (device.leaseBy !== undefined && Date.parse(device.leaseUntil ?? '') > now.getTime()) return NONE;
  const current = assessDevice(device.expected, device.reportedStatus, {
    deadline: header.deadline,
    reportedMessage: device.reportedMessage,
  });
  if (current.flag === (device.toldFlag ?? consolidatedFlag)) return NONE;
  const refused =
    device.refusedFlag === current.flag &&
    device.refusedReport === reportVersion(device) &&
    device.refusedBy !== me;
  return refused ? NONE : { kind: 'claim', flag: current.flag, message: current.message };
}

interface Lease {
  readonly seq: number;
  /** The number in the follow-up's key ({@link followUpKeySeq}). */
  readonly keySeq: number;
  readonly flag: HeadEndFlag;
  readonly message: string;
}

/**
 * The number in a follow-up's key. A fresh claim gets the next one. A lease taken over from a holder
 * that died with it (it expired, for the same flag) keeps that holder's: the holder's send may have
 * reached DACS, and under the same key DACS applies it once; a new key would tell DACS the same thing
 * twice. A resumed lease keeps its own. (A lease written before `leaseKey` existed used its seq.)
 */
export function followUpKeySeq(device: DeviceItem, step: Exclude<FollowUpStep, { kind: 'none' }>): number {
  const held = device.leaseKey ?? device.followUpSeq ?? 0;
  if (step.kind === 'resume') return held;
  const takeover = device.leaseBy !== undefined && device.leaseFlag === step.flag && held > 0;
  return takeover ? held : (device.followUpSeq ?? 0) + 1;
}

const leaseUntil = (from: Date): Date => new Date(from.getTime() + followUpLeaseSeconds() * 1000);

async function takeLease(header: HeaderItem, device: DeviceItem, line: SentItem, ctx: DeadlineContext) {
  // The time now, not when the message began: a lease must not be born expired.
  const now = timeOf(ctx);
  const step = nextFollowUp(header, device, line.flag, ctx.messageId, now);
  if (step.kind === 'none') return undefined;
  const until = leaseUntil(now);
  if (step.kind === 'resume') {
    const renewed = await renewFollowUpLease(header.syncRequestId, device.deviceId, {
      by: ctx.messageId,
      seq: step.seq,
      until,
    });
    return renewed ? { ...step, keySeq: followUpKeySeq(device, step) } : undefined;
  }
  const keySeq = followUpKeySeq(device, step);
  const seq = await takeFollowUpLease(header.syncRequestId, device.deviceId, {
    by: ctx.messageId,
    flag: step.flag,
    message: step.message,
    now,
    until,
    reportedAtMs: device.reportedAtMs ?? 0,
    ackSequence: device.ackSequence ?? 0,
    seenSeq: device.followUpSeq,
    keySeq,
  });
  return seq === undefined ? undefined : { seq, keySeq, flag: step.flag, message: step.message };
}

/** Sends what DACS is missing for one device, until what DACS has is its current flag. Returns how many. */
async function followUpDevice(
  header: HeaderItem,
  first: DeviceItem,
  line: SentItem | undefined,
  ctx: DeadlineContext,
): Promise<number> {
  if (!line) return 0;
  let device: DeviceItem | undefined = first;
  let sent = 0;
  while (device) {
    const lease: Lease | undefined = await takeLease(header, device, line, ctx);
    if (!lease) break;
    await deliverFollowUp(header, device, lease, ctx);
    sent++;
    device = await readDevice(header.syncRequestId, device.deviceId);
  }
  return sent;
}

export const followUpKey = (syncRequestId: string, deviceId: string, flag: string, seq: number): string => {
  const base = `${syncRequestId}#${deviceId}#${flag}#followup`;
  // A device that flips back to a flag it had would otherwise reuse a key the receiver already dropped.
  return seq <= 1 ? base : `${base}#${seq}`;
};

/** Sends the follow-up the lease describes; records it as told, or the failure. */
async function deliverFollowUp(header: HeaderItem, device: DeviceItem, lease: Lease, ctx: DeadlineContext) {
  const { syncRequestId } = header;
  const body = buildFollowUpAck(syncRequestId, deviceState(device), lease.flag, lease.message);
  try {
    await ctx.sendToDacs(body, followUpKey(syncRequestId, device.deviceId, lease.flag, lease.keySeq));
  } catch (error) {
    await recordFollowUpFailure(syncRequestId, device, lease, ctx, ctx.failureDecision(error));
    throw error;
  }
  const sentAt = timeOf(ctx);
  await putFollowUp({
    pk: pkOf(syncRequestId),
    sk: followUpSk(device.deviceId, lease.seq),
    deviceId: device.deviceId,
    seq: lease.seq,
    flag: lease.flag,
    sentAt: sentAt.toISOString(),
    acknowledgement: body,
    expiresAt: expiresAt(sentAt),
  });
  // False: the lease expired and another message took it; it records what it sends.
  await recordFollowUpTold(syncRequestId, device.deviceId, { by: ctx.messageId, ...lease, now: timeOf(ctx) });
}

/** A lease that must outlive the next attempt: Retry-After binds every sender. */
const retryLeaseUntil = (decision: FailureDecision, now: Date): Date =>
  leaseUntil(decision.nextAttemptAt && decision.nextAttemptAt > now ? decision.nextAttemptAt : now);

async function recordFollowUpFailure(
  syncRequestId: string,
  device: DeviceItem,
  lease: Lease,
  ctx: DeadlineContext,
  decision: FailureDecision,
): Promise<void> {
  const by = ctx.messageId;
  try {
    if (decision.action === 'retry') {
      await renewFollowUpLease(syncRequestId, device.deviceId, {
        by,
        seq: lease.seq,
        until: retryLeaseUntil(decision, timeOf(ctx)),
      });
      return;
    }
    await recordFollowUpRefused(syncRequestId, device.deviceId, {
      by,
      seq: lease.seq,
      flag: lease.flag,
      report: reportVersion(device),
      error: trimError(decision.reason),
    });
  } catch (error) {
    logger.warn('Could not record the follow-up failure', {
      syncRequestId,
      deviceId: device.deviceId,
      error,
    });
  }
}

/** Follow-ups for the devices an ack named, after the consolidated ack was delivered. */
export async function followUpDevices(
  header: HeaderItem,
  deviceIds: readonly string[],
  ctx: DeadlineContext,
): Promise<number> {
  if (deviceIds.length === 0) return 0;
  const { syncRequestId } = header;
  const items = await getAll(
    syncRequestId,
    deviceIds.flatMap((id) => [deviceKey(syncRequestId, id), sentKey(syncRequestId, id)]),
  );
  const devices: DeviceItem[] = [];
  const lines = new Map<string, SentItem>();
  for (const item of items) {
    if ((item.sk as string).startsWith(SK.DEVICE)) devices.push(item as unknown as DeviceItem);
    else lines.set(item.deviceId as string, item as unknown as SentItem);
  }
  const counts = await mapLimit(devices, DEVICE_WRITE_PARALLELISM, (d) =>
    followUpDevice(header, d, lines.get(d.deviceId), ctx),
  );
  return counts.reduce((a, b) => a + b, 0);
}

/**
 * Right after the consolidated ack is delivered: every device written between the freeze's snapshot and
 * the delivery, and every ack whose information came after the freeze, saw no delivered ack. Catch them up.
 */
export async function catchUpFollowUps(header: HeaderItem, ctx: DeadlineContext): Promise<number> {
  const after = await readPartition(header.syncRequestId);
  const devices = await mapLimit(after.devices, DEVICE_WRITE_PARALLELISM, (d) =>
    followUpDevice(header, d, after.sent.get(d.deviceId), ctx),
  );
  let sent = devices.reduce((a, b) => a + b, 0);
  for (const ack of after.acks) sent += await sendLateInfo(header, ack, ctx, after);
  return sent;
}

/** Whether this message may send the ack's late information now. */
function lateInfoDue(ack: AckItem, ctx: DeadlineContext): boolean {
  if (!ack.lateInfo || ack.lateInfoSentAt !== undefined) return false;
  // Refused for good: only a redrive of the ack's own message sends it again.
  if (ack.lateInfoRefusedAt !== undefined && ack.messageId !== ctx.messageId) return false;
  const leased = ack.leaseBy !== undefined && ack.leaseBy !== ctx.messageId;
  return !(leased && Date.parse(ack.leaseUntil ?? '') > timeOf(ctx).getTime());
}

/**
 * Whether a late ack tells DACS anything: errors or unknown devices always do; a non-SUCCESS type alone
 * does only when the consolidated ack told DACS of no error (a repeat of what DACS has sends nothing).
 */
async function isNews(header: HeaderItem, ack: AckItem): Promise<boolean> {
  if ((ack.errorCount ?? 0) > 0 || (ack.unknownCount ?? 0) > 0) return true;
  return ack.ackType !== 'SUCCESS' && !(await consolidatedToldError(header));
}

/**
 * Sends the information of an ack that came after the freeze (its errors, unknown devices) as a follow-up
 * with `hasError: true`, keyed by the ack: once, after the consolidated ack. Returns 1 when it sent it.
 */
export async function sendLateInfo(
  header: HeaderItem,
  ack: AckItem,
  ctx: DeadlineContext,
  info?: Pick<Partition, 'errors' | 'unknown'>,
): Promise<number> {
  const { syncRequestId } = header;
  if (header.consolidatedDeliveredAt === undefined || !lateInfoDue(ack, ctx)) return 0;
  if (!(await isNews(header, ack))) return 0;
  const by = ctx.messageId;
  const now = timeOf(ctx);
  if (!(await takeLateInfoLease(syncRequestId, ack.sk, { by, now, until: leaseUntil(now) }))) return 0;
  const body = buildLateInfoAck(
    syncRequestId,
    ackRecord(ack, info ?? (await readAckInfo(syncRequestId, ack.sk))),
  );
  try {
    await ctx.sendToDacs(body, `${syncRequestId}#late#${ack.sk}`);
  } catch (error) {
    await recordLateInfoFailure(syncRequestId, ack.sk, ctx, ctx.failureDecision(error));
    throw error;
  }
  const sentAt = timeOf(ctx);
  await putFollowUp({
    pk: pkOf(syncRequestId),
    sk: lateInfoSk(ack.sk),
    ackSk: ack.sk,
    sentAt: sentAt.toISOString(),
    acknowledgement: body,
    expiresAt: expiresAt(sentAt),
  });
  await recordLateInfoOutcome(syncRequestId, ack.sk, { by, now: timeOf(ctx) });
  return 1;
}

async function recordLateInfoFailure(
  syncRequestId: string,
  sk: string,
  ctx: DeadlineContext,
  decision: FailureDecision,
): Promise<void> {
  const by = ctx.messageId;
  try {
    if (decision.action === 'retry') {
      await renewLateInfoLease(syncRequestId, sk, { by, until: retryLeaseUntil(decision, timeOf(ctx)) });
    } else {
      await recordLateInfoOutcome(syncRequestId, sk, {
        by,
        now: timeOf(ctx),
        refusedError: trimError(decision.reason),
      });
    }
  } catch (error) {
    logger.warn('Could not record the late-information follow-up failure', { syncRequestId, error });
  }
}
