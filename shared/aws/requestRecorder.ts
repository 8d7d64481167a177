/**
 * Counts the AWS requests a process makes, per service and operation, with DynamoDB's consumed
 * capacity: a middleware attached to the shared clients ({@link recordRequests}) for tests and the
 * bench. Production code never attaches it, so it changes nothing there. While attached, it asks
 * DynamoDB for `ReturnConsumedCapacity: TOTAL` (unless the caller asked for more); a request that fails
 * (a condition that did not hold, a cancelled transaction) returns no capacity, so its units are
 * estimated the way DynamoDB bills them: one per item written (two in a transaction), half a unit per
 * item read. A transaction is billed at least two units per item; DynamoDB Local reports less (two for a
 * whole transaction of 30 items), so a transaction counts the larger of the two.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { dynamoClient, s3Client, sqsClient } from '#shared/aws/clients.ts';

export interface RecordedRequest {
  /** `DynamoDB`, `SQS`, `S3`. */
  readonly service: string;
  /** The API operation, e.g. `BatchWriteItem`, `SendMessage`. */
  readonly operation: string;
  /** DynamoDB read and write capacity units consumed (0 for other services). */
  readonly readUnits: number;
  readonly writeUnits: number;
  /** The units were estimated (the request failed, or DynamoDB returned none). */
  readonly estimated: boolean;
  /** The error's name when the request failed. */
  readonly error?: string;
}

export interface RequestCounts {
  readonly requests: number;
  readonly readRequests: number;
  readonly writeRequests: number;
  readonly readUnits: number;
  readonly writeUnits: number;
  /** Requests per `service:operation`. */
  readonly byOperation: Readonly<Record<string, number>>;
}

export interface RequestRecorder {
  readonly requests: readonly RecordedRequest[];
  /** Totals of what was recorded since the last {@link RequestRecorder.reset}. */
  counts(): RequestCounts;
  reset(): void;
  /** Takes the middleware off the clients. */
  stop(): void;
}

/** Each recorder's middleware has a name of its own, so that several may record, and stop, apart. */
let recorders = 0;

/** DynamoDB operations that write (every other DynamoDB operation reads, or describes). */
export const DYNAMODB_WRITES: ReadonlySet<string> = new Set([
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'BatchWriteItem',
  'TransactWriteItems',
  'ExecuteStatement',
  'BatchExecuteStatement',
  'ExecuteTransaction',
]);
const DYNAMODB_READS: ReadonlySet<string> = new Set([
  'GetItem',
  'BatchGetItem',
  'Query',
  'Scan',
  'TransactGetItems',
]);
const CAPACITY_OPERATIONS = new Set([...DYNAMODB_WRITES, ...DYNAMODB_READS]);

interface Capacity {
  CapacityUnits?: number;
  ReadCapacityUnits?: number;
  WriteCapacityUnits?: number;
}

/** The operation a command runs: its smithy context when the SDK gives one, else its command's name. */
function operationOf(context: Record<string | symbol, unknown>): string {
  const smithy = context.__smithy_context as { operation?: string } | undefined;
  if (smithy?.operation) return smithy.operation;
  return String(context.commandName ?? 'Unknown').replace(/Command$/, '');
}

const serviceOf = (clientName: unknown): string => {
  const name = String(clientName ?? '');
  if (name.startsWith('DynamoDB')) return 'DynamoDB';
  return name.replace(/Client$/, '');
};

/** How many items a DynamoDB request names (for estimates when it returns no capacity). */
function itemsOf(operation: string, input: Record<string, unknown>): number {
  const requestItems = input.RequestItems as Record<string, unknown> | undefined;
  if (operation === 'BatchWriteItem' && requestItems)
    return Object.values(requestItems).reduce<number>((n, list) => n + (list as unknown[]).length, 0);
  if (operation === 'BatchGetItem' && requestItems)
    return Object.values(requestItems).reduce<number>(
      (n, table) => n + ((table as { Keys?: unknown[] }).Keys?.length ?? 0),
      0,
    );
  if (operation.startsWith('Transact')) return (input.TransactItems as unknown[] | undefined)?.length ?? 1;
  return 1;
}

/** The units DynamoDB reported, split into read and write by the operation's kind. */
function reportedUnits(operation: string, consumed: Capacity | Capacity[] | undefined) {
  if (consumed === undefined) return undefined;
  const list = Array.isArray(consumed) ? consumed : [consumed];
  if (list.length === 0) return undefined;
  const write = DYNAMODB_WRITES.has(operation);
  let readUnits = 0;
  let writeUnits = 0;
  for (const c of list) {
    const total = c.CapacityUnits ?? 0;
    readUnits += c.ReadCapacityUnits ?? (write ? 0 : total);
    writeUnits += c.WriteCapacityUnits ?? (write ? total : 0);
  }
  return { readUnits, writeUnits };
}

/** What DynamoDB bills an item under 1 KB: a write unit each (two in a transaction), half a read unit (strongly consistent: one). */
function estimatedUnits(operation: string, input: Record<string, unknown>) {
  const items = itemsOf(operation, input);
  const transactional = operation.startsWith('Transact') ? 2 : 1;
  if (DYNAMODB_WRITES.has(operation)) return { readUnits: 0, writeUnits: items * transactional };
  return { readUnits: transactional === 2 ? items * 2 : items * 0.5, writeUnits: 0 };
}

/** A transaction's reported units, raised to the floor DynamoDB bills (two units an item); others as reported. */
function atLeastBilled(
  operation: string,
  input: Record<string, unknown>,
  reported: { readUnits: number; writeUnits: number } | undefined,
) {
  if (!operation.startsWith('Transact') || reported === undefined) return reported;
  const floor = estimatedUnits(operation, input);
  return {
    readUnits: Math.max(reported.readUnits, floor.readUnits),
    writeUnits: Math.max(reported.writeUnits, floor.writeUnits),
  };
}

type AnyClient = DynamoDBClient | SQSClient | S3Client;

/**
 * Attaches a recorder to `clients` (the process's shared DynamoDB, SQS and S3 clients by default). Call
 * `stop()` when done; until then every request through those clients is recorded.
 */
export function recordRequests(clients?: readonly AnyClient[]): RequestRecorder {
  const requests: RecordedRequest[] = [];
  const name = `requestRecorder${++recorders}`;
  const attached: AnyClient[] = [];
  const attach = (client: AnyClient) => {
    (client.middlewareStack as unknown as MiddlewareStack).add(recordingMiddleware(requests), {
      step: 'initialize',
      name,
      override: true,
    });
    attached.push(client);
  };
  for (const client of clients ?? [dynamoClient(), sqsClient()]) attach(client);
  // The S3 client is made on first use: attached as soon as it exists, before any claim check can use it
  // (this callback is registered first, so it runs before the caller's await resumes).
  if (!clients) void s3Client().then(attach);
  return {
    requests,
    counts: () => countRequests(requests),
    reset: () => {
      requests.length = 0;
    },
    stop: () => {
      for (const client of attached) (client.middlewareStack as unknown as MiddlewareStack).remove(name);
    },
  };
}

/** The one signature of the clients' middleware stacks used here (their own union has no common one). */
interface MiddlewareStack {
  add(
    middleware: ReturnType<typeof recordingMiddleware>,
    options: { step: 'initialize'; name: string; override: boolean },
  ): void;
  remove(name: string): boolean;
}

type Handler = (args: { input: Record<string, unknown> }) => Promise<{ output: Record<string, unknown> }>;

function recordingMiddleware(requests: RecordedRequest[]) {
  return (next: Handler, context: Record<string | symbol, unknown>): Handler =>
    async (args) => {
      const service = serviceOf(context.clientName);
      const operation = operationOf(context);
      const dynamo = service === 'DynamoDB' && CAPACITY_OPERATIONS.has(operation);
      const input =
        dynamo && args.input.ReturnConsumedCapacity === undefined
          ? { ...args.input, ReturnConsumedCapacity: 'TOTAL' }
          : args.input;
      try {
        const result = await next({ ...args, input });
        const reported = dynamo
          ? atLeastBilled(
              operation,
              input,
              reportedUnits(operation, result.output.ConsumedCapacity as Capacity | Capacity[] | undefined),
            )
          : undefined;
        const units =
          reported ?? (dynamo ? estimatedUnits(operation, input) : { readUnits: 0, writeUnits: 0 });
        requests.push({ service, operation, ...units, estimated: dynamo && reported === undefined });
        return result;
      } catch (error) {
        const units = dynamo ? estimatedUnits(operation, input) : { readUnits: 0, writeUnits: 0 };
        const name = error instanceof Error ? error.name : 'Error';
        requests.push({ service, operation, ...units, estimated: dynamo, error: name });
        throw error;
      }
    };
}

/** Totals of `requests`. */
export function countRequests(requests: readonly RecordedRequest[]): RequestCounts {
  const byOperation: Record<string, number> = {};
  let readRequests = 0;
  let writeRequests = 0;
  let readUnits = 0;
  let writeUnits = 0;
  for (const r of requests) {
    const key = `${r.service}:${r.operation}`;
    byOperation[key] = (byOperation[key] ?? 0) + 1;
    if (r.service === 'DynamoDB' && DYNAMODB_WRITES.has(r.operation)) writeRequests++;
    else if (r.service === 'DynamoDB') readRequests++;
    readUnits += r.readUnits;
    writeUnits += r.writeUnits;
  }
  return { requests: requests.length, readRequests, writeRequests, readUnits, writeUnits, byOperation };
}
