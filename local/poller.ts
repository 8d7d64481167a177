/**
 * The local SQS event source mapping: long-polls one queue with the flow's batch size, invokes the
 * process handler with an SQS event, deletes the records that succeeded (partial batch response) and
 * leaves the rest to their visibility timeout, which is what makes SQS redeliver and, after
 * `maxReceiveCount`, dead-letter them. `maxConcurrency` caps the invocations in flight.
 */
import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { buildSqsEvent, type LambdaHandler, lambdaContext, succeededRecords } from '#local/lambda.ts';
import { sleep } from '#shared/time.ts';

export interface PollerOptions {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly functionName: string;
  readonly loadHandler: () => Promise<LambdaHandler>;
  readonly batchSize: number;
  readonly maxConcurrency: number;
  readonly functionTimeoutSeconds: number;
  /** Long-poll wait. @default 20 */
  readonly waitTimeSeconds?: number;
  readonly log?: (line: string) => void;
}

export interface Poller {
  /** Stops receiving and waits for the invocations in flight. */
  stop(): Promise<void>;
}

/** One invocation: event in, deletes out. Returns how many records were deleted. */
export async function invokeBatch(options: PollerOptions, messages: readonly Message[]): Promise<number> {
  const log = options.log ?? (() => {});
  const event = buildSqsEvent(messages, options.queueArn);
  const context = lambdaContext({
    functionName: options.functionName,
    timeoutMs: options.functionTimeoutSeconds * 1000,
  });
  let outcome: { ok: true; value: unknown } | { ok: false };
  try {
    const handler = await options.loadHandler();
    outcome = { ok: true, value: await handler(event, context) };
  } catch (error) {
    log(`[${options.functionName}] batch of ${messages.length} failed: ${(error as Error).stack ?? error}`);
    outcome = { ok: false };
  }
  const done = succeededRecords(event, outcome);
  for (let i = 0; i < done.length; i += 10) {
    const entries = done.slice(i, i + 10).map((r, n) => ({ Id: String(n), ReceiptHandle: r.receiptHandle }));
    const answer = await options.sqs.send(
      new DeleteMessageBatchCommand({ QueueUrl: options.queueUrl, Entries: entries }),
    );
    for (const failed of answer.Failed ?? []) {
      log(`[${options.functionName}] delete failed: ${failed.Code} ${failed.Message ?? ''}`);
    }
  }
  return done.length;
}

export function startPoller(options: PollerOptions): Poller {
  const controller = new AbortController();
  // One loop per concurrent invocation, like the event source mapping's pollers scaled to maxConcurrency.
  const loops = Array.from({ length: Math.max(1, options.maxConcurrency) }, () =>
    pollUntilAborted(options, controller.signal),
  );
  return {
    async stop() {
      controller.abort();
      await Promise.allSettled(loops);
    },
  };
}

/** Receive, invoke, repeat; a failed receive is retried after a second. */
async function pollUntilAborted(options: PollerOptions, signal: AbortSignal): Promise<void> {
  const log = options.log ?? (() => {});
  while (!signal.aborted) {
    let messages: Message[] = [];
    try {
      messages = await receiveBatch(options, signal);
    } catch (error) {
      if (signal.aborted) return;
      log(`[${options.functionName}] receive failed: ${(error as Error).message}; retrying in 1 s`);
      await sleep(1000, signal);
      continue;
    }
    if (messages.length === 0) continue;
    try {
      await invokeBatch(options, messages);
    } catch (error) {
      log(`[${options.functionName}] ${(error as Error).message}`);
    }
  }
}

/** One long poll for up to a batch, with every attribute, as the event source mapping receives. */
async function receiveBatch(options: PollerOptions, signal: AbortSignal): Promise<Message[]> {
  const answer = await options.sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: options.queueUrl,
      MaxNumberOfMessages: options.batchSize,
      WaitTimeSeconds: options.waitTimeSeconds ?? 20,
      AttributeNames: ['All'],
      MessageSystemAttributeNames: ['All'],
      MessageAttributeNames: ['All'],
    }),
    { abortSignal: signal },
  );
  return answer.Messages ?? [];
}

export interface Schedule {
  stop(): Promise<void>;
}

/** Runs `task` every `intervalMs`, never two at once (a slow run delays the next). */
export function every(intervalMs: number, task: () => Promise<void>): Schedule {
  let running: Promise<void> | undefined;
  let stopped = false;
  const timer = setInterval(() => {
    if (running || stopped) return;
    running = task().finally(() => {
      running = undefined;
    });
  }, intervalMs);
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
