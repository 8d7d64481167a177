/**
 * What travels on the queues. An ingest function wraps the validated message in an envelope; a
 * message too large for SQS travels through S3 instead (claim check) and the envelope carries only
 * its reference. The deadline sweep puts `deadline` commands on the ack queue.
 *
 * Every body goes through {@link serializeForQueue}, so whatever text a payload holds the queue can
 * carry it; every FIFO group id goes through {@link messageGroupIdFor}, so any identifier can be one.
 */
import { randomUUID } from 'node:crypto';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { s3Client, s3Sdk, sqsClient } from '#shared/aws/clients.ts';
import { requireString } from '#shared/config/env.ts';
import { messageGroupIdFor } from '#shared/delivery/keys.ts';
import { PoisonMessageError } from '#shared/errors.ts';
import type { FlowDefinition, FlowId } from '#shared/flows/registry.ts';
import { CLAIM_CHECK_BUCKET_ENV } from '#shared/store/tables.ts';

export const ENVELOPE_VERSION = 1;

export interface PayloadReference {
  bucket: string;
  key: string;
}

export interface MessageEnvelope {
  v: typeof ENVELOPE_VERSION;
  kind: 'message';
  messageId: string;
  flowId: FlowId;
  businessKey: string;
  receivedAt: string;
  /** The OAuth client that sent it, for telemetry (e.g. who still uses the legacy ack). */
  callerId?: string;
  payload?: unknown;
  payloadRef?: PayloadReference;
  /**
   * Set on a copy queued again by support's resubmit: the trace's resubmission count when it was
   * queued. A copy whose number is below the trace's (e.g. the DLQ copy, redriven later) is stale.
   */
  resubmission?: number;
}

/** Queued by the deadline sweep: consolidate this sync request now, its deadline has passed. */
export interface DeadlineCommand {
  v: typeof ENVELOPE_VERSION;
  kind: 'deadline';
  messageId: string;
  syncRequestId: string;
  requestedAt: string;
}

export type QueueMessage = MessageEnvelope | DeadlineCommand;

/** A message envelope whose payload has been fetched back from S3 where needed. */
export type ResolvedEnvelope = Omit<MessageEnvelope, 'payloadRef'> & {
  payload: unknown;
  claimCheck: boolean;
};

/**
 * SQS takes at most 1 MiB per message (body and attributes). Above this many bytes of envelope the
 * payload goes to S3, leaving room for attributes.
 */
export const DEFAULT_CLAIM_CHECK_THRESHOLD_BYTES = 1_000_000;

/**
 * What `JSON.stringify` can still write raw that is outside the body character set of SQS
 * (#x9 | #xA | #xD | #x20–#xD7FF | #xE000–#xFFFD | #x10000–#x10FFFF) or of its emulators: U+FFFE,
 * U+FFFF, and the surrogate code units that make up every non-BMP character (emoji). Real SQS takes
 * non-BMP characters, fauxqs refuses them; escaped, both take them. `JSON.stringify` already escapes
 * control characters and lone surrogates.
 */
const NOT_FOR_SQS = /[\uD800-\uDFFF\uFFFE\uFFFF]/g;

const escapeForJson = (char: string): string => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`;

/**
 * JSON text of `value` in characters any SQS body takes: what SQS would refuse is written as a
 * `\uXXXX` escape (a surrogate pair as two), which `JSON.parse` restores, so the receiver gets the
 * value unchanged. Only for queue bodies: S3 objects take any bytes and stay plain JSON.
 */
export function serializeForQueue(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError('Nothing to queue: the value has no JSON form');
  return text.replace(NOT_FOR_SQS, escapeForJson);
}

export interface EnqueueOptions {
  /** FIFO message group, any string (see {@link messageGroupIdFor}); the message id when absent. */
  groupId?: string;
  /** Envelopes larger than this go through S3. @default the table's `CLAIM_CHECK_THRESHOLD_BYTES` default */
  claimCheckThresholdBytes?: number;
}

/**
 * Moves an envelope's payload to the claim-check object `<flowId>/<messageId>.json` (encrypted, expiring
 * with the trace) and answers the queue body that carries its reference instead.
 */
async function claimChecked(flow: FlowDefinition, envelope: MessageEnvelope): Promise<string> {
  const bucket = requireString(CLAIM_CHECK_BUCKET_ENV);
  const key = `${flow.id}/${envelope.messageId}.json`;
  const { PutObjectCommand } = await s3Sdk();
  await (await s3Client()).send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      // Plain JSON: S3 takes any bytes.
      Body: JSON.stringify(envelope.payload),
      ContentType: 'application/json',
      ServerSideEncryption: 'AES256',
    }),
  );
  const { payload: _payload, ...rest } = envelope;
  return serializeForQueue({ ...rest, payloadRef: { bucket, key } } satisfies MessageEnvelope);
}

/** Puts a validated message on its flow's queue. Returns whether it went through the claim check. */
export async function enqueueMessage(
  flow: FlowDefinition,
  envelope: Omit<MessageEnvelope, 'v' | 'kind' | 'payloadRef'> & { payload: unknown },
  options: EnqueueOptions = {},
): Promise<{ claimCheck: boolean }> {
  const full: MessageEnvelope = { v: ENVELOPE_VERSION, kind: 'message', ...envelope };
  let body = serializeForQueue(full);
  const threshold = options.claimCheckThresholdBytes ?? DEFAULT_CLAIM_CHECK_THRESHOLD_BYTES;
  let claimCheck = false;
  // Measured escaped, as SQS will count it: an emoji is 12 bytes once escaped, not 4.
  if (Buffer.byteLength(body) > threshold) {
    body = await claimChecked(flow, full);
    claimCheck = true;
  }
  await sendToQueue(flow, body, envelope.messageId, options.groupId);
  return { claimCheck };
}

/**
 * Queues a deadline consolidation on the ack queue. `messageId`: the command's id, when the caller made
 * it the owner of a consolidated ack beforehand (support's resubmit); a new one otherwise.
 */
export async function enqueueDeadline(
  flow: FlowDefinition,
  syncRequestId: string,
  now: Date,
  messageId: string = randomUUID(),
): Promise<void> {
  const command: DeadlineCommand = {
    v: ENVELOPE_VERSION,
    kind: 'deadline',
    messageId,
    syncRequestId,
    requestedAt: now.toISOString(),
  };
  await sendToQueue(flow, serializeForQueue(command), command.messageId, syncRequestId);
}

async function sendToQueue(
  flow: FlowDefinition,
  body: string,
  messageId: string,
  groupId?: string,
  deduplicationId: string = messageId,
): Promise<void> {
  const fifo = flow.queue.fifo;
  await sqsClient().send(
    new SendMessageCommand({
      QueueUrl: requireString(flow.queue.urlEnv),
      MessageBody: body,
      MessageAttributes: { flow: { DataType: 'String', StringValue: flow.id } },
      ...(fifo
        ? {
            MessageGroupId: messageGroupIdFor(groupId ?? messageId),
            MessageDeduplicationId: deduplicationId,
          }
        : {}),
    }),
  );
}

/**
 * A dead-lettered body kept in its trace for a resubmit stays well inside DynamoDB's 400 KB item limit:
 * a larger one keeps its payload in the claim-check bucket, like a message over the SQS limit.
 */
export const MAX_KEPT_COPY_BYTES = 300_000;

/**
 * The copy of a queued body to keep for a resubmit: the body itself, or, above
 * {@link MAX_KEPT_COPY_BYTES}, the envelope with its payload moved to the claim-check object
 * `<flowId>/<messageId>.json`, the key the ingest claim check uses, so it expires with the trace.
 */
export async function keepableCopy(flow: FlowDefinition, body: string): Promise<string> {
  if (Buffer.byteLength(body) <= MAX_KEPT_COPY_BYTES) return body;
  const envelope = JSON.parse(body) as MessageEnvelope;
  if (envelope.payloadRef) return body;
  return claimChecked(flow, envelope);
}

/**
 * Queues a kept copy again for support's resubmit, as it was accepted (its payload inline, or its
 * claim check), numbered `resubmission`. A FIFO copy keeps its message group and gets a deduplication
 * id of its own, so SQS does not drop it as a repeat of the first send.
 */
export async function requeueCopy(
  flow: FlowDefinition,
  envelope: MessageEnvelope,
  resubmission: number,
): Promise<void> {
  const copy: MessageEnvelope = { ...envelope, resubmission };
  let groupId: string | undefined;
  if (flow.queue.fifo && flow.queue.messageGroupId) {
    const { payload } = await resolvePayload(envelope);
    groupId = flow.queue.messageGroupId(payload);
  }
  await sendToQueue(
    flow,
    serializeForQueue(copy),
    envelope.messageId,
    groupId,
    `${envelope.messageId}-resubmit-${resubmission}`.slice(0, 128),
  );
}

/** Reads a queued message. An unreadable body is poison: it can never succeed, so it dead-letters at once. */
export function parseQueueMessage(record: Pick<SQSRecord, 'body' | 'messageId'>): QueueMessage {
  let parsed: unknown;
  try {
    parsed = JSON.parse(record.body);
  } catch (cause) {
    throw new PoisonMessageError(`SQS message ${record.messageId} is not JSON`, { cause });
  }
  if (
    typeof parsed !== 'object' ||
    parsed === null ||
    (parsed as { v?: unknown }).v !== ENVELOPE_VERSION ||
    typeof (parsed as { messageId?: unknown }).messageId !== 'string'
  ) {
    throw new PoisonMessageError(
      `SQS message ${record.messageId} is not an integration envelope (v${ENVELOPE_VERSION})`,
    );
  }
  const kind = (parsed as { kind?: unknown }).kind;
  if (kind === 'deadline') {
    if (typeof (parsed as DeadlineCommand).syncRequestId !== 'string') {
      throw new PoisonMessageError(`Deadline command ${record.messageId} names no syncRequestId`);
    }
    return parsed as DeadlineCommand;
  }
  if (kind !== 'message')
    throw new PoisonMessageError(`SQS message ${record.messageId} has unknown kind ${String(kind)}`);
  const envelope = parsed as MessageEnvelope;
  if (envelope.payload === undefined && envelope.payloadRef === undefined) {
    throw new PoisonMessageError(`Envelope ${envelope.messageId} carries neither a payload nor a reference`);
  }
  return envelope;
}

/** Fetches a claim-checked payload back from S3. */
export async function resolvePayload(envelope: MessageEnvelope): Promise<ResolvedEnvelope> {
  const { payloadRef, ...rest } = envelope;
  if (!payloadRef) return { ...rest, payload: envelope.payload, claimCheck: false };
  const { GetObjectCommand } = await s3Sdk();
  const object = await (await s3Client()).send(
    new GetObjectCommand({ Bucket: payloadRef.bucket, Key: payloadRef.key }),
  );
  const text = await object.Body?.transformToString('utf-8');
  if (text === undefined)
    throw new PoisonMessageError(`Claim-check object s3://${payloadRef.bucket}/${payloadRef.key} is empty`);
  try {
    return { ...rest, payload: JSON.parse(text), claimCheck: true };
  } catch (cause) {
    throw new PoisonMessageError(
      `Claim-check object s3://${payloadRef.bucket}/${payloadRef.key} is not JSON`,
      { cause },
    );
  }
}
