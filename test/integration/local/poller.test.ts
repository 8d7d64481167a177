import {
  ChangeMessageVisibilityCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { startPoller } from '#local/poller.ts';
import { moveMessages } from '#local/redrive.ts';
import { ensureQueues, type FlowQueues } from '#local/resources.ts';

const sqs = new SQSClient({});
let queues: FlowQueues;

beforeAll(async () => {
  queues = await ensureQueues(sqs, 'it-poller-');
});
afterAll(() => sqs.destroy());

const count = async (url: string) => {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return (
    Number(Attributes?.ApproximateNumberOfMessages) +
    Number(Attributes?.ApproximateNumberOfMessagesNotVisible)
  );
};

const until = async (check: () => Promise<boolean>, ms = 10_000) => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('condition not met in time');
};

describe('startPoller', () => {
  it('invokes the handler with SQS events and deletes all but the batchItemFailures', async () => {
    const { url, arn } = queues.optOut;
    for (const body of ['ok-1', 'fail', 'ok-2'])
      await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: body }));
    const events: SQSEvent[] = [];
    const poller = startPoller({
      sqs,
      queueUrl: url,
      queueArn: arn,
      functionName: 'it-optOut-process',
      batchSize: 10,
      maxConcurrency: 1,
      functionTimeoutSeconds: 30,
      waitTimeSeconds: 1,
      loadHandler: async () => async (event: SQSEvent) => {
        events.push(event);
        return {
          batchItemFailures: event.Records.filter((r) => r.body === 'fail').map((r) => ({
            itemIdentifier: r.messageId,
          })),
        };
      },
    });
    try {
      await until(async () => events.flatMap((e) => e.Records).length >= 3 && (await count(url)) === 1);
    } finally {
      await poller.stop();
    }
    const record = events[0]?.Records[0];
    expect(record).toMatchObject({
      eventSource: 'aws:sqs',
      eventSourceARN: arn,
      awsRegion: 'us-east-1',
      attributes: { ApproximateReceiveCount: '1', SentTimestamp: expect.any(String) },
    });
    // The failed record stays in flight until its visibility timeout.
    const { Messages } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url }));
    expect(Messages ?? []).toEqual([]);
  });

  it('deletes nothing when the handler throws', async () => {
    const { url, arn } = queues.assetSyncAck;
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'boom' }));
    let calls = 0;
    const poller = startPoller({
      sqs,
      queueUrl: url,
      queueArn: arn,
      functionName: 'it-ack-process',
      batchSize: 10,
      maxConcurrency: 2,
      functionTimeoutSeconds: 30,
      waitTimeSeconds: 1,
      loadHandler: async () => async () => {
        calls++;
        throw new Error('handler failure');
      },
    });
    try {
      await until(async () => calls >= 1);
    } finally {
      await poller.stop();
    }
    expect(await count(url)).toBe(1);
  });
});

describe('moveMessages', () => {
  it('moves FIFO dead letters back to their queue with their group', async () => {
    const { url, dlqUrl } = queues.unavailability;
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: dlqUrl,
        MessageBody: 'dead',
        MessageGroupId: 'D1',
        MessageDeduplicationId: 'x1',
      }),
    );
    expect(await moveMessages(sqs, dlqUrl, url, true)).toBe(1);
    expect(await count(dlqUrl)).toBe(0);
    const { Messages } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MessageSystemAttributeNames: ['MessageGroupId'] }),
    );
    expect(Messages?.map((m) => [m.Body, m.Attributes?.MessageGroupId])).toEqual([['dead', 'D1']]);
    await sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: url,
        ReceiptHandle: Messages?.[0]?.ReceiptHandle,
        VisibilityTimeout: 0,
      }),
    );
  });
});
