/**
 * End-to-end layer: runs the local stack exactly as `npm start` does (local/start.ts in its own
 * process), with a fresh DynamoDB Local database in a temporary folder and short timings, and waits for
 * "Local stack ready". Tests then talk HTTP to it as DACS and DERMS would.
 *
 * What the tests find in process.env: LOCAL_API_URL, DERMS_SIM_URL, DACS_SIM_URL, LOCAL_DATA_DIR's
 * token-signing key (see test/e2e/helpers.ts), LOCAL_FUNCTIONS_PID_FILE, E2E_STACK_LOG, and the timings
 * below (each overridable from the environment of `npm run test:e2e`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertPortsFree } from '#local/services.ts';

const REPO_ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
const READY_LINE = 'Local stack ready';
const START_TIMEOUT_MS = 120_000;

/** Short timings, so that deadlines, retries and sweeps happen within a test. */
export const E2E_TIMINGS = {
  SWEEP_INTERVAL_MS: '1000',
  RETRY_BASE_SECONDS: '1',
  RETRY_MAX_SECONDS: '4',
  // Several times the old budget of 8 receives (about 20 s at these delays), yet short enough to play.
  RETRY_WINDOW_SECONDS: '90',
  FOLLOW_UP_LEASE_SECONDS: '5',
  // A deadline command may adopt an undelivered consolidated ack after 3 s: whatever must not be re-sent
  // (a refusal) or must wait (a Retry-After) is then tested against eager adopters.
  DEADLINE_REQUEUE_SECONDS: '3',
  SYNC_DEADLINE_SECONDS: '15',
  UNCORRELATED_ACK_WINDOW_SECONDS: '5',
  HTTP_TIMEOUT_MS: '3000',
  DERMS_SIM_ACK_DELAY_MS: '200',
  // A killed function process leaves its long poll open at fauxqs, which may hand it a message that then
  // waits out the visibility timeout (as on SQS). Short polls keep the restart test within seconds.
  LOCAL_POLL_WAIT_SECONDS: '1',
} as const;

declare global {
  var __e2eStack: ChildProcess | undefined;
}

export default async function globalSetup(): Promise<void> {
  const ports = {
    api: Number(process.env.LOCAL_API_PORT ?? 3000),
    derms: Number(process.env.DERMS_SIM_PORT ?? 3001),
    dacs: Number(process.env.DACS_SIM_PORT ?? 3002),
    sqs: Number(process.env.LOCAL_SQS_PORT ?? 4566),
    dynamodb: Number(process.env.LOCAL_DYNAMODB_PORT ?? 8000),
  };
  try {
    await assertPortsFree({
      'integration API': ports.api,
      'DERMS simulator': ports.derms,
      'DACS simulator': ports.dacs,
      'fauxqs (SQS, S3)': ports.sqs,
      'DynamoDB Local': ports.dynamodb,
    });
  } catch (error) {
    throw new Error(
      `The end-to-end tests start their own local stack, but ${(error as Error).message} ` +
        'If `npm start` is running, stop it (Ctrl-C) and run the tests again.',
    );
  }

  const timings: Record<string, string> = {};
  for (const [key, value] of Object.entries(E2E_TIMINGS)) timings[key] = process.env[key] ?? value;
  // LOCAL_DATA_DIR as `npm start` reads it: where the stack log and the function processes' pid files go.
  const dataDir = resolve(REPO_ROOT, process.env.LOCAL_DATA_DIR ?? '.local');
  mkdirSync(dataDir, { recursive: true });
  const dbPath = mkdtempSync(resolve(tmpdir(), 'e2e-dynamodb-'));
  const logFile = resolve(dataDir, 'e2e-stack.log');
  const env = {
    ...process.env,
    ...timings,
    NODE_OPTIONS: '', // jest's --experimental-vm-modules is not for the stack
    LOCAL_DYNAMODB_PATH: dbPath,
    POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN',
  };

  const child = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts'], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  globalThis.__e2eStack = child;
  const log = createWriteStream(logFile);
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });

  await new Promise<void>((done, fail) => {
    let seen = '';
    const timer = setTimeout(() => {
      fail(new Error(`The local stack was not ready within ${START_TIMEOUT_MS} ms; see ${logFile}`));
    }, START_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      seen = (seen + chunk.toString()).slice(-10_000);
      if (seen.includes(READY_LINE)) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.off('exit', onExit);
        done();
      }
    };
    const onExit = (code: number | null, signal: string | null) => {
      clearTimeout(timer);
      fail(new Error(`The local stack exited (${signal ?? `code ${code}`}) before it was ready:\n${seen}`));
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => {
      seen = (seen + chunk.toString()).slice(-10_000);
    });
    child.once('exit', onExit);
  }).catch(async (error: unknown) => {
    child.kill('SIGTERM');
    throw error;
  });

  Object.assign(process.env, timings, {
    LOCAL_API_URL: `http://127.0.0.1:${ports.api}`,
    DERMS_SIM_URL: `http://127.0.0.1:${ports.derms}`,
    DACS_SIM_URL: `http://127.0.0.1:${ports.dacs}`,
    LOCAL_FUNCTIONS_PID_FILE: resolve(dataDir, 'functions.pid'),
    E2E_STACK_LOG: logFile,
    E2E_DYNAMODB_PATH: dbPath,
  });
}
