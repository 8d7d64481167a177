/**
 * Taking in a DERMS ack. Every decision that must happen once (count a device as terminal, publish an
 * ack's information, freeze the consolidated ack, send a follow-up) is a conditional write whose winner
 * alone acts; reads only decide whether to attempt such a write.
 *
 *   handleAck ─▶ header? ──no──▶ within window? ──yes──▶ RetryLaterError
 *      │                            └──no──▶ forward as uncorrelated
 *      ▼
 *   1 recordAck (ACK#, attribute_not_exists) + its errors (ERROR# items)
 *   2 applyReports (device updates: not older, ALL_OLD)          3 storeUnknownDevices (UNKNOWN# items)
 *   4 publishAckInfo (errors, unknown, non-SUCCESS): in the consolidated ack, or late
 *   5 countTerminal (ADD the transitions, or recount on a redelivery)   6 markApplied (+ finalSequence)
 *   7 consolidateIfDue: all terminal, or final ack with its predecessors ─▶ consolidate (freeze.ts)
 *   8 afterConsolidation: delivered? ─▶ follow-ups for its devices, its late information
 */
import { instantMs } from '#shared/contracts/rules.ts';
import { RetryLaterError } from '#shared/errors.ts';
import { type AckRecord, buildUncorrelatedAck, hasAckInfo, type UnknownDevice } from './ack.ts';
import { getAll, mapLimit, putAll, transactAll } from './batch.ts';
import {
  ACK_OUTCOMES,
  type AckContext,
  type AckOutcome,
  DEVICE_WRITE_PARALLELISM,
  finalAckGraceSeconds,
  outcome,
} from './context.ts';
import { isTerminal } from './flags.ts';
import { followUpDevices, sendLateInfo } from './followUps.ts';
import { consolidate, type FinalAck, resumeFrozen } from './freeze.ts';
import {
  type AckItem,
  ackSk,
  deviceKey,
  type ErrorItem,
  errorSk,
  expiresAt,
  type HeaderItem,
  pkOf,
  type UnknownItem,
  unknownSk,
} from './items.ts';
import {
  addTerminal,
  appliedAckSequences,
  type InfoPublication,
  markAckApplied,
  publishAckInfo,
  type Report,
  type ReportResult,
  raiseTerminalCount,
  readAck,
  readHeader,
  readPartition,
  recordAck,
  recordFinalSequence,
  recordUnknownCount,
  reportResultOver,
  reportTransactItem,
  type StoredReport,
  storeReport,
  supersedes,
} from './store.ts';
import { type AssetSyncAck, CONSOLIDATION_TRIGGERS, type ConsolidationTrigger } from './types.ts';

/** What steps 1-6 found, for the outcome and the follow-ups. */
interface TakenIn {
  readonly sk: string;
  readonly duplicateAck: boolean;
  readonly results: readonly ReportResult[];
  readonly unknown: readonly UnknownDevice[];
  readonly publication: InfoPublication | undefined;
  /** A final ack's last write answers the header as it left it: no read needed after it. */
  readonly header?: HeaderItem;
}

/**
 * Records a DERMS ack against its correlation record and sends what is due: the consolidated ack (once
 * per sync request), follow-ups for devices whose flag changed after it, and its own late information.
 *
 * @throws RetryLaterError when the sync request is not recorded yet and the window is still open, or
 *   when a final ack waits for the acks before it.
 */
export async function handleAck(ack: AssetSyncAck, ctx: AckContext): Promise<AckOutcome> {
  const header = await readHeader(ack.syncRequestId);
  if (!header) return forwardUncorrelated(ack, ctx);
  const taken = await takeIn(ack, ctx);
  const counts = {
    duplicateAck: taken.duplicateAck,
    devicesApplied: taken.results.filter((r) => r === 'applied' || r === 'transition').length,
    staleReports: taken.results.filter((r) => r === 'stale').length,
    unknownDevices: taken.unknown.length,
  };
  let current = taken.header ?? (await readHeader(ack.syncRequestId)) ?? header;
  const due = await consolidationDue(ack, current, ctx);
  if (due) {
    const consolidated = await consolidate(current, due.trigger, ctx, due.finalAck);
    if (consolidated)
      return outcome(ACK_OUTCOMES.CONSOLIDATED, ack.syncRequestId, { ...counts, ...consolidated });
    current = (await readHeader(ack.syncRequestId)) ?? current;
  }
  return { ...(await afterConsolidation(ack, current, taken, ctx)), ...counts };
}

/** Steps 1-6: everything the ack reports is stored and counted, and its information's fate decided. */
async function takeIn(ack: AssetSyncAck, ctx: AckContext): Promise<TakenIn> {
  const { syncRequestId } = ack;
  const item = ackItem(ack, ctx);
  const duplicateAck = !(await recordAck(item));
  await storeAckErrors(ack, item.sk, ctx.now);
  const results = await applyReports(ack, ctx);
  const unknown = await storeUnknownDevices(ack, item.sk, results, ctx.now);
  const record: AckRecord = { ...ack, unknownDevices: unknown };
  const publication = hasAckInfo(record) ? await publishAckInfo(syncRequestId, item.sk, ctx.now) : undefined;
  await countTerminal(syncRequestId, results, duplicateAck);
  await markAckApplied(syncRequestId, item.sk, ctx.now);
  const header = ack.final ? await recordFinalSequence(syncRequestId, ack.sequence) : undefined;
  return { sk: item.sk, duplicateAck, results, unknown, publication, ...(header ? { header } : {}) };
}

function ackItem(ack: AssetSyncAck, ctx: AckContext): AckItem {
  return {
    pk: pkOf(ack.syncRequestId),
    sk: ackSk(ack.ackDateTime, ack.sequence),
    messageId: ctx.messageId,
    receivedAt: ctx.firstReceivedAt.toISOString(),
    sequence: ack.sequence,
    ackDateTime: ack.ackDateTime,
    ackAtMs: instantMs(ack.ackDateTime),
    ackType: ack.ackType,
    final: ack.final,
    deviceCount: ack.devices.length,
    errorCount: ack.errors?.length ?? 0,
    expiresAt: expiresAt(ctx.now),
  };
}

/** One ERROR# item per error (at most 1,000 of 2,000 characters: never in one item). Idempotent. */
async function storeAckErrors(ack: AssetSyncAck, sk: string, now: Date): Promise<void> {
  const pk = pkOf(ack.syncRequestId);
  const items: ErrorItem[] = (ack.errors ?? []).map((e, index) => ({
    pk,
    sk: errorSk(sk, index),
    ackSk: sk,
    index,
    code: e.code,
    message: e.message,
    expiresAt: expiresAt(now),
  }));
  if (items.length > 0) await putAll(ack.syncRequestId, items);
}

/**
 * Stores each report of a device the request holds. What each device holds is read first, 100 keys per
 * batched read, so a device the request does not hold costs no write, and a report older than the stored
 * one costs none either (the stored report only grows, so it stays older). The others are written in
 * transactions of 100, each write conditional on the stored report still being the one read, so each
 * result (a transition to terminal or not) is known exactly; a transaction a concurrent ack cancels is
 * written device by device, with ALL_OLD. An ack naming a device twice writes its repeats one by one.
 */
async function applyReports(ack: AssetSyncAck, ctx: AckContext): Promise<ReportResult[]> {
  const { syncRequestId } = ack;
  const ackAtMs = instantMs(ack.ackDateTime);
  const stored = await storedReports(ack);
  const results = new Array<ReportResult>(ack.devices.length);
  const batched: { readonly i: number; readonly report: Report; readonly stored: StoredReport }[] = [];
  const alone: { readonly i: number; readonly report: Report }[] = [];
  const seen = new Set<string>();
  ack.devices.forEach((device, i) => {
    const held = stored.get(device.deviceId);
    const report = {
      device,
      ackDateTime: ack.ackDateTime,
      ackAtMs,
      sequence: ack.sequence,
      messageId: ctx.messageId,
    };
    if (!held) results[i] = 'unknown';
    else if (seen.has(device.deviceId)) alone.push({ i, report });
    else if (!supersedes(report, held)) results[i] = 'stale';
    else batched.push({ i, report, stored: held });
    seen.add(device.deviceId);
  });
  const written = await transactAll(batched, {
    write: (b) => reportTransactItem(syncRequestId, b.report, b.stored),
    done: (b) => reportResultOver(b.report, b.stored),
    alone: (b) => storeReport(syncRequestId, b.report),
  });
  batched.forEach((b, k) => {
    results[b.i] = written[k] as ReportResult;
  });
  const repeats = await mapLimit(alone, DEVICE_WRITE_PARALLELISM, (a) =>
    storeReport(syncRequestId, a.report),
  );
  alone.forEach((a, k) => {
    results[a.i] = repeats[k] as ReportResult;
  });
  return results;
}

/** The stored report of each device the ack names that the request holds (absent: not held). */
async function storedReports(ack: AssetSyncAck): Promise<ReadonlyMap<string, StoredReport>> {
  const ids = [...new Set(ack.devices.map((d) => d.deviceId))];
  const found = await getAll(
    ack.syncRequestId,
    ids.map((id) => deviceKey(ack.syncRequestId, id)),
    'deviceId, reportedStatus, reportedAtMs, ackSequence',
  );
  return new Map(found.map((item) => [item.deviceId as string, item as StoredReport]));
}

/** One UNKNOWN# item per device the request does not hold (up to 10,000 per ack). Idempotent. */
async function storeUnknownDevices(
  ack: AssetSyncAck,
  sk: string,
  results: readonly ReportResult[],
  now: Date,
): Promise<UnknownDevice[]> {
  const unknown = ack.devices.filter((_, i) => results[i] === 'unknown');
  if (unknown.length === 0) return [];
  const pk = pkOf(ack.syncRequestId);
  const items: UnknownItem[] = unknown.map((d) => ({
    pk,
    sk: unknownSk(sk, d.deviceId),
    ackSk: sk,
    deviceId: d.deviceId,
    registrationStatus: d.registrationStatus,
    headEndSystem: d.headEndSystem,
    nicId: d.nicId,
    expiresAt: expiresAt(now),
  }));
  await putAll(ack.syncRequestId, items);
  await recordUnknownCount(ack.syncRequestId, sk, items.length);
  return unknown.map((d) => ({
    deviceId: d.deviceId,
    registrationStatus: d.registrationStatus,
    headEndSystem: d.headEndSystem,
    nicId: d.nicId,
  }));
}

/**
 * Adds this ack's transitions to terminalCount. A redelivery recounts instead: an earlier attempt may have
 * moved devices to terminal and died before counting them, and this attempt sees them terminal already.
 * An over-count is harmless (the freeze checks the devices themselves); an under-count is not.
 */
async function countTerminal(syncRequestId: string, results: readonly ReportResult[], duplicate: boolean) {
  if (duplicate) {
    const { devices } = await readPartition(syncRequestId);
    await raiseTerminalCount(syncRequestId, devices.filter((d) => isTerminal(d.reportedStatus)).length);
    return;
  }
  const transitions = results.filter((r) => r === 'transition').length;
  if (transitions > 0) await addTerminal(syncRequestId, transitions);
}

/** Whether acks with every sequence from 1 to `finalSequence` have all their reports stored. */
async function earlierAcksApplied(syncRequestId: string, finalSequence: number): Promise<boolean> {
  const applied = await appliedAckSequences(syncRequestId);
  for (let sequence = 1; sequence <= finalSequence; sequence++) if (!applied.has(sequence)) return false;
  return true;
}

/**
 * Step 7: whether this ack makes the request due. Every device terminal, or a final ack whose
 * predecessors (sequences 1..n-1) are applied: acks are processed in parallel, and the final one must not
 * overtake the partial ones it concludes. After its grace period (or on its last attempt) a final ack
 * consolidates without them.
 *
 * @throws RetryLaterError when a final ack must wait for its predecessors.
 */
async function consolidationDue(
  ack: AssetSyncAck,
  header: HeaderItem,
  ctx: AckContext,
): Promise<{ trigger: ConsolidationTrigger; finalAck: FinalAck } | undefined> {
  if (header.consolidatedAt !== undefined) return undefined;
  const graceOver =
    ack.final &&
    (ctx.lastAttempt || ctx.now.getTime() - ctx.firstReceivedAt.getTime() >= finalAckGraceSeconds() * 1000);
  const finalReady = async () =>
    header.finalSequence !== undefined &&
    (await earlierAcksApplied(header.syncRequestId, header.finalSequence));
  if (header.terminalCount >= header.deviceCount) {
    // Whether the predecessors are applied matters only if the snapshot finds a device not terminal after all
    // (terminalCount may over-count): read then, not before.
    return {
      trigger: CONSOLIDATION_TRIGGERS.ALL_TERMINAL,
      finalAck: async () => graceOver || (await finalReady()),
    };
  }
  if (graceOver || (await finalReady())) return { trigger: CONSOLIDATION_TRIGGERS.FINAL_ACK, finalAck: true };
  if (ack.final) {
    throw new RetryLaterError(
      `Final ack ${ack.sequence} of ${ack.syncRequestId} waits for the earlier acks before consolidating`,
      { delaySeconds: 2 },
    );
  }
  return undefined;
}

/**
 * Step 8, once someone else froze (or nothing is due): a message that owns the freeze finishes its
 * delivery; after delivery, this ack's devices get their follow-ups and its late information goes out.
 */
async function afterConsolidation(
  ack: AssetSyncAck,
  header: HeaderItem,
  taken: TakenIn,
  ctx: AckContext,
): Promise<AckOutcome> {
  const { syncRequestId } = ack;
  if (header.consolidatedBy === ctx.messageId) {
    return (await resumeFrozen(header, ctx)) ?? outcome(ACK_OUTCOMES.ALREADY_CONSOLIDATED, syncRequestId);
  }
  if (header.consolidatedDeliveredAt === undefined) {
    const status = header.consolidatedAt ? ACK_OUTCOMES.ALREADY_CONSOLIDATED : ACK_OUTCOMES.RECORDED;
    return outcome(status, syncRequestId);
  }
  const held = ack.devices.filter((_, i) => taken.results[i] !== 'unknown').map((d) => d.deviceId);
  let followUpsSent = await followUpDevices(header, held, ctx);
  if (taken.publication === 'late') {
    const item = await readAck(syncRequestId, taken.sk);
    if (item) followUpsSent += await sendLateInfo(header, item, ctx);
  }
  const status = followUpsSent > 0 ? ACK_OUTCOMES.FOLLOW_UPS_SENT : ACK_OUTCOMES.ALREADY_CONSOLIDATED;
  return outcome(status, syncRequestId, { followUpsSent });
}

/** No correlation record: retried within the window (it may overtake its request), then forwarded. */
async function forwardUncorrelated(ack: AssetSyncAck, ctx: AckContext): Promise<AckOutcome> {
  const elapsedSeconds = (ctx.now.getTime() - ctx.firstReceivedAt.getTime()) / 1000;
  if (elapsedSeconds < ctx.uncorrelatedWindowSeconds && !ctx.lastAttempt) {
    throw new RetryLaterError(`No correlation record for sync request ${ack.syncRequestId} yet`, {
      delaySeconds: Math.max(1, Math.min(60, Math.ceil(ctx.uncorrelatedWindowSeconds - elapsedSeconds))),
    });
  }
  await ctx.sendToDacs(
    buildUncorrelatedAck(ack),
    `${ack.syncRequestId}#uncorrelated#${ack.ackDateTime}#${ack.sequence}`,
  );
  return outcome(ACK_OUTCOMES.UNCORRELATED, ack.syncRequestId, { uncorrelated: true });
}
