/**
 * Support search and resubmit over HTTP against the local stack, and the `npm run support` command line:
 * an opt-out that DERMS refused is found by its device, resubmitted, delivered once, and stays delivered
 * once after its DLQ copy is redriven too.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { redrive } from '#local/redrive.ts';
import { optOut } from '#test/helpers/messages.ts';
import { API, dermsSim, get, post, uid, waitFor, waitForState } from './helpers.ts';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

afterEach(async () => {
  await dermsSim.clearFaults();
});

type Page = { items: { messageId: string; state: string; flow: string }[]; cursor?: string };

/** An opt-out DERMS refuses once for good (400): dead-lettered with its reason. */
async function deadLetteredOptOut(deviceId: string) {
  const optOutId = `OO-E2E-${uid()}`;
  await dermsSim.fault({ match: { businessKey: optOutId }, action: 'status', status: 400, times: 1 });
  const accepted = await post<{ messageId: string }>(
    '/v1/dacs/event-opt-outs',
    optOut({ optOutId, deviceId, eventExternalIdentifier: `EVT-${optOutId}` }),
  );
  expect(accepted.status).toBe(202);
  const { messageId } = accepted.body;
  await waitForState(messageId, ['DEAD_LETTERED']);
  return { optOutId, messageId };
}

const deliveriesOf = async (optOutId: string) =>
  (await dermsSim.calls('/v1/event-opt-outs')).filter((c) => c.idempotencyKey === optOutId);

/** `npm run support -- …` as an operator runs it, against this stack. */
async function cli(...args: string[]): Promise<string> {
  const port = new URL(API()).port;
  const { stdout } = await run('npx', ['tsx', 'scripts/support.ts', ...args], {
    env: { ...process.env, LOCAL_API_PORT: port },
  });
  return stdout;
}

describe('support over HTTP', () => {
  it('finds a dead-lettered opt-out by its device, resubmits it, and delivers it once despite a redrive', async () => {
    const deviceId = `D${uid()}`;
    const { optOutId, messageId } = await deadLetteredOptOut(deviceId);

    const found = await get<Page>(`/v1/messages?deviceId=${deviceId}`);
    expect(found.status).toBe(200);
    expect(found.body.items).toEqual([expect.objectContaining({ messageId, state: 'DEAD_LETTERED' })]);
    const dead = await get<Page>('/v1/messages?state=DEAD_LETTERED&flow=optOut&limit=100');
    expect(dead.body.items.map((t) => t.messageId)).toContain(messageId);

    const resubmitted = await post(`/v1/messages/${messageId}/resubmit`, undefined, {
      client: 'support-local',
    });
    expect(resubmitted.status).toBe(202);
    expect(resubmitted.body).toEqual({ messageId, status: 'RESUBMITTED' });
    const trace = await waitForState(messageId, ['DELIVERED']);
    expect(trace).toMatchObject({ resubmissions: 1, resubmittedBy: 'support-local' });
    await waitFor(async () => (await deliveriesOf(optOutId)).length === 1, 10_000, 'the delivery');

    // The DLQ copy goes back to the queue: recognised as stale, not delivered again.
    expect((await redrive('optOut')).moved).toBeGreaterThanOrEqual(1);
    await sleep(3000);
    expect(await deliveriesOf(optOutId)).toHaveLength(1);
    expect((await get(`/v1/messages/${messageId}`)).body).toMatchObject({ state: 'DELIVERED' });
  }, 60_000);

  it('answers 409 unless DEAD_LETTERED, 404 for an unknown id, 400 for a bad query, 403 without the scope', async () => {
    const accepted = await post<{ messageId: string }>(
      '/v1/dacs/event-opt-outs',
      optOut({ optOutId: `OO-E2E-${uid()}` }),
    );
    const { messageId } = accepted.body;
    await waitForState(messageId, ['DELIVERED']);
    expect(
      (await post(`/v1/messages/${messageId}/resubmit`, undefined, { client: 'support-local' })).status,
    ).toBe(409);
    expect((await post('/v1/messages/nope/resubmit', undefined, { client: 'support-local' })).status).toBe(
      404,
    );
    expect(
      (await post(`/v1/messages/${messageId}/resubmit`, undefined, { client: 'dacs-local' })).status,
    ).toBe(403);
    const bad = await get<{ status: number; errors: { path: string }[] }>('/v1/messages?limit=0');
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(bad.body.errors.map((e) => e.path).sort()).toEqual(['/deviceId', '/limit']);
  }, 60_000);

  it('pages a device with a cursor', async () => {
    const deviceId = `D${uid()}`;
    for (let i = 0; i < 3; i++) {
      expect(
        (await post('/v1/dacs/event-opt-outs', optOut({ optOutId: `OO-E2E-${uid()}`, deviceId }))).status,
      ).toBe(202);
    }
    const first = await get<Page>(`/v1/messages?deviceId=${deviceId}&limit=2`);
    expect(first.body.items).toHaveLength(2);
    expect(first.body.cursor).toEqual(expect.any(String));
    const second = await get<Page>(
      `/v1/messages?deviceId=${deviceId}&limit=2&cursor=${encodeURIComponent(first.body.cursor!)}`,
    );
    expect(second.body.items).toHaveLength(1);
    expect(second.body.cursor).toBeUndefined();
  }, 60_000);

  it('npm run support finds, shows and resubmits, as a table or as JSON', async () => {
    const deviceId = `D${uid()}`;
    const { messageId } = await deadLetteredOptOut(deviceId);
    const table = await cli('find', '--device', deviceId);
    expect(table).toMatch(/RECEIVED\s+FLOW\s+STATE/);
    expect(table).toContain(messageId);
    expect(table).toContain('DEAD_LETTERED');
    const json = JSON.parse(await cli('find', '--device', deviceId, '--json')) as Page;
    expect(json.items.map((t) => t.messageId)).toEqual([messageId]);
    expect(await cli('show', messageId)).toMatch(/state\s+DEAD_LETTERED/);
    expect(await cli('resubmit', messageId)).toContain(`Resubmitted ${messageId}`);
    await waitForState(messageId, ['DELIVERED']);
  }, 90_000);
});
