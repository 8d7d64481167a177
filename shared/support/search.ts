/**
 * Support search: find MessageTraces by business id (`GET /v1/messages?…`), newest first, paged with an
 * opaque cursor, through the trace table's sparse indexes only (never a Scan; see shared/store/tables.ts).
 *
 * - One lookup key (the most selective given) picks the index partitions read; the other keys, `flow`
 *   and `state` then filter what those partitions hold.
 * - `deviceId` reads the device's opt-outs and unavailability notifications (trace index `byDevice`) and
 *   the traces of every sync request that holds it (correlation index `byDevice`, then each request's
 *   `syncRequestId` partition: the asset sync and its acks).
 * - `state=DEAD_LETTERED` with no lookup key lists the dead letters of `flow`, or of every flow, from the
 *   `byDeadLetter` index: ordered, and `from`/`to` applied, by when they were dead-lettered. Otherwise
 *   order and `from`/`to` are by `receivedAt`.
 *
 * The partitions read are merged newest first; the cursor is the sort key of the last trace answered
 * (every sort key ends in the messageId, so it is unique), bound to the query it was made for.
 */
import { createHash } from 'node:crypto';
import { QueryCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { documentClientFor } from '#shared/aws/clients.ts';
import { requireString } from '#shared/config/env.ts';
import type { MessageTrace } from '#shared/contracts/types.ts';
import { HttpError, type Violation } from '#shared/errors.ts';
import { FLOW_IDS, type FlowId } from '#shared/flows/registry.ts';
import { PROBLEMS } from '#shared/handlers/problems.ts';
import { CORRELATION_TABLE, TRACE_TABLE } from '#shared/store/tables.ts';
import {
  LOOKUP_KEY_NAMES,
  type LookupKey,
  lookupPartition,
  type MessageTraceItem,
  TRACE_STATES,
  type TraceState,
  traceOfItem,
} from '#shared/trace/store.ts';

export interface SearchQuery {
  deviceId?: string;
  optOutId?: string;
  unavailabilityId?: string;
  syncRequestId?: string;
  eventExternalIdentifier?: string;
  dacsMessageId?: string;
  state?: TraceState;
  flow?: FlowId;
  /** UTC ISO (normalised from the RFC 3339 given), inclusive. */
  from?: string;
  /** UTC ISO, inclusive. */
  to?: string;
  limit: number;
  /** The opaque cursor of the previous page, checked against this query. */
  cursor?: string;
}

export interface SearchPage {
  items: MessageTrace[];
  cursor?: string;
}

/** Page size when `limit` is absent, and the largest `limit` taken. */
export const DEFAULT_SEARCH_LIMIT = 25;
export const MAX_SEARCH_LIMIT = 100;
/** Lookup keys in the order one is picked to read by: the most selective first. */
const LOOKUP_ORDER: readonly LookupKey[] = [
  'optOutId',
  'unavailabilityId',
  'syncRequestId',
  'dacsMessageId',
  'eventExternalIdentifier',
  'deviceId',
];
const PARAMETERS = [...LOOKUP_KEY_NAMES, 'state', 'flow', 'from', 'to', 'limit', 'cursor'] as const;
const MAX_ID_LENGTH = 200;
/** RFC 3339 date-time with an offset (`Z` or ±hh:mm), as the contract's timestamps. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;

const badQuery = (violations: Violation[]): HttpError =>
  new HttpError(PROBLEMS.badRequest, 'The search query is not valid; see errors for every problem.', {
    violations,
  });

/** Reads and checks a search's query parameters; throws a 400 HttpError listing every problem. */
export function parseSearchQuery(params: Record<string, string | undefined>): SearchQuery {
  const violations: Violation[] = [];
  const fail = (name: string, message: string) => violations.push({ path: `/${name}`, message });
  for (const name of Object.keys(params)) {
    if (!(PARAMETERS as readonly string[]).includes(name))
      fail(name, `unknown parameter; known: ${PARAMETERS.join(', ')}`);
  }
  const query: SearchQuery = { limit: DEFAULT_SEARCH_LIMIT };
  for (const key of LOOKUP_KEY_NAMES) {
    const value = params[key];
    if (value === undefined) continue;
    if (value.trim() === '' || value.length > MAX_ID_LENGTH)
      fail(key, `must be 1 to ${MAX_ID_LENGTH} characters`);
    else query[key] = value;
  }
  readFilters(params, query, fail);
  readRange(params, query, fail);
  readLimit(params, query, fail);
  if (!LOOKUP_KEY_NAMES.some((k) => query[k] !== undefined) && query.state !== TRACE_STATES.DEAD_LETTERED) {
    fail(
      'deviceId',
      `give at least one of ${LOOKUP_KEY_NAMES.join(', ')}, or state=DEAD_LETTERED to list dead letters`,
    );
  }
  if (params.cursor !== undefined && violations.length === 0) {
    if (decodeCursor(params.cursor, query) === undefined)
      fail('cursor', 'not a cursor of this query: pass the cursor of the previous page unchanged');
    else query.cursor = params.cursor;
  }
  if (violations.length > 0) throw badQuery(violations);
  return query;
}

type Fail = (name: string, message: string) => void;

function readFilters(params: Record<string, string | undefined>, query: SearchQuery, fail: Fail): void {
  const states = Object.values(TRACE_STATES) as string[];
  if (params.state !== undefined) {
    if (states.includes(params.state)) query.state = params.state as TraceState;
    else fail('state', `must be one of ${states.join(', ')}`);
  }
  if (params.flow !== undefined) {
    if ((FLOW_IDS as readonly string[]).includes(params.flow)) query.flow = params.flow as FlowId;
    else fail('flow', `must be one of ${FLOW_IDS.join(', ')}`);
  }
}

function readRange(params: Record<string, string | undefined>, query: SearchQuery, fail: Fail): void {
  for (const name of ['from', 'to'] as const) {
    const value = params[name];
    if (value === undefined) continue;
    const ms = RFC3339.test(value) ? Date.parse(value) : Number.NaN;
    if (Number.isNaN(ms))
      fail(name, 'must be an RFC 3339 date-time with an offset, e.g. 2026-12-01T14:00:00Z');
    else query[name] = new Date(ms).toISOString();
  }
  if (query.from && query.to && query.from > query.to) fail('to', 'must not be before from');
}

function readLimit(params: Record<string, string | undefined>, query: SearchQuery, fail: Fail): void {
  if (params.limit === undefined) return;
  const limit = /^\d{1,4}$/.test(params.limit) ? Number(params.limit) : Number.NaN;
  if (!(limit >= 1 && limit <= MAX_SEARCH_LIMIT))
    fail('limit', `must be an integer from 1 to ${MAX_SEARCH_LIMIT}`);
  else query.limit = limit;
}

/** What a cursor is bound to: the query without its page size and cursor. */
function fingerprint(query: SearchQuery): string {
  const { limit: _limit, cursor: _cursor, ...rest } = query;
  const sorted = Object.fromEntries(Object.entries(rest).sort(([a], [b]) => a.localeCompare(b)));
  return createHash('sha256').update(JSON.stringify(sorted)).digest('base64url').slice(0, 16);
}

function encodeCursor(sortKey: string, query: SearchQuery): string {
  return Buffer.from(JSON.stringify({ v: 1, k: sortKey, q: fingerprint(query) })).toString('base64url');
}

/** The sort key a cursor continues after, or undefined when it is not a cursor of this query. */
function decodeCursor(cursor: string, query: SearchQuery): string | undefined {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Record<string, unknown>;
    if (parsed.v !== 1 || typeof parsed.k !== 'string' || parsed.q !== fingerprint(query)) return undefined;
    return parsed.k;
  } catch {
    return undefined;
  }
}

/** One index partition to read, newest first. */
interface Partition {
  table: string;
  index: string;
  attribute: string;
  value: string;
  sortAttribute: string;
}

/** A partition read page by page, newest first, within the query's range. */
async function* readPartition(partition: Partition, range: Range, pageSize: number) {
  let startKey: Record<string, unknown> | undefined;
  do {
    const input: QueryCommandInput = {
      TableName: partition.table,
      IndexName: partition.index,
      ScanIndexForward: false,
      Limit: pageSize,
      ...keyCondition(partition, range),
      ...(startKey ? { ExclusiveStartKey: startKey } : {}),
    };
    const page = await documentClientFor().send(new QueryCommand(input));
    for (const item of page.Items ?? []) {
      const sortKey = item[partition.sortAttribute] as string;
      if (range.before === undefined || sortKey < range.before) yield { sortKey, item };
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
}

/** Bounds on the sort key: at least `lowest`, at most `highest`, and below `before` (the cursor). */
interface Range {
  lowest?: string;
  highest?: string;
  before?: string;
}

function keyCondition(partition: Partition, range: Range) {
  const names: Record<string, string> = { '#pk': partition.attribute, '#sk': partition.sortAttribute };
  const values: Record<string, string> = { ':pk': partition.value };
  const high =
    range.before !== undefined && (range.highest === undefined || range.before <= range.highest)
      ? range.before
      : range.highest;
  let condition = '#pk = :pk';
  if (range.lowest !== undefined && high !== undefined) {
    condition += ' AND #sk BETWEEN :lo AND :hi';
    Object.assign(values, { ':lo': range.lowest, ':hi': high });
  } else if (high !== undefined) {
    condition += ' AND #sk <= :hi';
    values[':hi'] = high;
  } else if (range.lowest !== undefined) {
    condition += ' AND #sk >= :lo';
    values[':lo'] = range.lowest;
  } else {
    delete names['#sk'];
  }
  return {
    KeyConditionExpression: condition,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
}

/** The syncRequestIds of the sync requests that hold a device, from the correlation index `byDevice`. */
export async function syncRequestsOfDevice(deviceId: string): Promise<string[]> {
  const index = CORRELATION_TABLE.indexes[1];
  const partition: Partition = {
    table: requireString(CORRELATION_TABLE.nameEnv),
    index: index.name,
    attribute: index.partitionKey,
    value: deviceId,
    sortAttribute: index.sortKey,
  };
  const ids = new Set<string>();
  for await (const { sortKey } of readPartition(partition, {}, 100)) {
    ids.add(sortKey.slice(sortKey.indexOf('#') + 1));
  }
  return [...ids];
}

const givenLookups = (query: SearchQuery): LookupKey[] => LOOKUP_ORDER.filter((k) => query[k] !== undefined);

/** The partitions a query reads. */
async function partitionsOf(
  query: SearchQuery,
): Promise<{ partitions: Partition[]; deviceSyncs?: Set<string> }> {
  const table = requireString(TRACE_TABLE.nameEnv);
  const lookups = givenLookups(query);
  const primary = lookups[0];
  if (primary === undefined) {
    const flows = query.flow ? [query.flow] : [...FLOW_IDS];
    const { name, partitionKey, sortKey } = TRACE_TABLE.indexes[3];
    return {
      partitions: flows.map((flow) => ({
        table,
        index: name,
        attribute: partitionKey,
        value: flow,
        sortAttribute: sortKey,
      })),
    };
  }
  const byKey = (key: LookupKey, value: string): Partition => ({
    table,
    ...lookupPartition(key, value),
    sortAttribute: 'receivedKey',
  });
  const partitions = [byKey(primary, query[primary]!)];
  if (query.deviceId === undefined) return { partitions };
  const deviceSyncs = new Set(await syncRequestsOfDevice(query.deviceId));
  if (primary === 'deviceId') {
    for (const id of deviceSyncs) partitions.push(byKey('syncRequestId', id));
  }
  return { partitions, deviceSyncs };
}

/** Whether a trace read from the partitions answers the whole query. */
function matches(trace: MessageTraceItem, query: SearchQuery, deviceSyncs?: Set<string>): boolean {
  if (query.state && trace.state !== query.state) return false;
  if (query.flow && trace.flow !== query.flow) return false;
  for (const key of LOOKUP_KEY_NAMES) {
    const wanted = query[key];
    if (wanted === undefined) continue;
    const held = trace.keys?.[key];
    if (held === wanted) continue;
    const syncId = trace.keys?.syncRequestId;
    if (key === 'deviceId' && syncId !== undefined && deviceSyncs?.has(syncId)) continue;
    return false;
  }
  return true;
}

/** The range of sort keys a query reads: `from`/`to` on the time prefix, then the cursor. */
function rangeOf(query: SearchQuery): Range {
  const range: Range = {};
  if (query.from) range.lowest = query.from;
  // '\uffff' sorts after every messageId, so a trace at exactly `to` is in.
  if (query.to) range.highest = `${query.to}#\uffff`;
  if (query.cursor) range.before = decodeCursor(query.cursor, query);
  return range;
}

type Stream = AsyncGenerator<{ sortKey: string; item: Record<string, unknown> }>;

/** Merges partitions read newest first into one stream, newest first. */
async function* mergeNewestFirst(streams: Stream[]) {
  const heads = await Promise.all(streams.map((s) => s.next()));
  for (;;) {
    let best = -1;
    heads.forEach((head, i) => {
      if (
        !head.done &&
        (best < 0 || head.value.sortKey > (heads[best]!.value as { sortKey: string }).sortKey)
      )
        best = i;
    });
    if (best < 0) return;
    const head = heads[best]!;
    if (head.done) return;
    yield head.value;
    heads[best] = await streams[best]!.next();
  }
}

/** Answers a search: up to `limit` traces newest first, and a cursor when more match. */
export async function searchMessages(query: SearchQuery): Promise<SearchPage> {
  const { partitions, deviceSyncs } = await partitionsOf(query);
  const range = rangeOf(query);
  const pageSize = Math.min(query.limit + 1, MAX_SEARCH_LIMIT);
  const merged = mergeNewestFirst(partitions.map((p) => readPartition(p, range, pageSize)));
  const items: MessageTrace[] = [];
  let lastKey: string | undefined;
  for await (const { sortKey, item } of merged) {
    const trace = traceOfItem(item);
    if (!matches(trace, query, deviceSyncs)) continue;
    if (items.length === query.limit) {
      await merged.return(undefined);
      return { items, cursor: encodeCursor(lastKey!, query) };
    }
    items.push(trace as MessageTrace);
    lastKey = sortKey;
  }
  return { items };
}
