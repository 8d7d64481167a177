/**
 * Ack handling and consolidation over the correlation record. Every decision that must happen once
 * (count a device as terminal, freeze the consolidated ack, send a follow-up) is a conditional write whose
 * winner alone acts; reads only decide whether to attempt such a write.
 *
 *   handleAck ──▶ header? ──no──▶ within window? ──yes──▶ RetryLaterError
 *      │                              └──no──▶ forward as uncorrelated
 *      ▼
 *   put ACK# (attribute_not_exists)  ─▶  device updates (not older, ALL_OLD) ─▶ ADD terminalCount n
 *      ▼
 *   all terminal or final? ─▶ freeze header (attribute_not_exists(consolidatedAt)) ─▶ winner: SENT# items,
 *      │                       deliver (key = syncRequestId), consolidatedDeliveredAt, follow-up sweep
 *      ▼
 *   delivered? ─▶ follow-up check for this ack's devices (lastSentFlag conditional on what we read)
 */

import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { documentClientFor } from '#shared/aws/clients.ts';
import { optionalNumber } from '#shared/config/env.ts';
import { instantMs } from '#shared/contracts/rules.ts';
import { RetryLaterError } from '#shared/errors.ts';
import { CORRELATION_TABLE, PENDING_CONSOLIDATION } from '#shared/store/tables.ts';
import {
  type AckRecord,
  type AckSummary,
  assembleAck,
  buildFollowUpAck,
  buildUncorrelatedAck,
  buildUnknownDevicesAck,
  type DeviceOutcome,
  type DeviceState,
  deviceOutcomes,
  summarize,
  type UnknownDevice,
} from './ack.ts';
import { assessDevice, isTerminal } from './flags.ts';
import {
  type AckItem,
  ackSk,
  type DeviceItem,
  deviceKey,
  expiresAt,
  followUpSk,
  getAll,
  type HeaderItem,
  headerKey,
  mapLimit,
  type Partition,
  pkOf,
  putAll,
  readPartition,
  type SentItem,
  SK,
  sentKey,
  syncRequestIdOf,
  tableName,
} from './store.ts';
import {
  type AssetSyncAck,
  type AssetSyncRequest,
  CONSOLIDATION_TRIGGERS,
  type ConsolidationTrigger,
  type DacsAcknowledgement,
  type SyncRequestStatus,
} from './types.ts';

/** Single-item writes in flight per call (device updates, follow-up checks). */
export const DEVICE_WRITE_PARALLELISM = 32;

/**
 * Delivers one acknowledgement to DACS. `correlationId` names the message DACS's support can look up;
 * the caller's own message id when absent.
 */
export type SendToDacs = (
  body: DacsAcknowledgement,
  idempotencyKey: string,
  correlationId?: string,
) => Promise<void>;

export interface RecordContext {
  readonly messageId: string;
  readonly receivedAt: Date;
  readonly deadline: Date;
}

export interface AckContext {
  readonly messageId: string;
  /** When the ack was first accepted; the uncorrelated window counts from here. */
  readonly firstReceivedAt: Date;
  readonly now: Date;
  readonly uncorrelatedWindowSeconds: number;
  /** The queue will not deliver this message again: forward an uncorrelated ack now. */
  readonly lastAttempt: boolean;
  readonly sendToDacs: SendToDacs;
}

export interface DeadlineContext {
  readonly messageId: string;
  readonly now: Date;
  readonly sendToDacs: SendToDacs;
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
  /** Follow-up acks this call delivered. */
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

const outcome = (
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

const db = () => documentClientFor();
const isConditionFailed = (error: unknown): error is ConditionalCheckFailedException =>
  error instanceof ConditionalCheckFailedException;

async function getHeader(syncRequestId: string): Promise<HeaderItem | undefined> {
  const out = await db().send(
    new GetCommand({ TableName: tableName(), Key: headerKey(syncRequestId), ConsistentRead: true }),
  );
  return out.Item as HeaderItem | undefined;
}

// ─── recording the request ────────────────────────────────────────────────────────────────────────────

/**
 * Writes the correlation record: devices first (BatchWrite, 25 per request, bounded parallelism), the
 * header last, so the header's existence means the record is complete. A redelivery finds the header and
 * writes nothing, so statuses already reported are never reset. Contact data is not stored.
 */
export async function recordSyncRequest(request: AssetSyncRequest, ctx: RecordContext): Promise<void> {
  const { syncRequestId, reason, sentDateTime } = request.sendDetails;
  if (await getHeader(syncRequestId)) return;
  const ttl = expiresAt(ctx.receivedAt);
  const pk = pkOf(syncRequestId);
  const devices = request.locationInfo.controllableDevices;
  await putAll(
    syncRequestId,
    devices.map((d, index) => ({
      pk,
      sk: `${SK.DEVICE}${d.deviceId}`,
      deviceId: d.deviceId,
      index,
      expected: d.registrationAction,
      headEndSystem: d.headEndSystem,
      nicId: d.nicId,
      expiresAt: ttl,
    })),
  );
  const deadline = ctx.deadline.toISOString();
  const header: HeaderItem = {
    ...headerKey(syncRequestId),
    syncRequestId,
    reason,
    sentDateTime,
    messageId: ctx.messageId,
    receivedAt: ctx.receivedAt.toISOString(),
    deadline,
    deviceCount: devices.length,
    terminalCount: 0,
    gsi1pk: PENDING_CONSOLIDATION,
    gsi1sk: deadline,
    expiresAt: ttl,
  };
  try {
    await db().send(
      new PutCommand({
        TableName: tableName(),
        Item: header,
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  } catch (error) {
    // A concurrent delivery of the same request wrote it first: same content.
    if (!isConditionFailed(error)) throw error;
  }
}

// ─── acks ─────────────────────────────────────────────────────────────────────────────────────────────

type DeviceResult = 'applied' | 'transition' | 'stale' | 'unknown';

/**
 * Stores one device report if it is not older than the stored one (ackDateTime in ms, then sequence).
 * A PENDING never overwrites a terminal status, and any terminal status overwrites a PENDING. Returns 'transition' when this write moved the device
 * from none/PENDING to terminal, which only the winning write can observe (ALL_OLD).
 */
async function applyReport(
  syncRequestId: string,
  ack: AssetSyncAck,
  device: AssetSyncAck['devices'][number],
  ackAtMs: number,
  messageId: string,
): Promise<DeviceResult> {
  const pending = device.registrationStatus === 'PENDING';
  const names: Record<string, string> = { '#s': 'reportedStatus' };
  const values: Record<string, unknown> = {
    ':s': device.registrationStatus,
    ':at': ack.ackDateTime,
    ':ms': ackAtMs,
    ':seq': ack.sequence,
    ':by': messageId,
  };
  let update = 'SET #s = :s, reportedAt = :at, reportedAtMs = :ms, ackSequence = :seq, reportedBy = :by';
  if (device.message !== undefined) {
    update += ', reportedMessage = :m';
    values[':m'] = device.message;
  } else {
    update += ' REMOVE reportedMessage';
  }
  // Reports are ordered by (terminal, ackDateTime ms, sequence): a terminal status always beats PENDING,
  // otherwise the newer report wins. The stored one is the maximum whatever the arrival order.
  const notOlder = '(reportedAtMs < :ms OR (reportedAtMs = :ms AND ackSequence <= :seq))';
  values[':pending'] = 'PENDING';
  const condition = pending
    ? `attribute_exists(pk) AND (attribute_not_exists(#s) OR (#s = :pending AND ${notOlder}))`
    : `attribute_exists(pk) AND (attribute_not_exists(#s) OR #s = :pending OR ${notOlder})`;
  try {
    const out = await db().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: deviceKey(syncRequestId, device.deviceId),
        UpdateExpression: update,
        ConditionExpression: condition,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ReturnValues: 'ALL_OLD',
      }),
    );
    const old = out.Attributes as DeviceItem | undefined;
    return !isTerminal(old?.reportedStatus) && isTerminal(device.registrationStatus)
      ? 'transition'
      : 'applied';
  } catch (error) {
    if (!isConditionFailed(error)) throw error;
    // Either older than what is stored, or a device the request does not hold (its set never changes).
    const existing = await db().send(
      new GetCommand({
        TableName: tableName(),
        Key: deviceKey(syncRequestId, device.deviceId),
        ProjectionExpression: 'pk',
        ConsistentRead: true,
      }),
    );
    return existing.Item ? 'stale' : 'unknown';
  }
}

/** How long a final ack waits for the acks before it before consolidating without them. */
export const DEFAULT_FINAL_ACK_GRACE_SECONDS = 30;
const finalAckGraceSeconds = (): number =>
  optionalNumber('FINAL_ACK_GRACE_SECONDS', DEFAULT_FINAL_ACK_GRACE_SECONDS);

/**
 * Raises terminalCount to the number of terminal devices, never lowering it. An over-count is harmless
 * (the freeze checks the devices themselves); an under-count would leave the request waiting for its
 * final ack or deadline.
 */
async function recountTerminal(syncRequestId: string): Promise<void> {
  const { devices } = await readPartition(syncRequestId);
  const terminal = devices.filter((d) => isTerminal(d.reportedStatus)).length;
  try {
    await db().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: headerKey(syncRequestId),
        UpdateExpression: 'SET terminalCount = :n',
        ConditionExpression: 'terminalCount < :n',
        ExpressionAttributeValues: { ':n': terminal },
      }),
    );
  } catch (error) {
    if (!isConditionFailed(error)) throw error;
  }
}

/** Whether acks with every sequence from 1 to `finalSequence` have all their reports stored. */
async function earlierAcksApplied(syncRequestId: string, finalSequence: number): Promise<boolean> {
  const applied = new Set<number>();
  let exclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const out = await db().send(
      new QueryCommand({
        TableName: tableName(),
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :ack)',
        ExpressionAttributeValues: { ':pk': pkOf(syncRequestId), ':ack': SK.ACK },
        ProjectionExpression: '#seq, appliedAt',
        ExpressionAttributeNames: { '#seq': 'sequence' },
        ConsistentRead: true,
        ...(exclusiveStartKey ? { ExclusiveStartKey: exclusiveStartKey } : {}),
      }),
    );
    for (const item of out.Items ?? []) if (item.appliedAt) applied.add(item.sequence as number);
    exclusiveStartKey = out.LastEvaluatedKey;
  } while (exclusiveStartKey);
  for (let sequence = 1; sequence <= finalSequence; sequence++) if (!applied.has(sequence)) return false;
  return true;
}

/**
 * Records a DERMS ack against its correlation record and sends what is due: the consolidated ack (once
 * per sync request) or follow-ups for devices whose flag changed after it.
 *
 * @throws RetryLaterError when the sync request is not recorded yet and the window is still open.
 */
export async function handleAck(ack: AssetSyncAck, ctx: AckContext): Promise<AckOutcome> {
  const { syncRequestId } = ack;
  const header = await getHeader(syncRequestId);
  if (!header) return uncorrelated(ack, ctx);

  // b. the ack item; a redelivered ack finds it and is not counted twice.
  const ackAtMs = instantMs(ack.ackDateTime);
  let duplicateAck = false;
  const ackItem: AckItem = {
    pk: pkOf(syncRequestId),
    sk: ackSk(ack.ackDateTime, ack.sequence),
    messageId: ctx.messageId,
    receivedAt: ctx.firstReceivedAt.toISOString(),
    sequence: ack.sequence,
    ackDateTime: ack.ackDateTime,
    ackAtMs,
    ackType: ack.ackType,
    final: ack.final,
    deviceCount: ack.devices.length,
    expiresAt: expiresAt(ctx.now),
    ...(ack.errors?.length ? { errors: ack.errors } : {}),
  };
  try {
    await db().send(
      new PutCommand({
        TableName: tableName(),
        Item: ackItem,
        ConditionExpression: 'attribute_not_exists(sk)',
      }),
    );
  } catch (error) {
    if (!isConditionFailed(error)) throw error;
    duplicateAck = true;
  }
  // c. device reports.
  const results = await mapLimit(ack.devices, DEVICE_WRITE_PARALLELISM, (d) =>
    applyReport(syncRequestId, ack, d, ackAtMs, ctx.messageId),
  );
  // Unknown devices first: once terminalCount can make the request due, the freeze must find them.
  const unknown: UnknownDevice[] = ack.devices
    .filter((_, i) => results[i] === 'unknown')
    .map((d) => ({
      deviceId: d.deviceId,
      registrationStatus: d.registrationStatus,
      headEndSystem: d.headEndSystem,
      nicId: d.nicId,
    }));
  if (unknown.length > 0) {
    await db().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: { pk: ackItem.pk, sk: ackItem.sk },
        UpdateExpression: 'SET unknownDevices = :u',
        ExpressionAttributeValues: { ':u': unknown },
      }),
    );
  }
  const transitions = results.filter((r) => r === 'transition').length;
  if (duplicateAck) {
    // A redelivery: an earlier attempt may have moved devices to terminal and died before counting
    // them, and this attempt sees them as already terminal. Recount instead of adding.
    await recountTerminal(syncRequestId);
  } else if (transitions > 0) {
    // One ADD per ack, of the transitions this ack's winning writes made: each counted exactly once.
    await db().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: headerKey(syncRequestId),
        UpdateExpression: 'ADD terminalCount :n',
        ExpressionAttributeValues: { ':n': transitions },
      }),
    );
  }
  const counts = {
    duplicateAck,
    devicesApplied: results.filter((r) => r === 'applied' || r === 'transition').length,
    staleReports: results.filter((r) => r === 'stale').length,
    unknownDevices: unknown.length,
  };

  // This ack's reports are all stored: a final ack may now count it among the earlier ones.
  await db().send(
    new UpdateCommand({
      TableName: tableName(),
      Key: { pk: ackItem.pk, sk: ackItem.sk },
      UpdateExpression: 'SET appliedAt = if_not_exists(appliedAt, :now)',
      ExpressionAttributeValues: { ':now': ctx.now.toISOString() },
    }),
  );
  if (ack.final) {
    await db().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: headerKey(syncRequestId),
        UpdateExpression: 'SET finalSequence = if_not_exists(finalSequence, :seq)',
        ExpressionAttributeValues: { ':seq': ack.sequence },
      }),
    );
  }

  // d. consolidate when due, then follow-ups.
  let current = (await getHeader(syncRequestId)) ?? header;
  let consolidated: ConsolidationResult | undefined;
  if (current.consolidatedAt === undefined) {
    const allTerminal = current.terminalCount >= current.deviceCount;
    // A final ack closes the request once the acks before it (sequences 1..n-1) are applied too: acks
    // are processed in parallel, and the final one must not overtake the partial ones it concludes.
    const finalReady =
      current.finalSequence !== undefined && (await earlierAcksApplied(syncRequestId, current.finalSequence));
    const graceOver =
      ack.final &&
      (ctx.lastAttempt || ctx.now.getTime() - ctx.firstReceivedAt.getTime() >= finalAckGraceSeconds() * 1000);
    if (allTerminal || finalReady || graceOver) {
      const trigger = allTerminal ? CONSOLIDATION_TRIGGERS.ALL_TERMINAL : CONSOLIDATION_TRIGGERS.FINAL_ACK;
      consolidated = await consolidate(current, trigger, ctx, finalReady || graceOver);
      if (consolidated)
        return outcome(ACK_OUTCOMES.CONSOLIDATED, syncRequestId, { ...counts, ...consolidated });
      current = (await getHeader(syncRequestId)) ?? current;
    } else if (ack.final) {
      throw new RetryLaterError(
        `Final ack ${ack.sequence} of ${syncRequestId} waits for the earlier acks before consolidating`,
        { delaySeconds: 2 },
      );
    }
  }
  if (current.consolidatedBy === ctx.messageId) {
    // A retry of the message that froze: finish its delivery and sweep.
    const resumed = await completeConsolidation(current, undefined, ctx);
    return outcome(ACK_OUTCOMES.CONSOLIDATED, syncRequestId, { ...counts, ...resumed });
  }
  if (current.consolidatedDeliveredAt === undefined) {
    return outcome(
      current.consolidatedAt ? ACK_OUTCOMES.ALREADY_CONSOLIDATED : ACK_OUTCOMES.RECORDED,
      syncRequestId,
      counts,
    );
  }
  const held = ack.devices.filter((_, i) => results[i] !== 'unknown').map((d) => d.deviceId);
  let followUpsSent = await followUpDevices(current, held, ctx);
  if (unknown.length > 0) {
    // After the consolidated ack, devices the request does not hold still reach DACS, in exceptionInfo.
    await ctx.sendToDacs(
      buildUnknownDevicesAck(syncRequestId, unknown),
      `${syncRequestId}#unknown#${ackItem.sk}`,
    );
    followUpsSent += 1;
  }
  return outcome(
    followUpsSent > 0 ? ACK_OUTCOMES.FOLLOW_UPS_SENT : ACK_OUTCOMES.ALREADY_CONSOLIDATED,
    syncRequestId,
    {
      ...counts,
      followUpsSent,
    },
  );
}

async function uncorrelated(ack: AssetSyncAck, ctx: AckContext): Promise<AckOutcome> {
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

// ─── consolidation ────────────────────────────────────────────────────────────────────────────────────

interface ConsolidationResult {
  consolidatedAckSent: boolean;
  trigger?: ConsolidationTrigger;
  followUpsSent: number;
}

const deviceState = (d: DeviceItem): DeviceState => ({
  deviceId: d.deviceId,
  expected: d.expected,
  reportedStatus: d.reportedStatus,
  reportedMessage: d.reportedMessage,
});

const ackRecord = (a: AckItem): AckRecord => ({
  sequence: a.sequence,
  ackDateTime: a.ackDateTime,
  ackType: a.ackType,
  errors: a.errors,
  unknownDevices: a.unknownDevices,
});

/**
 * Builds the consolidated ack from a consistent snapshot and freezes it with one conditional write on the
 * header. The winner delivers; a loser returns `undefined`.
 */
async function consolidate(
  header: HeaderItem,
  requested: ConsolidationTrigger,
  ctx: DeadlineContext,
  finalAck = false,
): Promise<ConsolidationResult | undefined> {
  const partition = await readPartition(header.syncRequestId);
  let trigger = requested;
  // Check what the counter claims rather than trust it blindly.
  if (
    trigger === CONSOLIDATION_TRIGGERS.ALL_TERMINAL &&
    !partition.devices.every((d) => isTerminal(d.reportedStatus))
  ) {
    if (!finalAck) return undefined;
    trigger = CONSOLIDATION_TRIGGERS.FINAL_ACK;
  }
  const frame = { syncRequestId: header.syncRequestId, deadline: header.deadline, trigger };
  const summary: AckSummary = summarize(
    frame,
    partition.devices.map(deviceState),
    partition.acks.map(ackRecord),
  );
  const now = ctx.now.toISOString();
  try {
    await db().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: headerKey(header.syncRequestId),
        // The deadline index keeps the request, one requeue interval ahead, until the ack is delivered:
        // if the message that froze it dead-letters, the sweep finds it and hands it to another.
        UpdateExpression:
          'SET consolidatedAt = :now, consolidatedBy = :by, consolidationTrigger = :t, consolidatedSummary = :s, ' +
          'gsi1sk = :recheck',
        ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(consolidatedAt)',
        ExpressionAttributeValues: {
          ':now': now,
          ':by': ctx.messageId,
          ':t': trigger,
          ':s': summary,
          ':recheck': new Date(ctx.now.getTime() + deadlineRequeueSeconds() * 1000).toISOString(),
        },
      }),
    );
  } catch (error) {
    if (isConditionFailed(error)) return undefined;
    throw error;
  }
  const frozen: HeaderItem = {
    ...header,
    consolidatedAt: now,
    consolidatedBy: ctx.messageId,
    consolidationTrigger: trigger,
    consolidatedSummary: summary,
  };
  return completeConsolidation(frozen, partition, ctx);
}

/**
 * Delivers the frozen ack of a header this message froze: writes the SENT# lines missing (all of them the
 * first time, from the snapshot the freeze was built on), delivers with key = syncRequestId, marks it
 * delivered and sweeps every device for follow-ups. On a retry, lines already written are reused, so a
 * re-delivery carries the same body.
 */
async function completeConsolidation(
  header: HeaderItem,
  snapshot: Partition | undefined,
  ctx: DeadlineContext,
): Promise<ConsolidationResult> {
  const { syncRequestId } = header;
  const trigger = header.consolidationTrigger;
  let consolidatedAckSent = false;
  if (header.consolidatedDeliveredAt === undefined) {
    const partition = snapshot ?? (await readPartition(syncRequestId));
    const summary = header.consolidatedSummary ?? { ackError: false, exceptionInfo: [] };
    const missing = partition.devices.filter((d) => !partition.sent.has(d.deviceId));
    const computed = deviceOutcomes(
      { syncRequestId, deadline: header.deadline, trigger },
      missing.map(deviceState),
    );
    const ttl = expiresAt(ctx.now);
    const newLines: SentItem[] = computed.map((o, i) => ({
      ...sentKey(syncRequestId, o.deviceId),
      deviceId: o.deviceId,
      index: missing[i]!.index,
      flag: o.flag,
      message: o.message,
      isError: o.isError,
      expiresAt: ttl,
    }));
    await putAll(syncRequestId, newLines as unknown as Record<string, unknown>[]);
    for (const line of newLines) partition.sent.set(line.deviceId, line);
    const outcomes: DeviceOutcome[] = partition.devices.map((d) => {
      const line = partition.sent.get(d.deviceId)!;
      return { deviceId: d.deviceId, flag: line.flag, message: line.message, isError: line.isError };
    });
    await ctx.sendToDacs(assembleAck(syncRequestId, summary, outcomes), syncRequestId);
    await db().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: headerKey(syncRequestId),
        UpdateExpression: 'SET consolidatedDeliveredAt = :now REMOVE gsi1pk, gsi1sk',
        ConditionExpression: 'consolidatedBy = :by',
        ExpressionAttributeValues: { ':now': ctx.now.toISOString(), ':by': ctx.messageId },
      }),
    );
    consolidatedAckSent = true;
  }
  // Devices written between our snapshot and our freeze saw no delivered ack: catch them up now.
  const delivered = {
    ...header,
    consolidatedDeliveredAt: header.consolidatedDeliveredAt ?? ctx.now.toISOString(),
  };
  const after = await readPartition(syncRequestId);
  const sent = await mapLimit(after.devices, DEVICE_WRITE_PARALLELISM, (d) =>
    followUp(delivered, d, after.sent.get(d.deviceId), ctx),
  );
  return {
    consolidatedAckSent,
    ...(trigger ? { trigger } : {}),
    followUpsSent: sent.reduce((a, b) => a + b, 0),
  };
}

/** How long a frozen consolidated ack may stay undelivered by its owner before a deadline command adopts it. */
export const DEFAULT_DEADLINE_REQUEUE_SECONDS = 300;
export const deadlineRequeueSeconds = (): number =>
  optionalNumber('DEADLINE_REQUEUE_SECONDS', DEFAULT_DEADLINE_REQUEUE_SECONDS);

/**
 * A consolidated ack frozen by a message that has not delivered it for a requeue interval (its message
 * dead-lettered, most likely) is adopted by this deadline command: one conditional write moves the
 * ownership, so only one adopter re-sends the frozen body, with the same key (`syncRequestId`).
 */
async function adoptStaleConsolidation(
  header: HeaderItem,
  ctx: DeadlineContext,
): Promise<HeaderItem | undefined> {
  if (header.consolidatedDeliveredAt !== undefined || header.consolidatedAt === undefined) return undefined;
  const staleBefore = ctx.now.getTime() - deadlineRequeueSeconds() * 1000;
  if (Date.parse(header.consolidatedAt) > staleBefore) return undefined;
  try {
    await db().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: headerKey(header.syncRequestId),
        UpdateExpression: 'SET consolidatedBy = :me',
        ConditionExpression: 'consolidatedBy = :previous AND attribute_not_exists(consolidatedDeliveredAt)',
        ExpressionAttributeValues: { ':me': ctx.messageId, ':previous': header.consolidatedBy },
      }),
    );
    return { ...header, consolidatedBy: ctx.messageId };
  } catch (error) {
    if (isConditionFailed(error)) return undefined;
    throw error;
  }
}

/**
 * Freezes and delivers the consolidated ack of a sync request past its deadline. A no-op before the
 * deadline or when it is frozen already; a retry of the message that froze it finishes the delivery.
 */
export async function consolidateOnDeadline(
  syncRequestId: string,
  command: DeadlineContext,
): Promise<AckOutcome> {
  const header = await getHeader(syncRequestId);
  if (!header) return outcome(ACK_OUTCOMES.NOT_FOUND, syncRequestId);
  // A deadline command has no trace of its own: correlate what it sends with the sync request's message.
  const ctx: DeadlineContext = {
    ...command,
    sendToDacs: (body, key) => command.sendToDacs(body, key, header.messageId),
  };
  if (header.consolidatedAt !== undefined) {
    if (header.consolidatedBy === ctx.messageId) {
      return outcome(
        ACK_OUTCOMES.CONSOLIDATED,
        syncRequestId,
        await completeConsolidation(header, undefined, ctx),
      );
    }
    const adopted = await adoptStaleConsolidation(header, ctx);
    if (adopted) {
      return outcome(
        ACK_OUTCOMES.CONSOLIDATED,
        syncRequestId,
        await completeConsolidation(adopted, undefined, ctx),
      );
    }
    return outcome(ACK_OUTCOMES.ALREADY_CONSOLIDATED, syncRequestId);
  }
  if (ctx.now.getTime() < Date.parse(header.deadline)) return outcome(ACK_OUTCOMES.NOT_DUE, syncRequestId);
  const result = await consolidate(header, CONSOLIDATION_TRIGGERS.DEADLINE, ctx);
  return result
    ? outcome(ACK_OUTCOMES.CONSOLIDATED, syncRequestId, result)
    : outcome(ACK_OUTCOMES.ALREADY_CONSOLIDATED, syncRequestId);
}

// ─── follow-ups ───────────────────────────────────────────────────────────────────────────────────────

async function followUpDevices(
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
  const devices = new Map<string, DeviceItem>();
  const sent = new Map<string, SentItem>();
  for (const item of items) {
    const sk = item.sk as string;
    if (sk.startsWith(SK.DEVICE)) devices.set(item.deviceId as string, item as unknown as DeviceItem);
    else sent.set(item.deviceId as string, item as unknown as SentItem);
  }
  const counts = await mapLimit([...devices.values()], DEVICE_WRITE_PARALLELISM, (d) =>
    followUp(header, d, sent.get(d.deviceId), ctx),
  );
  return counts.reduce((a, b) => a + b, 0);
}

/**
 * Sends what DACS is missing for one device: a follow-up when its current flag differs from what DACS
 * was told (its last follow-up, else its consolidated line). A late PENDING is never a change.
 *
 * Follow-ups of one device are serialised by a lease: the decision (SET lastSentFlag) is conditional on
 * the flag and report version we read, and on the previous follow-up being delivered. Its holder
 * delivers, releases (lastSentDeliveredAt) and then re-reads the device, so a report that lost the race
 * against the lease is sent by the holder. Sends of one device therefore never overtake each other.
 *
 *   read ─▶ differs? ─▶ SET lastSentFlag (cond: told, version, previous delivered) ─▶ send ─▶ release ─┐
 *    ▲                                                                                               │
 *    └─────────────────────────────────────── re-read ◀──────────────────────────────────────────────┘
 */
async function followUp(
  header: HeaderItem,
  first: DeviceItem,
  line: SentItem | undefined,
  ctx: DeadlineContext,
): Promise<number> {
  if (!line) return 0;
  let device: DeviceItem | undefined = first;
  let sent = 0;
  while (device) {
    const seq = await claimFollowUp(header, device, line, ctx);
    if (seq === undefined) break;
    await deliverFollowUp(header, device, seq, ctx);
    sent++;
    const out = await db().send(
      new GetCommand({
        TableName: tableName(),
        Key: deviceKey(header.syncRequestId, device.deviceId),
        ConsistentRead: true,
      }),
    );
    device = out.Item as DeviceItem | undefined;
  }
  return sent;
}

/** Takes the device's follow-up lease for its current flag; returns the follow-up's sequence, or none. */
async function claimFollowUp(
  header: HeaderItem,
  device: DeviceItem,
  line: SentItem,
  ctx: DeadlineContext,
): Promise<number | undefined> {
  if (!isTerminal(device.reportedStatus)) return undefined;
  const held = device.lastSentFlag !== undefined && device.lastSentDeliveredAt === undefined;
  if (held) {
    // Ours from an attempt that failed to deliver: send it again. Someone else's: they re-check after.
    return device.lastSentBy === ctx.messageId ? (device.followUpSeq ?? 1) : undefined;
  }
  const current = assessDevice(device.expected, device.reportedStatus, {
    deadline: header.deadline,
    reportedMessage: device.reportedMessage,
  });
  if (current.flag === (device.lastSentFlag ?? line.flag)) return undefined;
  const values: Record<string, unknown> = {
    ':f': current.flag,
    ':m': current.message,
    ':by': ctx.messageId,
    ':now': ctx.now.toISOString(),
    ':one': 1,
    ':ms': device.reportedAtMs,
    ':seq': device.ackSequence,
  };
  let told = 'attribute_not_exists(lastSentFlag)';
  if (device.lastSentFlag !== undefined) {
    told = 'lastSentFlag = :told AND attribute_exists(lastSentDeliveredAt)';
    values[':told'] = device.lastSentFlag;
  }
  try {
    const out = await db().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: deviceKey(header.syncRequestId, device.deviceId),
        UpdateExpression:
          'SET lastSentFlag = :f, lastSentMessage = :m, lastSentBy = :by, lastSentAt = :now ' +
          'ADD followUpSeq :one REMOVE lastSentDeliveredAt',
        ConditionExpression: `${told} AND reportedAtMs = :ms AND ackSequence = :seq`,
        ExpressionAttributeValues: values,
        ReturnValues: 'ALL_NEW',
      }),
    );
    Object.assign(device, out.Attributes);
    return Number(out.Attributes?.followUpSeq ?? 1);
  } catch (error) {
    if (isConditionFailed(error)) return undefined;
    throw error;
  }
}

const followUpKey = (syncRequestId: string, deviceId: string, flag: string, seq: number): string => {
  const base = `${syncRequestId}#${deviceId}#${flag}#followup`;
  // A device that flips back to a flag it had would otherwise reuse a key the receiver already dropped.
  return seq <= 1 ? base : `${base}#${seq}`;
};

/** Sends the follow-up the device item's lease describes, records it and releases the lease. */
async function deliverFollowUp(
  header: HeaderItem,
  device: DeviceItem,
  seq: number,
  ctx: DeadlineContext,
): Promise<void> {
  const { syncRequestId } = header;
  const flag = device.lastSentFlag!;
  const body = buildFollowUpAck(syncRequestId, deviceState(device), flag, device.lastSentMessage ?? '');
  await ctx.sendToDacs(body, followUpKey(syncRequestId, device.deviceId, flag, seq));
  const now = ctx.now.toISOString();
  await db().send(
    new PutCommand({
      TableName: tableName(),
      Item: {
        pk: pkOf(syncRequestId),
        sk: followUpSk(device.deviceId, seq),
        deviceId: device.deviceId,
        seq,
        flag,
        sentAt: now,
        acknowledgement: body,
        expiresAt: expiresAt(ctx.now),
      },
    }),
  );
  try {
    await db().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: deviceKey(syncRequestId, device.deviceId),
        UpdateExpression: 'SET lastSentDeliveredAt = :now',
        ConditionExpression: 'lastSentBy = :by AND followUpSeq = :seq',
        ExpressionAttributeValues: { ':now': now, ':by': ctx.messageId, ':seq': seq },
      }),
    );
  } catch (error) {
    // Released already by a concurrent delivery of the same message.
    if (!isConditionFailed(error)) throw error;
  }
}

// ─── deadline sweep and support view ──────────────────────────────────────────────────────────────────

/** Sync requests past their deadline and not yet consolidated, oldest deadline first. */
export async function findOverdue(now: Date, limit = 100): Promise<string[]> {
  const found: string[] = [];
  let exclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const out = await db().send(
      new QueryCommand({
        TableName: tableName(),
        IndexName: CORRELATION_TABLE.indexes[0].name,
        KeyConditionExpression: 'gsi1pk = :p AND gsi1sk <= :now',
        ExpressionAttributeValues: { ':p': PENDING_CONSOLIDATION, ':now': now.toISOString() },
        Limit: limit - found.length,
        ...(exclusiveStartKey ? { ExclusiveStartKey: exclusiveStartKey } : {}),
      }),
    );
    for (const item of out.Items ?? []) found.push(syncRequestIdOf(item.pk as string));
    exclusiveStartKey = out.LastEvaluatedKey;
  } while (exclusiveStartKey && found.length < limit);
  return found;
}

/**
 * Claims an overdue sync request for one deadline command: moves its place in the deadline index to
 * `now + requeueAfterSeconds`, only if it is still pending and overdue. The sweep queues a command only
 * when this returns true, so one overdue request costs one command per interval, not one per sweep, and
 * requests behind it in the index are not starved while DACS is down.
 */
export async function claimOverdue(
  syncRequestId: string,
  now: Date,
  requeueAfterSeconds: number,
): Promise<boolean> {
  try {
    await db().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: headerKey(syncRequestId),
        UpdateExpression: 'SET gsi1sk = :next, deadlineQueuedAt = :now',
        ConditionExpression:
          'gsi1pk = :p AND gsi1sk <= :now AND attribute_not_exists(consolidatedDeliveredAt)',
        ExpressionAttributeValues: {
          ':p': PENDING_CONSOLIDATION,
          ':now': now.toISOString(),
          ':next': new Date(now.getTime() + requeueAfterSeconds * 1000).toISOString(),
        },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailed(error)) return false;
    throw error;
  }
}

/** The support view of one sync request, or `undefined` when it has no record. No contact data. */
export async function getSyncRequestStatus(syncRequestId: string): Promise<SyncRequestStatus | undefined> {
  const partition = await readPartition(syncRequestId);
  const { header } = partition;
  if (!header) return undefined;
  const delivered = header.consolidatedDeliveredAt !== undefined;
  const status: SyncRequestStatus = {
    syncRequestId,
    reason: header.reason as SyncRequestStatus['reason'],
    messageId: header.messageId,
    receivedAt: header.receivedAt,
    deadline: header.deadline,
    devices: partition.devices.map((d) => {
      const told = d.lastSentFlag ?? (delivered ? partition.sent.get(d.deviceId)?.flag : undefined);
      return {
        deviceId: d.deviceId,
        expected: d.expected,
        headEndSystem: d.headEndSystem,
        nicId: d.nicId,
        ...(d.reportedStatus ? { reportedStatus: d.reportedStatus } : {}),
        ...(d.reportedAt ? { reportedAt: d.reportedAt } : {}),
        ...(d.reportedMessage ? { message: d.reportedMessage } : {}),
        ...(told ? { headEndRegistration: told } : {}),
      };
    }),
    acks: [...partition.acks]
      .sort((a, b) => a.ackAtMs - b.ackAtMs || a.sequence - b.sequence)
      .map((a) => ({
        messageId: a.messageId,
        sequence: a.sequence,
        ackType: a.ackType,
        ackDateTime: a.ackDateTime,
        final: a.final,
        receivedAt: a.receivedAt,
        deviceCount: a.deviceCount,
        ...(a.errors ? { errors: a.errors } : {}),
      })),
  };
  if (delivered && header.consolidatedSummary) {
    const outcomes: DeviceOutcome[] = partition.devices.flatMap((d) => {
      const line = partition.sent.get(d.deviceId);
      return line
        ? [{ deviceId: d.deviceId, flag: line.flag, message: line.message, isError: line.isError }]
        : [];
    });
    status.consolidatedAck = {
      sentAt: header.consolidatedDeliveredAt!,
      ...(header.consolidationTrigger ? { trigger: header.consolidationTrigger } : {}),
      acknowledgement: assembleAck(syncRequestId, header.consolidatedSummary, outcomes),
    };
  }
  if (partition.followUps.length > 0) {
    status.followUps = [...partition.followUps]
      .sort((a, b) => a.sentAt.localeCompare(b.sentAt) || a.sk.localeCompare(b.sk))
      .map((f) => ({ sentAt: f.sentAt, acknowledgement: f.acknowledgement }));
  }
  return status;
}
