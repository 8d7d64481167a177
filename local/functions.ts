/**
 * A function process of the local stack, forked and supervised by `local/start.ts`. As on AWS, where each
 * function is its own Lambda with its own concurrency, the stack runs one process per role
 * (`LOCAL_FUNCTIONS_ROLE`, see {@link FUNCTION_ROLES}):
 *
 *   api        the API host: every ingest handler, the authorizer, the token endpoint, the support routes
 *              and page (API Gateway and its Lambda functions);
 *   <flowId>   the flow's SQS event source mapping onto its process handler (one per flow of the registry);
 *   sweep      the deadline sweep's schedule.
 *
 * So a 10,000-device sync's processing never blocks the event loop that serves the opt-outs' HTTP ingest
 * or polls their queue. Without `LOCAL_FUNCTIONS_ROLE` (or with `all`) one process runs every role, as the
 * stack did before. A process holds no state of its own, so a test can kill one (or all) while DynamoDB
 * Local and the queues stay up, as a Lambda crash would look on AWS.
 *
 * Its environment is the function environment plus:
 * `LOCAL_FUNCTIONS_ROLE`, `LOCAL_API_HOST`/`LOCAL_API_PORT`, `LOCAL_JWT_KEY_FILE` (the token signing key the supervisor wrote),
 * `TOKEN_ISSUER_URL` and `COGNITO_CLIENT_IDS` (what the authorizer verifies against), `LOCAL_QUEUES` (JSON, from `ensureQueues`),
 * `SWEEP_INTERVAL_MS` (default 60000), `LOCAL_POLL_WAIT_SECONDS` (default 20), `LOCAL_REPO_ROOT`,
 * `LOCAL_FUNCTION_TIMEOUT_SECONDS` (caps every process function's timeout; default: the registry's),
 * and the client secrets (`LOCAL_CLIENT_SECRET`, `<CALLER>_LOCAL_CLIENT_SECRET`).
 *
 * Each process function is held to its timeout as Lambda holds it: an invocation that outlives it fails
 * ("Task timed out", in the log), and its records come back after their visibility timeout.
 */
import type { Server } from 'node:http';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SQSClient } from '@aws-sdk/client-sqs';
import { createTokenService, localClients, readSigningKey, type SigningKey } from '#local/auth.ts';
import { DEFAULT_PORTS, FUNCTION_ROLES, type FunctionRole, ROLE_ENV, rolesFrom } from '#local/constants.ts';
import { type ApiRoute, apiRoutes, createApiHost } from '#local/host.ts';
import {
  createHandlerLoader,
  functionName,
  type LambdaHandler,
  lambdaContext,
  localFunctionTimeoutSeconds,
  scheduledEvent,
  withTimeout,
} from '#local/lambda.ts';
import { every, type Poller, type Schedule, startPoller } from '#local/poller.ts';
import type { FlowQueues } from '#local/resources.ts';
import { AUTHORIZER } from '#shared/auth/policy.ts';
import { optionalNumber, optionalString, requireString } from '#shared/config/env.ts';
import { FLOW_IDS, FLOWS, type FlowId, SWEEP } from '#shared/flows/registry.ts';

const isFlow = (role: FunctionRole): role is FlowId => (FLOW_IDS as readonly string[]).includes(role);

export interface FunctionsOptions {
  /** What this process runs. */
  readonly roles: readonly FunctionRole[];
  readonly repoRoot: string;
  readonly apiHost: string;
  readonly apiPort: number;
  /** The key the token endpoint signs with; the authorizer fetches its public half from the JWKS. */
  readonly signingKey: SigningKey;
  /** The tokens' `iss`, this API's URL: what the authorizer is configured to accept (`TOKEN_ISSUER_URL`). */
  readonly issuer: string;
  readonly queues: FlowQueues;
  readonly sweepIntervalMs: number;
  readonly pollWaitSeconds: number;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly log: (line: string) => void;
}

export interface RunningFunctions {
  /** The API's URL, when this process runs the API host. */
  readonly apiUrl: string | undefined;
  /** Starts the sweep schedule (once the tables exist), when this process runs the sweep. */
  startSweep(): void;
  stop(): Promise<void>;
}

type HandlerLoader = (modulePath: string) => Promise<LambdaHandler>;

/** Starts what this process's roles run: the API host, the flows' pollers, the sweep. */
export async function startFunctions(options: FunctionsOptions): Promise<RunningFunctions> {
  const { log, roles } = options;
  const loadHandler = createHandlerLoader(options.repoRoot);
  const routes = roles.includes('api') ? apiRoutes() : [];
  const server = roles.includes('api') ? await listenApiHost(options, routes, loadHandler) : undefined;
  await warmHandlers(handlerModules(routes, roles), loadHandler, log);
  const flows = roles.filter(isFlow);
  const sqs = flows.length > 0 ? new SQSClient({}) : undefined;
  const pollers = sqs ? startPollers(options, flows, sqs, loadHandler) : [];
  let sweep: Schedule | undefined;
  return {
    apiUrl: server ? `http://${options.apiHost}:${options.apiPort}` : undefined,
    startSweep() {
      if (roles.includes('sweep')) sweep ??= every(options.sweepIntervalMs, () => runSweep(loadHandler, log));
    },
    async stop() {
      server?.closeAllConnections();
      await Promise.all([
        server && new Promise<void>((done) => server.close(() => done())),
        sweep?.stop(),
        ...pollers.map((p) => p.stop()),
      ]);
      sqs?.destroy();
    },
  };
}

/** The API host on `apiHost:apiPort`, with tokens for the local clients and API Gateway's throttle. */
async function listenApiHost(
  options: FunctionsOptions,
  routes: readonly ApiRoute[],
  loadHandler: HandlerLoader,
): Promise<Server> {
  const server = createApiHost({
    routes,
    tokens: createTokenService({
      signingKey: options.signingKey,
      issuer: options.issuer,
      clients: localClients(options.env),
    }),
    loadHandler,
    openApiFile: resolve(options.repoRoot, 'docs/openapi.json'),
    throttle: {
      rateLimit: Number(options.env.LOCAL_THROTTLE_RATE ?? 100),
      burstLimit: Number(options.env.LOCAL_THROTTLE_BURST ?? 200),
    },
    log: options.log,
  });
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(options.apiPort, options.apiHost, () => done());
  });
  return server;
}

/**
 * Every handler module a process with these roles runs, once each: the authorizer and the routes' (api),
 * a flow's process handler (its flow id), the sweep's (sweep).
 */
export function handlerModules(
  routes: readonly ApiRoute[],
  roles: readonly FunctionRole[] = FUNCTION_ROLES,
): string[] {
  const modules = [
    ...(roles.includes('api') ? [AUTHORIZER.handler, ...routes.map((r) => r.module)] : []),
    ...roles.filter(isFlow).map((id) => FLOWS[id].handlers.process),
    ...(roles.includes('sweep') ? [SWEEP.handler] : []),
  ];
  return [...new Set(modules)];
}

/** Loads every handler, like provisioned concurrency; a module that fails is reported and retried per call. */
export async function warmHandlers(
  modules: readonly string[],
  loadHandler: HandlerLoader,
  log: (line: string) => void,
): Promise<void> {
  const failures: string[] = [];
  await Promise.all(
    modules.map((m) =>
      loadHandler(m).catch((error: unknown) => failures.push(`${m}: ${(error as Error).message}`)),
    ),
  );
  for (const failure of failures) log(`[functions] cannot load ${failure}`);
}

/**
 * One event source mapping per flow this process runs, onto the flow's process handler, held to its
 * timeout ({@link localFunctionTimeoutSeconds}, {@link withTimeout}).
 */
function startPollers(
  options: FunctionsOptions,
  flows: readonly FlowId[],
  sqs: SQSClient,
  loadHandler: HandlerLoader,
): Poller[] {
  return flows.map((id) => {
    const flow = FLOWS[id];
    return startPoller({
      sqs,
      queueUrl: options.queues[id].url,
      queueArn: options.queues[id].arn,
      functionName: functionName(id, 'process'),
      loadHandler: () => loadHandler(flow.handlers.process).then(withTimeout),
      batchSize: flow.queue.batchSize,
      maxConcurrency: flow.queue.maxConcurrency,
      functionTimeoutSeconds: localFunctionTimeoutSeconds(id, options.env),
      waitTimeSeconds: options.pollWaitSeconds,
      log: options.log,
    });
  });
}

const SWEEP_NAME = functionName('sweep', 'handler');

/** One scheduled run of the sweep; a failure is logged, and the next run comes as scheduled. */
export async function runSweep(loadHandler: HandlerLoader, log: (line: string) => void): Promise<void> {
  try {
    const handler = await loadHandler(SWEEP.handler);
    await handler(
      scheduledEvent(`${SWEEP_NAME}-schedule`),
      lambdaContext({ functionName: SWEEP_NAME, timeoutMs: 60_000 }),
    );
  } catch (error) {
    log(`[${SWEEP_NAME}] ${(error as Error).stack ?? error}`);
  }
}

async function main(): Promise<void> {
  const log = (line: string) => console.error(line);
  const roles = rolesFrom(process.env[ROLE_ENV]);
  const functions = await startFunctions({
    roles,
    repoRoot: optionalString('LOCAL_REPO_ROOT', resolve(fileURLToPath(import.meta.url), '../..')),
    apiHost: optionalString('LOCAL_API_HOST', '127.0.0.1'),
    apiPort: optionalNumber('LOCAL_API_PORT', DEFAULT_PORTS.api),
    signingKey: readSigningKey(requireString('LOCAL_JWT_KEY_FILE')),
    issuer: requireString(AUTHORIZER.issuerUrlEnv),
    queues: JSON.parse(requireString('LOCAL_QUEUES')) as FlowQueues,
    sweepIntervalMs: optionalNumber('SWEEP_INTERVAL_MS', SWEEP.rateMinutes * 60_000),
    pollWaitSeconds: optionalNumber('LOCAL_POLL_WAIT_SECONDS', 20),
    env: process.env,
    log,
  });
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await functions.stop();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  // Under the supervisor, Ctrl-C reaches the whole process group; the supervisor then stops us with
  // SIGTERM, so that it never mistakes our exit for a crash.
  process.on('SIGINT', process.send ? () => {} : stop);
  // The supervisor went away: do not outlive it.
  process.on('disconnect', stop);
  if (process.send) {
    // The supervisor says when the tables exist; the sweep runs from then on.
    process.on('message', (message: { type?: string }) => {
      if (message?.type === 'start-sweep') functions.startSweep();
    });
    process.send({ type: 'ready', roles, apiUrl: functions.apiUrl });
  } else functions.startSweep();
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(`[functions ${process.env[ROLE_ENV] ?? 'all'}] failed to start:`, error);
    process.exit(1);
  });
}
