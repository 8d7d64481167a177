/**
 * Runs each flow in process through its real ingest and process handlers, against the DynamoDB Local and
 * fauxqs the integration layer starts (`test/integration/globalSetup.ts`, whose environment must be in
 * `process.env`), and counts the AWS requests each message costs with the request recorder. A scripted
 * HTTP receiver stands in for DERMS and DACS. Shared by `bench/requests.ts` (figures, docs/cost.md) and
 * the integration test that enforces the request budgets.
 *
 * The queue is drained the way Lambda's event source mapping does it (ReceiveMessage, then
 * DeleteMessage of what succeeded); those requests are counted apart (`pollerCounts`), as they are the
 * event source mapping's, not the functions'.
 */
import { PurgeQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyResult, SQSBatchResponse } from 'aws-lambda';
import { type RequestCounts, type RequestRecorder, recordRequests } from '#shared/aws/requestRecorder.ts';
import type { AssetSyncAck, AssetSyncRequest } from '#shared/contracts/types.ts';
import { FLOWS, type FlowId } from '#shared/flows/registry.ts';
import { apiEvent, lambdaContext } from '#test/helpers/events.ts';
import {
  ackDevice,
  assetSyncAck,
  assetSyncRequest,
  controllableDevice,
  legacyAck,
  optOut,
  unavailability,
} from '#test/helpers/messages.ts';
import { receiveRecords, settle, toEvent } from '#test/helpers/queues.ts';
import { type Receiver, startReceiver } from '#test/helpers/receiver.ts';

type ApiHandler = (event: unknown, context: unknown) => Promise<APIGatewayProxyResult>;
type SqsHandler = (event: unknown, context: unknown) => Promise<SQSBatchResponse>;

/** The flows that take messages over HTTP (each has an ingest and a process function). */
export const MESSAGE_FLOWS = ['optOut', 'unavailability', 'assetSync', 'assetSyncAck', 'legacyAck'] as const;
export type MessageFlow = (typeof MESSAGE_FLOWS)[number];

export interface FlowRunner {
  readonly receiver: Receiver;
  readonly handlers: Record<MessageFlow, { ingest: ApiHandler; process: SqsHandler }>;
  /** Records the functions' requests (the shared DynamoDB, SQS and S3 clients). */
  readonly recorder: RequestRecorder;
  /** Records the event source mapping's requests (the poller's own SQS client). */
  readonly poller: SQSClient;
  readonly pollerRecorder: RequestRecorder;
}

/** What one message cost: its functions' requests, the poller's, and the time each handler ran. */
export interface MessageRun {
  readonly flow: MessageFlow;
  readonly counts: RequestCounts;
  readonly pollerCounts: RequestCounts;
  /** Lambda invocations (one ingest, and a process invocation per batch the message was in). */
  readonly invocations: number;
  readonly ingestMs: number;
  readonly processMs: number;
  /** What the receivers (DERMS, DACS) got. */
  readonly delivered: number;
  /** The body posted, in bytes. */
  readonly bodyBytes: number;
  /** What the functions wrote to stdout and stderr (their logs and EMF metrics), in bytes. */
  readonly logBytes: number;
}

/** Counts (and swallows) what is written to stdout and stderr while `fn` runs: the functions' log lines. */
async function capturingLogs<T>(fn: () => Promise<T>): Promise<{ result: T; bytes: number }> {
  const streams = [process.stdout, process.stderr];
  const writes = streams.map((stream) => stream.write.bind(stream));
  let bytes = 0;
  for (const stream of streams) {
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength;
      const callback = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      callback?.();
      return true;
    }) as typeof stream.write;
  }
  try {
    return { result: await fn(), bytes };
  } finally {
    streams.forEach((stream, i) => {
      stream.write = writes[i] as typeof stream.write;
    });
  }
}

/**
 * A Lambda context with 15 minutes left (Lambda's most): a message is measured to its end on a slow
 * machine, where the handlers' own timeouts (middy's, from the remaining time) would cut it short.
 */
const context = (name: string) => ({ ...lambdaContext(name), getRemainingTimeInMillis: () => 900_000 });

export async function startFlowRunner(): Promise<FlowRunner> {
  const receiver = await startReceiver();
  process.env.DERMS_BASE_URL = receiver.url;
  process.env.DACS_BASE_URL = receiver.url;
  const handlers = {} as FlowRunner['handlers'];
  for (const flow of MESSAGE_FLOWS) {
    const ingest = (await import(`../functions/${flow}/ingest.ts`)).handler as ApiHandler;
    const process = (await import(`../functions/${flow}/process.ts`)).handler as SqsHandler;
    handlers[flow] = { ingest, process };
  }
  const poller = new SQSClient({});
  // Only this runner's messages: whatever an earlier test file left on the flows' queues would be
  // drained, delivered and counted with the first message measured.
  for (const flow of MESSAGE_FLOWS) await poller.send(new PurgeQueueCommand({ QueueUrl: queueUrl(flow) }));
  return {
    receiver,
    handlers,
    recorder: recordRequests(),
    poller,
    pollerRecorder: recordRequests([poller]),
  };
}

export async function stopFlowRunner(runner: FlowRunner): Promise<void> {
  runner.recorder.stop();
  runner.pollerRecorder.stop();
  runner.poller.destroy();
  await runner.receiver.close();
}

const queueUrl = (flow: MessageFlow) => process.env[FLOWS[flow as FlowId].queue.urlEnv] as string;

/**
 * Posts `body` to the flow's ingest function, then drains its queue through the process function until
 * it is empty, and answers what the message cost.
 * @throws when the ingest does not answer 202 or the process function reports a failure.
 */
export async function runMessage(runner: FlowRunner, flow: MessageFlow, body: unknown): Promise<MessageRun> {
  const { result, bytes } = await capturingLogs(() => runMessageOnce(runner, flow, body));
  return { ...result, logBytes: bytes };
}

async function runMessageOnce(
  runner: FlowRunner,
  flow: MessageFlow,
  body: unknown,
): Promise<Omit<MessageRun, 'logBytes'>> {
  runner.recorder.reset();
  runner.pollerRecorder.reset();
  const deliveredBefore = runner.receiver.calls.length;
  const definition = FLOWS[flow as FlowId];
  let started = performance.now();
  const answer = await runner.handlers[flow].ingest(
    apiEvent({ path: definition.route.path, body, scope: definition.scope }),
    context(`${flow}-ingest`),
  );
  const ingestMs = performance.now() - started;
  if (answer.statusCode !== 202)
    throw new Error(`${flow} ingest answered ${answer.statusCode}: ${answer.body}`);
  let processMs = 0;
  let invocations = 1;
  for (;;) {
    const records = await receiveRecords(runner.poller, queueUrl(flow), 10, 0);
    if (records.length === 0) break;
    started = performance.now();
    const result = await runner.handlers[flow].process(toEvent(records), context(`${flow}-process`));
    processMs += performance.now() - started;
    invocations++;
    const failed = result.batchItemFailures.map((f) => f.itemIdentifier);
    await settle(runner.poller, queueUrl(flow), records, failed);
    if (failed.length > 0) throw new Error(`${flow} process reported failures: ${failed.join(', ')}`);
  }
  return {
    flow,
    counts: runner.recorder.counts(),
    pollerCounts: runner.pollerRecorder.counts(),
    invocations,
    ingestMs,
    processMs,
    delivered: runner.receiver.calls.length - deliveredBefore,
    bodyBytes: Buffer.byteLength(JSON.stringify(body)),
  };
}

let serial = 0;
/** A fresh id of at most `width` characters. */
const freshId = (prefix: string, width: number): string =>
  `${prefix}${Date.now().toString(36)}${(serial++).toString(36)}`.slice(-width).padStart(width, 'X');

/** One message of each flow, each with fresh business keys. */
export function sampleMessage(flow: Exclude<MessageFlow, 'assetSync' | 'assetSyncAck'>): unknown {
  const deviceId = freshId('D', 12);
  if (flow === 'optOut') return optOut({ optOutId: freshId('OO', 12), deviceId });
  if (flow === 'unavailability') return unavailability({ unavailabilityId: freshId('UA', 12), deviceId });
  const response = {
    responseCode: '0',
    dacsMessageId: freshId('S', 14),
    responseTimeISO: '2026-12-01T14:04:59Z',
  };
  return legacyAck({ MsgAck: { responses: { response: [response] } } });
}

/** An ENROLL of `n` devices, with a fresh syncRequestId. */
export function syncRequestOf(n: number): AssetSyncRequest {
  const syncRequestId = freshId('S', 14);
  const prefix = syncRequestId.slice(-5);
  // Without make, model and serial number, so that 10,000 devices fit the 3 MB body limit.
  const devices = Array.from({ length: n }, (_, i) =>
    controllableDevice({
      deviceId: `D${prefix}${String(i).padStart(5, '0')}`,
      nicId: `NIC-${i}`,
      make: undefined,
      model: undefined,
      serialNumber: undefined,
    }),
  );
  return assetSyncRequest({
    sendDetails: { syncRequestId },
    locationInfo: { controllableDevices: devices },
  });
}

/** DERMS's one final ack of `request`: every device REGISTERED. */
export function finalAckOf(request: AssetSyncRequest): AssetSyncAck {
  return {
    ...assetSyncAck({ syncRequestId: request.sendDetails.syncRequestId, sequence: 1, final: true }),
    devices: request.locationInfo.controllableDevices.map((d) =>
      ackDevice({ deviceId: d.deviceId, nicId: d.nicId, registrationStatus: 'REGISTERED' }),
    ),
  };
}

/** An asset sync of `n` devices and DERMS's final ack for all of them: what each message cost. */
export async function runSync(
  runner: FlowRunner,
  n: number,
): Promise<{ readonly request: MessageRun; readonly ack: MessageRun }> {
  const request = syncRequestOf(n);
  const requestRun = await runMessage(runner, 'assetSync', request);
  const ackRun = await runMessage(runner, 'assetSyncAck', finalAckOf(request));
  return { request: requestRun, ack: ackRun };
}
