/**
 * The baseline pipeline the end-to-end opt-out figures are set beside: the least an opt-out needs on the
 * same local services, with none of the integration's checks. A `node:http` server does one PutItem and
 * one SendMessage per request and answers 202; a poller with the opt-out flow's batch size and
 * concurrency does, per message, one POST to the DERMS simulator (with the `Idempotency-Key` the
 * integration sends) and one DeleteMessage. No token, no validation, no idempotency, no trace.
 *
 * It runs in a process of its own, as the integration's functions do: `startBaseline()` forks this file.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import {
  CreateTableCommand,
  DynamoDBClient,
  PutItemCommand,
  ResourceInUseException,
} from '@aws-sdk/client-dynamodb';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '#local/constants.ts';
import { FLOWS } from '#shared/flows/registry.ts';
import { stopChild } from './stack.ts';

export interface BaselineOptions {
  readonly port: number;
  /** DynamoDB Local and fauxqs of the bench stack. */
  readonly dynamodb: string;
  readonly sqs: string;
  /** The DERMS simulator's base URL. */
  readonly derms: string;
}

export interface RunningBaseline {
  /** Where to POST an opt-out. */
  readonly url: string;
  stop(): Promise<void>;
}

export const BASELINE_TABLE = 'bench-baseline';
const TABLE = BASELINE_TABLE;
const QUEUE = 'bench-baseline';
const OPT_OUT_PATH = FLOWS.optOut.target.defaultPath;

export async function startBaseline(options: BaselineOptions): Promise<RunningBaseline> {
  const child = fork(fileURLToPath(import.meta.url), [], {
    env: { ...process.env, NODE_OPTIONS: '', BASELINE_OPTIONS: JSON.stringify(options) },
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  await new Promise<void>((done, fail) => {
    child.once('message', () => done());
    child.once('exit', (code) =>
      fail(new Error(`the baseline pipeline exited (code ${code}) before it was ready`)),
    );
  }).catch(async (error: unknown) => {
    await stopChild(child);
    throw error;
  });
  return { url: `http://127.0.0.1:${options.port}/`, stop: () => stopChild(child as ChildProcess) };
}

async function ensureResources(dynamo: DynamoDBClient, sqs: SQSClient): Promise<string> {
  await dynamo
    .send(
      new CreateTableCommand({
        TableName: TABLE,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      }),
    )
    .catch((error: unknown) => {
      if (!(error instanceof ResourceInUseException)) throw error;
    });
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: QUEUE }));
  return QueueUrl!;
}

async function readAll(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** One PutItem, one SendMessage, 202. */
async function accept(
  clients: { dynamo: DynamoDBClient; sqs: SQSClient; queueUrl: string },
  req: IncomingMessage,
  res: ServerResponse,
) {
  const text = await readAll(req);
  const { optOutId } = JSON.parse(text) as { optOutId: string };
  await clients.dynamo.send(
    new PutItemCommand({ TableName: TABLE, Item: { pk: { S: optOutId }, body: { S: text } } }),
  );
  const sent = await clients.sqs.send(
    new SendMessageCommand({ QueueUrl: clients.queueUrl, MessageBody: text }),
  );
  const body = JSON.stringify({ messageId: sent.MessageId, status: 'ACCEPTED', duplicate: false });
  res.writeHead(202, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/** One POST to the DERMS simulator, one DeleteMessage. */
async function deliver(sqs: SQSClient, queueUrl: string, derms: string, message: Message) {
  const { optOutId } = JSON.parse(message.Body ?? '{}') as { optOutId: string };
  const response = await fetch(`${derms}${OPT_OUT_PATH}`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      'Idempotency-Key': optOutId,
      'X-Correlation-Id': message.MessageId ?? optOutId,
    },
    body: message.Body,
  });
  await response.arrayBuffer();
  if (!response.ok) return; // left to its visibility timeout, as a failed record would be
  await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }));
}

async function poll(sqs: SQSClient, queueUrl: string, derms: string): Promise<never> {
  const { batchSize } = FLOWS.optOut.queue;
  for (;;) {
    try {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: batchSize,
          WaitTimeSeconds: 20,
        }),
      );
      await Promise.all(Messages.map((m) => deliver(sqs, queueUrl, derms, m)));
    } catch (error) {
      console.error(`[baseline] ${(error as Error).message}`);
      await new Promise((done) => setTimeout(done, 1000));
    }
  }
}

async function main(): Promise<void> {
  const options = JSON.parse(process.env.BASELINE_OPTIONS ?? '{}') as BaselineOptions;
  const aws = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
  const dynamo = new DynamoDBClient({ ...aws, endpoint: options.dynamodb });
  const sqs = new SQSClient({ ...aws, endpoint: options.sqs });
  const queueUrl = await ensureResources(dynamo, sqs);
  const server = createServer((req, res) => {
    accept({ dynamo, sqs, queueUrl }, req, res).catch((error: unknown) => {
      console.error(`[baseline] ${(error as Error).message}`);
      if (!res.headersSent) res.writeHead(503).end();
    });
  });
  await new Promise<void>((done) => server.listen(options.port, '127.0.0.1', () => done()));
  for (let i = 0; i < FLOWS.optOut.queue.maxConcurrency; i++) void poll(sqs, queueUrl, options.derms);
  process.on('SIGTERM', () => process.exit(0));
  process.on('disconnect', () => process.exit(0));
  process.send?.({ type: 'ready' });
}

if (process.argv[1] && process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error('[baseline] failed to start:', error);
    process.exit(1);
  });
}
