/**
 * Nothing accepted is lost: a function process can die while DynamoDB Local and the queues stay up, and
 * a dead-lettered message can be redriven once the cause is fixed.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { FunctionRole } from '#local/constants.ts';
import { functionPidFile } from '#local/start.ts';
import { optOut } from '#test/helpers/messages.ts';
import { API, dermsSim, post, uid, waitFor, waitForState } from './helpers.ts';

const REPO_ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
const dataDir = () =>
  dirname(process.env.LOCAL_FUNCTIONS_PID_FILE ?? resolve(REPO_ROOT, '.local/functions.pid'));
/** The pid of a role's function process now running (the stack runs one per role). */
const functionPid = (role: FunctionRole) =>
  Number(readFileSync(functionPidFile(dataDir(), role), 'utf-8').trim());
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

afterEach(() => dermsSim.clearFaults());

it("delivers a message that was waiting for a retry when its flow's function process died", async () => {
  const message = optOut({ optOutId: `OO-${uid()}` });
  await dermsSim.fault({
    match: { businessKey: message.optOutId },
    action: 'status',
    status: 503,
    retryAfterSeconds: 3,
    times: 1,
  });
  const accepted = await post('/v1/dacs/event-opt-outs', message);
  await waitForState(String(accepted.body.messageId), ['RETRYING']);

  // The opt-out flow's process (its poller and process handler) dies; the API's lives on.
  const api = functionPid('api');
  const before = functionPid('optOut');
  process.kill(before, 'SIGKILL');
  await waitFor(
    async () => functionPid('optOut') !== before && alive(functionPid('optOut')),
    60_000,
    'the optOut function process to be restarted',
  );
  expect(functionPid('api')).toBe(api);
  expect((await fetch(`${API()}/openapi.json`)).status).toBe(200);

  const trace = await waitForState(String(accepted.body.messageId), ['DELIVERED'], 30_000);
  expect(trace.attempts).toBe(2);
  // What was accepted before the restart is still known: the repeat is a duplicate, not a new message.
  const again = await post('/v1/dacs/event-opt-outs', message);
  expect(again.body).toEqual({ messageId: accepted.body.messageId, status: 'ACCEPTED', duplicate: true });
}, 90_000);

it('redrives a dead-lettered message with npm run redrive, and it is delivered', async () => {
  const message = optOut({ optOutId: `OO-${uid()}` });
  await dermsSim.fault({ match: { businessKey: message.optOutId }, action: 'status', status: 422, times: 1 });
  const accepted = await post('/v1/dacs/event-opt-outs', message);
  await waitForState(String(accepted.body.messageId), ['DEAD_LETTERED']);

  const { stdout } = await promisify(execFile)('npm', ['run', '--silent', 'redrive', '--', 'optOut'], {
    cwd: REPO_ROOT,
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  expect(stdout).toMatch(/Moved [1-9]\d* message/);

  const trace = await waitForState(String(accepted.body.messageId), ['DELIVERED'], 30_000);
  expect(trace).toMatchObject({ state: 'DELIVERED', lastError: expect.stringContaining('422') });
  const calls = (await dermsSim.calls('/v1/event-opt-outs')).filter(
    (c) => c.idempotencyKey === message.optOutId,
  );
  expect(calls).toHaveLength(1);
}, 60_000);
