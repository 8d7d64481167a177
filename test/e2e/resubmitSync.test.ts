/**
 * Support's resubmit of a consolidated ack DACS refused, over HTTP against the local stack: DACS (its
 * simulator) refuses the consolidated ack for good, the sync request view shows DEAD_LETTERED, the fault
 * is cleared, `POST /v1/sync-requests/{id}/resubmit` answers 202, and DACS applies the same frozen body
 * once, with the sync request's Idempotency-Key; a second resubmit is a 409.
 */
import type { AssetSyncAck, DacsAcknowledgement } from '#shared/contracts/types.ts';
import { ackDevice, assetSyncAck } from '#test/helpers/messages.ts';
import { ACK_PATH, acksFor, dacsSim, dermsSim, get, post, syncOf, waitFor } from './helpers.ts';

afterEach(async () => {
  await dermsSim.clearFaults();
  await dacsSim.clearFaults();
});

type View = {
  consolidatedAck?: {
    acknowledgement?: DacsAcknowledgement;
    delivery: { state: string; attempts: number; lastError?: string };
    resubmissions?: number;
    resubmittedAt?: string;
    resubmittedBy?: string;
  };
};

const view = async (syncRequestId: string) => (await get<View>(`/v1/sync-requests/${syncRequestId}`)).body;

const deliveryIn = (syncRequestId: string, state: string) =>
  waitFor(
    async () => {
      const ack = (await view(syncRequestId)).consolidatedAck;
      return ack?.delivery.state === state ? ack : undefined;
    },
    30_000,
    `the consolidated ack of ${syncRequestId} to be ${state}`,
  );

it('resubmits a consolidated ack DACS refused: DEAD_LETTERED, then DELIVERED once, with the same body and key', async () => {
  const sync = syncOf(2);
  // DERMS (the simulator) records the sync and stays silent: the test plays its ack.
  await dermsSim.fault({ match: { syncRequestId: sync.syncRequestId }, action: 'silent' });
  expect((await post('/v1/dacs/asset-sync', sync.request)).status).toBe(202);
  await dacsSim.fault({
    match: { path: ACK_PATH, syncRequestId: sync.syncRequestId },
    action: 'status',
    status: 422,
  });
  const ack: AssetSyncAck = {
    ...assetSyncAck({ syncRequestId: sync.syncRequestId }),
    sequence: 1,
    ackDateTime: new Date(Date.UTC(2026, 11, 1, 22, 0, 1)).toISOString(),
    final: true,
    devices: sync.deviceIds.map((deviceId) => ackDevice({ deviceId })),
  };
  expect((await post('/v1/derms/asset-sync-acks', ack, { client: 'derms-local' })).status).toBe(202);

  const refused = await deliveryIn(sync.syncRequestId, 'DEAD_LETTERED');
  expect(refused.delivery).toMatchObject({ attempts: 1, lastError: expect.stringContaining('422') });
  expect(await acksFor(sync.syncRequestId)).toHaveLength(0);

  await dacsSim.clearFaults();
  const resubmitted = await post(`/v1/sync-requests/${sync.syncRequestId}/resubmit`, undefined, {
    client: 'support-local',
  });
  expect(resubmitted.status).toBe(202);
  expect(resubmitted.body).toMatchObject({
    syncRequestId: sync.syncRequestId,
    status: 'RESUBMITTED',
    delivery: { state: 'RETRYING' },
    resubmissions: 1,
    resubmittedBy: 'support-local',
  });

  const delivered = await deliveryIn(sync.syncRequestId, 'DELIVERED');
  expect(delivered).toMatchObject({ resubmissions: 1, resubmittedBy: 'support-local' });
  const applied = await acksFor(sync.syncRequestId);
  expect(applied).toHaveLength(1);
  expect(applied[0]?.idempotencyKey).toBe(sync.syncRequestId);
  expect(applied[0]?.body).toEqual(refused.acknowledgement);

  const again = await post(`/v1/sync-requests/${sync.syncRequestId}/resubmit`, undefined, {
    client: 'support-local',
  });
  expect(again.status).toBe(409);
  expect(again.body).toMatchObject({ title: 'Not dead-lettered' });
  // Sweeps and adopters later, DACS still has it once.
  await new Promise((resolve) => setTimeout(resolve, 4_000));
  expect(await acksFor(sync.syncRequestId)).toHaveLength(1);
}, 90_000);
