/**
 * The ingest handler, one per flow: authenticate, check the body, validate, apply business-key
 * idempotency, record a MessageTrace, enqueue, answer 202. Nothing is enqueued unless every check
 * passed, and no bad input ever gets a 5xx.
 *
 * Idempotency is Powertools' (a conditional write in the idempotency table). The key is the flow and
 * the contract's business key; the payload hash is a canonical hash of the body, so:
 *   same key, same body  → the stored answer, with `duplicate: true` (response hook)
 *   same key, other body → IdempotencyValidationError → 409
 *   same key, in flight  → 503 with Retry-After: nothing was accepted by this call
 *
 * The answer tells the truth: 202 once the message is on the queue, 503 only when this call queued
 * nothing. The steps are
 *   1. INPROGRESS idempotency record (Powertools)   2. trace (ACCEPTED)   3. SendMessage
 *   4. COMPLETED idempotency record (Powertools)
 * A failure in 1–3 answers 503 (or the 4xx it deserves). Once step 3 has succeeded the answer is 202
 * whatever happens next: a failed step 4 is logged at error level, counted (`IngestBookkeepingFailed`)
 * and written once more, and the caller still gets its 202. (A SendMessage that fails ambiguously, e.g.
 * a timeout after SQS took it, still answers 503; the retry then sends the same messageId, below.)
 *
 * A queue and a table cannot be written atomically, so a crash between 3 and 4 (or step 4 failing twice)
 * leaves the key INPROGRESS with no proof either way. Three things keep that correct:
 *   - The messageId is derived from flow, business key and body hash ({@link messageIdFor}), so every
 *     attempt at the same message uses the same messageId, trace and FIFO deduplication id.
 *   - While Powertools' in-progress window lasts (the Lambda's remaining time), a retry is answered
 *     503 (nothing accepted by that call). After it, Powertools lets the retry run again, and the
 *     retry finds the trace of step 2 already there (`recover`): a trace the process function has
 *     already moved on (RETRYING, DELIVERED, …) proves the message was queued, so nothing is sent; a
 *     trace still ACCEPTED may or may not have been queued, so the same message is sent again. The
 *     answer carries the same messageId with `duplicate: true`, and Powertools then completes the key.
 *   - A second copy of a messageId is what SQS at-least-once delivery produces anyway: FIFO queues drop
 *     it within 5 minutes, the process function skips a message whose trace is DELIVERED/SUPERSEDED,
 *     and the receivers drop a repeated Idempotency-Key. The effect stays single; nothing is lost.
 * Crash by crash: before 1 or 2 → nothing queued, the retry starts over; between 2 and 3 → the retry
 * finds an ACCEPTED trace and queues; between 3 and 4 → the retry finds the trace and queues the same
 * messageId again only if nobody has processed it yet; after 4 → a plain duplicate.
 *
 * Limit (Powertools' own): only the idempotency record holds the body hash, so a *different* body for
 * the same key that arrives after such a crash and after the in-progress window is taken as a new
 * message instead of a 409. Without a crash, 409 holds for the whole retention.
 */
import { createHash } from 'node:crypto';
import {
  IdempotencyAlreadyInProgressError,
  IdempotencyConfig,
  makeIdempotent,
} from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { ValidateFunction } from 'ajv';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { dynamoClient } from '#shared/aws/clients.ts';
import { optionalEnum, requireString } from '#shared/config/env.ts';
import { loadSettings, type Settings } from '#shared/config/settings.ts';
import { checkMessage } from '#shared/contracts/check.ts';
import { HttpError, ValidationError } from '#shared/errors.ts';
import { FLOWS, type FlowDefinition } from '#shared/flows/registry.ts';
import { problemErrorHandler } from '#shared/handlers/errorHandler.ts';
import { authorize, type Caller, jsonResponse, parseJsonBody } from '#shared/handlers/http.ts';
import { PROBLEMS } from '#shared/handlers/problems.ts';
import { countMetric, logger, METRIC, tracer } from '#shared/observability.ts';
import { enqueueMessage } from '#shared/queue/envelope.ts';
import { IDEMPOTENCY_TABLE } from '#shared/store/tables.ts';
import { createTrace, deleteTrace, getTrace, TRACE_STATES } from '#shared/trace/store.ts';

export const LEGACY_ACK_MODES = ['forward', 'reject'] as const;
export type LegacyAckMode = (typeof LEGACY_ACK_MODES)[number];

export interface Accepted {
  messageId: string;
  status: 'ACCEPTED';
  duplicate: boolean;
}

/**
 * Key order must not make two equal bodies differ. Native JSON.stringify with a key-sorting replacer:
 * about twice as fast as a hand-written walk on a 10,000-device sync (see bench/).
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const object = v as Record<string, unknown>;
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(object).sort()) sorted[key] = object[key];
    return sorted;
  });
}

const bodyHash = (body: unknown): string => createHash('sha256').update(canonicalJson(body)).digest('hex');

/**
 * The messageId of one message: a UUID (RFC 9562 version 8, name-based) from the flow, the business key
 * and the body hash. Every attempt at the same message gets the same id; another body gets another id.
 */
export function messageIdFor(flowId: string, businessKey: string, hash: string): string {
  const bytes = createHash('sha256').update(`${flowId}\n${businessKey}\n${hash}`).digest().subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x80;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const deprecationHeaders = (flow: FlowDefinition): Record<string, string> =>
  flow.deprecated
    ? { Deprecation: 'true', Link: `<${FLOWS.assetSyncAck.route.path}>; rel="successor-version"` }
    : {};

interface AcceptInput {
  idempotencyKey: string;
  bodyHash: string;
  businessKey: string;
  message: unknown;
  callerId: string;
}

/** What one call did, readable even when Powertools throws after the function returned. */
interface Progress {
  /** Set as soon as SendMessage succeeded in this call: from then on the answer is 202. */
  queued?: Accepted;
}

/** What the handler of one flow holds from its cold start: its settings and Powertools' idempotency. */
interface Ingest {
  readonly flow: FlowDefinition;
  /** The flow's message type's JSON Schema validator. */
  readonly schema: ValidateFunction;
  readonly maxBodyBytes: number;
  readonly legacyMode: LegacyAckMode;
  readonly idempotencyConfig: IdempotencyConfig;
  readonly persistenceStore: DynamoDBPersistenceLayer;
  /** {@link traceAndQueue}, run once per business key: Powertools holds the key INPROGRESS meanwhile. */
  readonly acceptOnce: (input: AcceptInput, progress: Progress) => Promise<Accepted>;
}

/**
 * The ingest Lambda handler of `flow`, validating with `schema`: the generated validator of the flow's
 * message type (`#shared/contracts/generated/<messageType>.js`), which the entry point imports itself so that
 * its bundle carries no other flow's. Its settings are read here, once (on Lambda: at module initialisation
 * of the entry point). Every refusal or failure is thrown and answered as problem+json by
 * {@link problemErrorHandler}, used last so that it runs first on error, while the log keys are set.
 */
export function createIngestHandler(
  flow: FlowDefinition,
  schema: ValidateFunction,
  settings: Settings = loadSettings(),
) {
  const ingest = ingestFor(flow, schema, settings);
  return middy((event: APIGatewayProxyEvent, context: Context) => takeIn(ingest, event, context))
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(captureLambdaHandler(tracer, { captureResponse: false }))
    .use(
      problemErrorHandler({
        headers: deprecationHeaders(flow),
        logKeys: { flow: flow.id },
        unavailableDetail: 'The integration could not accept the message now; nothing was accepted. Retry.',
      }),
    );
}

/** Reads the flow's settings and sets up Powertools' idempotency for it, once per cold start. */
function ingestFor(flow: FlowDefinition, schema: ValidateFunction, settings: Settings): Ingest {
  const { maxBodyBytes } = settings;
  const legacyMode: LegacyAckMode = optionalEnum('LEGACY_ACK_MODE', LEGACY_ACK_MODES, 'forward');
  const retentionSeconds = settings.retentionDays * 86_400;

  const idempotencyConfig = new IdempotencyConfig({
    eventKeyJmesPath: 'idempotencyKey',
    payloadValidationJmesPath: 'bodyHash',
    expiresAfterSeconds: retentionSeconds,
    throwOnNoIdempotencyKey: true,
    responseHook: (response) => ({ ...(response as object), duplicate: true }),
  });
  const persistenceStore = new DynamoDBPersistenceLayer({
    tableName: requireString(IDEMPOTENCY_TABLE.nameEnv),
    awsSdkV3Client: dynamoClient(),
  });
  const acceptOnce = makeIdempotent(
    (input: AcceptInput, progress: Progress) => traceAndQueue(flow, settings, input, progress),
    { persistenceStore, config: idempotencyConfig },
  );
  return { flow, schema, maxBodyBytes, legacyMode, idempotencyConfig, persistenceStore, acceptOnce };
}

/** The handler, step by step. Every refusal is thrown; {@link problemErrorHandler} answers it. */
async function takeIn(
  ingest: Ingest,
  event: APIGatewayProxyEvent,
  context: Context,
): Promise<APIGatewayProxyResult> {
  const { flow } = ingest;
  const caller = authorize(event, flow.scope);
  if (flow.deprecated) noteLegacyAck(ingest, caller);
  const input = readMessage(ingest, event, caller);
  ingest.idempotencyConfig.registerLambdaContext(context);
  const accepted = await accept(ingest, input);
  if (accepted.duplicate) {
    logger.info('Duplicate message', {
      flow: flow.id,
      messageId: accepted.messageId,
      businessKey: input.businessKey,
    });
  }
  return jsonResponse(202, accepted, deprecationHeaders(flow));
}

/** A legacy ack is warned about and counted, and refused with 410 when the legacy route is switched off. */
function noteLegacyAck({ flow, legacyMode }: Ingest, caller: Caller): void {
  const successor = FLOWS.assetSyncAck.route.path;
  logger.warn(
    'Deprecated legacy acknowledgement received; the caller should move to the device-level ack route',
    { flow: flow.id, callerId: caller.clientId, mode: legacyMode, successor },
  );
  countMetric(METRIC.LegacyAckReceived, flow.id, 1, undefined, { caller: caller.clientId });
  if (legacyMode === 'reject') {
    throw new HttpError(
      PROBLEMS.legacyAckSwitchedOff,
      `The legacy message-level acknowledgement is switched off. Post device-level acknowledgements to ${successor}.`,
    );
  }
}

/** The body checked (415, 413, 400) and validated (422), keyed for idempotency. */
function readMessage(
  { flow, schema, maxBodyBytes }: Ingest,
  event: APIGatewayProxyEvent,
  caller: Caller,
): AcceptInput {
  const body = parseJsonBody(event, maxBodyBytes);
  const result = checkMessage(flow.messageType, schema, body);
  if (!result.ok) throw new ValidationError(result.violations);
  const businessKey = flow.businessKey(result.value);
  return {
    idempotencyKey: `${flow.id}:${businessKey}`,
    bodyHash: bodyHash(body),
    businessKey,
    message: result.value,
    callerId: caller.clientId,
  };
}

/** Accepts the message; once it is on the queue, the answer is 202 whatever fails afterwards. */
async function accept(ingest: Ingest, input: AcceptInput): Promise<Accepted> {
  const progress: Progress = {};
  try {
    return await acceptWithRetry(ingest, input, progress);
  } catch (error) {
    if (!progress.queued) throw error;
    return await completeAfterQueued(ingest, input, progress.queued, error);
  } finally {
    if (progress.queued) noteAccepted(ingest.flow, input, progress.queued);
  }
}

/**
 * The same key in flight from a parallel call: wait briefly for its answer rather than failing at once.
 * Still in flight after that, the in-progress error is answered 503 (see {@link problemErrorHandler}).
 */
async function acceptWithRetry(
  ingest: Ingest,
  input: AcceptInput,
  progress: Progress,
  attempts = 5,
): Promise<Accepted> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await ingest.acceptOnce(input, progress);
    } catch (error) {
      if (!(error instanceof IdempotencyAlreadyInProgressError) || attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
}

/**
 * On the queue, but the idempotency record is not COMPLETED: say so loudly (an error and the metric
 * `IngestBookkeepingFailed`), write the record once more, and answer 202 all the same.
 */
async function completeAfterQueued(
  { flow, persistenceStore }: Ingest,
  input: AcceptInput,
  queued: Accepted,
  error: unknown,
): Promise<Accepted> {
  countMetric(METRIC.IngestBookkeepingFailed, flow.id);
  const repaired = await persistenceStore.saveSuccess(input as never, queued as never).then(
    () => true,
    (repairError: unknown) => {
      logger.error('Could not complete the idempotency record on the second try either', {
        flow: flow.id,
        messageId: queued.messageId,
        error: repairError,
      });
      return false;
    },
  );
  logger.error('Message queued, but its idempotency record was not completed; answered 202', {
    flow: flow.id,
    messageId: queued.messageId,
    businessKey: input.businessKey,
    repaired,
    error,
  });
  return queued;
}

function noteAccepted(flow: FlowDefinition, input: AcceptInput, accepted: Accepted): void {
  logger.info('Message accepted', {
    flow: flow.id,
    messageId: accepted.messageId,
    businessKey: input.businessKey,
    ...flow.traceKeys(input.message),
  });
  countMetric(METRIC.MessageReceived, flow.id);
}

/**
 * Runs once per business key (Powertools holds the key INPROGRESS meanwhile): trace, then queue. A
 * failure before the message is queued deletes the idempotency record and answers 503.
 */
async function traceAndQueue(
  flow: FlowDefinition,
  settings: Settings,
  input: AcceptInput,
  progress: Progress,
): Promise<Accepted> {
  const messageId = messageIdFor(flow.id, input.businessKey, input.bodyHash);
  const traced = await recordTrace(flow, settings.retentionDays * 86_400, messageId, input);
  if (traced === 'queued') return { messageId, status: 'ACCEPTED', duplicate: true };
  await enqueue(flow, settings.claimCheckThresholdBytes, messageId, input, traced);
  progress.queued = { messageId, status: 'ACCEPTED', duplicate: traced.recovering };
  return progress.queued;
}

/** The trace this attempt goes on with. */
interface Traced {
  receivedAt: Date;
  /** The trace is an earlier attempt's, which may have queued the message already. */
  recovering: boolean;
}

/**
 * Writes the trace (ACCEPTED). When this very message has a trace already, an earlier attempt got that
 * far: {@link recover} tells whether to send nothing ('queued'), to start over, or to send it again.
 */
async function recordTrace(
  flow: FlowDefinition,
  retentionSeconds: number,
  messageId: string,
  input: AcceptInput,
): Promise<Traced | 'queued'> {
  const keys = flow.traceKeys(input.message);
  const trace = { messageId, flow: flow.id, businessKey: input.businessKey, keys, receivedAt: new Date() };
  const fresh: Traced = { receivedAt: trace.receivedAt, recovering: false };
  try {
    await createTrace(trace, retentionSeconds);
    return fresh;
  } catch (error) {
    if (!isConditionalCheckFailure(error)) throw error;
  }
  const earlier = await recover(flow, retentionSeconds, messageId);
  if (earlier === 'queued') return 'queued';
  if (earlier !== 'absent') return { receivedAt: earlier, recovering: true };
  await createTrace(trace, retentionSeconds);
  return fresh;
}

const isConditionalCheckFailure = (error: unknown): boolean =>
  (error as { name?: string } | null)?.name === 'ConditionalCheckFailedException';

/**
 * The trace of this very message exists already, so an earlier attempt got at least that far and then
 * died or lost its idempotency record. 'queued' when the process function has seen it (nothing to
 * send); 'absent' when it is gone or older than the retention (a leftover TTL has not removed yet),
 * so this is a first attempt after all; else its receivedAt: it may or may not be on the queue, so it
 * is sent again under the same messageId.
 */
async function recover(
  flow: FlowDefinition,
  retentionSeconds: number,
  messageId: string,
): Promise<'queued' | 'absent' | Date> {
  const earlier = await getTrace(messageId);
  if (!earlier) return 'absent';
  const receivedAt = new Date(earlier.receivedAt);
  if (receivedAt.getTime() + retentionSeconds * 1000 <= Date.now()) {
    await deleteTrace(messageId);
    return 'absent';
  }
  logger.warn('Earlier attempt at this message found', { flow: flow.id, messageId, state: earlier.state });
  return earlier.state === TRACE_STATES.ACCEPTED ? receivedAt : 'queued';
}

/**
 * Puts the message on its queue. Not queued means not accepted: 503, and a trace written by this very
 * attempt is removed so support never chases a message that does not exist. A trace found from an
 * earlier attempt stays: that attempt may have queued it.
 */
async function enqueue(
  flow: FlowDefinition,
  claimCheckThresholdBytes: number,
  messageId: string,
  input: AcceptInput,
  { receivedAt, recovering }: Traced,
): Promise<void> {
  try {
    await enqueueMessage(
      flow,
      {
        messageId,
        flowId: flow.id,
        businessKey: input.businessKey,
        receivedAt: receivedAt.toISOString(),
        callerId: input.callerId,
        payload: input.message,
      },
      {
        claimCheckThresholdBytes,
        ...(flow.queue.messageGroupId ? { groupId: flow.queue.messageGroupId(input.message) } : {}),
      },
    );
  } catch (cause) {
    if (!recovering) {
      await deleteTrace(messageId).catch((error: unknown) =>
        logger.error('Could not remove trace', { messageId, error }),
      );
    }
    throw new HttpError(
      PROBLEMS.unavailable,
      'The message could not be queued; nothing was accepted. Retry.',
      { cause, headers: { 'Retry-After': '5' } },
    );
  }
}
