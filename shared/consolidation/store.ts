/**
 * The correlation record in DynamoDB: keys, item shapes and the batch/paging helpers. Decisions are not
 * made here; `service.ts` makes them with conditional writes.
 *
 * One partition per sync request (`pk = SYNC#<syncRequestId>`):
 *
 *   sk = HEADER                    request summary, deviceCount, terminalCount, deadline,
 *                                  gsi1pk/gsi1sk (until frozen), and once frozen: consolidatedAt/By,
 *                                  consolidationTrigger, consolidatedSummary, consolidatedDeliveredAt
 *   sk = DEVICE#<deviceId>         index (request order), expected, reported status + version
 *                                  (reportedAtMs, ackSequence), lastSentFlag/followUpSeq of follow-ups
 *   sk = ACK#<ackDateTime>#<seq>   each ack received: type, final, errors, unknown devices
 *   sk = SENT#<deviceId>           the device's line of the consolidated ack, written by the freezer
 *   sk = FOLLOWUP#<deviceId>#<n>   each follow-up sent, with its body
 *
 * Why SENT# items rather than the body on the header: a consolidated ack of 10,000 devices is 0.7 MB
 * with short messages and up to 20 MB with DERMS' messages, far over the 400 KB item limit. The header
 * keeps the bounded part (hasError inputs, exceptionInfo capped at MAX_EXCEPTIONS); each device line is
 * its own small item, batch-written (25 per request), and the body is reassembled in request order.
 */
import { BatchGetCommand, BatchWriteCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { documentClientFor } from '#shared/aws/clients.ts';
import { optionalNumber, requireString } from '#shared/config/env.ts';
import { CORRELATION_TABLE, DEFAULT_RETENTION_DAYS, RETENTION_DAYS_ENV } from '#shared/store/tables.ts';
import type { AckSummary, UnknownDevice } from './ack.ts';
import { UnprocessedItemsError } from './errors.ts';
import type {
  AckError,
  AckType,
  ConsolidationTrigger,
  DacsAcknowledgement,
  HeadEndFlag,
  RegistrationAction,
  RegistrationStatus,
} from './types.ts';

export const SK = {
  HEADER: 'HEADER',
  DEVICE: 'DEVICE#',
  ACK: 'ACK#',
  SENT: 'SENT#',
  FOLLOWUP: 'FOLLOWUP#',
} as const;

export const pkOf = (syncRequestId: string): string => `SYNC#${syncRequestId}`;
export const syncRequestIdOf = (pk: string): string => pk.slice('SYNC#'.length);
export const deviceKey = (syncRequestId: string, deviceId: string) => ({
  pk: pkOf(syncRequestId),
  sk: `${SK.DEVICE}${deviceId}`,
});
export const sentKey = (syncRequestId: string, deviceId: string) => ({
  pk: pkOf(syncRequestId),
  sk: `${SK.SENT}${deviceId}`,
});
export const headerKey = (syncRequestId: string) => ({ pk: pkOf(syncRequestId), sk: SK.HEADER });
export const ackSk = (ackDateTime: string, sequence: number): string => `${SK.ACK}${ackDateTime}#${sequence}`;
export const followUpSk = (deviceId: string, seq: number): string =>
  `${SK.FOLLOWUP}${deviceId}#${String(seq).padStart(6, '0')}`;

interface Keys {
  pk: string;
  sk: string;
  expiresAt: number;
}

export interface HeaderItem extends Keys {
  syncRequestId: string;
  reason: string;
  sentDateTime: string;
  messageId: string;
  receivedAt: string;
  deadline: string;
  deviceCount: number;
  terminalCount: number;
  gsi1pk?: string;
  gsi1sk?: string;
  consolidatedAt?: string;
  consolidatedBy?: string;
  consolidationTrigger?: ConsolidationTrigger;
  consolidatedSummary?: AckSummary;
  consolidatedDeliveredAt?: string;
  /** Sequence of the first final ack received; consolidation waits for the acks before it. */
  finalSequence?: number;
}

export interface DeviceItem extends Keys {
  deviceId: string;
  index: number;
  expected: RegistrationAction;
  headEndSystem: string;
  nicId: string;
  reportedStatus?: RegistrationStatus;
  reportedMessage?: string;
  reportedAt?: string;
  reportedAtMs?: number;
  ackSequence?: number;
  reportedBy?: string;
  lastSentFlag?: HeadEndFlag;
  lastSentMessage?: string;
  lastSentBy?: string;
  lastSentAt?: string;
  lastSentDeliveredAt?: string;
  followUpSeq?: number;
}

export interface AckItem extends Keys {
  messageId: string;
  receivedAt: string;
  sequence: number;
  ackDateTime: string;
  ackAtMs: number;
  ackType: AckType;
  final: boolean;
  deviceCount: number;
  errors?: AckError[];
  unknownDevices?: UnknownDevice[];
  /** Set once every report of this ack is stored. */
  appliedAt?: string;
}

export interface SentItem extends Keys {
  deviceId: string;
  index: number;
  flag: HeadEndFlag;
  message: string;
  isError: boolean;
}

export interface FollowUpItem extends Keys {
  deviceId: string;
  seq: number;
  flag: HeadEndFlag;
  sentAt: string;
  acknowledgement: DacsAcknowledgement;
}

/** Every item of one partition, split by kind; devices in request order. */
export interface Partition {
  header?: HeaderItem;
  devices: DeviceItem[];
  acks: AckItem[];
  sent: Map<string, SentItem>;
  followUps: FollowUpItem[];
}

let table: string | undefined;
/** The correlation table name, read once (lazily, so tests can set the environment first). */
export function tableName(): string {
  table ??= requireString(CORRELATION_TABLE.nameEnv);
  return table;
}

/** TTL attribute value: `from` plus RETENTION_DAYS, in epoch seconds. */
export function expiresAt(from: Date): number {
  const days = optionalNumber(RETENTION_DAYS_ENV, DEFAULT_RETENTION_DAYS);
  return Math.floor(from.getTime() / 1000) + Math.round(days * 86_400);
}

/** Runs `fn` over `items` with at most `limit` in flight; results in input order. Rejects on the first failure. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i] as T);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export const chunk = <T>(items: readonly T[], size: number): T[][] =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, i * size + size));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const backoff = (attempt: number) => Math.min(2000, 25 * 2 ** attempt) * (0.5 + Math.random() / 2);

/** BatchWrite tuning: 25 puts per request (the DynamoDB maximum), this many requests in flight. */
export const BATCH_WRITE_PARALLELISM = 16;
const BATCH_ATTEMPTS = 10;

/** Puts every item, 25 per BatchWriteItem, retrying unprocessed items with jittered back-off. */
export async function putAll(
  syncRequestId: string,
  items: readonly Record<string, unknown>[],
): Promise<void> {
  const client = documentClientFor();
  await mapLimit(chunk(items, 25), BATCH_WRITE_PARALLELISM, async (batch) => {
    let requests = batch.map((Item) => ({ PutRequest: { Item } }));
    for (let attempt = 0; requests.length > 0; attempt++) {
      if (attempt >= BATCH_ATTEMPTS) {
        throw new UnprocessedItemsError(
          `${requests.length} items stayed unprocessed after ${attempt} attempts`,
          {
            syncRequestId,
            remaining: requests.length,
          },
        );
      }
      if (attempt > 0) await sleep(backoff(attempt));
      const out = await client.send(new BatchWriteCommand({ RequestItems: { [tableName()]: requests } }));
      requests = (out.UnprocessedItems?.[tableName()] ?? []) as typeof requests;
    }
  });
}

/** Consistent reads of the given keys, 100 per BatchGetItem, retrying unprocessed keys. */
export async function getAll(
  syncRequestId: string,
  keys: readonly { pk: string; sk: string }[],
): Promise<Record<string, unknown>[]> {
  const client = documentClientFor();
  const pages = await mapLimit(chunk(keys, 100), BATCH_WRITE_PARALLELISM, async (batch) => {
    const found: Record<string, unknown>[] = [];
    let pending: Record<string, unknown>[] = batch;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt >= BATCH_ATTEMPTS) {
        throw new UnprocessedItemsError(
          `${pending.length} keys stayed unprocessed after ${attempt} attempts`,
          {
            syncRequestId,
            remaining: pending.length,
          },
        );
      }
      if (attempt > 0) await sleep(backoff(attempt));
      const out = await client.send(
        new BatchGetCommand({ RequestItems: { [tableName()]: { Keys: pending, ConsistentRead: true } } }),
      );
      found.push(...(out.Responses?.[tableName()] ?? []));
      pending = out.UnprocessedKeys?.[tableName()]?.Keys ?? [];
    }
    return found;
  });
  return pages.flat();
}

/** Every item of a sync request, read consistently and paged. */
export async function readPartition(syncRequestId: string): Promise<Partition> {
  const client = documentClientFor();
  const partition: Partition = { devices: [], acks: [], sent: new Map(), followUps: [] };
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const out = await client.send(
      new QueryCommand({
        TableName: tableName(),
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': pkOf(syncRequestId) },
        ConsistentRead: true,
        ExclusiveStartKey,
      }),
    );
    for (const item of out.Items ?? []) {
      const sk = item.sk as string;
      if (sk === SK.HEADER) partition.header = item as HeaderItem;
      else if (sk.startsWith(SK.DEVICE)) partition.devices.push(item as DeviceItem);
      else if (sk.startsWith(SK.ACK)) partition.acks.push(item as AckItem);
      else if (sk.startsWith(SK.SENT)) partition.sent.set((item as SentItem).deviceId, item as SentItem);
      else if (sk.startsWith(SK.FOLLOWUP)) partition.followUps.push(item as FollowUpItem);
    }
    ExclusiveStartKey = out.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  partition.devices.sort((a, b) => a.index - b.index);
  return partition;
}
