/**
 * The process handler, one per flow: an SQS batch with partial batch failure. Each record is read,
 * handed to the flow's processor, and its outcome recorded in the MessageTrace.
 *
 * Failure handling, per record (the rules are in `failure.ts`):
 *   permanent (other 4xx, poison, broken contract)  → sent to the DLQ now with its reason, deleted here
 *   retryable, retry window over                    → sent to the DLQ, "retry window exhausted", deleted here
 *   retryable otherwise, or a deliberate wait       → RETRYING; its visibility becomes the delay
 *                                                     (Retry-After honoured); reported as a batch failure
 *
 * The window (`RETRY_WINDOW_SECONDS`) counts from acceptance, and attempts are counted in the trace,
 * not by SQS receives. SQS's `maxReceiveCount` ({@link receiveLimit}) is only the backstop for crash
 * loops: the receive that reaches it dead-letters the message here, with that reason, before trying it,
 * so that SQS never dead-letters a message whose trace does not say why.
 *
 * A message whose trace is already DELIVERED or SUPERSEDED is a duplicate receive and is skipped:
 * together with the receivers' Idempotency-Key this gives exactly-once effect.
 */
import {
  BatchProcessor,
  EventType,
  processPartialResponse,
  SqsFifoPartialProcessorAsync,
} from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import { ChangeMessageVisibilityCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { sqsClient } from '#shared/aws/clients.ts';
import { requireString } from '#shared/config/env.ts';
import { loadSettings, type Settings } from '#shared/config/settings.ts';
import { type RetryPolicy, receiveLimit } from '#shared/delivery/retry.ts';
import { PoisonMessageError } from '#shared/errors.ts';
import type { FlowDefinition } from '#shared/flows/registry.ts';
import {
  decideFailure,
  FAILURE_ACTIONS,
  type FailureDecision,
  isWait,
  memoiseDecisions,
} from '#shared/handlers/failure.ts';
import { countMetric, logger, METRIC, MetricUnit, tracer } from '#shared/observability.ts';
import {
  type DeadlineCommand,
  keepableCopy,
  parseQueueMessage,
  type QueueMessage,
  type ResolvedEnvelope,
  resolvePayload,
} from '#shared/queue/envelope.ts';
import {
  FINAL_STATES,
  getTrace,
  markDeadLettered,
  markDelivered,
  markRetrying,
  markSuperseded,
} from '#shared/trace/store.ts';

export { describeError, type FailureDecision, isPermanent } from '#shared/handlers/failure.ts';

export interface ProcessContext {
  flow: FlowDefinition;
  /** This delivery attempt's number, from 1, counted by the integration (waits and skips cost none). */
  attempt: number;
  /** True when a failure now would dead-letter whatever it is: the window is over, or the receives are. */
  lastAttempt: boolean;
  now: Date;
  /** The function's settings, read once when its handler was created. */
  settings: Settings;
  /**
   * What the handler will do with this error if the processor rethrows it. Made once per error, so
   * asking is free and the answer is exactly what happens.
   */
  failureDecision(error: unknown): FailureDecision;
}

export const OUTCOMES = { DELIVERED: 'DELIVERED', SUPERSEDED: 'SUPERSEDED' } as const;

export type ProcessOutcome =
  | { state: typeof OUTCOMES.DELIVERED; detail?: string }
  | { state: typeof OUTCOMES.SUPERSEDED; reason: string };

export interface FlowProcessor {
  /** Maps and delivers one accepted message. Throws DeliveryError / RetryLaterError to retry or dead-letter. */
  process: (message: ResolvedEnvelope, context: ProcessContext) => Promise<ProcessOutcome>;
  /** Handles a deadline command (only the ack flow receives them). */
  deadline?: (command: DeadlineCommand, context: ProcessContext) => Promise<void>;
  /** Takes the function's settings once, when its handler is created, for what reads them outside a call. */
  configure?: (settings: Settings) => void;
}

/** What a process function reads once, at initialisation. */
interface ProcessSettings {
  readonly flow: FlowDefinition;
  readonly processor: FlowProcessor;
  readonly queueUrl: string;
  readonly dlqUrl: string;
  readonly policy: RetryPolicy;
  /** The queue's `maxReceiveCount`. */
  readonly receiveLimit: number;
  /** The tunables, as {@link loadSettings} read them. */
  readonly functionSettings: Settings;
}

/** One received record, once parsed: the message and what its trace says of earlier attempts. */
interface Received {
  readonly record: SQSRecord;
  readonly message: QueueMessage;
  readonly receives: number;
  readonly attemptsBefore: number;
  readonly acceptedAt: Date;
  readonly lastError?: string;
  /** Events its trace lists. */
  readonly eventCount?: number;
}

/**
 * The process Lambda handler of `flow`. Its settings are read here, once (on Lambda: at module
 * initialisation of the entry point), and handed to the processor.
 */
export function createProcessHandler(
  flow: FlowDefinition,
  processor: FlowProcessor,
  functionSettings: Settings = loadSettings(),
) {
  const policy: RetryPolicy = {
    baseSeconds: functionSettings.retryBaseSeconds,
    maxSeconds: functionSettings.retryMaxSeconds,
    windowSeconds: functionSettings.retryWindowSeconds,
  };
  const settings: ProcessSettings = {
    flow,
    processor,
    queueUrl: requireString(flow.queue.urlEnv),
    dlqUrl: requireString(flow.queue.dlqUrlEnv),
    policy,
    receiveLimit: receiveLimit(policy),
    functionSettings,
  };
  processor.configure?.(functionSettings);
  const handle = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    const batch = flow.queue.fifo ? new SqsFifoPartialProcessorAsync() : new BatchProcessor(EventType.SQS);
    return processPartialResponse(event, (record: SQSRecord) => handleRecord(settings, record), batch, {
      context,
      throwOnFullBatchFailure: false,
      ...(flow.queue.fifo ? { skipGroupOnError: true } : {}),
    } as never);
  };
  return middy(handle)
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(captureLambdaHandler(tracer, { captureResponse: false }));
}

export async function handleRecord(settings: ProcessSettings, record: SQSRecord): Promise<void> {
  const receives = Number(record.attributes?.ApproximateReceiveCount ?? '1') || 1;
  let message: QueueMessage;
  try {
    message = parseQueueMessage(record);
  } catch (error) {
    countMetric(METRIC.DeliveryFailed, settings.flow.id);
    await deadLetter(settings, record, undefined, poison(error, receives));
    return;
  }
  const received = await readTrace(settings, record, message, receives);
  if (!received) return;
  if (receives >= settings.receiveLimit) {
    await deadLetter(settings, record, received, receiveLimitReached(settings, received));
    return;
  }
  const context = processContext(settings, received);
  try {
    await run(settings, received, context);
  } catch (error) {
    // Every failed try, retried or dead-lettered, counts; a deliberate wait is not a failure.
    if (!isWait(error)) countMetric(METRIC.DeliveryFailed, settings.flow.id);
    const decision = context.failureDecision(error);
    if (decision.action === FAILURE_ACTIONS.DEAD_LETTER) {
      await deadLetter(settings, record, received, decision);
      return;
    }
    await retryLater(settings, received, decision, error);
  }
}

/** The message with its attempts so far; `undefined` when its trace says it is finished already. */
async function readTrace(
  { flow }: ProcessSettings,
  record: SQSRecord,
  message: QueueMessage,
  receives: number,
): Promise<Received | undefined> {
  if (message.kind === 'deadline') {
    // A deadline command has no trace: each receive counts as an attempt.
    const acceptedAt = new Date(message.requestedAt);
    return { record, message, receives, attemptsBefore: receives - 1, acceptedAt };
  }
  const trace = await getTrace(message.messageId);
  if (trace && FINAL_STATES.includes(trace.state)) {
    logger.info('Duplicate receive of a finished message; skipped', {
      flow: flow.id,
      messageId: message.messageId,
      state: trace.state,
    });
    return undefined;
  }
  if (trace && (trace.resubmissions ?? 0) > (message.resubmission ?? 0)) {
    // A copy from before support resubmitted it (its DLQ copy, redriven): the resubmitted one delivers.
    logger.info('Stale copy of a resubmitted message; skipped', {
      flow: flow.id,
      messageId: message.messageId,
      resubmissions: trace.resubmissions,
      copy: message.resubmission ?? 0,
    });
    return undefined;
  }
  return {
    record,
    message,
    receives,
    attemptsBefore: trace?.attempts ?? 0,
    acceptedAt: new Date(message.receivedAt),
    eventCount: trace?.events?.length ?? 0,
    ...(trace?.lastError ? { lastError: trace.lastError } : {}),
  };
}

function processContext(settings: ProcessSettings, received: Received): ProcessContext {
  const now = new Date();
  const windowOver = now.getTime() >= received.acceptedAt.getTime() + settings.policy.windowSeconds * 1000;
  const lastReceive = received.receives >= settings.receiveLimit - 1;
  return {
    flow: settings.flow,
    attempt: received.attemptsBefore + 1,
    lastAttempt: windowOver || lastReceive,
    now,
    settings: settings.functionSettings,
    failureDecision: memoiseDecisions((error) =>
      decideFailure({
        error,
        attemptsBefore: received.attemptsBefore,
        acceptedAt: received.acceptedAt,
        now: new Date(),
        policy: settings.policy,
        lastReceive,
      }),
    ),
  };
}

async function run(settings: ProcessSettings, received: Received, context: ProcessContext): Promise<void> {
  const { flow, processor } = settings;
  const { message } = received;
  if (message.kind === 'deadline') {
    if (!processor.deadline) throw new PoisonMessageError(`Flow ${flow.id} does not take deadline commands`);
    await processor.deadline(message, context);
    return;
  }
  const resolved = await resolvePayload(message);
  const outcome = await processor.process(resolved, context);
  const at = new Date();
  const attempt = context.attempt;
  if (outcome.state === OUTCOMES.SUPERSEDED) {
    await markSuperseded(message.messageId, { attempt, at, reason: outcome.reason });
    countMetric(METRIC.MessageSuperseded, flow.id);
    logger.info('Message superseded; not delivered', {
      flow: flow.id,
      messageId: message.messageId,
      reason: outcome.reason,
    });
    return;
  }
  await markDelivered(
    message.messageId,
    { attempt, at, ...(outcome.detail ? { detail: outcome.detail } : {}) },
    resolved.claimCheck,
  );
  countMetric(METRIC.MessageDelivered, flow.id);
  countMetric(
    METRIC.EndToEndLatency,
    flow.id,
    Math.max(0, at.getTime() - Date.parse(message.receivedAt)),
    MetricUnit.Milliseconds,
  );
  logger.info('Message delivered', { flow: flow.id, messageId: message.messageId, attempt });
}

const poison = (error: unknown, receives: number): FailureDecision =>
  decideFailure({
    error: error instanceof PoisonMessageError ? error : new PoisonMessageError(String(error)),
    attemptsBefore: receives - 1,
    acceptedAt: new Date(),
    now: new Date(),
    policy: { baseSeconds: 1, maxSeconds: 1, windowSeconds: 0 },
  });

function receiveLimitReached(settings: ProcessSettings, received: Received): FailureDecision {
  const why =
    `receive limit reached (${received.receives} of ${settings.receiveLimit}): the function kept ` +
    'failing before it could decide, a crash or a time-out';
  return {
    action: FAILURE_ACTIONS.DEAD_LETTER,
    reason: received.lastError ? `${why}; last error: ${received.lastError}` : why,
    // The trace's last error may hold a receiver's answer: the log points there instead.
    logReason: received.lastError ? `${why}; last error in the trace` : why,
    attempts: received.attemptsBefore,
    permanent: false,
  };
}

async function deadLetter(
  { flow, dlqUrl }: ProcessSettings,
  record: SQSRecord,
  received: Received | undefined,
  decision: FailureDecision,
): Promise<void> {
  const message = received?.message;
  const at = new Date();
  await sqsClient().send(
    new SendMessageCommand({
      QueueUrl: dlqUrl,
      MessageBody: record.body,
      MessageAttributes: {
        flow: { DataType: 'String', StringValue: flow.id },
        reason: { DataType: 'String', StringValue: decision.reason.slice(0, 1000) },
        attempts: { DataType: 'Number', StringValue: String(decision.attempts) },
        deadLetteredAt: { DataType: 'String', StringValue: at.toISOString() },
      },
      ...(flow.queue.fifo
        ? {
            MessageGroupId: record.attributes.MessageGroupId ?? flow.id,
            MessageDeduplicationId: `${record.messageId}-${record.attributes.ApproximateReceiveCount}`.slice(
              0,
              128,
            ),
          }
        : {}),
    }),
  );
  if (message?.kind === 'message') {
    // The message is safe in the DLQ: a failed trace update must not make it count as unhandled
    // (it would be received, and dead-lettered, again).
    const { messageId } = message;
    const copy = await keepCopy(flow, record.body, messageId);
    await markDeadLettered(messageId, {
      attempt: decision.attempts,
      at,
      error: decision.reason,
      flow: flow.id,
      ...(copy !== undefined ? { copy } : {}),
    }).catch((error: unknown) =>
      logger.error('Could not mark the trace DEAD_LETTERED', { flow: flow.id, messageId, error }),
    );
  }
  countMetric(METRIC.MessageDeadLettered, flow.id);
  logger.error('Message dead-lettered', {
    flow: flow.id,
    messageId: message?.messageId,
    sqsMessageId: record.messageId,
    attempts: decision.attempts,
    reason: decision.logReason ?? decision.reason,
  });
}

/** The body to keep for support's resubmit; without one (logged) the DLQ copy and redrive remain. */
function keepCopy(flow: FlowDefinition, body: string, messageId: string): Promise<string | undefined> {
  return keepableCopy(flow, body).catch((error: unknown) => {
    logger.error('Could not keep a copy for resubmit', { flow: flow.id, messageId, error });
    return undefined;
  });
}

async function retryLater(
  { flow, queueUrl }: ProcessSettings,
  received: Received,
  decision: FailureDecision,
  error: unknown,
): Promise<never> {
  const { message, record } = received;
  const delaySeconds = decision.delaySeconds ?? 1;
  // The delay first: once the trace says RETRYING, the next attempt is already scheduled.
  try {
    await sqsClient().send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: queueUrl,
        ReceiptHandle: record.receiptHandle,
        VisibilityTimeout: delaySeconds,
      }),
    );
  } catch (visibilityError) {
    // The queue's own visibility timeout then decides the retry; the message is not lost.
    logger.warn('Could not set the retry delay', {
      flow: flow.id,
      messageId: message.messageId,
      error: visibilityError,
    });
  }
  if (message.kind === 'message') {
    await markRetrying(message.messageId, {
      attempt: decision.attempts,
      at: new Date(),
      error: decision.reason,
      eventCount: received.eventCount ?? 0,
      ...(decision.nextAttemptAt ? { nextAttemptAt: decision.nextAttemptAt } : {}),
    });
  }
  if (!isWait(error)) countMetric(METRIC.DeliveryRetried, flow.id);
  logger.warn(isWait(error) ? 'Waiting before the next try' : 'Delivery will be retried', {
    flow: flow.id,
    messageId: message.messageId,
    attempts: decision.attempts,
    delaySeconds,
    reason: decision.logReason ?? decision.reason,
  });
  throw error;
}
