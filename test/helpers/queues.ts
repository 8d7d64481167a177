/** Reads fauxqs queues the way the Lambda event source mapping does, for integration tests. */
import {
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';

export const sqs = (): SQSClient => new SQSClient({});

/** Receives up to `max` messages as SQS event records (with receipt handles and attributes). */
export async function receiveRecords(
  client: SQSClient,
  queueUrl: string,
  max = 10,
  waitSeconds = 1,
): Promise<SQSRecord[]> {
  const { Messages = [] } = await client.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: max,
      WaitTimeSeconds: waitSeconds,
      MessageSystemAttributeNames: ['All'],
      MessageAttributeNames: ['All'],
    }),
  );
  return Messages.map(
    (m) =>
      ({
        messageId: m.MessageId ?? '',
        receiptHandle: m.ReceiptHandle ?? '',
        body: m.Body ?? '',
        attributes: m.Attributes ?? {},
        messageAttributes: Object.fromEntries(
          Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [
            k,
            { stringValue: v.StringValue, dataType: v.DataType ?? 'String' },
          ]),
        ),
        md5OfBody: m.MD5OfBody ?? '',
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:local',
        awsRegion: 'us-east-1',
      }) as SQSRecord,
  );
}

export const toEvent = (records: SQSRecord[]): SQSEvent => ({ Records: records });

/** Deletes the records the handler did not report as failed, as the event source mapping does. */
export async function settle(
  client: SQSClient,
  queueUrl: string,
  records: SQSRecord[],
  failed: string[],
): Promise<void> {
  for (const record of records) {
    if (!failed.includes(record.messageId)) {
      await client.send(
        new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: record.receiptHandle }),
      );
    }
  }
}

export async function depth(client: SQSClient, queueUrl: string): Promise<number> {
  const { Attributes = {} } = await client.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return (
    Number(Attributes.ApproximateNumberOfMessages ?? 0) +
    Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0)
  );
}

export async function purge(client: SQSClient, ...queueUrls: string[]): Promise<void> {
  for (const url of queueUrls) await client.send(new PurgeQueueCommand({ QueueUrl: url }));
}
