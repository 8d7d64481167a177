/**
 * Every read and write of the correlation record. Each conditional write is one typed operation that
 * answers in domain terms (`freezeHeader → 'frozen' | 'taken' | 'info-changed'`, `takeFollowUpLease →
 * seq | undefined`, `claimOverdue → boolean`): its condition is built from named parts, and DynamoDB's
 * ConditionalCheckFailedException becomes that answer in {@link ifCondition}, the one place that knows
 * it. Deciding what to write is the callers' business (intake, freeze, followUps, sweep).
 */
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  TransactWriteCommand,
  UpdateCommand,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { documentClientFor } from '#shared/aws/clients.ts';
import { CORRELATION_TABLE, PENDING_CONSOLIDATION, REFUSED_CONSOLIDATION } from '#shared/store/tables.ts';
import type { AckSummary } from './ack.ts';
import type { TransactItem } from './batch.ts';
import {
  type AckItem,
  ackKey,
  type DeviceItem,
  deviceKey,
  type ErrorItem,
  type FollowUpItem,
  type HeaderItem,
  headerKey,
  type Key,
  type Partition,
  pkOf,
  type SentItem,
  SK,
  syncRequestIdOf,
  tableName,
  type UnknownItem,
} from './items.ts';
import {
  type AckDevice,
  type ConsolidationTrigger,
  DELIVERY_STATES,
  type DeliveryState,
  type HeadEndFlag,
} from './types.ts';

const db = () => documentClientFor();

/** The output of a conditional write, or `undefined` when its condition did not hold. */
export async function ifCondition<T>(write: Promise<T>): Promise<T | undefined> {
  try {
    return await write;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return undefined;
    throw error;
  }
}

/** Whether a conditional update was applied. */
const updated = async (input: Omit<UpdateCommandInput, 'TableName'>): Promise<boolean> =>
  (await ifCondition(db().send(new UpdateCommand({ TableName: tableName(), ...input })))) !== undefined;

/** Every item a query finds, page after page, up to `limit`. */
export async function queryAll(
  input: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey'>,
  limit = Number.POSITIVE_INFINITY,
): Promise<Record<string, unknown>[]> {
  const found: Record<string, unknown>[] = [];
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const out = await db().send(
      new QueryCommand({
        TableName: tableName(),
        ...input,
        ...(Number.isFinite(limit) ? { Limit: limit - found.length } : {}),
        ...(ExclusiveStartKey ? { ExclusiveStartKey } : {}),
      }),
    );
    found.push(...(out.Items ?? []));
    ExclusiveStartKey = out.LastEvaluatedKey;
  } while (ExclusiveStartKey && found.length < limit);
  return found;
}

/** Named parts of the conditions below, so each write reads as what it requires. */
const WHEN = {
  recorded: 'attribute_exists(pk)',
  absent: 'attribute_not_exists(pk)',
  newAck: 'attribute_not_exists(sk)',
  notFrozen: 'attribute_not_exists(consolidatedAt)',
  notDelivered: 'attribute_not_exists(consolidatedDeliveredAt)',
  ownedBy: 'consolidatedBy = :by',
  notDeadLettered: '(attribute_not_exists(deliveryState) OR deliveryState <> :deadLettered)',
  inDeadlineIndex: 'gsi1pk = :pending',
  overdue: 'gsi1sk <= :now',
  retryDue: '(attribute_not_exists(deliveryNextAttemptAt) OR deliveryNextAttemptAt <= :now)',
  sameReport: 'reportedAtMs = :ms AND ackSequence = :ackSeq',
  leaseFree: '(attribute_not_exists(leaseBy) OR leaseUntil <= :now)',
  leaseHeld: 'leaseBy = :by',
  sameFollowUp: 'followUpSeq = :seq',
} as const;
const all = (...parts: string[]): string => parts.join(' AND ');

// ─── reads ────────────────────────────────────────────────────────────────────────────────────────────

const getItem = async <T>(key: Key): Promise<T | undefined> =>
  (await db().send(new GetCommand({ TableName: tableName(), Key: key, ConsistentRead: true }))).Item as
    | T
    | undefined;

export const readHeader = (syncRequestId: string) => getItem<HeaderItem>(headerKey(syncRequestId));
export const readDevice = (syncRequestId: string, deviceId: string) =>
  getItem<DeviceItem>(deviceKey(syncRequestId, deviceId));
export const readAck = (syncRequestId: string, sk: string) => getItem<AckItem>(ackKey(syncRequestId, sk));

function sortInto(partition: Partition, item: Record<string, unknown>, errors: ErrorItem[]): void {
  const sk = item.sk as string;
  if (sk === SK.HEADER) partition.header = item as unknown as HeaderItem;
  else if (sk.startsWith(SK.DEVICE)) partition.devices.push(item as unknown as DeviceItem);
  else if (sk.startsWith(SK.ACK)) partition.acks.push(item as unknown as AckItem);
  else if (sk.startsWith(SK.ERROR)) errors.push(item as unknown as ErrorItem);
  else if (sk.startsWith(SK.SENT)) partition.sent.set(item.deviceId as string, item as unknown as SentItem);
  else if (sk.startsWith(SK.FOLLOWUP)) partition.followUps.push(item as unknown as FollowUpItem);
  else if (sk.startsWith(SK.UNKNOWN)) {
    const unknown = item as unknown as UnknownItem;
    const list = partition.unknown.get(unknown.ackSk) ?? [];
    list.push(unknown);
    partition.unknown.set(unknown.ackSk, list);
  }
}

const emptyPartition = (): Partition => ({
  devices: [],
  acks: [],
  errors: new Map(),
  unknown: new Map(),
  sent: new Map(),
  followUps: [],
});

/** Every item of a sync request, read consistently and paged. */
export async function readPartition(syncRequestId: string): Promise<Partition> {
  const partition = emptyPartition();
  const errors: ErrorItem[] = [];
  const items = await queryAll({
    KeyConditionExpression: 'pk = :pk',
    ExpressionAttributeValues: { ':pk': pkOf(syncRequestId) },
    ConsistentRead: true,
  });
  for (const item of items) sortInto(partition, item, errors);
  partition.devices.sort((a, b) => a.index - b.index);
  groupErrors(partition, errors);
  return partition;
}

function groupErrors(partition: Partition, errors: ErrorItem[]): void {
  for (const e of errors.sort((a, b) => a.index - b.index)) {
    const list = partition.errors.get(e.ackSk) ?? [];
    list.push({ code: e.code, message: e.message });
    partition.errors.set(e.ackSk, list);
  }
}

/** One ack's errors and unknown devices (for its late-information follow-up). */
export async function readAckInfo(
  syncRequestId: string,
  sk: string,
): Promise<Pick<Partition, 'errors' | 'unknown'>> {
  const info = emptyPartition();
  const errors: ErrorItem[] = [];
  const part = sk.slice(SK.ACK.length);
  for (const prefix of [SK.ERROR, SK.UNKNOWN]) {
    const items = await queryAll({
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': pkOf(syncRequestId), ':prefix': `${prefix}${part}#` },
      ConsistentRead: true,
    });
    for (const item of items) sortInto(info, item, errors);
  }
  groupErrors(info, errors);
  return info;
}

/** Whether the consolidated ack DACS has told it of an error: an ack error, or a device line that is one. */
export async function consolidatedToldError(header: HeaderItem): Promise<boolean> {
  if (header.consolidatedSummary?.ackError) return true;
  const lines = await queryAll({
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :sent)',
    ExpressionAttributeValues: { ':pk': pkOf(header.syncRequestId), ':sent': SK.SENT },
    ProjectionExpression: 'isError',
    ConsistentRead: true,
  });
  return lines.some((line) => line.isError === true);
}

/** The sequences of the acks whose reports are all stored. */
export async function appliedAckSequences(syncRequestId: string): Promise<Set<number>> {
  const items = await queryAll({
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :ack)',
    ExpressionAttributeValues: { ':pk': pkOf(syncRequestId), ':ack': SK.ACK },
    ProjectionExpression: '#seq, appliedAt',
    ExpressionAttributeNames: { '#seq': 'sequence' },
    ConsistentRead: true,
  });
  return new Set(items.filter((i) => i.appliedAt).map((i) => i.sequence as number));
}

/** The sort keys of a sync request's acks, and whether each has all its reports stored. */
export async function ackStates(syncRequestId: string): Promise<{ sk: string; applied: boolean }[]> {
  const items = await queryAll({
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :ack)',
    ExpressionAttributeValues: { ':pk': pkOf(syncRequestId), ':ack': SK.ACK },
    ProjectionExpression: 'sk, appliedAt',
    ConsistentRead: true,
  });
  return items.map((i) => ({ sk: i.sk as string, applied: i.appliedAt !== undefined }));
}

// ─── recording the request and its acks ───────────────────────────────────────────────────────────────

/** Writes the header unless it exists; false when a concurrent delivery wrote it first. */
export const createHeader = async (header: HeaderItem): Promise<boolean> =>
  (await ifCondition(
    db().send(new PutCommand({ TableName: tableName(), Item: header, ConditionExpression: WHEN.absent })),
  )) !== undefined;

/**
 * Marks a request DERMS refused, and makes it due now: the sweep's next run queues its deadline command,
 * which consolidates with trigger DERMS_REFUSED. False when it is frozen already.
 */
export const markEnrollmentRefused = (syncRequestId: string, reason: string, now: Date): Promise<boolean> =>
  updated({
    Key: headerKey(syncRequestId),
    UpdateExpression: 'SET refusedReason = :reason, refusedAt = :now, gsi1pk = :pending, gsi1sk = :now',
    ConditionExpression: all(WHEN.recorded, WHEN.notFrozen),
    ExpressionAttributeValues: {
      ':reason': reason,
      ':now': now.toISOString(),
      ':pending': PENDING_CONSOLIDATION,
    },
  });

/** Puts the ack item; false when it exists already (a redelivery). */
export const recordAck = async (item: AckItem): Promise<boolean> =>
  (await ifCondition(
    db().send(new PutCommand({ TableName: tableName(), Item: item, ConditionExpression: WHEN.newAck })),
  )) !== undefined;

export type ReportResult = 'transition' | 'applied' | 'stale' | 'unknown';

export interface Report {
  readonly device: AckDevice;
  readonly ackDateTime: string;
  readonly ackAtMs: number;
  readonly sequence: number;
  readonly messageId: string;
}

/** What a device item holds of its stored report (read before a batch of reports is written). */
export interface StoredReport {
  readonly reportedStatus?: string;
  readonly reportedAtMs?: number;
  readonly ackSequence?: number;
}

const isTerminalStatus = (s: string | undefined): boolean => s !== undefined && s !== 'PENDING';

/**
 * Reports are ordered by (terminal, ackDateTime ms, sequence): a terminal status always beats PENDING,
 * otherwise the newer report wins. The stored one is the maximum whatever the arrival order. This is
 * the condition of {@link reportUpdate} evaluated on a read: false means `r` is older than `stored`, and
 * stays so (the stored report only ever grows).
 */
export function supersedes(r: Report, stored: StoredReport): boolean {
  if (stored.reportedStatus === undefined) return true;
  const notOlder =
    (stored.reportedAtMs ?? 0) < r.ackAtMs ||
    ((stored.reportedAtMs ?? 0) === r.ackAtMs && (stored.ackSequence ?? 0) <= r.sequence);
  if (r.device.registrationStatus === 'PENDING') return stored.reportedStatus === 'PENDING' && notOlder;
  return stored.reportedStatus === 'PENDING' || notOlder;
}

function reportUpdate(syncRequestId: string, r: Report): UpdateCommandInput {
  const { device } = r;
  const notOlder = '(reportedAtMs < :ms OR (reportedAtMs = :ms AND ackSequence <= :ackSeq))';
  const condition =
    device.registrationStatus === 'PENDING'
      ? `attribute_exists(pk) AND (attribute_not_exists(#s) OR (#s = :pending AND ${notOlder}))`
      : `attribute_exists(pk) AND (attribute_not_exists(#s) OR #s = :pending OR ${notOlder})`;
  const set = 'SET #s = :s, reportedAt = :at, reportedAtMs = :ms, ackSequence = :ackSeq, reportedBy = :by';
  return {
    TableName: tableName(),
    Key: deviceKey(syncRequestId, device.deviceId),
    UpdateExpression:
      device.message !== undefined ? `${set}, reportedMessage = :m` : `${set} REMOVE reportedMessage`,
    ConditionExpression: condition,
    ExpressionAttributeNames: { '#s': 'reportedStatus' },
    ExpressionAttributeValues: {
      ':s': device.registrationStatus,
      ':at': r.ackDateTime,
      ':ms': r.ackAtMs,
      ':ackSeq': r.sequence,
      ':by': r.messageId,
      ':pending': 'PENDING',
      ...(device.message !== undefined ? { ':m': device.message } : {}),
    },
    ReturnValues: 'ALL_OLD',
  };
}

/**
 * A report's write in a transaction: {@link reportUpdate}'s condition, and the stored report still the
 * one read (`stored`). When the transaction goes through, the old status was `stored`'s, so whether this
 * write made the transition to terminal is known without ALL_OLD (which transactions cannot return).
 */
export function reportTransactItem(syncRequestId: string, r: Report, stored: StoredReport): TransactItem {
  const {
    ReturnValues: _,
    ConditionExpression,
    ExpressionAttributeValues,
    ...update
  } = reportUpdate(syncRequestId, r);
  const unchanged =
    stored.reportedStatus === undefined
      ? 'attribute_not_exists(#s)'
      : '#s = :oldS AND reportedAtMs = :oldMs AND ackSequence = :oldSeq';
  const pinned =
    stored.reportedStatus === undefined
      ? {}
      : { ':oldS': stored.reportedStatus, ':oldMs': stored.reportedAtMs, ':oldSeq': stored.ackSequence };
  return {
    Update: {
      ...update,
      Key: update.Key ?? deviceKey(syncRequestId, r.device.deviceId),
      UpdateExpression: update.UpdateExpression ?? '',
      ConditionExpression: `${ConditionExpression} AND ${unchanged}`,
      ExpressionAttributeValues: { ...ExpressionAttributeValues, ...pinned },
    },
  };
}

/** What a report written over `stored` did: moved the device from none/PENDING to terminal, or not. */
export const reportResultOver = (r: Report, stored: StoredReport): ReportResult =>
  !isTerminalStatus(stored.reportedStatus) && isTerminalStatus(r.device.registrationStatus)
    ? 'transition'
    : 'applied';

/**
 * Stores one device report unless the stored one is newer. 'transition' when this write moved the device
 * from none/PENDING to terminal, which only the winning write can observe (ALL_OLD); 'stale' when older
 * than the stored one; 'unknown' when the request does not hold the device.
 */
export async function storeReport(syncRequestId: string, report: Report): Promise<ReportResult> {
  const out = await ifCondition(db().send(new UpdateCommand(reportUpdate(syncRequestId, report))));
  if (out) {
    return reportResultOver(report, (out.Attributes as DeviceItem | undefined) ?? {});
  }
  // Either older than what is stored, or a device the request does not hold (its set never changes).
  const existing = await db().send(
    new GetCommand({
      TableName: tableName(),
      Key: deviceKey(syncRequestId, report.device.deviceId),
      ProjectionExpression: 'pk',
      ConsistentRead: true,
    }),
  );
  return existing.Item ? 'stale' : 'unknown';
}

/** Records how many UNKNOWN# items an ack has (they are written). */
export const recordUnknownCount = (syncRequestId: string, sk: string, count: number): Promise<boolean> =>
  updated({
    Key: ackKey(syncRequestId, sk),
    UpdateExpression: 'SET unknownCount = :n',
    ExpressionAttributeValues: { ':n': count },
  });

/** Adds the transitions one ack's winning writes made: each counted exactly once. */
export const addTerminal = (syncRequestId: string, transitions: number): Promise<boolean> =>
  updated({
    Key: headerKey(syncRequestId),
    UpdateExpression: 'ADD terminalCount :n',
    ExpressionAttributeValues: { ':n': transitions },
  });

/** Raises terminalCount to `terminal`, never lowering it; false when it was that high already. */
export const raiseTerminalCount = (syncRequestId: string, terminal: number): Promise<boolean> =>
  updated({
    Key: headerKey(syncRequestId),
    UpdateExpression: 'SET terminalCount = :n',
    ConditionExpression: 'terminalCount < :n',
    ExpressionAttributeValues: { ':n': terminal },
  });

/** Every report of this ack is stored: a final ack may now count it among the earlier ones. */
export const markAckApplied = (syncRequestId: string, sk: string, now: Date): Promise<boolean> =>
  updated({
    Key: ackKey(syncRequestId, sk),
    UpdateExpression: 'SET appliedAt = if_not_exists(appliedAt, :now)',
    ExpressionAttributeValues: { ':now': now.toISOString() },
  });

/** Remembers the first final ack's sequence; answers the header as this write left it. */
export async function recordFinalSequence(syncRequestId: string, sequence: number): Promise<HeaderItem> {
  const out = await db().send(
    new UpdateCommand({
      TableName: tableName(),
      Key: headerKey(syncRequestId),
      UpdateExpression: 'SET finalSequence = if_not_exists(finalSequence, :seq)',
      ExpressionAttributeValues: { ':seq': sequence },
      ReturnValues: 'ALL_NEW',
    }),
  );
  return out.Attributes as HeaderItem;
}

// ─── publishing an ack's information ──────────────────────────────────────────────────────────────────

export type InfoPublication = 'published' | 'late';

const PUBLISH_ATTEMPTS = 5;

/**
 * Decides, once per ack, whether its information (errors, unknown devices, non-SUCCESS type) goes into
 * the consolidated ack ('published') or out as a follow-up of its own ('late'). One transaction marks
 * the ack published and bumps the header's infoVersion, only while the header is not frozen; the freeze
 * requires the infoVersion it read before its snapshot, so a published ack is always in its snapshot. A
 * redelivery finds the decision made.
 */
export async function publishAckInfo(syncRequestId: string, sk: string, now: Date): Promise<InfoPublication> {
  for (let attempt = 1; ; attempt++) {
    const decided = await decidedPublication(syncRequestId, sk);
    if (decided) return decided;
    try {
      await db().send(new TransactWriteCommand(publishTransaction(syncRequestId, sk, now)));
      return 'published';
    } catch (error) {
      if (!(error instanceof TransactionCanceledException) || attempt >= PUBLISH_ATTEMPTS) throw error;
    }
    // The header was frozen (then the ack is late) or the transaction met a concurrent one (try again).
    if ((await readHeader(syncRequestId))?.consolidatedAt !== undefined) {
      await updated({
        Key: ackKey(syncRequestId, sk),
        UpdateExpression: 'SET lateInfo = :true',
        ConditionExpression: 'attribute_not_exists(infoPublishedAt)',
        ExpressionAttributeValues: { ':true': true },
      });
    }
  }
}

async function decidedPublication(syncRequestId: string, sk: string): Promise<InfoPublication | undefined> {
  const ack = await readAck(syncRequestId, sk);
  if (ack?.infoPublishedAt !== undefined) return 'published';
  return ack?.lateInfo ? 'late' : undefined;
}

const publishTransaction = (syncRequestId: string, sk: string, now: Date) => ({
  TransactItems: [
    {
      Update: {
        TableName: tableName(),
        Key: ackKey(syncRequestId, sk),
        UpdateExpression: 'SET infoPublishedAt = :now',
        ConditionExpression: 'attribute_not_exists(infoPublishedAt) AND attribute_not_exists(lateInfo)',
        ExpressionAttributeValues: { ':now': now.toISOString() },
      },
    },
    {
      Update: {
        TableName: tableName(),
        Key: headerKey(syncRequestId),
        UpdateExpression: 'ADD infoVersion :one',
        ConditionExpression: WHEN.notFrozen,
        ExpressionAttributeValues: { ':one': 1 },
      },
    },
  ],
});

// ─── freezing, adopting, delivering the consolidated ack ──────────────────────────────────────────────

export interface Freeze {
  readonly by: string;
  readonly at: Date;
  readonly trigger: ConsolidationTrigger;
  readonly summary: AckSummary;
  /** The header's infoVersion read before the snapshot the summary was built from. */
  readonly infoVersion: number;
  /** Where the frozen, undelivered ack waits in the deadline index for a possible adopter. */
  readonly recheckAt: Date;
}

export type FreezeResult = 'frozen' | 'taken' | 'info-changed';

/**
 * Freezes the consolidated ack: one conditional write on the header that only one caller wins. 'taken'
 * when someone froze it first; 'info-changed' when an ack published information after the snapshot was
 * read (build it again).
 */
export async function freezeHeader(syncRequestId: string, freeze: Freeze): Promise<FreezeResult> {
  const sameInfo =
    freeze.infoVersion === 0 ? 'attribute_not_exists(infoVersion) OR infoVersion = :v' : 'infoVersion = :v';
  const frozen = await updated({
    Key: headerKey(syncRequestId),
    UpdateExpression:
      'SET consolidatedAt = :at, consolidatedBy = :by, consolidationTrigger = :t, consolidatedSummary = :s, ' +
      'deliveryState = :retrying, gsi1sk = :recheck',
    ConditionExpression: all(WHEN.recorded, WHEN.notFrozen, `(${sameInfo})`),
    ExpressionAttributeValues: {
      ':at': freeze.at.toISOString(),
      ':by': freeze.by,
      ':t': freeze.trigger,
      ':s': freeze.summary,
      ':v': freeze.infoVersion,
      ':retrying': DELIVERY_STATES.RETRYING,
      ':recheck': freeze.recheckAt.toISOString(),
    },
  });
  if (frozen) return 'frozen';
  return (await readHeader(syncRequestId))?.consolidatedAt !== undefined ? 'taken' : 'info-changed';
}

/**
 * Moves the ownership of a frozen, undelivered, not dead-lettered ack from `from` to `to`, only if no
 * delivery attempt was recorded since it was read (`attemptsSeen`).
 */
export function adoptConsolidation(
  syncRequestId: string,
  adoption: { from: string; to: string; attemptsSeen: number | undefined },
): Promise<boolean> {
  const unchanged =
    adoption.attemptsSeen === undefined
      ? 'attribute_not_exists(deliveryAttempts)'
      : 'deliveryAttempts = :seen';
  return updated({
    Key: headerKey(syncRequestId),
    UpdateExpression: 'SET consolidatedBy = :to',
    ConditionExpression: all(WHEN.ownedBy, WHEN.notDelivered, WHEN.notDeadLettered, unchanged),
    ExpressionAttributeValues: {
      ':to': adoption.to,
      ':by': adoption.from,
      ':deadLettered': DELIVERY_STATES.DEAD_LETTERED,
      ...(adoption.attemptsSeen === undefined ? {} : { ':seen': adoption.attemptsSeen }),
    },
  });
}

/** DACS accepted the consolidated ack: out of the deadline index for good. */
export const recordConsolidatedDelivered = (
  syncRequestId: string,
  owner: string,
  now: Date,
): Promise<boolean> =>
  updated({
    Key: headerKey(syncRequestId),
    UpdateExpression:
      'SET consolidatedDeliveredAt = :now, deliveryState = :delivered ADD deliveryAttempts :one ' +
      'REMOVE deliveryNextAttemptAt, gsi1pk, gsi1sk',
    ConditionExpression: WHEN.ownedBy,
    ExpressionAttributeValues: {
      ':now': now.toISOString(),
      ':by': owner,
      ':delivered': DELIVERY_STATES.DELIVERED,
      ':one': 1,
    },
  });

export interface DeliveryFailure {
  readonly state: Exclude<DeliveryState, 'DELIVERED'>;
  readonly lastError: string;
  /** RETRYING: when the owner tries again, and when the sweep may look at it again (not sooner). */
  readonly nextAttemptAt?: Date | undefined;
  readonly recheckAt?: Date | undefined;
  /** DEAD_LETTERED: when (its place in the refused partition of the `byDeadline` index). @default now */
  readonly at?: Date | undefined;
}

/**
 * Records a failed send of the consolidated ack by its owner. RETRYING keeps it in the deadline index, no
 * sooner than `recheckAt`; DEAD_LETTERED moves it to the index's refused partition, out of the sweep's
 * reach: only support's resubmit ({@link markConsolidatedResubmitted}) or a redrive of its owner sends it again.
 */
export function recordConsolidatedFailure(
  syncRequestId: string,
  owner: string,
  failure: DeliveryFailure,
): Promise<boolean> {
  const common = 'SET deliveryState = :state, deliveryLastError = :error';
  const values: Record<string, unknown> = {
    ':by': owner,
    ':state': failure.state,
    ':error': failure.lastError,
    ':one': 1,
  };
  let expression: string;
  if (failure.state === DELIVERY_STATES.RETRYING) {
    values[':pending'] = PENDING_CONSOLIDATION;
    values[':recheck'] = (failure.recheckAt ?? failure.nextAttemptAt ?? new Date()).toISOString();
    expression = `${common}, gsi1pk = :pending, gsi1sk = :recheck`;
    if (failure.nextAttemptAt) {
      values[':next'] = failure.nextAttemptAt.toISOString();
      expression += ', deliveryNextAttemptAt = :next ADD deliveryAttempts :one';
    } else {
      expression += ' ADD deliveryAttempts :one REMOVE deliveryNextAttemptAt';
    }
  } else {
    // Out of the sweep's partition, into the refused one: support lists it there and can resubmit it.
    values[':refused'] = REFUSED_CONSOLIDATION;
    values[':at'] = (failure.at ?? new Date()).toISOString();
    expression = `${common}, gsi1pk = :refused, gsi1sk = :at ADD deliveryAttempts :one REMOVE deliveryNextAttemptAt`;
  }
  return updated({
    Key: headerKey(syncRequestId),
    UpdateExpression: expression,
    ConditionExpression: all(WHEN.ownedBy, WHEN.notDelivered),
    ExpressionAttributeValues: values,
  });
}

// ─── the deadline index ───────────────────────────────────────────────────────────────────────────────

/** Sync requests due in the deadline index (past their deadline, refused, or frozen and unsent), oldest first. */
export async function findOverdue(now: Date, limit = 100): Promise<string[]> {
  const items = await queryAll(
    {
      IndexName: CORRELATION_TABLE.indexes[0].name,
      KeyConditionExpression: 'gsi1pk = :p AND gsi1sk <= :now',
      ExpressionAttributeValues: { ':p': PENDING_CONSOLIDATION, ':now': now.toISOString() },
    },
    limit,
  );
  return items.map((item) => syncRequestIdOf(item.pk as string));
}

/**
 * Claims an overdue sync request for one deadline command: moves its place in the deadline index to
 * `now + requeueAfterSeconds`, only if it is still in the index, overdue, undelivered, not dead-lettered,
 * and no `Retry-After` of DACS is still running.
 */
export const claimOverdue = (
  syncRequestId: string,
  now: Date,
  requeueAfterSeconds: number,
): Promise<boolean> =>
  updated({
    Key: headerKey(syncRequestId),
    UpdateExpression: 'SET gsi1sk = :next, deadlineQueuedAt = :now',
    ConditionExpression: all(
      WHEN.inDeadlineIndex,
      WHEN.overdue,
      WHEN.notDelivered,
      WHEN.notDeadLettered,
      WHEN.retryDue,
    ),
    ExpressionAttributeValues: {
      ':pending': PENDING_CONSOLIDATION,
      ':now': now.toISOString(),
      ':deadLettered': DELIVERY_STATES.DEAD_LETTERED,
      ':next': new Date(now.getTime() + requeueAfterSeconds * 1000).toISOString(),
    },
  });

// ─── support: refused consolidated acks and their resubmit ────────────────────────────────────────────

export interface ConsolidatedResubmit {
  /** The deadline command that will own and send it. */
  readonly owner: string;
  readonly by: string;
  readonly at: Date;
  /** The header's resubmissions read before (none: undefined): of two resubmits, one wins. */
  readonly seen: number | undefined;
  /** Where it waits in the deadline index in case the owner's command never runs. */
  readonly recheckAt: Date;
}

/**
 * Support's resubmit of a DEAD_LETTERED consolidated ack: DEAD_LETTERED → RETRYING under a condition
 * (still dead-lettered, undelivered, resubmissions as read), owned by a new deadline command, due now, and
 * back in the sweep's partition of the deadline index at `recheckAt` (the sweep adopts it if the command
 * is lost). The frozen body is not touched. Answers the header after the write, or `undefined` when the
 * condition did not hold.
 */
export async function markConsolidatedResubmitted(
  syncRequestId: string,
  resubmit: ConsolidatedResubmit,
): Promise<HeaderItem | undefined> {
  const seen = resubmit.seen === undefined ? 'attribute_not_exists(resubmissions)' : 'resubmissions = :seen';
  const out = await ifCondition(
    db().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: headerKey(syncRequestId),
        UpdateExpression:
          'SET deliveryState = :retrying, consolidatedBy = :owner, deliveryNextAttemptAt = :at, ' +
          'resubmittedAt = :at, resubmittedBy = :by, gsi1pk = :pending, gsi1sk = :recheck ADD resubmissions :one',
        ConditionExpression: all(WHEN.recorded, 'deliveryState = :deadLettered', WHEN.notDelivered, seen),
        ExpressionAttributeValues: {
          ':retrying': DELIVERY_STATES.RETRYING,
          ':deadLettered': DELIVERY_STATES.DEAD_LETTERED,
          ':owner': resubmit.owner,
          ':by': resubmit.by,
          ':at': resubmit.at.toISOString(),
          ':pending': PENDING_CONSOLIDATION,
          ':recheck': resubmit.recheckAt.toISOString(),
          ':one': 1,
          ...(resubmit.seen === undefined ? {} : { ':seen': resubmit.seen }),
        },
        ReturnValues: 'ALL_NEW',
      }),
    ),
  );
  return out?.Attributes as HeaderItem | undefined;
}

export interface RefusedQuery {
  readonly from: Date;
  readonly to: Date;
  readonly limit: number;
}

/**
 * Headers whose consolidated ack is DEAD_LETTERED now, dead-lettered between `from` and `to`, newest
 * first: one Query of the refused partition of the `byDeadline` index, never a scan.
 */
export async function findRefusedConsolidated(query: RefusedQuery): Promise<HeaderItem[]> {
  const out = await db().send(
    new QueryCommand({
      TableName: tableName(),
      IndexName: CORRELATION_TABLE.indexes[0].name,
      KeyConditionExpression: 'gsi1pk = :p AND gsi1sk BETWEEN :from AND :to',
      ExpressionAttributeValues: {
        ':p': REFUSED_CONSOLIDATION,
        ':from': query.from.toISOString(),
        ':to': query.to.toISOString(),
      },
      ScanIndexForward: false,
      Limit: query.limit,
    }),
  );
  return (out.Items ?? []) as HeaderItem[];
}

// ─── follow-ups ───────────────────────────────────────────────────────────────────────────────────────

export interface LeaseClaim {
  readonly by: string;
  readonly flag: HeadEndFlag;
  readonly message: string;
  readonly now: Date;
  readonly until: Date;
  /** The report the claim was decided on. */
  readonly reportedAtMs: number;
  readonly ackSequence: number;
  /** The followUpSeq read with it (none yet: undefined). */
  readonly seenSeq: number | undefined;
  /** The number in the follow-up's key (a takeover keeps its dead holder's). @default the new seq */
  readonly keySeq?: number;
}

/**
 * Takes a device's follow-up lease for `flag`: only if the report and the follow-up state are what was
 * read, and no lease is held (or the one held has expired). Returns the follow-up's sequence, or
 * `undefined` when someone else decided first.
 */
export async function takeFollowUpLease(
  syncRequestId: string,
  deviceId: string,
  claim: LeaseClaim,
): Promise<number | undefined> {
  const seen = claim.seenSeq === undefined ? 'attribute_not_exists(followUpSeq)' : 'followUpSeq = :seen';
  const out = await ifCondition(
    db().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: deviceKey(syncRequestId, deviceId),
        UpdateExpression:
          'SET leaseBy = :by, leaseFlag = :f, leaseMessage = :m, leaseUntil = :until, leaseKey = :key ' +
          'ADD followUpSeq :one',
        ConditionExpression: all(WHEN.sameReport, seen, WHEN.leaseFree),
        ExpressionAttributeValues: {
          ':by': claim.by,
          ':f': claim.flag,
          ':m': claim.message,
          ':until': claim.until.toISOString(),
          ':now': claim.now.toISOString(),
          ':one': 1,
          ':key': claim.keySeq ?? (claim.seenSeq ?? 0) + 1,
          ':ms': claim.reportedAtMs,
          ':ackSeq': claim.ackSequence,
          ...(claim.seenSeq === undefined ? {} : { ':seen': claim.seenSeq }),
        },
        ReturnValues: 'UPDATED_NEW',
      }),
    ),
  );
  return out ? Number(out.Attributes?.followUpSeq ?? 1) : undefined;
}

/** Extends the holder's lease to `until` (a renewal before sending, or past a Retry-After). */
export const renewFollowUpLease = (
  syncRequestId: string,
  deviceId: string,
  lease: { by: string; seq: number; until: Date },
): Promise<boolean> =>
  updated({
    Key: deviceKey(syncRequestId, deviceId),
    UpdateExpression: 'SET leaseUntil = :until',
    ConditionExpression: all(WHEN.leaseHeld, WHEN.sameFollowUp),
    ExpressionAttributeValues: { ':until': lease.until.toISOString(), ':by': lease.by, ':seq': lease.seq },
  });

/** DACS accepted the follow-up: it is what DACS was told, and the lease is released. */
export const recordFollowUpTold = (
  syncRequestId: string,
  deviceId: string,
  lease: { by: string; seq: number; flag: HeadEndFlag; now: Date },
): Promise<boolean> =>
  updated({
    Key: deviceKey(syncRequestId, deviceId),
    UpdateExpression:
      'SET toldFlag = :f, toldAt = :now REMOVE leaseBy, leaseFlag, leaseMessage, leaseUntil, leaseKey',
    ConditionExpression: all(WHEN.leaseHeld, WHEN.sameFollowUp),
    ExpressionAttributeValues: {
      ':f': lease.flag,
      ':now': lease.now.toISOString(),
      ':by': lease.by,
      ':seq': lease.seq,
    },
  });

/** DACS refused the follow-up for good: the lease is released and what DACS was told stays as it was. */
export const recordFollowUpRefused = (
  syncRequestId: string,
  deviceId: string,
  refusal: { by: string; seq: number; flag: HeadEndFlag; report: string; error: string },
): Promise<boolean> =>
  updated({
    Key: deviceKey(syncRequestId, deviceId),
    UpdateExpression:
      'SET refusedFlag = :f, refusedBy = :by, refusedReport = :report, refusedError = :error ' +
      'REMOVE leaseBy, leaseFlag, leaseMessage, leaseUntil, leaseKey',
    ConditionExpression: all(WHEN.leaseHeld, WHEN.sameFollowUp),
    ExpressionAttributeValues: {
      ':f': refusal.flag,
      ':by': refusal.by,
      ':seq': refusal.seq,
      ':report': refusal.report,
      ':error': refusal.error,
    },
  });

/** {@link putSentLineOnce}'s write, for a transaction of lines. */
export const sentLineTransactItem = (line: SentItem): TransactItem => ({
  Put: { TableName: tableName(), Item: line, ConditionExpression: WHEN.absent },
});

/**
 * Writes a device's line of the consolidated ack unless one is there: the first sender's line is what
 * every send carries (two senders at once, an owner and an adopter, may have read the devices at
 * different times). True when this call wrote it.
 */
export const putSentLineOnce = async (line: SentItem): Promise<boolean> =>
  (await ifCondition(
    db().send(new PutCommand({ TableName: tableName(), Item: line, ConditionExpression: WHEN.absent })),
  )) !== undefined;

/** Records a follow-up DACS accepted, with its body, for the support view. */
export const putFollowUp = async (item: FollowUpItem): Promise<void> => {
  await db().send(new PutCommand({ TableName: tableName(), Item: item }));
};

/** Takes the lease on an ack's late-information follow-up: not sent yet, not refused, no live lease. */
export const takeLateInfoLease = (
  syncRequestId: string,
  sk: string,
  lease: { by: string; now: Date; until: Date },
): Promise<boolean> =>
  updated({
    Key: ackKey(syncRequestId, sk),
    UpdateExpression: 'SET leaseBy = :by, leaseUntil = :until REMOVE lateInfoRefusedAt',
    ConditionExpression: all(
      'lateInfo = :true',
      'attribute_not_exists(lateInfoSentAt)',
      '(attribute_not_exists(leaseBy) OR leaseUntil <= :now OR leaseBy = :by)',
    ),
    ExpressionAttributeValues: {
      ':by': lease.by,
      ':now': lease.now.toISOString(),
      ':until': lease.until.toISOString(),
      ':true': true,
    },
  });

/** Extends the lease on an ack's late-information follow-up (past a Retry-After). */
export const renewLateInfoLease = (
  syncRequestId: string,
  sk: string,
  lease: { by: string; until: Date },
): Promise<boolean> =>
  updated({
    Key: ackKey(syncRequestId, sk),
    UpdateExpression: 'SET leaseUntil = :until',
    ConditionExpression: WHEN.leaseHeld,
    ExpressionAttributeValues: { ':until': lease.until.toISOString(), ':by': lease.by },
  });

/** The late-information follow-up was accepted (`sentAt`) or refused for good (`refusedError`); lease released. */
export const recordLateInfoOutcome = (
  syncRequestId: string,
  sk: string,
  outcome: { by: string; now: Date; refusedError?: string },
): Promise<boolean> =>
  updated({
    Key: ackKey(syncRequestId, sk),
    UpdateExpression:
      outcome.refusedError === undefined
        ? 'SET lateInfoSentAt = :now REMOVE leaseBy, leaseUntil'
        : 'SET lateInfoRefusedAt = :now, lateInfoRefusedError = :error REMOVE leaseBy, leaseUntil',
    ConditionExpression: WHEN.leaseHeld,
    ExpressionAttributeValues: {
      ':now': outcome.now.toISOString(),
      ':by': outcome.by,
      ...(outcome.refusedError === undefined ? {} : { ':error': outcome.refusedError }),
    },
  });
