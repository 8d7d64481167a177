/**
 * Bounded parallelism and DynamoDB batch calls (25 puts, 100 gets per request) with retries of what
 * DynamoDB leaves unprocessed, and conditional writes in transactions of 100 with a per-item fallback.
 * No decisions are made here.
 */
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, BatchWriteCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { documentClientFor } from '#shared/aws/clients.ts';
import { sleep } from '#shared/time.ts';
import { UnprocessedItemsError } from './errors.ts';
import { type Key, tableName } from './items.ts';

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

const backoff = (attempt: number) => Math.min(2000, 25 * 2 ** attempt) * (0.5 + Math.random() / 2);

/** BatchWrite tuning: 25 puts per request (the DynamoDB maximum), this many requests in flight. */
export const BATCH_WRITE_PARALLELISM = 16;
const BATCH_ATTEMPTS = 10;

/**
 * Calls `send` with `pending` until nothing is left unprocessed, backing off between calls.
 * @throws UnprocessedItemsError after {@link BATCH_ATTEMPTS} calls.
 */
async function untilProcessed<T>(
  syncRequestId: string,
  what: string,
  first: T[],
  send: (pending: T[]) => Promise<T[]>,
): Promise<void> {
  let pending = first;
  for (let attempt = 0; pending.length > 0; attempt++) {
    if (attempt >= BATCH_ATTEMPTS) {
      throw new UnprocessedItemsError(
        `${pending.length} ${what} stayed unprocessed after ${attempt} attempts`,
        {
          syncRequestId,
          remaining: pending.length,
        },
      );
    }
    if (attempt > 0) await sleep(backoff(attempt));
    pending = await send(pending);
  }
}

/** Puts every item, 25 per BatchWriteItem, retrying unprocessed items with jittered back-off. */
export async function putAll(syncRequestId: string, items: readonly object[]): Promise<void> {
  const client = documentClientFor();
  await mapLimit(chunk(items, 25), BATCH_WRITE_PARALLELISM, (batch) =>
    untilProcessed(
      syncRequestId,
      'items',
      batch.map((Item) => ({ PutRequest: { Item: Item as Record<string, unknown> } })),
      async (requests) => {
        const out = await client.send(new BatchWriteCommand({ RequestItems: { [tableName()]: requests } }));
        return (out.UnprocessedItems?.[tableName()] ?? []) as typeof requests;
      },
    ),
  );
}

/**
 * Consistent reads of the given keys, 100 per BatchGetItem, retrying unprocessed keys; only the
 * `projection` attributes when given (names without expression syntax).
 */
export async function getAll(
  syncRequestId: string,
  keys: readonly Key[],
  projection?: string,
): Promise<Record<string, unknown>[]> {
  const client = documentClientFor();
  const found: Record<string, unknown>[] = [];
  await mapLimit(chunk(keys, 100), BATCH_WRITE_PARALLELISM, (batch) =>
    untilProcessed(syncRequestId, 'keys', batch as unknown as Record<string, unknown>[], async (pending) => {
      const out = await client.send(
        new BatchGetCommand({
          RequestItems: {
            [tableName()]: {
              Keys: pending,
              ConsistentRead: true,
              ...(projection ? { ProjectionExpression: projection } : {}),
            },
          },
        }),
      );
      found.push(...(out.Responses?.[tableName()] ?? []));
      return out.UnprocessedKeys?.[tableName()]?.Keys ?? [];
    }),
  );
  return found;
}

/** One conditional write of a transaction (lib-dynamodb's shape: plain values). */
export type TransactItem = NonNullable<
  ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']
>[number];

/** TransactWriteItems tuning: 100 writes per request (the DynamoDB maximum), this many requests in flight. */
export const TRANSACT_SIZE = 100;
export const TRANSACT_PARALLELISM = 8;
/** Single writes in flight for a cancelled transaction's items. */
const ALONE_PARALLELISM = 16;

export interface TransactPlan<T, R> {
  /** The conditional write of `item`. Items must name distinct keys. */
  readonly write: (item: T) => TransactItem;
  /** What a write that went through in a transaction means for `item` (its condition held). */
  readonly done: (item: T) => R;
  /** The write of `item` on its own, when its transaction was cancelled. */
  readonly alone: (item: T) => Promise<R>;
}

/**
 * Conditional writes, 100 per TransactWriteItems (all or nothing), at most {@link TRANSACT_PARALLELISM}
 * in flight; results in input order. DynamoDB cancels a transaction when one of its conditions fails or a
 * concurrent write meets one of its items; then none of it was written, and each of its items is written
 * on its own (`plan.alone`), where its condition decides for it alone. So the outcome is the same as one
 * conditional write per item, at a hundredth of the requests when nothing contends.
 */
export async function transactAll<T, R>(items: readonly T[], plan: TransactPlan<T, R>): Promise<R[]> {
  const client = documentClientFor();
  const chunks = await mapLimit(chunk(items, TRANSACT_SIZE), TRANSACT_PARALLELISM, async (part) => {
    try {
      await client.send(new TransactWriteCommand({ TransactItems: part.map(plan.write) }));
      return part.map(plan.done);
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      return mapLimit(part, ALONE_PARALLELISM, plan.alone);
    }
  });
  return chunks.flat();
}
