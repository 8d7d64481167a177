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
  state: TraceState;
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
  updatedAt: string;
  events: TraceEvent[];
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
  if (!Item) return undefined;
  const { pk: _pk, expiresAt: _exp, ...trace } = Item;
  return trace as MessageTraceItem;
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
        UpdateExpression: `SET ${sets.join(', ')}${state === TRACE_STATES.RETRYING ? '' : ' REMOVE nextAttemptAt'}`,
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

export const markDeadLettered = (
  messageId: string,
  input: TransitionInput & { error: string },
): Promise<boolean> =>
  transition(
    messageId,
    TRACE_STATES.DEAD_LETTERED,
    { ...input, detail: input.error },
    { lastError: trim(input.error), deadLetteredAt: input.at.toISOString() },
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
