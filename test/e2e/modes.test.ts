/**
 * The two status codes that need the stack in another state: 410 (legacy acks switched off with
 * LEGACY_ACK_MODE=reject) and 503 (DynamoDB unreachable: nothing can be accepted). A second local stack,
 * on ports of its own, is started for them and stopped afterwards.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { legacyAck, optOut } from '#test/helpers/messages.ts';
import { uid } from './helpers.ts';

const REPO_ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
const PORTS = { api: 3200, derms: 3201, dacs: 3202, sqs: 4766, dynamodb: 8200 };
const API = `http://127.0.0.1:${PORTS.api}`;

let stack: ChildProcess;

async function tokenFor(client: string): Promise<string> {
  const response = await fetch(`${API}/oauth2/token`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      Authorization: `Basic ${Buffer.from(`${client}:local-secret`).toString('base64')}`,
    },
    body: 'grant_type=client_credentials',
  });
  return ((await response.json()) as { access_token: string }).access_token;
}

async function post(path: string, body: unknown, client: string) {
  const response = await fetch(`${API}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${await tokenFor(client)}` },
    body: JSON.stringify(body),
  });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as Record<string, unknown>,
  };
}

beforeAll(async () => {
  const dataDir = mkdtempSync(resolve(tmpdir(), 'e2e-modes-'));
  stack = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts'], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
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
});

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
  const calls = (await (await fetch(`http://127.0.0.1:${PORTS.derms}/sim/calls`)).json()) as unknown[];
  expect(calls).toHaveLength(0);
}, 60_000);
