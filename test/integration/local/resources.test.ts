import { DescribeTableCommand, DescribeTimeToLiveCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { ensureQueues } from '#local/resources.ts';
import { receiveLimit, retryPolicyFromEnv } from '#shared/delivery/retry.ts';
import { FLOW_IDS, FLOWS } from '#shared/flows/registry.ts';
import { TABLES } from '#shared/store/tables.ts';

const dynamo = new DynamoDBClient({});
const sqs = new SQSClient({});

afterAll(() => {
  dynamo.destroy();
  sqs.destroy();
});

describe('integration resources', () => {
  it('creates every table named in the environment, with its sparse indexes projecting ALL', async () => {
    for (const table of TABLES) {
      const name = process.env[table.nameEnv];
      expect(name).toBe(`it-${table.name}`);
      const { Table } = await dynamo.send(new DescribeTableCommand({ TableName: name }));
      expect(Table?.TableStatus).toBe('ACTIVE');
      expect(Table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
      const ttl = await dynamo.send(new DescribeTimeToLiveCommand({ TableName: name }));
      expect(ttl.TimeToLiveDescription?.AttributeName).toBe(table.ttlAttribute);
    }
    const { Table } = await dynamo.send(
      new DescribeTableCommand({ TableName: process.env.CORRELATION_TABLE }),
    );
    // DynamoDB Local lists indexes in no fixed order.
    expect(
      Table?.GlobalSecondaryIndexes?.map((i) => [i.IndexName, i.Projection?.ProjectionType]).sort(),
    ).toEqual([
      ['byDeadline', 'ALL'],
      ['byDevice', 'ALL'],
    ]);
    const trace = await dynamo.send(new DescribeTableCommand({ TableName: process.env.TRACE_TABLE }));
    expect(trace.Table?.GlobalSecondaryIndexes?.map((i) => i.IndexName).sort()).toEqual(
      ['byBusinessId', 'byDeadLetter', 'byDevice', 'byEvent'].sort(),
    );
  });

  it('creates every flow queue with its dead-letter queue and redrive policy', async () => {
    for (const flowId of FLOW_IDS) {
      const { queue } = FLOWS[flowId];
      const url = process.env[queue.urlEnv];
      const dlqUrl = process.env[queue.dlqUrlEnv];
      expect(url).toBeDefined();
      expect(dlqUrl).toBeDefined();
      expect(url!.endsWith(queue.fifo ? '.fifo' : queue.name)).toBe(true);
      const { Attributes } = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }),
      );
      const dlq = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['All'] }),
      );
      expect(Attributes?.VisibilityTimeout).toBe(String(6 * queue.functionTimeoutSeconds));
      expect(JSON.parse(Attributes?.RedrivePolicy ?? '{}')).toEqual({
        deadLetterTargetArn: dlq.Attributes?.QueueArn,
        maxReceiveCount: receiveLimit(retryPolicyFromEnv()),
      });
      expect(dlq.Attributes?.MessageRetentionPeriod).toBe(String(14 * 24 * 3600));
      if (queue.fifo) expect(Attributes?.FifoQueue).toBe('true');
    }
  });

  it('dead-letters a FIFO message after maxReceiveCount receives', async () => {
    // The shortest window gives the smallest backstop: 2 × 1 attempt + the receive slack.
    const short = { RETRY_WINDOW_SECONDS: '1', RETRY_BASE_SECONDS: '1', RETRY_MAX_SECONDS: '1' };
    const queues = await ensureQueues(sqs, 'it-redrive-', short);
    const { url, dlqUrl } = queues.assetSync;
    const max = receiveLimit(retryPolicyFromEnv(short));
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: url,
        MessageBody: '{"poison":true}',
        MessageGroupId: 'g1',
        MessageDeduplicationId: 'd1',
      }),
    );
    for (let receive = 1; receive <= max; receive++) {
      const { Messages } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: url,
          MaxNumberOfMessages: 1,
          MessageSystemAttributeNames: ['All'],
        }),
      );
      expect(Messages).toHaveLength(1);
      expect(Messages?.[0]?.Attributes?.ApproximateReceiveCount).toBe(String(receive));
      expect(Messages?.[0]?.Attributes?.MessageGroupId).toBe('g1');
      // What the process handler does on a retryable failure: make it visible again (here at once).
      await sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: url,
          ReceiptHandle: Messages?.[0]?.ReceiptHandle,
          VisibilityTimeout: 0,
        }),
      );
    }
    const after = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 1 }));
    expect(after.Messages ?? []).toHaveLength(0);
    const dead = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: dlqUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 1 }),
    );
    expect(dead.Messages?.map((m) => m.Body)).toEqual(['{"poison":true}']);
    await sqs.send(
      new DeleteMessageCommand({ QueueUrl: dlqUrl, ReceiptHandle: dead.Messages?.[0]?.ReceiptHandle }),
    );
  });
});
