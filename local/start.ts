/**
 * `npm start`: the whole integration on one machine.
 *
 *   DynamoDB Local (persisted under .local/dynamodb) ─┐
 *   fauxqs: SQS + S3 (queues, DLQs, bucket)          ├─ this process, which also runs the simulators
 *   DERMS simulator :3001, DACS simulator :3002      ─┘  and supervises ↓
 *   function processes (local/functions.ts, one per role, as AWS runs each function on its own):
 *     api        API :3000 (ingest handlers, authorizer, token endpoint, support routes and page)
 *     <flowId>   one per SQS-driven flow: its queue's poller and process handler
 *     sweep      the deadline sweep's timer
 *   each restarted if it dies
 *
 * Every child process is supervised: each writes its pid under the data folder (`functions-<role>.pid`;
 * `functions.pid` is the API process's too; `dynamodb.pid`) and is started again when it exits while the
 * stack is not stopping. So a test can kill a function process (a Lambda crash) or stop DynamoDB Local (a
 * DynamoDB outage: `kill <pid>`, and it is back a second or so later, with its data when it persists to a
 * folder).
 *
 * Environment (all optional): LOCAL_API_PORT, DERMS_SIM_PORT, DACS_SIM_PORT, LOCAL_SQS_PORT,
 * LOCAL_DYNAMODB_PORT, LOCAL_DATA_DIR (.local), LOCAL_DYNAMODB_PATH (<data dir>/dynamodb, or `memory`),
 * LOCAL_CLIENT_SECRET, SWEEP_INTERVAL_MS, DERMS_SIM_ACK_DELAY_MS, DERMS_SIM_ACK_CHUNK,
 * LOCAL_FUNCTION_TIMEOUT_SECONDS (caps the process functions' timeouts, and so the queues' visibility
 * timeouts; see `localFunctionTimeoutSeconds`), plus the handler settings passed through (see
 * PASS_THROUGH_ENV in resources.ts).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  generateSigningKey,
  JWKS_PATH,
  type LocalClient,
  localClients,
  signingKeyFile,
  writeSigningKey,
} from '#local/auth.ts';
import {
  DEFAULT_PORTS,
  FUNCTION_ROLES,
  type FunctionRole,
  LOCAL_CREDENTIALS,
  LOCAL_PREFIX,
  LOCAL_REGION,
  ROLE_ENV,
} from '#local/constants.ts';
import { localFunctionTimeoutSeconds } from '#local/lambda.ts';
import {
  ensureBucket,
  ensureQueues,
  ensureTables,
  type FlowQueues,
  functionEnvironment,
  type LocalResources,
  tableNames,
  VISIBILITY_TIMEOUT_FACTOR,
} from '#local/resources.ts';
import {
  assertPortsFree,
  type DynamoDbLocal,
  type DynamoDbLocalOptions,
  type LocalService,
  startDynamoDbLocal,
  startFauxqs,
} from '#local/services.ts';
import { createDacsSimulator, type DacsSimulatorOptions } from '#local/simulators/dacs.ts';
import { createDermsSimulator, type DermsSimulatorOptions } from '#local/simulators/derms.ts';
import { AUTHORIZER } from '#shared/auth/policy.ts';
import { optionalNumber, optionalString } from '#shared/config/env.ts';
import { FLOW_IDS, FLOWS } from '#shared/flows/registry.ts';
import { sleep } from '#shared/time.ts';

export const READY_LINE = 'Local stack ready';
const REPO_ROOT = resolve(fileURLToPath(import.meta.url), '../..');

export interface LocalStackOptions {
  /** Where settings are read from. @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Where the summary and supervisor messages go. @default console.log */
  readonly print?: (line: string) => void;
}

export interface LocalStack {
  readonly urls: StackUrls;
  readonly resources: LocalResources;
  /** The pid of the API's function process now running. */
  functionsPid(): number | undefined;
  /** The pid of each function process now running, by role. */
  functionPids(): Partial<Record<FunctionRole, number>>;
  stop(): Promise<void>;
}

export interface StackUrls {
  readonly api: string;
  readonly derms: string;
  readonly dacs: string;
  readonly sqs: string;
  readonly dynamodb: string;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Ports and paths, read once from the environment. */
export interface StackSettings {
  readonly ports: { readonly [K in keyof typeof DEFAULT_PORTS]: number };
  readonly dataDir: string;
  /** Undefined: DynamoDB Local keeps its tables in memory. */
  readonly dbPath: string | undefined;
  /** The API's function process's pid file, `functions.pid`; each role's is {@link functionPidFile}. */
  readonly pidFile: string;
}

/** Where the stack writes the pid of a role's function process. */
export const functionPidFile = (dataDir: string, role: FunctionRole): string =>
  resolve(dataDir, `functions-${role}.pid`);

/**
 * Everything `stopStack` has to undo, filled in as the steps start things. Services (started or
 * starting) and closers are stopped last started first.
 */
interface StackRun {
  readonly services: Promise<LocalService>[];
  readonly closers: (() => Promise<void>)[];
  readonly pidFile: string;
  readonly print: (line: string) => void;
  /** The function process now running, by role. */
  readonly children: Map<FunctionRole, ChildProcess>;
  /** Set once stopping begins: nothing is restarted from then on. */
  stopping: boolean;
}

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const env = options.env ?? process.env;
  const settings = stackSettings(env);
  await assertPortsFree(portOwners(settings.ports));
  mkdirSync(settings.dataDir, { recursive: true });
  const run: StackRun = {
    services: [],
    closers: [],
    pidFile: settings.pidFile,
    print: options.print ?? ((line: string) => console.log(line)),
    children: new Map(),
    stopping: false,
  };
  const stop = () => stopStack(run);
  try {
    // Generated here, not in the API process, so that its tokens outlive a restart of that process;
    // written to <data dir>/token-signing-key.json, where the API process and the tests read it.
    const keyFile = signingKeyFile(settings.dataDir);
    writeSigningKey(keyFile, await generateSigningKey());
    const { resources, tablesReady } = await startBackingServices(run, settings, env);
    const urls = stackUrls(settings.ports, resources);
    const clients = localClients(env);
    await startSimulators(run, settings.ports, urls, clients, env);
    const functionsEnv = functionsProcessEnv(env, settings.ports.api, resources, urls, keyFile);
    await Promise.all([superviseFunctions(run, functionsEnv, tablesReady), tablesReady]);
    await waitUntilAnswering(readinessChecks(urls));
    run.print(banner({ urls, resources, clients, dbPath: settings.dbPath, pidFile: settings.pidFile }));
    const functionPids = () =>
      Object.fromEntries([...run.children].map(([role, child]) => [role, child.pid])) as Partial<
        Record<FunctionRole, number>
      >;
    return { urls, resources, functionsPid: () => run.children.get('api')?.pid, functionPids, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

export function stackSettings(env: Env): StackSettings {
  const ports = {
    api: optionalNumber('LOCAL_API_PORT', DEFAULT_PORTS.api, env),
    derms: optionalNumber('DERMS_SIM_PORT', DEFAULT_PORTS.derms, env),
    dacs: optionalNumber('DACS_SIM_PORT', DEFAULT_PORTS.dacs, env),
    sqs: optionalNumber('LOCAL_SQS_PORT', DEFAULT_PORTS.sqs, env),
    dynamodb: optionalNumber('LOCAL_DYNAMODB_PORT', DEFAULT_PORTS.dynamodb, env),
  };
  const dataDir = resolve(REPO_ROOT, optionalString('LOCAL_DATA_DIR', '.local', env));
  const dbSetting = optionalString('LOCAL_DYNAMODB_PATH', resolve(dataDir, 'dynamodb'), env);
  const dbPath = dbSetting === 'memory' ? undefined : resolve(REPO_ROOT, dbSetting);
  return { ports, dataDir, dbPath, pidFile: resolve(dataDir, 'functions.pid') };
}

/** The ports by what will listen on them, for `assertPortsFree`'s message. */
const portOwners = (ports: StackSettings['ports']) => ({
  'integration API': ports.api,
  'DERMS simulator': ports.derms,
  'DACS simulator': ports.dacs,
  'fauxqs (SQS, S3)': ports.sqs,
  'DynamoDB Local': ports.dynamodb,
});

/** Stops the function processes, then the simulators, then the AWS stand-ins; once. */
async function stopStack(run: StackRun): Promise<void> {
  if (run.stopping) return;
  run.stopping = true;
  await Promise.all([...run.children.values()].map(stopFunctionsProcess));
  rmSync(run.pidFile, { force: true });
  for (const role of FUNCTION_ROLES) rmSync(functionPidFile(dirname(run.pidFile), role), { force: true });
  rmSync(dynamoDbPidFile(dirname(run.pidFile)), { force: true });
  rmSync(signingKeyFile(dirname(run.pidFile)), { force: true });
  for (const close of run.closers.reverse()) await close().catch(() => {});
  for (const service of run.services.reverse()) await service.then((s) => s.stop()).catch(() => {});
}

async function stopFunctionsProcess(running: ChildProcess): Promise<void> {
  if (running.exitCode !== null || running.signalCode !== null) return;
  const exited = new Promise((done) => running.once('exit', done));
  running.kill('SIGTERM');
  const timer = setTimeout(() => running.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

// ── The AWS stand-ins ────────────────────────────────────────────────────────────────────────────────

interface BackingServices {
  readonly resources: LocalResources;
  /** Settles once DynamoDB Local answers and the tables exist; never unhandled. */
  readonly tablesReady: Promise<unknown>;
}

/**
 * fauxqs is up in a moment; DynamoDB Local (a JVM) takes seconds. This resolves once the queues and
 * the bucket exist, so that everything that does not need the tables (simulators, the functions
 * process and its warm-up) starts while DynamoDB Local boots.
 */
async function startBackingServices(
  run: StackRun,
  settings: StackSettings,
  env: Env,
): Promise<BackingServices> {
  const { ports, dbPath } = settings;
  const dynamoOptions: DynamoDbLocalOptions = { port: ports.dynamodb, ...(dbPath ? { dbPath } : {}) };
  const dynamoStarting = startDynamoDbLocal(dynamoOptions);
  run.services.push(superviseDynamoDb(run, dynamoOptions, dynamoDbPidFile(settings.dataDir), dynamoStarting));
  const fauxqsStarting = startFauxqs({ port: ports.sqs });
  run.services.push(fauxqsStarting);
  const fauxqs = await fauxqsStarting;
  const { queues, bucket } = await createQueuesAndBucket(fauxqs.endpoint, env);
  const tablesReady = createTablesOnceUp(dynamoStarting);
  tablesReady.catch(() => {}); // awaited by startLocalStack
  return {
    tablesReady,
    resources: {
      tables: tableNames(LOCAL_PREFIX),
      queues,
      bucket,
      endpoints: {
        dynamodb: `http://127.0.0.1:${ports.dynamodb}`,
        sqs: fauxqs.endpoint,
        s3: fauxqs.endpoint,
      },
    },
  };
}

const localAws = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };

async function createQueuesAndBucket(endpoint: string, env: Env) {
  const sqs = new SQSClient({ ...localAws, endpoint });
  const s3 = new S3Client({ ...localAws, endpoint, forcePathStyle: true });
  const queues = await ensureQueues(sqs, LOCAL_PREFIX, env);
  await shortenVisibilityTimeouts(sqs, queues, env);
  const bucket = await ensureBucket(s3, `${LOCAL_PREFIX}claim-check`);
  for (const client of [sqs, s3]) client.destroy();
  return { queues, bucket };
}

/**
 * With `LOCAL_FUNCTION_TIMEOUT_SECONDS` set, a queue's visibility timeout follows its function's shorter
 * timeout (six times it, as for the registry's), so what a crash or a time-out leaves in flight comes
 * back as soon as it would on AWS with that timeout.
 */
export async function shortenVisibilityTimeouts(
  sqs: Pick<SQSClient, 'send'>,
  queues: FlowQueues,
  env: Env,
): Promise<void> {
  for (const id of FLOW_IDS) {
    const seconds = localFunctionTimeoutSeconds(id, env);
    if (seconds === FLOWS[id].queue.functionTimeoutSeconds) continue;
    await sqs.send(
      new SetQueueAttributesCommand({
        QueueUrl: queues[id].url,
        Attributes: { VisibilityTimeout: String(Math.ceil(VISIBILITY_TIMEOUT_FACTOR * seconds)) },
      }),
    );
  }
}

async function createTablesOnceUp(dynamoStarting: Promise<LocalService>) {
  const dynamodb = await dynamoStarting;
  const ddb = new DynamoDBClient({ ...localAws, endpoint: dynamodb.endpoint });
  try {
    return await ensureTables(ddb, LOCAL_PREFIX);
  } finally {
    ddb.destroy();
  }
}

export function stackUrls(ports: StackSettings['ports'], resources: LocalResources): StackUrls {
  return {
    api: `http://127.0.0.1:${ports.api}`,
    derms: `http://127.0.0.1:${ports.derms}`,
    dacs: `http://127.0.0.1:${ports.dacs}`,
    sqs: resources.endpoints.sqs,
    dynamodb: resources.endpoints.dynamodb,
  };
}

// ── DynamoDB Local, kept running ──────────────────────────────────────────────────────────────────────

/** Where the stack writes DynamoDB Local's pid. */
export const dynamoDbPidFile = (dataDir: string): string => resolve(dataDir, 'dynamodb.pid');

/** At least this long between DynamoDB Local's exit and its restart: an outage a test can see. */
export const DYNAMODB_RESTART_MS = 1000;

/** The supervisor's memory of DynamoDB Local across restarts. */
interface DynamoSupervision {
  readonly run: StackRun;
  readonly options: DynamoDbLocalOptions;
  readonly pidFile: string;
  /** The instance now running or starting. */
  current: Promise<DynamoDbLocal>;
  /** Restarts in a row of an instance that died young (or did not start). */
  restarts: number;
}

/**
 * Keeps DynamoDB Local running once it first answered: an instance that exits while the stack is not
 * stopping is started again on the same port and folder, after {@link DYNAMODB_RESTART_MS} (longer while
 * it keeps dying young), and the tables are ensured again (an in-memory database comes back empty).
 * Resolves, with the first instance, to a service whose `stop()` stops whichever instance is current.
 */
function superviseDynamoDb(
  run: StackRun,
  options: DynamoDbLocalOptions,
  pidFile: string,
  first: Promise<DynamoDbLocal>,
): Promise<LocalService> {
  const supervision: DynamoSupervision = { run, options, pidFile, current: first, restarts: 0 };
  return first.then((instance) => {
    watchDynamoDb(supervision, instance, Date.now());
    return {
      endpoint: instance.endpoint,
      stop: () =>
        supervision.current.then(
          (current) => current.stop(),
          () => {},
        ),
    };
  });
}

function watchDynamoDb(supervision: DynamoSupervision, instance: DynamoDbLocal, startedAt: number): void {
  const { run } = supervision;
  if (instance.pid !== undefined) writeFileSync(supervision.pidFile, `${instance.pid}\n`);
  instance.exited.then(({ code, signal }) => {
    if (run.stopping) return;
    supervision.restarts = Date.now() - startedAt < YOUNG_MS ? supervision.restarts + 1 : 0;
    const pause = Math.max(DYNAMODB_RESTART_MS, restartPause(supervision.restarts));
    run.print(
      `DynamoDB Local ${instance.pid} exited (${signal ?? `code ${code}`}); restarting in ${pause} ms`,
    );
    setTimeout(() => restartDynamoDb(supervision), pause);
  });
}

async function restartDynamoDb(supervision: DynamoSupervision): Promise<void> {
  const { run } = supervision;
  if (run.stopping) return;
  const startedAt = Date.now();
  supervision.current = startDynamoDbLocal(supervision.options);
  try {
    const instance = await supervision.current;
    if (run.stopping) return void (await instance.stop());
    await createTablesOnceUp(supervision.current).catch((error: unknown) =>
      run.print(`DynamoDB Local restarted, but the tables could not be ensured: ${(error as Error).message}`),
    );
    run.print(`DynamoDB Local restarted (pid ${instance.pid})`);
    watchDynamoDb(supervision, instance, startedAt);
  } catch (error) {
    supervision.restarts += 1;
    const pause = Math.max(DYNAMODB_RESTART_MS, restartPause(supervision.restarts));
    run.print(`DynamoDB Local did not start again (${(error as Error).message}); retrying in ${pause} ms`);
    setTimeout(() => restartDynamoDb(supervision), pause);
  }
}

// ── The simulators ───────────────────────────────────────────────────────────────────────────────────

async function startSimulators(
  run: StackRun,
  ports: StackSettings['ports'],
  urls: StackUrls,
  clients: readonly LocalClient[],
  env: Env,
): Promise<void> {
  const log = (line: string) => console.error(line);
  const derms = createDermsSimulator(dermsSimulatorOptions(urls.api, clients, env, log));
  const dacs = createDacsSimulator(dacsSimulatorOptions(env, log));
  await derms.listen(ports.derms);
  run.closers.push(() => derms.close());
  await dacs.listen(ports.dacs);
  run.closers.push(() => dacs.close());
}

/** The DERMS simulator acks to this stack's API, as `derms-local`, on the paths the integration calls. */
export function dermsSimulatorOptions(
  apiUrl: string,
  clients: readonly LocalClient[],
  env: Env,
  log: (line: string) => void,
): DermsSimulatorOptions {
  return {
    ackUrl: `${apiUrl}${FLOWS.assetSyncAck.route.path}`,
    tokenUrl: `${apiUrl}/oauth2/token`,
    clientId: 'derms-local',
    clientSecret: clients.find((c) => c.clientId === 'derms-local')!.clientSecret,
    ackDelayMs: optionalNumber('DERMS_SIM_ACK_DELAY_MS', 300, env),
    ackChunkSize: optionalNumber('DERMS_SIM_ACK_CHUNK', 2, env),
    paths: {
      ...(env[FLOWS.assetSync.target.pathEnv] ? { enrollmentSync: env[FLOWS.assetSync.target.pathEnv] } : {}),
      ...(env[FLOWS.optOut.target.pathEnv] ? { optOuts: env[FLOWS.optOut.target.pathEnv] } : {}),
      ...(env[FLOWS.unavailability.target.pathEnv]
        ? { unavailability: env[FLOWS.unavailability.target.pathEnv] }
        : {}),
    },
    log,
  };
}

/** The DACS simulator also answers on the ack paths the integration is configured to call. */
export function dacsSimulatorOptions(env: Env, log: (line: string) => void): DacsSimulatorOptions {
  const ackPath = env[FLOWS.assetSyncAck.target.pathEnv];
  const legacyAckPath = env[FLOWS.legacyAck.target.pathEnv];
  return { ...(ackPath ? { ackPath } : {}), ...(legacyAckPath ? { legacyAckPath } : {}), log };
}

// ── The function processes ───────────────────────────────────────────────────────────────────────────

/**
 * The function environment plus what local/functions.ts reads (see its header) but its role. The authorizer is
 * pointed at the local token endpoint: its issuer (this API's URL, JWKS below it) instead of a user
 * pool, and the local clients' ids.
 */
export function functionsProcessEnv(
  env: Env,
  apiPort: number,
  resources: LocalResources,
  urls: StackUrls,
  keyFile?: string,
): Record<string, string | undefined> {
  return {
    ...env,
    ...functionEnvironment(resources, { dermsBaseUrl: urls.derms, dacsBaseUrl: urls.dacs, source: env }),
    LOCAL_REPO_ROOT: REPO_ROOT,
    LOCAL_API_HOST: '127.0.0.1',
    LOCAL_API_PORT: String(apiPort),
    ...(keyFile ? { LOCAL_JWT_KEY_FILE: keyFile } : {}),
    [AUTHORIZER.issuerUrlEnv]: urls.api,
    [AUTHORIZER.clientIdsEnv]: localClients(env)
      .map((c) => c.clientId)
      .join(','),
    LOCAL_QUEUES: JSON.stringify(resources.queues),
  };
}

/** The supervisor's memory across restarts of one role's function process. */
interface Supervision {
  readonly run: StackRun;
  readonly role: FunctionRole;
  readonly env: Record<string, string | undefined>;
  readonly tablesReady: Promise<unknown>;
  /** Restarts in a row of a process that died young. */
  restarts: number;
  /** Set until the first process says it is ready. */
  firstReady: (() => void) | undefined;
}

/** A process that dies within this long of its start counts as dying young. */
const YOUNG_MS = 5000;

/** How long the first function processes may take to be ready (all start at once, on few cores). */
const FIRST_START_MS = 90_000;

/** Starts one function process per role ({@link superviseFunction}); resolves when each is ready. */
async function superviseFunctions(
  run: StackRun,
  env: Record<string, string | undefined>,
  tablesReady: Promise<unknown>,
): Promise<void> {
  await Promise.all(FUNCTION_ROLES.map((role) => superviseFunction(run, role, env, tablesReady)));
}

/**
 * Starts a role's function process and keeps it running: one that exits while we are not stopping is
 * restarted, after a pause that grows while it keeps dying young. Resolves when the first one is ready.
 */
function superviseFunction(
  run: StackRun,
  role: FunctionRole,
  env: Record<string, string | undefined>,
  tablesReady: Promise<unknown>,
): Promise<void> {
  const supervision: Supervision = {
    run,
    role,
    env: { ...env, [ROLE_ENV]: role },
    tablesReady,
    restarts: 0,
    firstReady: undefined,
  };
  const firstReady = new Promise<void>((done, fail) => {
    supervision.firstReady = done;
    setTimeout(
      () => fail(new Error(`The ${role} function process did not start within ${FIRST_START_MS / 1000} s`)),
      FIRST_START_MS,
    ).unref();
  });
  spawnFunctions(supervision);
  return firstReady;
}

function spawnFunctions(supervision: Supervision): void {
  const { run, role } = supervision;
  const started = Date.now();
  const proc = fork(resolve(REPO_ROOT, 'local/functions.ts'), [], {
    cwd: REPO_ROOT,
    env: supervision.env,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  run.children.set(role, proc);
  if (proc.pid !== undefined) {
    writeFileSync(functionPidFile(dirname(run.pidFile), role), `${proc.pid}\n`);
    if (role === 'api') writeFileSync(run.pidFile, `${proc.pid}\n`);
  }
  proc.on('message', (message: { type?: string }) => {
    if (message?.type === 'ready') onFunctionsReady(supervision, proc);
  });
  proc.once('exit', (code, signal) => onFunctionsExit(supervision, proc, Date.now() - started, code, signal));
}

/** The sweep starts once the tables exist; the first ready resolves the start, later ones are reported. */
function onFunctionsReady(supervision: Supervision, proc: ChildProcess): void {
  supervision.tablesReady.then(
    () => proc.connected && proc.send({ type: 'start-sweep' }),
    () => {},
  );
  if (supervision.firstReady) {
    supervision.firstReady();
    supervision.firstReady = undefined;
  } else supervision.run.print(`${supervision.role} function process restarted (pid ${proc.pid})`);
}

function onFunctionsExit(
  supervision: Supervision,
  proc: ChildProcess,
  livedMs: number,
  code: number | null,
  signal: NodeJS.Signals | null,
): void {
  const { run, role } = supervision;
  if (run.stopping || run.children.get(role) !== proc) return;
  supervision.restarts = livedMs < YOUNG_MS ? supervision.restarts + 1 : 0;
  const pause = restartPause(supervision.restarts);
  run.print(
    `${role} function process ${proc.pid} exited (${signal ?? `code ${code}`}); restarting in ${pause} ms`,
  );
  setTimeout(() => {
    if (!run.stopping) spawnFunctions(supervision);
  }, pause);
}

/** 250 ms after a process that lived, doubling per young death in a row, at most 10 s. */
export const restartPause = (youngDeathsInARow: number): number =>
  Math.min(10_000, 250 * 2 ** youngDeathsInARow);

// ── Ready ────────────────────────────────────────────────────────────────────────────────────────────

export type ReadinessCheck = readonly [name: string, check: () => Promise<boolean>];

/** Ready means every part answers: the API (a token request), both simulators and both stand-ins. */
export function readinessChecks(urls: StackUrls): ReadinessCheck[] {
  const basic = Buffer.from('derms-local:x').toString('base64');
  return [
    [
      'API',
      () =>
        answers(`${urls.api}/oauth2/token`, {
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
}

/** Whether anything answers at `url`, whatever the status. */
async function answers(url: string, init?: RequestInit): Promise<boolean> {
  try {
    const response = await fetch(url, { ...init, signal: AbortSignal.timeout(2000) });
    await response.arrayBuffer();
    return true;
  } catch {
    return false;
  }
}

/** Runs each check in turn, retrying it every `pauseMs` up to `retries` times; fails naming the first that never answers. */
export async function waitUntilAnswering(
  checks: readonly ReadinessCheck[],
  { retries = 50, pauseMs = 200 } = {},
): Promise<void> {
  for (const [name, check] of checks) {
    let ok = await check();
    for (let i = 0; i < retries && !ok; i++) {
      await sleep(pauseMs);
      ok = await check();
    }
    if (!ok) throw new Error(`${name} does not answer`);
  }
}

export interface BannerFacts {
  readonly urls: StackUrls;
  readonly resources: LocalResources;
  readonly clients: readonly LocalClient[];
  readonly dbPath: string | undefined;
  readonly pidFile: string;
}

/** What `npm start` prints once ready: every address, client, table and queue, then {@link READY_LINE}. */
export function banner({ urls, resources, clients, dbPath, pidFile }: BannerFacts): string {
  const api = urls.api;
  const clientLines = clients.map((c) => `    ${c.clientId.padEnd(14)} scope ${c.scopes.join(' ')}`);
  const dlqLines = FLOW_IDS.map((id) => `    ${id.padEnd(15)} ${resources.queues[id].dlqUrl}`);
  const queueLines = FLOW_IDS.map((id) => `    ${id.padEnd(15)} ${resources.queues[id].url}`);
  const secret = clients.every((c) => c.clientSecret === 'local-secret')
    ? '"local-secret"'
    : '(from the environment)';
  return [
    '',
    'DACS ⇄ DERMS integration, local stack',
    `  Integration API     ${api}   (OpenAPI: ${api}/openapi.json)`,
    `  Token endpoint      POST ${api}/oauth2/token  (grant_type=client_credentials, HTTP Basic)`,
    `  Token keys (JWKS)   ${api}${JWKS_PATH}  (RS256; the authorizer verifies against it)`,
    `  Local clients       secret ${secret}`,
    ...clientLines,
    `  DERMS simulator     ${urls.derms}   (control: /sim/calls, /sim/faults, /sim/acks)`,
    `  DACS simulator      ${urls.dacs}   (control: /sim/calls, /sim/faults, /sim/devices/{deviceId})`,
    `  DynamoDB Local      ${urls.dynamodb}   (${dbPath ?? 'in memory'})`,
    `    pid in ${dynamoDbPidFile(dirname(pidFile))}; restarted if it stops`,
    `    tables            ${Object.values(resources.tables).join(', ')}`,
    `  SQS + S3 (fauxqs)   ${urls.sqs}   (bucket ${resources.bucket})`,
    '  Queues',
    ...queueLines,
    '  Dead-letter queues  (npm run redrive -- <flowId> moves them back)',
    ...dlqLines,
    '  Function processes  one per role, each restarted if it dies (LOCAL_FUNCTIONS_ROLE, local/functions.ts)',
    `    api             API host, ingest handlers, authorizer; pid in ${pidFile} (and functions-api.pid)`,
    ...[...FLOW_IDS, 'sweep' as const].map(
      (role) => `    ${role.padEnd(15)} pid in ${functionPidFile(dirname(pidFile), role)}`,
    ),
    '',
    READY_LINE,
  ].join('\n');
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
