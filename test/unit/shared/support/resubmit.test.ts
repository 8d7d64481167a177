import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import type { HttpError } from '#shared/errors.ts';
import { resubmitMessage } from '#shared/support/resubmit.ts';

process.env.TRACE_TABLE = 'trace-unit';
process.env.OPT_OUT_QUEUE_URL = 'https://sqs.local/opt-out';
process.env.UNAVAILABILITY_QUEUE_URL = 'https://sqs.local/unavailability.fifo';
const ddb = mockClient(DynamoDBDocumentClient);
const sqs = mockClient(SQSClient);

const envelope = (flowId: string, payload: unknown, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    v: 1,
    kind: 'message',
    messageId: 'm-1',
    flowId,
    businessKey: 'K',
    receivedAt: 'T',
    payload,
    ...extra,
  });
const stored = (state: string, copy?: string, extra: Record<string, unknown> = {}) => ({
  Item: {
    pk: 'm-1',
    messageId: 'm-1',
    flow: 'optOut',
    state,
    attempts: 1,
    deadLetteredAt: '2026-12-01T10:00:00.000Z',
    ...(copy ? { resubmitCopy: copy } : {}),
    ...extra,
  },
});

async function refusal(promise: Promise<unknown>): Promise<HttpError> {
  try {
    await promise;
  } catch (error) {
    return error as HttpError;
  }
  throw new Error('not refused');
}

beforeEach(() => {
  ddb.reset();
  sqs.reset();
  ddb.on(UpdateCommand).resolves({});
  sqs.on(SendMessageCommand).resolves({});
});

describe('resubmitMessage', () => {
  it('marks the trace RESUBMITTED by the caller, then queues the kept copy numbered 1', async () => {
    ddb.on(GetCommand).resolves(stored('DEAD_LETTERED', envelope('optOut', { optOutId: 'OO-1' })));
    await expect(resubmitMessage('m-1', 'support-local')).resolves.toEqual({
      messageId: 'm-1',
      status: 'RESUBMITTED',
    });
    const update = ddb.commandCalls(UpdateCommand)[0]!.args[0].input;
    expect(update.ConditionExpression).toMatch(/#state = :dead/);
    expect(update.ExpressionAttributeValues).toMatchObject({
      ':n': 1,
      ':by': 'support-local',
      ':accepted': 'ACCEPTED',
    });
    const send = sqs.commandCalls(SendMessageCommand)[0]!.args[0].input;
    expect(send.QueueUrl).toBe('https://sqs.local/opt-out');
    expect(JSON.parse(send.MessageBody!)).toMatchObject({
      messageId: 'm-1',
      payload: { optOutId: 'OO-1' },
      resubmission: 1,
    });
  });

  it('gives a FIFO copy its message group and a deduplication id of its own', async () => {
    ddb.on(GetCommand).resolves(
      stored('DEAD_LETTERED', envelope('unavailability', { deviceId: 'D100' }), {
        flow: 'unavailability',
        resubmissions: 1,
      }),
    );
    await resubmitMessage('m-1', 'support-local');
    const send = sqs.commandCalls(SendMessageCommand)[0]!.args[0].input;
    expect(send.MessageDeduplicationId).toBe('m-1-resubmit-2');
    expect(send.MessageGroupId).toBeDefined();
    expect(JSON.parse(send.MessageBody!).resubmission).toBe(2);
  });

  it('answers 404 for an unknown id, 409 for any other state or a dead letter without a copy', async () => {
    ddb.on(GetCommand).resolves({});
    expect((await refusal(resubmitMessage('x', 'support-local'))).statusCode).toBe(404);
    ddb.on(GetCommand).resolves(stored('DELIVERED', envelope('optOut', {})));
    const delivered = await refusal(resubmitMessage('m-1', 'support-local'));
    expect(delivered.statusCode).toBe(409);
    expect(delivered.message).toMatch(/DELIVERED/);
    ddb.on(GetCommand).resolves(stored('DEAD_LETTERED'));
    expect((await refusal(resubmitMessage('m-1', 'support-local'))).message).toMatch(/no copy was kept/);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('answers 409 when another resubmit won the trace, and queues nothing', async () => {
    ddb.on(GetCommand).resolves(stored('DEAD_LETTERED', envelope('optOut', {})));
    ddb.on(UpdateCommand).rejects(new ConditionalCheckFailedException({ message: 'no', $metadata: {} }));
    expect((await refusal(resubmitMessage('m-1', 'support-local'))).statusCode).toBe(409);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('puts the trace back to DEAD_LETTERED and answers 503 when the copy cannot be queued', async () => {
    ddb.on(GetCommand).resolves(stored('DEAD_LETTERED', envelope('optOut', {})));
    sqs.on(SendMessageCommand).rejects(new Error('queue down'));
    const error = await refusal(resubmitMessage('m-1', 'support-local'));
    expect(error.statusCode).toBe(503);
    const revert = ddb.commandCalls(UpdateCommand)[1]!.args[0].input;
    expect(revert.ExpressionAttributeValues).toMatchObject({ ':dead': 'DEAD_LETTERED', ':previous': 0 });
  });
});
