/**
 * DACS and DERMS refusing for good, or asking for time, end to end: the consolidated ack, follow-ups and
 * the enrollment sync (issue "Nothing lost when a receiver is down for hours or refuses for good"). The
 * e2e stack sweeps every second and lets a deadline command adopt an undelivered ack after 3 s, so
 * anything that must not be re-sent, or must wait, meets eager adopters.
 */
import type { AssetSyncAck, DacsAcknowledgement } from '#shared/contracts/types.ts';
import { ackDevice, assetSyncAck } from '#test/helpers/messages.ts';
import { ACK_PATH, acksFor, dacsSim, dermsSim, get, post, syncOf, waitFor, waitForState } from './helpers.ts';

afterEach(async () => {
  await dermsSim.clearFaults();
  await dacsSim.clearFaults();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type View = {
  consolidatedAck?: {
    sentAt?: string;
    acknowledgement?: DacsAcknowledgement;
    delivery: { state: string; attempts: number; lastError?: string; nextAttemptAt?: string };
  };
};

const view = async (syncRequestId: string) => (await get<View>(`/v1/sync-requests/${syncRequestId}`)).body;

/** DERMS, played by the test: the simulator records the sync and stays silent. */
async function silentSync(count: number) {
  const sync = syncOf(count);
  await dermsSim.fault({ match: { syncRequestId: sync.syncRequestId }, action: 'silent' });
  expect((await post('/v1/dacs/asset-sync', sync.request)).status).toBe(202);
  return sync;
}

function ackOf(syncRequestId: string, sequence: number, devices: AssetSyncAck['devices']): AssetSyncAck {
  return {
    ...assetSyncAck({ syncRequestId }),
    sequence,
    ackDateTime: new Date(Date.UTC(2026, 11, 1, 22, 0, sequence)).toISOString(),
    final: true,
    devices,
  };
}

async function postAck(ack: AssetSyncAck) {
  // The sync may still be on its way to the correlation record: the integration waits for it.
  const answer = await post('/v1/derms/asset-sync-acks', ack, { client: 'derms-local' });
  expect(answer.status).toBe(202);
  return answer;
}

it('dead-letters a consolidated ack that DACS refuses for good, once, and support sees DEAD_LETTERED', async () => {
  const sync = await silentSync(2);
  await dacsSim.fault({
    match: { path: ACK_PATH, syncRequestId: sync.syncRequestId },
    action: 'status',
    status: 422,
  });
  await postAck(
    ackOf(
      sync.syncRequestId,
      1,
      sync.deviceIds.map((id) => ackDevice({ deviceId: id })),
    ),
  );

  const refused = await waitFor(
    async () => {
      const delivery = (await view(sync.syncRequestId)).consolidatedAck?.delivery;
      return delivery?.state === 'DEAD_LETTERED' ? delivery : undefined;
    },
    30_000,
    'the consolidated ack to be DEAD_LETTERED',
  );
  expect(refused).toMatchObject({ attempts: 1, lastError: expect.stringContaining('422') });
  // Several requeue intervals and sweeps later, nobody has tried again.
  await sleep(8_000);
  expect((await view(sync.syncRequestId)).consolidatedAck?.delivery).toMatchObject({
    state: 'DEAD_LETTERED',
    attempts: 1,
  });
  expect(await acksFor(sync.syncRequestId)).toHaveLength(0);
}, 60_000);

it('sends the consolidated ack no sooner than DACS asked, above RETRY_MAX_SECONDS and against adopters', async () => {
  const askedSeconds = 10; // RETRY_MAX_SECONDS is 4, DEADLINE_REQUEUE_SECONDS 3
  const sync = await silentSync(1);
  await dacsSim.fault({
    match: { path: ACK_PATH, syncRequestId: sync.syncRequestId },
    action: 'status',
    status: 503,
    retryAfterSeconds: askedSeconds,
    times: 1,
  });
  await postAck(ackOf(sync.syncRequestId, 1, [ackDevice({ deviceId: sync.deviceIds[0] })]));

  const waiting = await waitFor(
    async () => {
      const delivery = (await view(sync.syncRequestId)).consolidatedAck?.delivery;
      return delivery?.state === 'RETRYING' && delivery.nextAttemptAt ? delivery : undefined;
    },
    30_000,
    'the consolidated ack to be RETRYING',
  );
  const [sent] = await waitFor(
    async () => {
      const calls = await acksFor(sync.syncRequestId);
      return calls.length > 0 ? calls : undefined;
    },
    40_000,
    'the consolidated ack to reach DACS',
  );
  expect(Date.parse(String(sent?.receivedAt))).toBeGreaterThanOrEqual(
    Date.parse(String(waiting.nextAttemptAt)),
  );
  await sleep(4_000);
  expect(await acksFor(sync.syncRequestId)).toHaveLength(1);
  expect((await view(sync.syncRequestId)).consolidatedAck?.delivery).toMatchObject({
    state: 'DELIVERED',
    attempts: 2,
  });
}, 90_000);

it('takes in an ack of 10,000 devices unknown to the request and as many 2,000-character errors as the body limit allows', async () => {
  const sync = await silentSync(2);
  const known = sync.deviceIds.map((id) => ackDevice({ deviceId: id }));
  const unknown = Array.from({ length: 10_000 - known.length }, (_, i) =>
    ackDevice({ deviceId: `U${String(i).padStart(11, '0')}`, nicId: `NIC-U-${i}` }),
  );
  // 1,000 errors of 2,000 characters on top of 10,000 devices are over MAX_BODY_BYTES (3,000,000: the
  // largest body whose worst-case API Gateway event fits Lambda's 6 MB), so the ack carries as many of
  // them as fit; the in-process limits test (test/integration/shared/consolidation/limits.test.ts)
  // takes the full schema limits.
  const error = (i: number) => ({
    code: `E${i}`,
    message: `${'é'.repeat(499)}${String(i).padStart(1501, '-')}`,
  });
  const base = { ...ackOf(sync.syncRequestId, 1, [...known, ...unknown]), ackType: 'ERROR' as const };
  const budget = Number(process.env.MAX_BODY_BYTES ?? 3_000_000) - 4096;
  const perError = Buffer.byteLength(JSON.stringify(error(999))) + 1;
  const errors = Array.from(
    { length: Math.min(1000, Math.floor((budget - Buffer.byteLength(JSON.stringify(base))) / perError)) },
    (_, i) => error(i),
  );
  expect(errors.length).toBeGreaterThan(500);
  const ack = { ...base, errors };
  expect(Buffer.byteLength(JSON.stringify(ack))).toBeLessThanOrEqual(budget);
  await postAck(ack);

  // Taking in 10,000 devices can outlast the e2e stack's 15 s deadline: the deadline may consolidate
  // first, and the ack's information then follows as a late follow-up. Either way DACS hears all of it.
  const withInfo = await waitFor(
    async () => {
      const calls = await acksFor(sync.syncRequestId);
      const info = calls.find((c) => c.body.exceptionInfo.some((e) => Number(e.messageNumber) === 1099));
      return info ? calls : undefined;
    },
    120_000,
    'the ack information to reach DACS',
  );
  const [consolidated] = withInfo;
  expect(consolidated?.idempotencyKey).toBe(sync.syncRequestId);
  expect(consolidated?.body.deviceHeadendStatus.map((d) => [d.deviceId, d.headEndRegistration])).toEqual(
    sync.deviceIds.map((id) => [id, 'D1RE']),
  );
  const info = withInfo.find((c) => c.body.exceptionInfo.some((e) => Number(e.messageNumber) === 1099));
  expect(info?.body.hasError).toBe(true);
  for (const call of withInfo) {
    expect(Buffer.byteLength(JSON.stringify(call.body.exceptionInfo))).toBeLessThanOrEqual(64 * 1024);
    for (const entry of call.body.exceptionInfo) expect(entry.comments.length).toBeLessThanOrEqual(254);
  }
  // Nothing is sent twice: one consolidated ack, at most one late follow-up.
  expect(withInfo.length).toBeLessThanOrEqual(2);
}, 180_000);

it('still tells DACS a state after it refused the follow-up that carried it', async () => {
  const sync = await silentSync(1);
  const [deviceId] = sync.deviceIds as [string];
  await postAck(ackOf(sync.syncRequestId, 1, [ackDevice({ deviceId, registrationStatus: 'FAILED' })]));
  await waitFor(async () => (await acksFor(sync.syncRequestId)).length === 1, 30_000, 'the consolidated ack');
  expect((await dacsSim.device(deviceId)).body.headEndRegistration).toBe('D1NR');

  // The next call for this request, the follow-up D1RE, is refused for good.
  await dacsSim.fault({
    match: { path: ACK_PATH, syncRequestId: sync.syncRequestId },
    action: 'status',
    status: 422,
    times: 1,
  });
  const second = await postAck(ackOf(sync.syncRequestId, 2, [ackDevice({ deviceId })]));
  await waitForState(String(second.body.messageId), ['DEAD_LETTERED'], 30_000);
  expect((await dacsSim.device(deviceId)).body.headEndRegistration).toBe('D1NR');

  // A later report of the same state: DACS was never told, so it goes out.
  await postAck(ackOf(sync.syncRequestId, 3, [ackDevice({ deviceId })]));
  await waitFor(
    async () => (await dacsSim.device(deviceId)).body.headEndRegistration === 'D1RE',
    30_000,
    'the follow-up D1RE to reach DACS',
  );
  const followUps = (await acksFor(sync.syncRequestId)).slice(1);
  expect(followUps).toHaveLength(1);
  expect(followUps[0]?.body.deviceHeadendStatus).toEqual([
    expect.objectContaining({ deviceId, headEndRegistration: 'D1RE' }),
  ]);
}, 90_000);

it('tells DACS at once, D1NR with DERMS’s answer, when DERMS refuses the enrollment sync', async () => {
  const sync = syncOf(2);
  await dermsSim.fault({
    match: { path: '/v1/enrollment-sync', syncRequestId: sync.syncRequestId },
    action: 'status',
    status: 422,
  });
  const accepted = await post('/v1/dacs/asset-sync', sync.request);
  const trace = await waitForState(String(accepted.body.messageId), ['DEAD_LETTERED'], 30_000);
  expect(String(trace.lastError)).toContain('422');

  const [consolidated] = await waitFor(
    async () => {
      const calls = await acksFor(sync.syncRequestId);
      return calls.length > 0 ? calls : undefined;
    },
    20_000,
    'the consolidated ack',
  );
  const body = consolidated?.body as DacsAcknowledgement;
  expect(body.hasError).toBe(true);
  expect(body.deviceHeadendStatus.map((d) => d.headEndRegistration)).toEqual(['D1NR', 'D1NR']);
  const refusal = body.exceptionInfo.find((e) => Number(e.messageNumber) === 1005);
  expect(JSON.stringify(refusal)).toContain('422');
}, 60_000);
