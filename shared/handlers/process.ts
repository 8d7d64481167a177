/**
 * The process handler, one per flow: an SQS batch with partial batch failure. Each record is read,
 * handed to the flow's processor, and its outcome recorded in the MessageTrace.
 *
 * Failure handling, per record:
 *   permanent (other 4xx, poison, broken contract)  → sent to the DLQ now with its reason, deleted here
 *   retryable on its last receive                   → sent to the DLQ with its reason, deleted here
 *   retryable otherwise                             → RETRYING; its visibility becomes the back-off
 *                                                     (Retry-After honoured); reported as a batch failure
 * SQS's own redrive (`maxReceiveCount`) remains the backstop for crashes and timeouts.
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
import { optionalNumber, requireString } from '#shared/config/env.ts';
import { nextDelaySeconds } from '#shared/delivery/retry.ts';
import { DeliveryError, HttpError, PoisonMessageError, RetryLaterError } from '#shared/errors.ts';
import type { FlowDefinition } from '#shared/flows/registry.ts';
import { countMetric, logger, METRIC, MetricUnit, tracer } from '#shared/observability.ts';
import {
  type DeadlineCommand,
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

export interface ProcessContext {
  flow: FlowDefinition;
  /** This receive's number, from 1 (SQS ApproximateReceiveCount). */
  attempt: number;
  /** True on the last receive before the message would be dead-lettered. */
  lastAttempt: boolean;
  now: Date;
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
}

/** Why a failure is or is not worth another try. Anything unknown (a DynamoDB hiccup, a bug) is retried. */
export function isPermanent(error: unknown): boolean {
  if (error instanceof PoisonMessageError) return true;
  if (error instanceof DeliveryError) return !error.retryable;
  if (error instanceof HttpError) return error.statusCode >= 400 && error.statusCode < 500;
  return false;
}

export function describeError(error: unknown): string {
  if (error instanceof DeliveryError) {
    return error.responseBody ? `${error.message}: ${error.responseBody}` : error.message;
  }
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

const retryAfterOf = (error: unknown): number | undefined =>
  error instanceof DeliveryError
    ? error.retryAfterSeconds
    : error instanceof RetryLaterError
      ? error.delaySeconds
      : undefined;

export function createProcessHandler(flow: FlowDefinition, processor: FlowProcessor) {
  const queueUrl = requireString(flow.queue.urlEnv);
  const dlqUrl = requireString(flow.queue.dlqUrlEnv);
  const backoff = {
    baseSeconds: optionalNumber('RETRY_BASE_SECONDS', 2),
    maxSeconds: optionalNumber('RETRY_MAX_SECONDS', 900),
  };

  async function deadLetter(
    record: SQSRecord,
    message: QueueMessage | undefined,
    error: unknown,
    attempt: number,
  ) {
    const reason = describeError(error);
    await sqsClient().send(
      new SendMessageCommand({
        QueueUrl: dlqUrl,
        MessageBody: record.body,
        MessageAttributes: {
          flow: { DataType: 'String', StringValue: flow.id },
          reason: { DataType: 'String', StringValue: reason.slice(0, 1000) },
          attempts: { DataType: 'Number', StringValue: String(attempt) },
          deadLetteredAt: { DataType: 'String', StringValue: new Date().toISOString() },
        },
        ...(flow.queue.fifo
          ? {
              MessageGroupId: record.attributes.MessageGroupId ?? flow.id,
              MessageDeduplicationId: `${record.messageId}-${attempt}`.slice(0, 128),
            }
          : {}),
      }),
    );
    if (message?.kind === 'message') {
      // The message is safe in the DLQ: a failed trace update must not make it count as unhandled
      // (it would be received, and dead-lettered, again).
      const { messageId } = message;
      await markDeadLettered(messageId, { attempt, at: new Date(), error: reason }).catch((error: unknown) =>
        logger.error('Could not mark the trace DEAD_LETTERED', { flow: flow.id, messageId, error }),
      );
    }
    countMetric(METRIC.MessageDeadLettered, flow.id);
    logger.error('Message dead-lettered', {
      flow: flow.id,
      messageId: message?.messageId,
      sqsMessageId: record.messageId,
      attempt,
      reason,
    });
  }

  async function retryLater(
    record: SQSRecord,
    message: QueueMessage,
    error: unknown,
    attempt: number,
  ): Promise<never> {
    const reason = describeError(error);
    const delaySeconds = nextDelaySeconds(attempt, retryAfterOf(error), backoff);
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
      await markRetrying(message.messageId, { attempt, at: new Date(), error: reason });
    }
    countMetric(METRIC.DeliveryRetried, flow.id);
    logger.warn('Delivery will be retried', {
      flow: flow.id,
      messageId: message.messageId,
      attempt,
      delaySeconds,
      reason,
    });
    throw error;
  }

  async function handleRecord(record: SQSRecord): Promise<void> {
    const attempt = Number(record.attributes?.ApproximateReceiveCount ?? '1') || 1;
    const context: ProcessContext = {
      flow,
      attempt,
      lastAttempt: attempt >= flow.queue.maxReceiveCount,
      now: new Date(),
    };
    let message: QueueMessage | undefined;
    try {
      message = parseQueueMessage(record);
      if (message.kind === 'deadline') {
        if (!processor.deadline)
          throw new PoisonMessageError(`Flow ${flow.id} does not take deadline commands`);
        await processor.deadline(message, context);
        return;
      }
      const existing = await getTrace(message.messageId);
      if (existing && FINAL_STATES.includes(existing.state)) {
        logger.info('Duplicate receive of a finished message; skipped', {
          flow: flow.id,
          messageId: message.messageId,
          state: existing.state,
        });
        return;
      }
      const resolved = await resolvePayload(message);
      const outcome = await processor.process(resolved, context);
      const at = new Date();
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
    } catch (error) {
      if (isPermanent(error) || context.lastAttempt || !message) {
        await deadLetter(record, message, error, attempt);
        return;
      }
      await retryLater(record, message, error, attempt);
    }
  }

  const handle = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    const batch = flow.queue.fifo ? new SqsFifoPartialProcessorAsync() : new BatchProcessor(EventType.SQS);
    return processPartialResponse(event, handleRecord, batch, {
      context,
      throwOnFullBatchFailure: false,
      ...(flow.queue.fifo ? { skipGroupOnError: true } : {}),
    } as never);
  };

  return middy(handle)
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(captureLambdaHandler(tracer, { captureResponse: false }));
}
