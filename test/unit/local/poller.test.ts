import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { describe, expect, it, jest } from '@jest/globals';
import type { LambdaHandler } from '#local/lambda.ts';
import { type PollerOptions, startPoller } from '#local/poller.ts';

/** An SQS client that hands out the given receive answers in turn, then long-polls until aborted. */
function fakeSqs(receives: (() => Message[])[]) {
  const sent: object[] = [];
  const send = async (command: object, options?: { abortSignal?: AbortSignal }) => {
    sent.push(command);
    if (command instanceof DeleteMessageBatchCommand) return { Failed: [] };
    const next = receives.shift();
    if (next) return { Messages: next() };
    await new Promise((done) => options?.abortSignal?.addEventListener('abort', done));
    throw new Error('aborted');
  };
  return { sqs: { send } as unknown as SQSClient, sent };
}

const message = (id: string): Message => ({ MessageId: id, ReceiptHandle: `rh-${id}`, Body: '{}' });

const options = (sqs: SQSClient, handler: LambdaHandler, log = jest.fn()): PollerOptions => ({
  sqs,
  queueUrl: 'q',
  queueArn: 'arn:q',
  functionName: 'local-test-process',
  loadHandler: async () => handler,
  batchSize: 10,
  maxConcurrency: 1,
  functionTimeoutSeconds: 30,
  waitTimeSeconds: 1,
  log,
});

const until = async (condition: () => boolean) => {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((done) => setTimeout(done, 5));
};

describe('startPoller', () => {
  it('receives a batch with every attribute, invokes the handler and deletes what succeeded', async () => {
    const { sqs, sent } = fakeSqs([() => [message('1'), message('2')]]);
    const handler = jest.fn<LambdaHandler>(async () => ({ batchItemFailures: [{ itemIdentifier: '2' }] }));
    const poller = startPoller(options(sqs, handler));
    await until(() => sent.some((c) => c instanceof DeleteMessageBatchCommand));
    await poller.stop();
    const receive = sent[0] as ReceiveMessageCommand;
    expect(receive).toBeInstanceOf(ReceiveMessageCommand);
    expect(receive.input).toMatchObject({ QueueUrl: 'q', MaxNumberOfMessages: 10, WaitTimeSeconds: 1 });
    expect(handler.mock.calls[0]![0].Records.map((r: { messageId: string }) => r.messageId)).toEqual([
      '1',
      '2',
    ]);
    const deleted = sent.find((c) => c instanceof DeleteMessageBatchCommand) as DeleteMessageBatchCommand;
    expect(deleted.input.Entries).toEqual([{ Id: '0', ReceiptHandle: 'rh-1' }]);
  });

  it('logs a failed receive and stops at once while waiting to retry', async () => {
    const { sqs } = fakeSqs([
      () => {
        throw new Error('connection refused');
      },
    ]);
    const log = jest.fn();
    const poller = startPoller(options(sqs, jest.fn<LambdaHandler>(), log));
    await until(() => log.mock.calls.length > 0);
    const started = Date.now();
    await poller.stop();
    expect(Date.now() - started).toBeLessThan(500);
    expect(log).toHaveBeenCalledWith(
      '[local-test-process] receive failed: connection refused; retrying in 1 s',
    );
  });

  it('runs one receive loop per concurrent invocation', async () => {
    const { sqs, sent } = fakeSqs([]);
    const poller = startPoller({ ...options(sqs, jest.fn<LambdaHandler>()), maxConcurrency: 3 });
    await until(() => sent.length >= 3);
    await poller.stop();
    expect(sent).toHaveLength(3);
  });
});
