/**
 * `npm start`: the whole integration on one machine.
 *
 *   DynamoDB Local (persisted under .local/dynamodb) ─┐
 *   fauxqs: SQS + S3 (queues, DLQs, bucket)          ├─ this process, which also runs the simulators
 *   DERMS simulator :3001, DACS simulator :3002      ─┘  and supervises ↓
 *   functions process (local/functions.ts): API :3000, SQS pollers, sweep timer — restarted if it dies
 *
 * Environment (all optional): LOCAL_API_PORT, DERMS_SIM_PORT, DACS_SIM_PORT, LOCAL_SQS_PORT,
 * LOCAL_DYNAMODB_PORT, LOCAL_DATA_DIR (.local), LOCAL_DYNAMODB_PATH (<data dir>/dynamodb, or `memory`),
 * LOCAL_JWT_SECRET, LOCAL_CLIENT_SECRET, SWEEP_INTERVAL_MS, DERMS_SIM_ACK_DELAY_MS, DERMS_SIM_ACK_CHUNK,
 * plus the handler settings passed through (see PASS_THROUGH_ENV in resources.ts).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { localClients } from '#local/auth.ts';
import { DEFAULT_PORTS, LOCAL_CREDENTIALS, LOCAL_PREFIX, LOCAL_REGION } from '#local/constants.ts';
import {
  ensureBucket,
  ensureQueues,
  ensureTables,
  functionEnvironment,
  type LocalResources,
  tableNames,
} from '#local/resources.ts';
import { assertPortsFree, type LocalService, startDynamoDbLocal, startFauxqs } from '#local/services.ts';
import { createDacsSimulator } from '#local/simulators/dacs.ts';
import { createDermsSimulator } from '#local/simulators/derms.ts';
import { optionalNumber, optionalString } from '#shared/config/env.ts';
import { FLOW_IDS, FLOWS } from '#shared/flows/registry.ts';

export const READY_LINE = 'Local stack ready';
const REPO_ROOT = resolve(fileURLToPath(import.meta.url), '../..');

export interface LocalStackOptions {
  /** Where settings are read from. @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Where the summary and supervisor messages go. @default console.log */
  readonly print?: (line: string) => void;
}

export interface LocalStack {
  readonly urls: {
    readonly api: string;
    readonly derms: string;
    readonly dacs: string;
    readonly sqs: string;
    readonly dynamodb: string;
  };
  readonly resources: LocalResources;
  /** The pid of the functions process now running. */
  functionsPid(): number | undefined;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function answers(url: string, init?: RequestInit): Promise<boolean> {
  try {
    const response = await fetch(url, { ...init, signal: AbortSignal.timeout(2000) });
    await response.arrayBuffer();
    return true;
  } catch {
    return false;
  }
}

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const env = options.env ?? process.env;
  const print = options.print ?? ((line: string) => console.log(line));
  const ports = {
    api: optionalNumber('LOCAL_API_PORT', DEFAULT_PORTS.api, env),
    derms: optionalNumber('DERMS_SIM_PORT', DEFAULT_PORTS.derms, env),
    dacs: optionalNumber('DACS_SIM_PORT', DEFAULT_PORTS.dacs, env),
    sqs: optionalNumber('LOCAL_SQS_PORT', DEFAULT_PORTS.sqs, env),
    dynamodb: optionalNumber('LOCAL_DYNAMODB_PORT', DEFAULT_PORTS.dynamodb, env),
  };
  await assertPortsFree({
    'integration API': ports.api,
    'DERMS simulator': ports.derms,
    'DACS simulator': ports.dacs,
    'fauxqs (SQS, S3)': ports.sqs,
    'DynamoDB Local': ports.dynamodb,
  });
  const dataDir = resolve(REPO_ROOT, optionalString('LOCAL_DATA_DIR', '.local', env));
  mkdirSync(dataDir, { recursive: true });
  const dbSetting = optionalString('LOCAL_DYNAMODB_PATH', resolve(dataDir, 'dynamodb'), env);
  const dbPath = dbSetting === 'memory' ? undefined : resolve(REPO_ROOT, dbSetting);
  const pidFile = resolve(dataDir, 'functions.pid');

  /** Started or starting; stopped last started first. */
  const services: Promise<LocalService>[] = [];
  const closers: (() => Promise<void>)[] = [];
  let child: ChildProcess | undefined;
  let stopping = false;

  const stopChild = async () => {
    const running = child;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((done) => running.once('exit', done));
    running.kill('SIGTERM');
    const timer = setTimeout(() => running.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };

  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await stopChild();
    rmSync(pidFile, { force: true });
    for (const close of closers.reverse()) await close().catch(() => {});
    for (const service of services.reverse()) await service.then((s) => s.stop()).catch(() => {});
  };

  try {
    // fauxqs is up in a moment; DynamoDB Local (a JVM) takes seconds. Everything that does not need
    // the tables (simulators, the functions process and its warm-up) starts while it boots.
    const dynamoStarting = startDynamoDbLocal({ port: ports.dynamodb, ...(dbPath ? { dbPath } : {}) });
    services.push(dynamoStarting);
    const fauxqsStarting = startFauxqs({ port: ports.sqs });
    services.push(fauxqsStarting);
    const fauxqs = await fauxqsStarting;
    const common = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
    const sqs = new SQSClient({ ...common, endpoint: fauxqs.endpoint });
    const s3 = new S3Client({ ...common, endpoint: fauxqs.endpoint, forcePathStyle: true });
    const queues = await ensureQueues(sqs, LOCAL_PREFIX, env);
    const bucket = await ensureBucket(s3, `${LOCAL_PREFIX}claim-check`);
    for (const client of [sqs, s3]) client.destroy();
    const dynamodbEndpoint = `http://127.0.0.1:${ports.dynamodb}`;
    const tablesReady = dynamoStarting.then(async (dynamodb) => {
      const ddb = new DynamoDBClient({ ...common, endpoint: dynamodb.endpoint });
      try {
        return await ensureTables(ddb, LOCAL_PREFIX);
      } finally {
        ddb.destroy();
      }
    });
    tablesReady.catch(() => {}); // awaited below
    const resources: LocalResources = {
      tables: tableNames(LOCAL_PREFIX),
      queues,
      bucket,
      endpoints: { dynamodb: dynamodbEndpoint, sqs: fauxqs.endpoint, s3: fauxqs.endpoint },
    };

    const apiUrl = `http://127.0.0.1:${ports.api}`;
    const urls = {
      api: apiUrl,
      derms: `http://127.0.0.1:${ports.derms}`,
      dacs: `http://127.0.0.1:${ports.dacs}`,
      sqs: fauxqs.endpoint,
      dynamodb: dynamodbEndpoint,
    };
    const clients = localClients(env);
    const log = (line: string) => console.error(line);

    const derms = createDermsSimulator({
      ackUrl: `${apiUrl}${FLOWS.assetSyncAck.route.path}`,
      tokenUrl: `${apiUrl}/oauth2/token`,
      clientId: 'derms-local',
      clientSecret: clients.find((c) => c.clientId === 'derms-local')!.clientSecret,
      ackDelayMs: optionalNumber('DERMS_SIM_ACK_DELAY_MS', 300, env),
      ackChunkSize: optionalNumber('DERMS_SIM_ACK_CHUNK', 2, env),
      paths: {
        ...(env[FLOWS.assetSync.target.pathEnv]
          ? { enrollmentSync: env[FLOWS.assetSync.target.pathEnv] }
          : {}),
        ...(env[FLOWS.optOut.target.pathEnv] ? { optOuts: env[FLOWS.optOut.target.pathEnv] } : {}),
        ...(env[FLOWS.unavailability.target.pathEnv]
          ? { unavailability: env[FLOWS.unavailability.target.pathEnv] }
          : {}),
      },
      log,
    });
    const dacsAckPath = env[FLOWS.assetSyncAck.target.pathEnv];
    const dacsLegacyPath = env[FLOWS.legacyAck.target.pathEnv];
    const dacs = createDacsSimulator({
      ...(dacsAckPath ? { ackPath: dacsAckPath } : {}),
      ...(dacsLegacyPath ? { legacyAckPath: dacsLegacyPath } : {}),
      log,
    });
    await derms.listen(ports.derms);
    closers.push(() => derms.close());
    await dacs.listen(ports.dacs);
    closers.push(() => dacs.close());

    const jwtSecret = optionalString('LOCAL_JWT_SECRET', randomBytes(32).toString('hex'), env);
    const childEnv: Record<string, string | undefined> = {
      ...env,
      ...functionEnvironment(resources, {
        dermsBaseUrl: urls.derms,
        dacsBaseUrl: urls.dacs,
        source: env,
      }),
      LOCAL_REPO_ROOT: REPO_ROOT,
      LOCAL_API_HOST: '127.0.0.1',
      LOCAL_API_PORT: String(ports.api),
      LOCAL_JWT_SECRET: jwtSecret,
      LOCAL_QUEUES: JSON.stringify(resources.queues),
    };

    // Supervision: a functions process that exits while we are not stopping is restarted, after a pause
    // that grows while it keeps dying young.
    let restarts = 0;
    let readyResolve: (() => void) | undefined;
    const firstReady = new Promise<void>((done, fail) => {
      readyResolve = done;
      setTimeout(() => fail(new Error('The functions process did not start within 60 s')), 60_000).unref();
    });
    const spawnFunctions = () => {
      const started = Date.now();
      const proc = fork(resolve(REPO_ROOT, 'local/functions.ts'), [], {
        cwd: REPO_ROOT,
        env: childEnv,
        execArgv: ['--import', 'tsx'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      child = proc;
      if (proc.pid !== undefined) writeFileSync(pidFile, `${proc.pid}\n`);
      proc.on('message', (message: { type?: string }) => {
        if (message?.type !== 'ready') return;
        tablesReady.then(
          () => proc.connected && proc.send({ type: 'start-sweep' }),
          () => {},
        );
        if (readyResolve) {
          readyResolve();
          readyResolve = undefined;
        } else print(`functions process restarted (pid ${proc.pid})`);
      });
      proc.once('exit', (code, signal) => {
        if (stopping || child !== proc) return;
        const young = Date.now() - started < 5000;
        restarts = young ? restarts + 1 : 0;
        const pause = Math.min(10_000, 250 * 2 ** restarts);
        print(
          `functions process ${proc.pid} exited (${signal ?? `code ${code}`}); restarting in ${pause} ms`,
        );
        setTimeout(() => {
          if (!stopping) spawnFunctions();
        }, pause);
      });
    };
    spawnFunctions();
    await Promise.all([firstReady, tablesReady]);

    // Ready means every part answers.
    const basic = Buffer.from('derms-local:x').toString('base64');
    const checks: [string, () => Promise<boolean>][] = [
      [
        'API',
        () =>
          answers(`${apiUrl}/oauth2/token`, {
            method: 'POST',
            headers: { Authorization: `Basic ${basic}`, 'Content-Type': 'application/x-www-form-urlencoded' },
            body: 'grant_type=client_credentials',
          }),
      ],
      ['DERMS simulator', () => answers(`${urls.derms}/sim/calls?path=/none`)],
      ['DACS simulator', () => answers(`${urls.dacs}/sim/calls?path=/none`)],
      ['fauxqs', () => answers(`${urls.sqs}/health`)],
      ['DynamoDB Local', () => answers(urls.dynamodb)],
    ];
    for (const [name, check] of checks) {
      let ok = await check();
      for (let i = 0; i < 50 && !ok; i++) {
        await sleep(200);
        ok = await check();
      }
      if (!ok) throw new Error(`${name} does not answer`);
    }

    const clientLines = clients.map((c) => `    ${c.clientId.padEnd(14)} scope ${c.scopes.join(' ')}`);
    const dlqLines = FLOW_IDS.map((id) => `    ${id.padEnd(15)} ${resources.queues[id].dlqUrl}`);
    const queueLines = FLOW_IDS.map((id) => `    ${id.padEnd(15)} ${resources.queues[id].url}`);
    print(
      [
        '',
        'DACS ⇄ DERMS integration, local stack',
        `  Integration API     ${apiUrl}   (OpenAPI: ${apiUrl}/openapi.json)`,
        `  Token endpoint      POST ${apiUrl}/oauth2/token  (grant_type=client_credentials, HTTP Basic)`,
        `  Local clients       secret ${clients.every((c) => c.clientSecret === 'local-secret') ? '"local-secret"' : '(from the environment)'}`,
        ...clientLines,
        `  DERMS simulator     ${urls.derms}   (control: /sim/calls, /sim/faults, /sim/acks)`,
        `  DACS simulator      ${urls.dacs}   (control: /sim/calls, /sim/faults, /sim/devices/{deviceId})`,
        `  DynamoDB Local      ${urls.dynamodb}   (${dbPath ?? 'in memory'})`,
        `    tables            ${Object.values(resources.tables).join(', ')}`,
        `  SQS + S3 (fauxqs)   ${urls.sqs}   (bucket ${resources.bucket})`,
        '  Queues',
        ...queueLines,
        '  Dead-letter queues  (npm run redrive -- <flowId> moves them back)',
        ...dlqLines,
        `  Functions process   pid in ${pidFile}; restarted if it dies`,
        '',
        READY_LINE,
      ].join('\n'),
    );

    return {
      urls,
      resources,
      functionsPid: () => child?.pid,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function main(): Promise<void> {
  const stack = await startLocalStack();
  const shutdown = (signal: string) => {
    console.log(`\n${signal}: stopping the local stack…`);
    stack.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(`The local stack did not start: ${(error as Error).message}`);
    if ((error as Error).cause) console.error((error as Error).cause);
    process.exit(1);
  });
}
