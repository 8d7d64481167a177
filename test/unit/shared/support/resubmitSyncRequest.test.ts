import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { createResubmitSyncRequestHandler } from '#shared/handlers/support.ts';
import { resubmitSyncRequest } from '#shared/support/resubmitSyncRequest.ts';
import { apiEvent, lambdaContext } from '#test/helpers/events.ts';

process.env.CORRELATION_TABLE = 'correlation-unit';
process.env.ASSET_SYNC_ACK_QUEUE_URL = 'https://sqs.local/asset-sync-ack.fifo';
const ddb = mockClient(DynamoDBDocumentClient);
const sqs = mockClient(SQSClient);

const T0 = new Date('2026-12-01T22:00:00.000Z');
const header = (extra: Record<string, unknown> = {}) => ({
  pk: 'SYNC#SR1',
  sk: 'HEADER',
  syncRequestId: 'SR1',
  messageId: 'm-req',
  deadline: '2026-12-02T22:00:00.000Z',
  consolidatedAt: '2026-12-01T21:00:00.000Z',
  consolidatedBy: 'ack-owner',
  deliveryState: 'DEAD_LETTERED',
  deliveryAttempts: 1,
  deliveryLastError: 'DACS answered 400',
  ...extra,
});

type Handler = (event: unknown, context: unknown) => Promise<APIGatewayProxyResult>;
const handler = createResubmitSyncRequestHandler() as unknown as Handler;

async function post(syncRequestId: string, scope = 'integration/support') {
  const answer = await handler(
    apiEvent({
      path: `/v1/sync-requests/${syncRequestId}/resubmit`,
      scope,
      clientId: 'support-unit',
      pathParameters: { syncRequestId },
    }),
    lambdaContext('resubmitSyncRequest'),
  );
  return { status: answer.statusCode, body: JSON.parse(answer.body) };
}

/** The header after the resubmit's write, as DynamoDB would answer it (ALL_NEW). */
const afterWrite = (input: Record<string, unknown>) => {
  const values = input.ExpressionAttributeValues as Record<string, unknown>;
  return {
    Attributes: header({
      deliveryState: 'RETRYING',
      consolidatedBy: values[':owner'],
      deliveryNextAttemptAt: values[':at'],
      resubmittedAt: values[':at'],
      resubmittedBy: values[':by'],
      resubmissions: 1,
    }),
  };
};

beforeEach(() => {
  ddb.reset();
  sqs.reset();
  sqs.on(SendMessageCommand).resolves({});
});

describe('POST /v1/sync-requests/{syncRequestId}/resubmit', () => {
  it('202: moves DEAD_LETTERED → RETRYING under a condition, owned by the deadline command it queues', async () => {
    ddb.on(GetCommand).resolves({ Item: header() });
    ddb.on(UpdateCommand).callsFake(afterWrite);
    const answer = await post('SR1');
    expect(answer.status).toBe(202);
    expect(answer.body).toMatchObject({
      syncRequestId: 'SR1',
      status: 'RESUBMITTED',
      delivery: { state: 'RETRYING', attempts: 1, lastError: 'DACS answered 400' },
      resubmissions: 1,
      resubmittedBy: 'support-unit',
    });
    const update = ddb.commandCalls(UpdateCommand)[0]!.args[0].input;
    expect(update.Key).toEqual({ pk: 'SYNC#SR1', sk: 'HEADER' });
    expect(update.ConditionExpression).toContain('deliveryState = :deadLettered');
    expect(update.ConditionExpression).toContain('attribute_not_exists(consolidatedDeliveredAt)');
    expect(update.ConditionExpression).toContain('attribute_not_exists(resubmissions)');
    expect(update.UpdateExpression).toContain('gsi1pk = :pending');
    expect(update.UpdateExpression).not.toMatch(/consolidatedSummary|consolidatedAt/);
    const owner = update.ExpressionAttributeValues?.[':owner'];
    const sends = sqs.commandCalls(SendMessageCommand);
    expect(sends).toHaveLength(1);
    const command = JSON.parse(sends[0]!.args[0].input.MessageBody!);
    expect(command).toMatchObject({ kind: 'deadline', syncRequestId: 'SR1', messageId: owner });
    expect(sends[0]!.args[0].input.QueueUrl).toBe('https://sqs.local/asset-sync-ack.fifo');
  });

  it('404 for an unknown sync request, and nothing written or queued', async () => {
    ddb.on(GetCommand).resolves({});
    const answer = await post('NOPE');
    expect(answer).toMatchObject({ status: 404, body: { status: 404 } });
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it.each([
    [
      'not consolidated yet',
      { consolidatedAt: undefined, deliveryState: undefined },
      /not been consolidated/,
    ],
    ['RETRYING', { deliveryState: 'RETRYING' }, /RETRYING/],
    [
      'DELIVERED',
      { deliveryState: 'DELIVERED', consolidatedDeliveredAt: '2026-12-01T21:01:00Z' },
      /DELIVERED/,
    ],
  ])('409 not-dead-lettered when %s', async (_what, extra, detail) => {
    ddb.on(GetCommand).resolves({ Item: header(extra) });
    const answer = await post('SR1');
    expect(answer.status).toBe(409);
    expect(answer.body.type).toMatch(/not-dead-lettered$/);
    expect(answer.body.detail).toMatch(detail);
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('of two resubmits racing, the one whose conditional write fails gets 409 and queues nothing', async () => {
    ddb.on(GetCommand).resolves({ Item: header() });
    let writes = 0;
    ddb.on(UpdateCommand).callsFake((input) => {
      writes += 1;
      if (writes > 1) throw new ConditionalCheckFailedException({ message: 'no', $metadata: {} });
      return afterWrite(input);
    });
    const answers = await Promise.all([post('SR1'), post('SR1')]);
    expect(answers.map((a) => a.status).sort()).toEqual([202, 409]);
    expect(answers.find((a) => a.status === 409)?.body.detail).toMatch(/changed meanwhile/);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(1);
  });

  it('403 without the support scope', async () => {
    const answer = await post('SR1', 'integration/dacs');
    expect(answer.status).toBe(403);
    expect(ddb.calls()).toHaveLength(0);
  });

  it('still answers 202 when the command cannot be queued: the header waits in the deadline index for the sweep', async () => {
    ddb.on(GetCommand).resolves({ Item: header({ resubmissions: 2 }) });
    ddb.on(UpdateCommand).callsFake(afterWrite);
    const answer = await resubmitSyncRequest('SR1', 'support-unit', {
      now: () => T0,
      newId: () => 'cmd-1',
      enqueue: async () => {
        throw new Error('SQS down');
      },
    });
    expect(answer.delivery).toMatchObject({ state: 'RETRYING', nextAttemptAt: T0.toISOString() });
    const update = ddb.commandCalls(UpdateCommand)[0]!.args[0].input;
    expect(update.ConditionExpression).toContain('resubmissions = :seen');
    expect(update.ExpressionAttributeValues).toMatchObject({
      ':seen': 2,
      ':owner': 'cmd-1',
      // Back in the sweep's partition a requeue interval on (300 s by default): adopted if the command is lost.
      ':recheck': new Date(T0.getTime() + 300_000).toISOString(),
    });
  });
});
