import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import {
  createTrace,
  MAX_RETRY_EVENTS,
  markDeadLettered,
  markDelivered,
  markRetrying,
} from '#shared/trace/store.ts';

process.env.TRACE_TABLE = 'trace-unit';
const ddb = mockClient(DynamoDBDocumentClient);
const AT = new Date('2026-12-01T22:00:00.000Z');
const lastUpdate = () => ddb.commandCalls(UpdateCommand).at(-1)?.args[0].input;

beforeEach(() => {
  ddb.reset();
  ddb.on(UpdateCommand).resolves({});
  ddb.on(PutCommand).resolves({});
});

describe('createTrace', () => {
  it('writes an ACCEPTED trace with no attempts, once', async () => {
    await createTrace({
      messageId: 'm-1',
      flow: 'optOut',
      businessKey: 'OO-1',
      keys: { optOutId: 'OO-1' },
      receivedAt: AT,
    });
    const input = ddb.commandCalls(PutCommand)[0]?.args[0].input;
    expect(input?.Item).toMatchObject({
      pk: 'm-1',
      state: 'ACCEPTED',
      attempts: 0,
      events: [{ state: 'ACCEPTED' }],
    });
    expect(input?.ConditionExpression).toBe('attribute_not_exists(pk)');
  });
});

describe('state transitions', () => {
  it('appends a RETRYING event with the next attempt, while the list is short', async () => {
    const next = new Date(AT.getTime() + 60_000);
    await markRetrying('m-1', {
      attempt: 3,
      at: AT,
      error: 'DERMS answered 503',
      eventCount: 4,
      nextAttemptAt: next,
    });
    const input = lastUpdate();
    expect(input?.UpdateExpression).toContain('list_append');
    expect(input?.UpdateExpression).not.toContain('REMOVE nextAttemptAt');
    expect(input?.ExpressionAttributeValues).toMatchObject({
      ':state': 'RETRYING',
      ':attempts': 3,
      ':nextAttemptAt': next.toISOString(),
      ':event': [{ at: AT.toISOString(), state: 'RETRYING', attempt: 3, detail: 'DERMS answered 503' }],
    });
  });

  it('counts retries past the event cap instead of listing them, so the item stays small', async () => {
    await markRetrying('m-1', {
      attempt: 90,
      at: AT,
      error: 'DERMS answered 503',
      eventCount: MAX_RETRY_EVENTS,
    });
    const input = lastUpdate();
    expect(input?.UpdateExpression).not.toContain('list_append');
    expect(input?.UpdateExpression).toContain('eventsOmitted = if_not_exists(eventsOmitted, :zero) + :one');
    expect(input?.ExpressionAttributeNames).not.toHaveProperty('#events');
    expect(input?.ExpressionAttributeValues).not.toHaveProperty(':event');
  });

  it('always lists the final event, and clears the next attempt', async () => {
    await markDeadLettered('m-1', { attempt: 200, at: AT, error: 'retry window exhausted', eventCount: 500 });
    const input = lastUpdate();
    expect(input?.UpdateExpression).toContain('list_append');
    expect(input?.UpdateExpression).toMatch(/REMOVE nextAttemptAt$/);
    expect(input?.ExpressionAttributeValues).toMatchObject({
      ':state': 'DEAD_LETTERED',
      ':lastError': 'retry window exhausted',
    });
  });

  it('never moves a DELIVERED or SUPERSEDED trace back, and says so', async () => {
    ddb.on(UpdateCommand).rejects(new ConditionalCheckFailedException({ message: 'no', $metadata: {} }));
    await expect(markDelivered('m-1', { attempt: 1, at: AT })).resolves.toBe(false);
    expect(lastUpdate()?.ConditionExpression).toBe(
      'attribute_exists(pk) AND NOT (#state IN (:delivered, :superseded))',
    );
  });

  it('trims a long error for the trace', async () => {
    await markRetrying('m-1', { attempt: 1, at: AT, error: 'x'.repeat(5000) });
    const values = lastUpdate()?.ExpressionAttributeValues ?? {};
    expect(String(values[':lastError']).length).toBe(1000);
    expect(String((values[':event'] as { detail: string }[])[0]?.detail).length).toBe(500);
  });
});
