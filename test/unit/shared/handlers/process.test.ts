import { ChangeMessageVisibilityCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { jest } from '@jest/globals';
import { mockClient } from 'aws-sdk-client-mock';
import { DEFAULT_SETTINGS } from '#shared/config/settings.ts';
import { receiveLimit, retryPolicyFromEnv } from '#shared/delivery/retry.ts';
import { DeliveryError, PoisonMessageError, RetryLaterError } from '#shared/errors.ts';
import { FLOWS } from '#shared/flows/registry.ts';
import {
  createProcessHandler,
  describeError,
  type FailureDecision,
  type FlowProcessor,
  isPermanent,
  OUTCOMES,
  type ProcessContext,
} from '#shared/handlers/process.ts';
import { lambdaContext, sqsEvent, sqsRecord } from '#test/helpers/events.ts';

const flow = FLOWS.optOut;
process.env[flow.queue.urlEnv] = 'http://sqs.local/opt-out';
process.env[flow.queue.dlqUrlEnv] = 'http://sqs.local/opt-out-dlq';
process.env.TRACE_TABLE = 'trace';
process.env.RETRY_BASE_SECONDS = '2';
const WINDOW = 3600;
process.env.RETRY_WINDOW_SECONDS = String(WINDOW);
const LIMIT = receiveLimit(retryPolicyFromEnv());

const ddb = mockClient(DynamoDBDocumentClient);
const sqs = mockClient(SQSClient);

const envelope = (messageId: string) => ({
  v: 1,
  kind: 'message',
  messageId,
  flowId: 'optOut',
  businessKey: `OO-${messageId}`,
  receivedAt: new Date().toISOString(),
  payload: { optOutId: `OO-${messageId}` },
});

beforeEach(() => {
  ddb.reset();
  sqs.reset();
  ddb.on(GetCommand).resolves({ Item: { pk: 'x', state: 'ACCEPTED', events: [] } });
  ddb.on(UpdateCommand).resolves({});
  sqs.on(SendMessageCommand).resolves({ MessageId: 'dlq-1' });
  sqs.on(ChangeMessageVisibilityCommand).resolves({});
});

const updates = () => ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input.ExpressionAttributeValues);
const reasonSent = () =>
  sqs.commandCalls(SendMessageCommand)[0]?.args[0].input.MessageAttributes?.reason?.StringValue ?? '';
const visibility = () => sqs.commandCalls(ChangeMessageVisibilityCommand)[0]?.args[0].input.VisibilityTimeout;

const run = (processor: FlowProcessor, ...records: ReturnType<typeof sqsRecord>[]) =>
  createProcessHandler(flow, processor)(sqsEvent(...records), lambdaContext());

describe('createProcessHandler', () => {
  it('reports no failures when every record is delivered, and marks each trace DELIVERED', async () => {
    const processor: FlowProcessor = { process: async () => ({ state: OUTCOMES.DELIVERED }) };
    await expect(run(processor, sqsRecord(envelope('m1')), sqsRecord(envelope('m2')))).resolves.toEqual({
      batchItemFailures: [],
    });
    const states = ddb
      .commandCalls(UpdateCommand)
      .map((c) => c.args[0].input.ExpressionAttributeValues?.[':state']);
    expect(states).toEqual(['DELIVERED', 'DELIVERED']);
  });

  it('fails only the retryable record and delays it by its Retry-After', async () => {
    const retryable = sqsRecord(envelope('m-retry'), { messageId: 'sqs-retry' });
    const processor: FlowProcessor = {
      process: async (message) => {
        if (message.messageId === 'm-retry') {
          throw new DeliveryError('DERMS answered 503', {
            retryable: true,
            statusCode: 503,
            retryAfterSeconds: 42,
          });
        }
        return { state: OUTCOMES.DELIVERED };
      },
    };
    await expect(run(processor, retryable, sqsRecord(envelope('m-ok')))).resolves.toEqual({
      batchItemFailures: [{ itemIdentifier: 'sqs-retry' }],
    });
    expect(sqs.commandCalls(ChangeMessageVisibilityCommand)[0]?.args[0].input).toMatchObject({
      ReceiptHandle: retryable.receiptHandle,
      VisibilityTimeout: 42,
    });
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('dead-letters a permanent failure at once with its reason, and does not report it as failed', async () => {
    const processor: FlowProcessor = {
      process: async () => {
        throw new DeliveryError('DERMS answered 400 to POST /v1/event-opt-outs', {
          retryable: false,
          statusCode: 400,
          responseBody: '{"error":"no such event"}',
        });
      },
    };
    await expect(run(processor, sqsRecord(envelope('m-400')))).resolves.toEqual({ batchItemFailures: [] });
    const [dlq] = sqs.commandCalls(SendMessageCommand);
    expect(dlq?.args[0].input.QueueUrl).toBe('http://sqs.local/opt-out-dlq');
    expect(dlq?.args[0].input.MessageAttributes?.reason?.StringValue).toContain('no such event');
    const states = ddb
      .commandCalls(UpdateCommand)
      .map((c) => c.args[0].input.ExpressionAttributeValues?.[':state']);
    expect(states).toEqual(['DEAD_LETTERED']);
  });

  it('dead-letters a retryable failure on its last receive instead of retrying it again', async () => {
    const processor: FlowProcessor = {
      process: async () => {
        throw new DeliveryError('DERMS did not answer', { retryable: true });
      },
    };
    const last = sqsRecord(envelope('m-last'), { receiveCount: LIMIT - 1 });
    await expect(run(processor, last)).resolves.toEqual({ batchItemFailures: [] });
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(1);
    expect(reasonSent()).toContain('receive limit reached');
    expect(reasonSent()).toContain('DERMS did not answer');
  });

  it('dead-letters, untried, a message that reaches the receive limit (a crash loop), with the last error', async () => {
    ddb.on(GetCommand).resolves({
      Item: { pk: 'x', state: 'RETRYING', attempts: 3, lastError: 'Task timed out', events: [] },
    });
    let calls = 0;
    const processor: FlowProcessor = {
      process: async () => {
        calls += 1;
        return { state: OUTCOMES.DELIVERED };
      },
    };
    await expect(run(processor, sqsRecord(envelope('m-loop'), { receiveCount: LIMIT }))).resolves.toEqual({
      batchItemFailures: [],
    });
    expect(calls).toBe(0);
    expect(reasonSent()).toMatch(/receive limit reached .*crash or a time-out; last error: Task timed out/);
    expect(updates().map((u) => u?.[':state'])).toEqual(['DEAD_LETTERED']);
  });

  it('keeps retrying while the window is open, however many receives it took, and counts attempts itself', async () => {
    ddb.on(GetCommand).resolves({ Item: { pk: 'x', state: 'RETRYING', attempts: 7, events: [] } });
    const processor: FlowProcessor = {
      process: async () => {
        throw new DeliveryError('DERMS answered 503', { retryable: true, statusCode: 503 });
      },
    };
    const record = sqsRecord(envelope('m-long'), { receiveCount: 40 });
    await expect(run(processor, record)).resolves.toEqual({
      batchItemFailures: [{ itemIdentifier: record.messageId }],
    });
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
    const update = updates()[0];
    expect(update?.[':state']).toBe('RETRYING');
    expect(update?.[':attempts']).toBe(8);
    expect(update?.[':nextAttemptAt']).toEqual(expect.any(String));
  });

  it('dead-letters a retryable failure once the retry window since acceptance is over', async () => {
    const old = { ...envelope('m-old'), receivedAt: new Date(Date.now() - 2 * WINDOW * 1000).toISOString() };
    const processor: FlowProcessor = {
      process: async () => {
        throw new DeliveryError('DERMS answered 503', { retryable: true, statusCode: 503 });
      },
    };
    await expect(run(processor, sqsRecord(old, { receiveCount: 2 }))).resolves.toEqual({
      batchItemFailures: [],
    });
    expect(reasonSent()).toMatch(/^retry window exhausted \(3600 s, 1 attempts\): DERMS answered 503/);
  });

  it('counts DeliveryFailed for every failed try, retried or dead-lettered, and not for a wait', async () => {
    // Powertools writes each metric as an EMF line on stdout: count the DeliveryFailed ones.
    const written: string[] = [];
    const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    const failing = (error: Error): FlowProcessor => ({
      process: async () => {
        throw error;
      },
    });
    await run(
      failing(new DeliveryError('DERMS answered 503', { retryable: true })),
      sqsRecord(envelope('f1')),
    );
    await run(
      failing(new DeliveryError('DERMS answered 400', { retryable: false })),
      sqsRecord(envelope('f2')),
    );
    await run(failing(new RetryLaterError('waiting')), sqsRecord(envelope('f3')));
    write.mockRestore();
    const failed = written
      .flatMap((line) => line.split('\n'))
      .filter((line) => line.includes('"DeliveryFailed":1'));
    expect(failed).toHaveLength(2);
    expect(failed.every((line) => line.includes('"flow":"optOut"'))).toBe(true);
  });

  it('does not count a deliberate wait as an attempt', async () => {
    ddb.on(GetCommand).resolves({ Item: { pk: 'x', state: 'RETRYING', attempts: 2, events: [] } });
    const processor: FlowProcessor = {
      process: async () => {
        throw new RetryLaterError('sync request not recorded yet', { delaySeconds: 5 });
      },
    };
    await run(processor, sqsRecord(envelope('m-wait'), { receiveCount: 9 }));
    expect(updates()[0]?.[':attempts']).toBe(2);
    expect(visibility()).toBe(5);
  });

  it.each([
    ['0', 1],
    ['7200', 7200],
  ])(
    'honours Retry-After %s as %i s: never below the floor, even above RETRY_MAX_SECONDS',
    async (asked, expected) => {
      const processor: FlowProcessor = {
        process: async () => {
          throw new DeliveryError('DACS answered 429', {
            retryable: true,
            statusCode: 429,
            retryAfterSeconds: Number(asked),
          });
        },
      };
      await run(processor, sqsRecord(envelope(`m-ra-${asked}`)));
      expect(visibility()).toBe(expected);
    },
  );

  it('answers the processor the very decision it then carries out', async () => {
    let asked: FailureDecision | undefined;
    const processor: FlowProcessor = {
      process: async (_message, context) => {
        const error = new DeliveryError('DACS answered 503', { retryable: true, statusCode: 503 });
        asked = context.failureDecision(error);
        expect(context.failureDecision(error)).toBe(asked);
        throw error;
      },
    };
    await run(processor, sqsRecord(envelope('m-ask')));
    expect(asked?.action).toBe('retry');
    expect(visibility()).toBe(asked?.delaySeconds);
  });

  it('dead-letters a record that is not an envelope without touching the others', async () => {
    const processor: FlowProcessor = { process: async () => ({ state: OUTCOMES.DELIVERED }) };
    await expect(run(processor, sqsRecord('{oops'), sqsRecord(envelope('m-fine')))).resolves.toEqual({
      batchItemFailures: [],
    });
    expect(sqs.commandCalls(SendMessageCommand)[0]?.args[0].input.MessageBody).toBe('{oops');
  });

  it('skips a duplicate receive of a message already delivered', async () => {
    ddb.on(GetCommand).resolves({ Item: { pk: 'm-done', state: 'DELIVERED', events: [] } });
    let calls = 0;
    const processor: FlowProcessor = {
      process: async () => {
        calls += 1;
        return { state: OUTCOMES.DELIVERED };
      },
    };
    await expect(run(processor, sqsRecord(envelope('m-done')))).resolves.toEqual({ batchItemFailures: [] });
    expect(calls).toBe(0);
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
  });

  it('records a superseded message as SUPERSEDED, not delivered', async () => {
    const processor: FlowProcessor = {
      process: async () => ({ state: OUTCOMES.SUPERSEDED, reason: 'newer CANCEL' }),
    };
    await run(processor, sqsRecord(envelope('m-old')));
    const states = ddb
      .commandCalls(UpdateCommand)
      .map((c) => c.args[0].input.ExpressionAttributeValues?.[':state']);
    expect(states).toEqual(['SUPERSEDED']);
  });
});

describe('createProcessHandler settings', () => {
  it('reads its settings once, at creation, hands them to every call, and configures the processor once', async () => {
    const seen: ProcessContext['settings'][] = [];
    const configure = jest.fn();
    const processor: FlowProcessor = {
      process: async (_message, context) => {
        seen.push(context.settings);
        return { state: OUTCOMES.DELIVERED };
      },
      configure,
    };
    process.env.SYNC_DEADLINE_SECONDS = '15';
    const handler = createProcessHandler(flow, processor);
    process.env.SYNC_DEADLINE_SECONDS = '99';
    try {
      await handler(sqsEvent(sqsRecord(envelope('s1'))), lambdaContext());
      await handler(sqsEvent(sqsRecord(envelope('s2'))), lambdaContext());
    } finally {
      delete process.env.SYNC_DEADLINE_SECONDS;
    }
    expect(seen.map((s) => s.syncDeadlineSeconds)).toEqual([15, 15]);
    expect(seen[0]).toBe(seen[1]);
    expect(Object.isFrozen(seen[0])).toBe(true);
    expect(configure).toHaveBeenCalledTimes(1);
    expect(configure).toHaveBeenCalledWith(seen[0]);
  });

  it('takes its retry window from the settings it is given', async () => {
    const processor: FlowProcessor = {
      process: async () => {
        throw new DeliveryError('DERMS answered 503', { retryable: true, statusCode: 503 });
      },
    };
    const handler = createProcessHandler(flow, processor, { ...DEFAULT_SETTINGS, retryWindowSeconds: 0 });
    await expect(handler(sqsEvent(sqsRecord(envelope('m-w0'))), lambdaContext())).resolves.toEqual({
      batchItemFailures: [],
    });
    expect(reasonSent()).toContain('retry window exhausted');
  });

  it('fails at creation, naming the key, when a tunable is malformed', () => {
    process.env.FINAL_ACK_GRACE_SECONDS = 'half a minute';
    try {
      expect(() =>
        createProcessHandler(flow, { process: async () => ({ state: OUTCOMES.DELIVERED }) }),
      ).toThrow(expect.objectContaining({ name: 'ConfigurationError', key: 'FINAL_ACK_GRACE_SECONDS' }));
    } finally {
      delete process.env.FINAL_ACK_GRACE_SECONDS;
    }
  });
});

describe('isPermanent', () => {
  it('classifies failures', () => {
    expect(isPermanent(new DeliveryError('x', { retryable: false }))).toBe(true);
    expect(isPermanent(new DeliveryError('x', { retryable: true }))).toBe(false);
    expect(isPermanent(new PoisonMessageError('x'))).toBe(true);
    expect(isPermanent(new RetryLaterError('x'))).toBe(false);
    expect(isPermanent(new Error('DynamoDB throttled'))).toBe(false);
  });
  it('describes a delivery failure with the receiver’s answer', () => {
    expect(
      describeError(new DeliveryError('DACS answered 400', { retryable: false, responseBody: 'bad flag' })),
    ).toBe('DACS answered 400: bad flag');
  });
});

describe('createProcessHandler on a FIFO flow', () => {
  const fifo = FLOWS.unavailability;
  process.env[fifo.queue.urlEnv] = 'http://sqs.local/unavailability.fifo';
  process.env[fifo.queue.dlqUrlEnv] = 'http://sqs.local/unavailability-dlq.fifo';

  it('holds back the rest of a failed message group, in order, and lets other groups through', async () => {
    const delivered: string[] = [];
    const processor: FlowProcessor = {
      process: async (message) => {
        if (message.messageId === 'g1-first')
          throw new DeliveryError('DERMS answered 503', { retryable: true });
        delivered.push(message.messageId);
        return { state: OUTCOMES.DELIVERED };
      },
    };
    const first = sqsRecord(envelope('g1-first'), { groupId: 'device-1', messageId: 'sqs-1' });
    const second = sqsRecord(envelope('g1-second'), { groupId: 'device-1', messageId: 'sqs-2' });
    const other = sqsRecord(envelope('g2-only'), { groupId: 'device-2', messageId: 'sqs-3' });
    const result = await createProcessHandler(fifo, processor)(
      sqsEvent(first, second, other),
      lambdaContext(),
    );
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'sqs-1' }, { itemIdentifier: 'sqs-2' }] });
    expect(delivered).toEqual(['g2-only']);
  });

  it('dead-letters into the FIFO DLQ within the message’s group', async () => {
    const processor: FlowProcessor = {
      process: async () => {
        throw new DeliveryError('DERMS answered 400', { retryable: false, statusCode: 400 });
      },
    };
    await createProcessHandler(fifo, processor)(
      sqsEvent(sqsRecord(envelope('g3'), { groupId: 'device-3', messageId: 'sqs-9' })),
      lambdaContext(),
    );
    expect(sqs.commandCalls(SendMessageCommand)[0]?.args[0].input).toMatchObject({
      QueueUrl: 'http://sqs.local/unavailability-dlq.fifo',
      MessageGroupId: 'device-3',
      MessageDeduplicationId: expect.any(String),
    });
  });
});
