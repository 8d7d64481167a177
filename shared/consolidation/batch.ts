/**
 * Bounded parallelism and DynamoDB batch calls (25 puts, 100 gets per request) with retries of what
 * DynamoDB leaves unprocessed. No decisions are made here.
 */
import { BatchGetCommand, BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
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
