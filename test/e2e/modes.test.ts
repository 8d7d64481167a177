/**
 * What needs the stack in another configuration runs on a second local stack, on ports of its own, with
 * the default timings (a 24 h deadline) and LEGACY_ACK_MODE=reject:
 *   - a large asset sync (over the SQS limit: S3 claim check) consolidated in full, which takes longer
 *     than the main e2e stack's 15 s deadline on DynamoDB Local;
 *   - 410, legacy acks switched off;
 *   - 503, DynamoDB unreachable: nothing can be accepted (last, it leaves the stack without a database).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_PORTS } from '#local/constants.ts';
import type { DacsAcknowledgement } from '#shared/contracts/types.ts';
import { assetSyncRequest, controllableDevice, legacyAck, optOut } from '#test/helpers/messages.ts';
import { E2E_TIMINGS } from './globalSetup.ts';
import { get as apiGet, post as apiPost, type Client, sim, uid, waitFor } from './helpers.ts';

const REPO_ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
/**
 * This file starts stacks of its own, 200 above the e2e stack's ports (3200… by default), so two runs
 * given different ports (LOCAL_API_PORT and the others) do not meet here either.
 */
const portOf = (name: string, fallback: number) => Number(process.env[name] ?? fallback) + 200;
const PORTS = {
  api: portOf('LOCAL_API_PORT', DEFAULT_PORTS.api),
  derms: portOf('DERMS_SIM_PORT', DEFAULT_PORTS.derms),
  dacs: portOf('DACS_SIM_PORT', DEFAULT_PORTS.dacs),
  sqs: portOf('LOCAL_SQS_PORT', DEFAULT_PORTS.sqs),
  dynamodb: portOf('LOCAL_DYNAMODB_PORT', DEFAULT_PORTS.dynamodb),
};
const API = `http://127.0.0.1:${PORTS.api}`;

let stack: ChildProcess;

const derms = sim(() => `http://127.0.0.1:${PORTS.derms}`);
const dacs = sim(() => `http://127.0.0.1:${PORTS.dacs}`);
const post = (path: string, body: unknown, client: Client) => apiPost(path, body, { api: API, client });
const get = (path: string) => apiGet(path, { api: API });

beforeAll(async () => {
  const dataDir = mkdtempSync(resolve(tmpdir(), 'e2e-modes-'));
  stack = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts'], {
    cwd: REPO_ROOT,
    env: {
      // Not the main e2e stack's short timings: this stack runs with the defaults.
      ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !(key in E2E_TIMINGS))),
      NODE_OPTIONS: '',
      LEGACY_ACK_MODE: 'reject',
      LOCAL_API_PORT: String(PORTS.api),
      DERMS_SIM_PORT: String(PORTS.derms),
      DACS_SIM_PORT: String(PORTS.dacs),
      LOCAL_SQS_PORT: String(PORTS.sqs),
      LOCAL_DYNAMODB_PORT: String(PORTS.dynamodb),
      LOCAL_DATA_DIR: dataDir,
      LOCAL_DYNAMODB_PATH: 'memory',
      POWERTOOLS_LOG_LEVEL: 'ERROR',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await new Promise<void>((done, fail) => {
    let seen = '';
    const timer = setTimeout(() => fail(new Error(`second stack not ready:\n${seen}`)), 120_000);
    stack.stdout?.on('data', (chunk: Buffer) => {
      seen = (seen + chunk.toString()).slice(-5000);
      if (seen.includes('Local stack ready')) {
        clearTimeout(timer);
        done();
      }
    });
    stack.stderr?.on('data', (chunk: Buffer) => {
      seen = (seen + chunk.toString()).slice(-5000);
    });
    stack.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`second stack exited (${code}):\n${seen}`));
    });
  });
}, 150_000);

afterAll(async () => {
  if (!stack || stack.exitCode !== null) return;
  const exited = new Promise((done) => stack.once('exit', done));
  stack.kill('SIGTERM');
  await Promise.race([exited, new Promise((done) => setTimeout(done, 20_000))]);
  if (stack.exitCode === null) stack.kill('SIGKILL');
}, 30_000);

const LARGE = 4_000;

it(`accepts a ${LARGE}-device sync over 1 MiB, delivers it whole, and consolidates every device once`, async () => {
  const id = uid();
  const syncRequestId = `SRL${id}`;
  const devices = Array.from({ length: LARGE }, (_, i) =>
    controllableDevice({
      deviceId: `L${id.slice(0, 5)}${String(i).padStart(4, '0')}`,
      nicId: `NIC-${id}-${i}`,
      networkAddress: `fd00::${i.toString(16)}`,
    }),
  );
  const request = assetSyncRequest({
    sendDetails: { syncRequestId },
    subscriptionInfo: { subscriptionId: `SUB-L${id}` },
    locationInfo: { controllableDevices: devices },
  });
  expect(Buffer.byteLength(JSON.stringify(request))).toBeGreaterThan(1024 * 1024);

  const accepted = await post('/v1/dacs/asset-sync', request, 'dacs-local');
  expect(accepted.status).toBe(202);

  const enrollment = await waitFor(
    async () => (await derms.calls('/v1/enrollment-sync')).find((c) => c.idempotencyKey === syncRequestId),
    120_000,
    'the enrollment sync at DERMS',
  );
  const sent = enrollment.body as { locationInfo: { controllableDevices: unknown[] } };
  expect(sent.locationInfo.controllableDevices).toHaveLength(LARGE);

  const consolidated = await waitFor(
    async () =>
      (await dacs.calls('/postAcknowledgement')).find(
        (c) => (c.body as { syncRequestId?: string }).syncRequestId === syncRequestId,
      ),
    240_000,
    'the consolidated ack of the large sync',
  );
  const body = consolidated.body as unknown as DacsAcknowledgement;
  expect(consolidated.idempotencyKey).toBe(syncRequestId);
  expect(body.deviceHeadendStatus).toHaveLength(LARGE);
  expect(new Set(body.deviceHeadendStatus.map((d) => d.deviceId)).size).toBe(LARGE);
  expect(body.deviceHeadendStatus.filter((d) => d.headEndRegistration !== 'D1RE')).toEqual([]);
  expect(body.hasError).toBe(false);

  const trace = await get(`/v1/messages/${accepted.body.messageId}`);
  expect(trace.body).toMatchObject({ state: 'DELIVERED' });
  const status = await get(`/v1/sync-requests/${syncRequestId}`);
  expect(status.body.devices as unknown[]).toHaveLength(LARGE);
  // Exactly one consolidated ack, and no follow-ups: every status was in before it was frozen.
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const all = (await dacs.calls('/postAcknowledgement')).filter(
    (c) => (c.body as { syncRequestId?: string }).syncRequestId === syncRequestId,
  );
  expect(all).toHaveLength(1);
}, 400_000);

it('answers 410 naming the device-level route when legacy acks are switched off, with Deprecation', async () => {
  const answer = await post('/v1/derms/legacy-acks', legacyAck(), 'derms-local');
  expect(answer.status).toBe(410);
  expect(answer.headers.get('content-type')).toContain('application/problem+json');
  expect(answer.headers.get('deprecation')).toBe('true');
  expect(answer.body.detail).toContain('/v1/derms/asset-sync-acks');
});

it('answers 503 problem+json, accepting nothing, when DynamoDB is unreachable', async () => {
  const processes = execFileSync('ps', ['-eo', 'pid=,args=']).toString().split('\n');
  const dynamodb = processes.find(
    (line) => line.includes('DynamoDBLocal') && line.includes(`-port ${PORTS.dynamodb}`),
  );
  expect(dynamodb).toBeDefined();
  process.kill(Number(dynamodb!.trim().split(/\s+/)[0]), 'SIGKILL');

  const answer = await post('/v1/dacs/event-opt-outs', optOut({ optOutId: `OO-${uid()}` }), 'dacs-local');
  expect(answer.status).toBe(503);
  expect(answer.headers.get('content-type')).toContain('application/problem+json');
  expect(answer.headers.get('retry-after')).toBeTruthy();
  expect(await derms.calls('/v1/event-opt-outs')).toHaveLength(0);
}, 60_000);
