/**
 * The four flows end to end, as DACS and DERMS would see them: messages in over HTTP, the simulators'
 * recorded calls out. Timings are shortened by the e2e global setup (deadline 15 s, sweep every second,
 * uncorrelated-ack window 5 s, retry base 1 s).
 */
import type { AssetSyncAck, DacsAcknowledgement } from '#shared/contracts/types.ts';
import { ackDevice, assetSyncAck, optOut, unavailability } from '#test/helpers/messages.ts';
import { acksFor, dacsSim, dermsSim, get, post, syncOf, uid, waitFor, waitForState } from './helpers.ts';

afterEach(async () => {
  await dermsSim.clearFaults();
  await dacsSim.clearFaults();
});

const flags = (ack: DacsAcknowledgement) => ack.deviceHeadendStatus.map((d) => d.headEndRegistration);

function ack(syncRequestId: string, overrides: Partial<AssetSyncAck> = {}): AssetSyncAck {
  return { ...assetSyncAck({ syncRequestId }), ...overrides };
}

describe('asset sync and the consolidated acknowledgement', () => {
  it('sends DACS exactly one consolidated ack: D1RE, D1RE and D1NR for the device that failed at the head end', async () => {
    const sync = syncOf(3);
    await dermsSim.fault({ match: { deviceId: sync.deviceIds[2] }, action: 'headEndFail' });
    const accepted = await post('/v1/dacs/asset-sync', sync.request);
    expect(accepted.status).toBe(202);

    const [consolidated] = await waitFor(
      async () => {
        const calls = await acksFor(sync.syncRequestId);
        return calls.length > 0 ? calls : undefined;
      },
      30_000,
      'the consolidated ack',
    );
    expect(consolidated?.idempotencyKey).toBe(sync.syncRequestId);
    expect(consolidated?.body.hasError).toBe(true);
    expect(consolidated?.body.deviceHeadendStatus.map((d) => d.deviceId)).toEqual(sync.deviceIds);
    expect(flags(consolidated!.body)).toEqual(['D1RE', 'D1RE', 'D1NR']);

    // DERMS got the enrollment sync with the new fields.
    const [enrollment] = (await dermsSim.calls('/v1/enrollment-sync')).filter(
      (c) => c.idempotencyKey === sync.syncRequestId,
    );
    expect(enrollment?.body).toMatchObject({ dacsMessageId: sync.syncRequestId });
    const sent = (
      enrollment!.body as {
        locationInfo: { controllableDevices: { entityGroups: unknown[]; networkAddress: string }[] };
      }
    ).locationInfo.controllableDevices;
    expect(sent.every((d) => d.entityGroups.length > 0 && d.networkAddress)).toBe(true);

    // DACS now holds each device's flag; nothing more is sent.
    expect((await dacsSim.device(sync.deviceIds[0]!)).body.headEndRegistration).toBe('D1RE');
    expect((await dacsSim.device(sync.deviceIds[2]!)).body.headEndRegistration).toBe('D1NR');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await acksFor(sync.syncRequestId)).toHaveLength(1);

    // Support sees the whole story.
    const status = await get<Record<string, unknown>>(`/v1/sync-requests/${sync.syncRequestId}`);
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({ syncRequestId: sync.syncRequestId, deadline: expect.any(String) });
    expect((status.body.devices as unknown[]).length).toBe(3);
    expect((status.body.acks as unknown[]).length).toBeGreaterThan(0);
    expect(status.body.consolidatedAck).toBeTruthy();
    expect(JSON.stringify(status.body)).not.toContain('cisPersonId');
    expect(await waitForState(String(accepted.body.messageId), ['DELIVERED'])).toMatchObject({
      flow: 'assetSync',
    });
  });

  it('consolidates on the final ack; a late status that changes a flag goes out as one follow-up, a repeat sends nothing', async () => {
    const sync = syncOf(3);
    await dermsSim.fault({ match: { syncRequestId: sync.syncRequestId }, action: 'silent' });
    await post('/v1/dacs/asset-sync', sync.request);
    await waitFor(async () =>
      (await dermsSim.calls('/v1/enrollment-sync')).some((c) => c.idempotencyKey === sync.syncRequestId),
    );

    const device = (i: number, registrationStatus: 'REGISTERED' | 'FAILED' | 'PENDING') =>
      ackDevice({ deviceId: sync.deviceIds[i]!, nicId: `NIC-x-${i}`, registrationStatus });
    const partial = await post(
      '/v1/derms/asset-sync-acks',
      ack(sync.syncRequestId, {
        sequence: 1,
        final: false,
        ackDateTime: '2026-12-01T14:05:00Z',
        devices: [device(0, 'REGISTERED'), device(1, 'PENDING')],
      }),
      { client: 'derms-local' },
    );
    expect(partial.status).toBe(202);
    await waitForState(String(partial.body.messageId), ['DELIVERED']);
    expect(await acksFor(sync.syncRequestId)).toHaveLength(0); // partial: nothing yet

    await post(
      '/v1/derms/asset-sync-acks',
      ack(sync.syncRequestId, {
        sequence: 2,
        final: true,
        ackDateTime: '2026-12-01T14:06:00Z',
        devices: [device(1, 'REGISTERED')],
      }),
      { client: 'derms-local' },
    );
    const [consolidated] = await waitFor(async () => {
      const calls = await acksFor(sync.syncRequestId);
      return calls.length > 0 ? calls : undefined;
    });
    expect(flags(consolidated!.body)).toEqual(['D1RE', 'D1RE', 'D1NR']);
    expect(consolidated!.body.deviceHeadendStatus[2]?.message).toMatch(/deadline/i);

    // The third device reports late: one follow-up for it alone.
    const late = await post(
      '/v1/derms/asset-sync-acks',
      ack(sync.syncRequestId, {
        sequence: 3,
        final: true,
        ackDateTime: '2026-12-01T14:10:00Z',
        devices: [device(2, 'REGISTERED')],
      }),
      { client: 'derms-local' },
    );
    await waitForState(String(late.body.messageId), ['DELIVERED']);
    const afterLate = await acksFor(sync.syncRequestId);
    expect(afterLate).toHaveLength(2);
    expect(afterLate[1]?.body.deviceHeadendStatus).toEqual([
      expect.objectContaining({ deviceId: sync.deviceIds[2], headEndRegistration: 'D1RE' }),
    ]);
    expect(afterLate[1]?.idempotencyKey).not.toBe(sync.syncRequestId);
    expect((await dacsSim.device(sync.deviceIds[2]!)).body.headEndRegistration).toBe('D1RE');

    // A repeat of what DACS already has sends nothing.
    const repeat = await post(
      '/v1/derms/asset-sync-acks',
      ack(sync.syncRequestId, {
        sequence: 4,
        final: true,
        ackDateTime: '2026-12-01T14:11:00Z',
        devices: [device(2, 'REGISTERED')],
      }),
      { client: 'derms-local' },
    );
    await waitForState(String(repeat.body.messageId), ['DELIVERED']);
    expect(await acksFor(sync.syncRequestId)).toHaveLength(2);
  });

  it('sends exactly one consolidated ack when final acks race', async () => {
    const sync = syncOf(4);
    await dermsSim.fault({ match: { syncRequestId: sync.syncRequestId }, action: 'silent' });
    await post('/v1/dacs/asset-sync', sync.request);
    await waitFor(async () =>
      (await dermsSim.calls('/v1/enrollment-sync')).some((c) => c.idempotencyKey === sync.syncRequestId),
    );

    const racers = sync.deviceIds.map((deviceId, i) =>
      ack(sync.syncRequestId, {
        sequence: i + 1,
        final: true,
        ackDateTime: '2026-12-01T14:05:00Z',
        devices: [ackDevice({ deviceId, nicId: `NIC-${i}`, registrationStatus: 'REGISTERED' })],
      }),
    );
    const answers = await Promise.all(
      racers.map((body) => post('/v1/derms/asset-sync-acks', body, { client: 'derms-local' })),
    );
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202, 202]);
    await Promise.all(answers.map((a) => waitForState(String(a.body.messageId), ['DELIVERED'])));

    const calls = await acksFor(sync.syncRequestId);
    const consolidated = calls.filter((c) => c.idempotencyKey === sync.syncRequestId);
    expect(consolidated).toHaveLength(1);
    // Whatever won the race, DACS ends up with every device registered (consolidated + follow-ups).
    for (const deviceId of sync.deviceIds) {
      expect((await dacsSim.device(deviceId)).body.headEndRegistration).toBe('D1RE');
    }
  });

  it('consolidates at the deadline with D1NR naming the deadline when DERMS never answers', async () => {
    const sync = syncOf(2);
    await dermsSim.fault({ match: { syncRequestId: sync.syncRequestId }, action: 'silent' });
    await post('/v1/dacs/asset-sync', sync.request);
    const [consolidated] = await waitFor(
      async () => {
        const calls = await acksFor(sync.syncRequestId);
        return calls.length > 0 ? calls : undefined;
      },
      40_000,
      'the deadline consolidation',
    );
    expect(flags(consolidated!.body)).toEqual(['D1NR', 'D1NR']);
    expect(consolidated!.body.hasError).toBe(true);
    expect(consolidated!.body.deviceHeadendStatus[0]?.message).toMatch(/deadline/i);
  }, 60_000);

  it('forwards an ack whose sync request never arrives, after its retry window', async () => {
    const syncRequestId = `SR${uid()}`;
    const accepted = await post(
      '/v1/derms/asset-sync-acks',
      ack(syncRequestId, {
        devices: [ackDevice({ deviceId: `D${uid()}`, registrationStatus: 'REGISTERED' })],
      }),
      { client: 'derms-local' },
    );
    expect(accepted.status).toBe(202);
    const [forwarded] = await waitFor(
      async () => {
        const calls = await acksFor(syncRequestId);
        return calls.length > 0 ? calls : undefined;
      },
      30_000,
      'the uncorrelated forward',
    );
    expect(forwarded?.body.exceptionInfo.length).toBeGreaterThan(0);
    expect(flags(forwarded!.body)).toEqual(['D1RE']);
  }, 40_000);
});

describe('opt-out', () => {
  it('reaches DERMS as a reservation cancellation with Idempotency-Key and X-Correlation-Id', async () => {
    const message = optOut({ optOutId: `OO-${uid()}` });
    const accepted = await post('/v1/dacs/event-opt-outs', message);
    expect(accepted.status).toBe(202);
    await waitForState(String(accepted.body.messageId), ['DELIVERED']);
    const calls = (await dermsSim.calls('/v1/event-opt-outs')).filter(
      (c) => c.idempotencyKey === message.optOutId,
    );
    expect(calls).toHaveLength(1);
    expect(calls[0]?.correlationId).toBe(accepted.body.messageId);
    expect(calls[0]?.body).toMatchObject({
      eventExternalIdentifier: message.eventExternalIdentifier,
      device: { deviceId: message.deviceId, headEndSystem: message.headEndSystem, nicId: message.nicId },
    });
  });

  it('retries a 503 from DERMS, honouring Retry-After, and delivers once', async () => {
    const message = optOut({ optOutId: `OO-${uid()}` });
    await dermsSim.fault({
      match: { businessKey: message.optOutId },
      action: 'status',
      status: 503,
      retryAfterSeconds: 1,
      times: 2,
    });
    const accepted = await post('/v1/dacs/event-opt-outs', message);
    const trace = await waitForState(String(accepted.body.messageId), ['DELIVERED'], 30_000);
    expect(trace.attempts).toBe(3);
    expect(
      (await dermsSim.calls('/v1/event-opt-outs')).filter((c) => c.idempotencyKey === message.optOutId),
    ).toHaveLength(1);
  });

  it('dead-letters at once on a permanent 4xx, with DERMS’s answer in the trace', async () => {
    const message = optOut({ optOutId: `OO-${uid()}` });
    await dermsSim.fault({ match: { businessKey: message.optOutId }, action: 'status', status: 400 });
    const accepted = await post('/v1/dacs/event-opt-outs', message);
    const trace = await waitForState(String(accepted.body.messageId), ['DEAD_LETTERED']);
    expect(trace.attempts).toBe(1);
    expect(String(trace.lastError)).toContain('400');
  });

  it('retries through a dropped connection', async () => {
    const message = optOut({ optOutId: `OO-${uid()}` });
    await dermsSim.fault({ match: { businessKey: message.optOutId }, action: 'reset', times: 1 });
    const accepted = await post('/v1/dacs/event-opt-outs', message);
    const trace = await waitForState(String(accepted.body.messageId), ['DELIVERED'], 30_000);
    expect(trace.attempts).toBe(2);
  });
});

describe('unavailability', () => {
  it('delivers an ADD then its CANCEL, the CANCEL without a window', async () => {
    const id = `UA-${uid()}`;
    const add = await post(
      '/v1/dacs/unavailability',
      unavailability({ unavailabilityId: id, updatedDateTime: '2026-12-02T10:00:00-08:00' }),
    );
    await waitForState(String(add.body.messageId), ['DELIVERED']);
    const cancel = await post(
      '/v1/dacs/unavailability',
      unavailability({
        unavailabilityId: id,
        action: 'CANCEL',
        updatedDateTime: '2026-12-02T11:00:00-08:00',
        startDateTime: undefined,
        endDateTime: undefined,
      }),
    );
    await waitForState(String(cancel.body.messageId), ['DELIVERED']);
    const calls = (await dermsSim.calls('/v1/device-unavailability')).filter(
      (c) => c.body.unavailabilityId === id,
    );
    expect(calls.map((c) => c.body.action)).toEqual(['ADD', 'CANCEL']);
    expect(calls[1]?.body).not.toHaveProperty('startDateTime');
  });

  it('does not deliver an ADD that arrives after the CANCEL that overtook it', async () => {
    const id = `UA-${uid()}`;
    const cancel = await post(
      '/v1/dacs/unavailability',
      unavailability({
        unavailabilityId: id,
        action: 'CANCEL',
        updatedDateTime: '2026-12-02T11:00:00-08:00',
        startDateTime: undefined,
        endDateTime: undefined,
      }),
    );
    await waitForState(String(cancel.body.messageId), ['DELIVERED']);
    const add = await post(
      '/v1/dacs/unavailability',
      unavailability({ unavailabilityId: id, updatedDateTime: '2026-12-02T10:00:00-08:00' }),
    );
    const trace = await waitForState(String(add.body.messageId), ['SUPERSEDED']);
    expect(trace.state).toBe('SUPERSEDED');
    const calls = (await dermsSim.calls('/v1/device-unavailability')).filter(
      (c) => c.body.unavailabilityId === id,
    );
    expect(calls.map((c) => c.body.action)).toEqual(['CANCEL']);
  });
});

describe('legacy acknowledgement', () => {
  it('is forwarded to DACS unchanged', async () => {
    const { legacyAck } = await import('#test/helpers/messages.ts');
    const message = legacyAck({ MsgAck: { whenISO: new Date().toISOString() } });
    const accepted = await post('/v1/derms/legacy-acks', message, { client: 'derms-local' });
    await waitForState(String(accepted.body.messageId), ['DELIVERED']);
    const calls = (await dacsSim.calls()).filter((c) => c.correlationId === accepted.body.messageId);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.body).toEqual(message);
  });
});
