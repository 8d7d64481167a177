/**
 * `npm run redrive -- <flowId>`: moves a flow's dead-letter messages back to its source queue.
 *
 * Against AWS (`--aws`, or no `AWS_ENDPOINT_URL_SQS` while the flow's DLQ URL variable is set), it starts an SQS message move task, which keeps message
 * attributes and is what the console's "Start DLQ redrive" does. Locally, fauxqs has no move tasks, so
 * it receives, sends and deletes, keeping the body, the message attributes and (FIFO) the group id.
 *
 * Queue URLs come from the flow's `queue.dlqUrlEnv`/`queue.urlEnv` when set; otherwise from the local
 * stack's names (`local-…`) on the local endpoint.
 */
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { DEFAULT_PORTS, LOCAL_CREDENTIALS, LOCAL_PREFIX, LOCAL_REGION } from '#local/constants.ts';
import { queueNames } from '#local/resources.ts';
import { maybeString, optionalNumber, optionalString } from '#shared/config/env.ts';
import { FLOW_IDS, FLOWS, type FlowId } from '#shared/flows/registry.ts';

export interface RedriveResult {
  readonly moved: number;
  /** Set when an SQS message move task was started instead (AWS). */
  readonly taskHandle?: string;
}

/** Moves every message of `dlqUrl` to `queueUrl` by receive, send, delete (for emulators without move tasks). */
export async function moveMessages(
  sqs: SQSClient,
  dlqUrl: string,
  queueUrl: string,
  fifo: boolean,
): Promise<number> {
  let moved = 0;
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: dlqUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        VisibilityTimeout: 60,
        MessageAttributeNames: ['All'],
        MessageSystemAttributeNames: ['All'],
      }),
    );
    if (Messages.length === 0) return moved;
    const sent = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: Messages.map((m, i) => ({
          Id: String(i),
          MessageBody: m.Body ?? '',
          ...(m.MessageAttributes && Object.keys(m.MessageAttributes).length > 0
            ? { MessageAttributes: m.MessageAttributes }
            : {}),
          ...(fifo
            ? {
                MessageGroupId: m.Attributes?.MessageGroupId ?? 'redrive',
                // A fresh id: the original one may still be inside the queue's deduplication window.
                MessageDeduplicationId: `redrive-${m.MessageId}-${Date.now()}`,
              }
            : {}),
        })),
      }),
    );
    const ok = new Set((sent.Successful ?? []).map((s) => s.Id));
    for (const failure of sent.Failed ?? []) {
      console.error(`  could not move message ${failure.Id}: ${failure.Code} ${failure.Message ?? ''}`);
    }
    const done = Messages.filter((_, i) => ok.has(String(i)));
    if (done.length > 0) {
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: dlqUrl,
          Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
        }),
      );
    }
    moved += done.length;
    if (done.length === 0) return moved;
  }
}

/**
 * @param options.aws Use the AWS SQS endpoint (message move task). @default true when
 *   `AWS_ENDPOINT_URL_SQS` is unset and the flow's DLQ URL variable is set, i.e. real queues are configured.
 */
export async function redrive(flowId: FlowId, options: { aws?: boolean } = {}): Promise<RedriveResult> {
  const { queue } = FLOWS[flowId];
  const endpoint = maybeString('AWS_ENDPOINT_URL_SQS');
  const onAws = endpoint === undefined && (options.aws ?? maybeString(queue.dlqUrlEnv) !== undefined);
  const local = `http://127.0.0.1:${optionalNumber('LOCAL_SQS_PORT', DEFAULT_PORTS.sqs)}`;
  const sqs = onAws
    ? new SQSClient({})
    : new SQSClient({
        endpoint: endpoint ?? local,
        region: optionalString('AWS_REGION', LOCAL_REGION),
        credentials: LOCAL_CREDENTIALS,
      });
  try {
    const names = queueNames(optionalString('LOCAL_PREFIX', LOCAL_PREFIX), flowId);
    const urlOf = async (env: string, name: string) =>
      maybeString(env) ?? (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl!;
    const dlqUrl = await urlOf(queue.dlqUrlEnv, names.dlqName);
    const queueUrl = await urlOf(queue.urlEnv, names.name);
    if (onAws) {
      const arnOf = async (url: string) =>
        (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] })))
          .Attributes!.QueueArn!;
      const task = await sqs.send(
        new StartMessageMoveTaskCommand({
          SourceArn: await arnOf(dlqUrl),
          DestinationArn: await arnOf(queueUrl),
        }),
      );
      return { moved: 0, ...(task.TaskHandle ? { taskHandle: task.TaskHandle } : {}) };
    }
    return { moved: await moveMessages(sqs, dlqUrl, queueUrl, queue.fifo) };
  } finally {
    sqs.destroy();
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const flowId = args.find((a) => !a.startsWith('--')) as FlowId | undefined;
  if (!flowId || !FLOW_IDS.includes(flowId)) {
    console.error(
      `Usage: npm run redrive -- <flowId> [--aws]\n  flowId: ${FLOW_IDS.join(' | ')}\n` +
        '  Local by default (fauxqs on LOCAL_SQS_PORT, 4566); --aws starts an SQS message move task instead.',
    );
    process.exit(2);
  }
  const result = await redrive(flowId, args.includes('--aws') ? { aws: true } : {});
  if (result.taskHandle) console.log(`Started SQS message move task ${result.taskHandle} for ${flowId}`);
  else console.log(`Moved ${result.moved} message(s) from the ${flowId} dead-letter queue back to its queue`);
}

if (process.argv[1]?.endsWith('redrive.ts')) {
  main().catch((error: unknown) => {
    console.error(`Redrive failed: ${(error as Error).message}`);
    process.exit(1);
  });
}
