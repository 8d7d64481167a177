import fc from 'fast-check';
import { toEnrollmentSync } from '#shared/mapping/assetSync.ts';
import { toReservationCancellation } from '#shared/mapping/optOut.ts';
import { toExemptionWindow } from '#shared/mapping/unavailability.ts';
import { assetSyncRequest, optOut, unavailability } from '#test/helpers/messages.ts';

describe('toReservationCancellation', () => {
  it('maps an opt-out to a reservation cancellation of that device for that event', () => {
    const message = optOut({ reason: 'Away' });
    expect(toReservationCancellation(message)).toEqual({
      eventExternalIdentifier: message.eventExternalIdentifier,
      device: { headEndSystem: message.headEndSystem, nicId: message.nicId, deviceId: message.deviceId },
      optOutId: message.optOutId,
      requestedDateTime: message.requestedDateTime,
      channel: message.channel,
      programId: message.programId,
      ...(message.eventStartDateTime ? { eventStartDateTime: message.eventStartDateTime } : {}),
      reason: 'Away',
    });
  });

  it('leaves out optional fields DACS did not send', () => {
    const mapped = toReservationCancellation(optOut({ reason: undefined, eventStartDateTime: undefined }));
    expect(mapped).not.toHaveProperty('reason');
    expect(mapped).not.toHaveProperty('eventStartDateTime');
  });
});

describe('toExemptionWindow', () => {
  it('carries the window on ADD and UPDATE', () => {
    for (const action of ['ADD', 'UPDATE'] as const) {
      const message = unavailability({ action });
      expect(toExemptionWindow(message)).toMatchObject({
        unavailabilityId: message.unavailabilityId,
        action,
        device: { headEndSystem: message.headEndSystem, nicId: message.nicId, deviceId: message.deviceId },
        startDateTime: message.startDateTime,
        endDateTime: message.endDateTime,
      });
    }
  });

  it('has no window on CANCEL, even when DACS sent one', () => {
    const mapped = toExemptionWindow(unavailability({ action: 'CANCEL' }));
    expect(mapped).not.toHaveProperty('startDateTime');
    expect(mapped).not.toHaveProperty('endDateTime');
  });

  it('never forwards the agent’s free-text comments', () => {
    expect(toExemptionWindow(unavailability({ comments: 'Customer at 12 Elm St' }))).not.toHaveProperty(
      'comments',
    );
  });
});

describe('toEnrollmentSync', () => {
  it('sets dacsMessageId to the syncRequestId and keeps every device with its entity groups and network address', () => {
    const request = assetSyncRequest();
    const mapped = toEnrollmentSync(request);
    expect(mapped.dacsMessageId).toBe(request.sendDetails.syncRequestId);
    expect(mapped.locationInfo.controllableDevices).toEqual(request.locationInfo.controllableDevices);
    for (const device of mapped.locationInfo.controllableDevices) {
      expect(device.entityGroups).toBeDefined();
      if (device.registrationAction === 'REGISTER') expect(device.networkAddress).toBeDefined();
    }
  });

  it('round-trips any sync request id into dacsMessageId', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 14 }), (id) => {
        const mapped = toEnrollmentSync(assetSyncRequest({ sendDetails: { syncRequestId: id } }));
        return mapped.dacsMessageId === id && mapped.sendDetails.syncRequestId === id;
      }),
    );
  });
});
