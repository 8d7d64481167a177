/**
 * MessageTrace: one item per accepted message, telling support where it is. States only move forward:
 *
 *   ACCEPTED ──▶ RETRYING ──▶ DELIVERED
 *      │            │
 *      ├────────────┴──────▶ DEAD_LETTERED ──(redrive)──▶ RETRYING / DELIVERED
 *      └──▶ SUPERSEDED   (a stale unavailability update: recorded, not delivered)
 *
 * Only identifiers are stored (the registry's `traceKeys`), never customer contact data. The event list
 * grows by one entry per attempt up to {@link MAX_RETRY_EVENTS} retries; later retries only update the
 * state, `attempts`, `lastError` and `nextAttemptAt`, and count themselves in `eventsOmitted`, so a
 * day-long outage cannot grow the item towards DynamoDB's 400 KB limit.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { documentClientFor } from '#shared/aws/clients.ts';
import { requireString } from '#shared/config/env.ts';
import { TUNABLES } from '#shared/config/tunables.ts';
import type { FlowId } from '#shared/flows/registry.ts';
import { TRACE_TABLE } from '#shared/store/tables.ts';

export const TRACE_STATES = {
  ACCEPTED: 'ACCEPTED',
  DELIVERED: 'DELIVERED',
  RETRYING: 'RETRYING',
  DEAD_LETTERED: 'DEAD_LETTERED',
  SUPERSEDED: 'SUPERSEDED',
} as const;
export type TraceState = (typeof TRACE_STATES)[keyof typeof TRACE_STATES];

/** States after which a redelivered SQS message has nothing left to do. */
export const FINAL_STATES: readonly TraceState[] = [TRACE_STATES.DELIVERED, TRACE_STATES.SUPERSEDED];

export interface TraceEvent {
  at: string;
  state: TraceEventState;
  attempt?: number;
  detail?: string;
}

export interface MessageTraceItem {
  messageId: string;
  flow: FlowId;
  businessKey: string;
  keys: Record<string, string>;
  receivedAt: string;
  state: TraceState;
  attempts: number;
  lastError?: string;
  deliveredAt?: string;
  deadLetteredAt?: string;
  supersededBy?: string;
  claimCheck?: boolean;
  /** When RETRYING: when the next attempt is due. */
  nextAttemptAt?: string;
  /** RETRYING events not listed, past {@link MAX_RETRY_EVENTS}. */
  eventsOmitted?: number;
  /** Times support resubmitted it; the queued copy carries the same number (a stale copy is skipped). */
  resubmissions?: number;
  resubmittedAt?: string;
  /** The OAuth client id of whoever resubmitted it last. */
  resubmittedBy?: string;
  updatedAt: string;
  events: TraceEvent[];
}

/** An event of the trace: a state it took, or `RESUBMITTED` by support. */
export type TraceEventState = TraceState | 'RESUBMITTED';

/**
 * The search keys a trace is indexed by (its flow's trace keys of these names), and the index each one
 * is in. The first of the `byBusinessId` names a trace holds is its `idKey`; a flow's trace keys hold
 * at most one of them.
 */
export const LOOKUP_KEYS = {
  optOutId: 'byBusinessId',
  unavailabilityId: 'byBusinessId',
  syncRequestId: 'byBusinessId',
  dacsMessageId: 'byBusinessId',
  deviceId: 'byDevice',
  eventExternalIdentifier: 'byEvent',
} as const;
export type LookupKey = keyof typeof LOOKUP_KEYS;
export const LOOKUP_KEY_NAMES = Object.keys(LOOKUP_KEYS) as LookupKey[];

/** The index, partition attribute and value a lookup reads; sorted by `receivedKey` (newest last). */
export function lookupPartition(
  key: LookupKey,
  value: string,
): { index: string; attribute: string; value: string } {
  const index = LOOKUP_KEYS[key];
  if (index === 'byBusinessId') return { index, attribute: 'idKey', value: `${key}#${value}` };
  if (index === 'byDevice') return { index, attribute: 'deviceKey', value };
  return { index, attribute: 'eventKey', value };
}

/** `<receivedAt>#<messageId>`: unique, and in time order as a string (both are UTC ISO). */
export const receivedKeyOf = (receivedAt: string, messageId: string): string => `${receivedAt}#${messageId}`;

/** The sparse index attributes of a new trace. */
function indexAttributes(trace: NewTrace, receivedAt: string): Record<string, string> {
  const attributes: Record<string, string> = { receivedKey: receivedKeyOf(receivedAt, trace.messageId) };
  for (const key of LOOKUP_KEY_NAMES) {
    const value = trace.keys[key];
    if (value === undefined || value === '') continue;
    const { attribute, value: partition } = lookupPartition(key, value);
    attributes[attribute] ??= partition;
  }
  return attributes;
}

/** Attributes of the item that are not part of the MessageTrace view. */
const INTERNAL_ATTRIBUTES = [
  'pk',
  'expiresAt',
  'idKey',
  'deviceKey',
  'eventKey',
  'receivedKey',
  'deadLetterFlow',
  'deadLetterKey',
  'resubmitCopy',
] as const;

/** The MessageTrace view of a stored item: its internal attributes left out. */
export function traceOfItem(item: Record<string, unknown>): MessageTraceItem {
  const trace: Record<string, unknown> = { ...item };
  for (const name of INTERNAL_ATTRIBUTES) delete trace[name];
  return trace as unknown as MessageTraceItem;
}

/** Events a trace lists at most, before the final one; later retries are counted, not listed. */
export const MAX_RETRY_EVENTS = 50;

const tableName = (): string => requireString(TRACE_TABLE.nameEnv);

const expiresAt = (from: Date, retentionSeconds: number): number =>
  Math.floor(from.getTime() / 1000) + retentionSeconds;

const trim = (text: string, max = 1000): string => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

export interface NewTrace {
  messageId: string;
  flow: FlowId;
  businessKey: string;
  keys: Record<string, string>;
  receivedAt: Date;
}

/**
 * Writes the ACCEPTED trace, to expire `retentionSeconds` after `receivedAt`: the ingest handler passes
 * its `RETENTION_DAYS` setting.
 */
export async function createTrace(
  trace: NewTrace,
  retentionSeconds: number = TUNABLES.retentionDays.default * 86_400,
): Promise<void> {
  const at = trace.receivedAt.toISOString();
  await documentClientFor().send(
    new PutCommand({
      TableName: tableName(),
      Item: {
        pk: trace.messageId,
        messageId: trace.messageId,
        flow: trace.flow,
        businessKey: trace.businessKey,
        keys: trace.keys,
        receivedAt: at,
        state: TRACE_STATES.ACCEPTED,
        attempts: 0,
        updatedAt: at,
        events: [{ at, state: TRACE_STATES.ACCEPTED }],
        expiresAt: expiresAt(trace.receivedAt, retentionSeconds),
        ...indexAttributes(trace, at),
      },
      ConditionExpression: 'attribute_not_exists(pk)',
    }),
  );
}

/** Removes a trace whose message never made it onto the queue (the caller got a 503 and will retry). */
export async function deleteTrace(messageId: string): Promise<void> {
  await documentClientFor().send(new DeleteCommand({ TableName: tableName(), Key: { pk: messageId } }));
}

export async function getTrace(messageId: string): Promise<MessageTraceItem | undefined> {
  const { Item } = await documentClientFor().send(
    new GetCommand({ TableName: tableName(), Key: { pk: messageId }, ConsistentRead: true }),
  );
  return Item ? traceOfItem(Item) : undefined;
}

export interface TransitionInput {
  attempt: number;
  at: Date;
  detail?: string;
  /** Events the trace lists already, when the caller read it; past {@link MAX_RETRY_EVENTS} a retry is only counted. */
  eventCount?: number;
}

/**
 * Moves a trace to a new state. A trace already DELIVERED or SUPERSEDED never moves back, so a late
 * duplicate cannot make support believe a delivered message is failing. Returns false when the
 * transition was refused for that reason.
 */
async function transition(
  messageId: string,
  state: TraceState,
  input: TransitionInput,
  extra: Record<string, unknown> = {},
): Promise<boolean> {
  const at = input.at.toISOString();
  const event: TraceEvent = {
    at,
    state,
    attempt: input.attempt,
    ...(input.detail ? { detail: trim(input.detail, 500) } : {}),
  };
  const names: Record<string, string> = { '#state': 'state', '#events': 'events' };
  const values: Record<string, unknown> = {
    ':state': state,
    ':attempts': input.attempt,
    ':at': at,
    ':event': [event],
    ':empty': [],
    ':delivered': TRACE_STATES.DELIVERED,
    ':superseded': TRACE_STATES.SUPERSEDED,
  };
  const sets = ['#state = :state', 'attempts = :attempts', 'updatedAt = :at'];
  const omitted = state === TRACE_STATES.RETRYING && (input.eventCount ?? 0) >= MAX_RETRY_EVENTS;
  if (omitted) {
    delete values[':event'];
    delete values[':empty'];
    delete names['#events'];
    values[':one'] = 1;
    values[':zero'] = 0;
    sets.push('eventsOmitted = if_not_exists(eventsOmitted, :zero) + :one');
  } else {
    sets.push('#events = list_append(if_not_exists(#events, :empty), :event)');
  }
  for (const [key, value] of Object.entries(extra)) {
    names[`#${key}`] = key;
    values[`:${key}`] = value;
    sets.push(`#${key} = :${key}`);
  }
  try {
    await documentClientFor().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: { pk: messageId },
        UpdateExpression: `SET ${sets.join(', ')} REMOVE ${removals(state).join(', ')}`,
        ConditionExpression: 'attribute_exists(pk) AND NOT (#state IN (:delivered, :superseded))',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}

/** What a transition to `state` removes: the next try once not RETRYING, the dead-letter index entry. */
function removals(state: TraceState): string[] {
  const names: string[] = [];
  if (state !== TRACE_STATES.RETRYING) names.push('nextAttemptAt');
  if (state !== TRACE_STATES.DEAD_LETTERED) names.push('deadLetterFlow', 'deadLetterKey');
  return names;
}

/** `claimCheck` records that the payload travelled through S3 (over the SQS size limit). */
export const markDelivered = (
  messageId: string,
  input: TransitionInput,
  claimCheck = false,
): Promise<boolean> =>
  transition(messageId, TRACE_STATES.DELIVERED, input, { deliveredAt: input.at.toISOString(), claimCheck });

export const markRetrying = (
  messageId: string,
  input: TransitionInput & { error: string; nextAttemptAt?: Date },
): Promise<boolean> =>
  transition(
    messageId,
    TRACE_STATES.RETRYING,
    { ...input, detail: input.error },
    {
      lastError: trim(input.error),
      ...(input.nextAttemptAt ? { nextAttemptAt: input.nextAttemptAt.toISOString() } : {}),
    },
  );

/**
 * `flow` puts it in the `byDeadLetter` index; `copy` is the queued body kept for a resubmit (see
 * `keepableCopy` in shared/queue/envelope.ts), stored with the trace so it lives as long.
 */
export const markDeadLettered = (
  messageId: string,
  input: TransitionInput & { error: string; flow?: FlowId; copy?: string },
): Promise<boolean> =>
  transition(
    messageId,
    TRACE_STATES.DEAD_LETTERED,
    { ...input, detail: input.error },
    {
      lastError: trim(input.error),
      deadLetteredAt: input.at.toISOString(),
      ...(input.flow
        ? { deadLetterFlow: input.flow, deadLetterKey: `${input.at.toISOString()}#${messageId}` }
        : {}),
      ...(input.copy !== undefined ? { resubmitCopy: input.copy } : {}),
    },
  );

export const markSuperseded = (
  messageId: string,
  input: TransitionInput & { reason: string },
): Promise<boolean> =>
  transition(
    messageId,
    TRACE_STATES.SUPERSEDED,
    { ...input, detail: input.reason },
    { supersededBy: trim(input.reason) },
  );

/** A trace with the queued body kept for a resubmit, when it has one. */
export async function getTraceWithCopy(
  messageId: string,
): Promise<{ trace: MessageTraceItem; copy?: string } | undefined> {
  const { Item } = await documentClientFor().send(
    new GetCommand({ TableName: tableName(), Key: { pk: messageId }, ConsistentRead: true }),
  );
  if (!Item) return undefined;
  const copy = typeof Item.resubmitCopy === 'string' ? Item.resubmitCopy : undefined;
  return { trace: traceOfItem(Item), ...(copy !== undefined ? { copy } : {}) };
}

export interface ResubmitMark {
  /** The resubmission this is: the trace's `resubmissions` so far, plus one. */
  resubmission: number;
  by: string;
  at: Date;
}

/**
 * DEAD_LETTERED → ACCEPTED with a `RESUBMITTED` event naming who asked, only while the trace is still
 * DEAD_LETTERED at the resubmission count read: of two resubmits at once, one wins. False when refused.
 */
export async function markResubmitted(messageId: string, mark: ResubmitMark): Promise<boolean> {
  const at = mark.at.toISOString();
  const event: TraceEvent = { at, state: 'RESUBMITTED', detail: trim(`by ${mark.by}`, 500) };
  try {
    await documentClientFor().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: { pk: messageId },
        UpdateExpression:
          'SET #state = :accepted, resubmissions = :n, resubmittedAt = :at, resubmittedBy = :by, ' +
          'updatedAt = :at, #events = list_append(if_not_exists(#events, :empty), :event) ' +
          'REMOVE deadLetterFlow, deadLetterKey, nextAttemptAt',
        ConditionExpression:
          'attribute_exists(pk) AND #state = :dead AND ' +
          '(attribute_not_exists(resubmissions) OR resubmissions = :previous)',
        ExpressionAttributeNames: { '#state': 'state', '#events': 'events' },
        ExpressionAttributeValues: {
          ':accepted': TRACE_STATES.ACCEPTED,
          ':dead': TRACE_STATES.DEAD_LETTERED,
          ':n': mark.resubmission,
          ':previous': mark.resubmission - 1,
          ':at': at,
          ':by': mark.by,
          ':event': [event],
          ':empty': [],
        },
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}

/**
 * Undoes {@link markResubmitted} when the copy could not be queued: back to DEAD_LETTERED (and its
 * index entry) and the resubmission count before, so the message is neither lost nor shown as on its
 * way, and its DLQ copy is not taken for a stale one. Only while nothing moved it on.
 */
export async function revertResubmitted(
  messageId: string,
  input: { resubmission: number; flow: FlowId; deadLetteredAt: string; at: Date; reason: string },
): Promise<boolean> {
  const at = input.at.toISOString();
  const event: TraceEvent = { at, state: TRACE_STATES.DEAD_LETTERED, detail: trim(input.reason, 500) };
  try {
    await documentClientFor().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: { pk: messageId },
        UpdateExpression:
          'SET #state = :dead, resubmissions = :previous, deadLetterFlow = :flow, deadLetterKey = :key, ' +
          'updatedAt = :at, #events = list_append(#events, :event)',
        ConditionExpression: '#state = :accepted AND resubmissions = :n',
        ExpressionAttributeNames: { '#state': 'state', '#events': 'events' },
        ExpressionAttributeValues: {
          ':dead': TRACE_STATES.DEAD_LETTERED,
          ':accepted': TRACE_STATES.ACCEPTED,
          ':n': input.resubmission,
          ':previous': input.resubmission - 1,
          ':flow': input.flow,
          ':key': `${input.deadLetteredAt}#${messageId}`,
          ':at': at,
          ':event': [event],
        },
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}
