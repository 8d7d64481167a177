import {
  BUSINESS_RULES,
  checkBusinessRules,
  oneEntityGroupPerCategory,
  replacementPairs,
  safeAckSequence,
  toInstant,
  unavailabilityWindow,
  unenrollOnlyDeregisters,
  uniqueAckDeviceIds,
  uniqueDeviceIds,
} from '#shared/contracts/rules.ts';
import { MESSAGE_TYPES } from '#shared/flows/registry.ts';
import {
  ackDevice,
  assetSyncAck,
  assetSyncRequest,
  controllableDevice,
  controllableDevices,
  deviceReplacement,
  legacyAck,
  optOut,
  unavailability,
} from '#test/helpers/messages.ts';

const DEVICES = '/locationInfo/controllableDevices';

describe('business rules', () => {
  it('has a rule list for every message type', () => {
    expect(Object.keys(BUSINESS_RULES).sort()).toEqual([...MESSAGE_TYPES].sort());
  });

  it('finds nothing wrong with the valid fixtures', () => {
    expect(checkBusinessRules('AssetSyncRequest', assetSyncRequest())).toEqual([]);
    expect(checkBusinessRules('AssetSyncRequest', deviceReplacement())).toEqual([]);
    expect(checkBusinessRules('OptOutNotification', optOut())).toEqual([]);
    expect(checkBusinessRules('UnavailabilityNotification', unavailability())).toEqual([]);
    expect(checkBusinessRules('AssetSyncAck', assetSyncAck())).toEqual([]);
    expect(checkBusinessRules('LegacyMsgAck', legacyAck())).toEqual([]);
  });

  it.each([null, 'x', 7, [], {}, { locationInfo: { controllableDevices: 'no' } }, { devices: [null, 3] }])(
    'never throws on a malformed body (%p)',
    (body) => {
      for (const type of MESSAGE_TYPES) expect(() => checkBusinessRules(type, body)).not.toThrow();
    },
  );

  describe('uniqueDeviceIds', () => {
    it('rejects a deviceId used twice in a request, at the second one', () => {
      const devices = controllableDevices();
      devices[2]!.deviceId = 'D-1001';
      expect(uniqueDeviceIds(assetSyncRequest({ locationInfo: { controllableDevices: devices } }))).toEqual([
        {
          path: `${DEVICES}/2/deviceId`,
          message: `deviceId 'D-1001' is already used at ${DEVICES}/0; deviceIds must be unique`,
        },
      ]);
    });
  });

  describe('replacementPairs', () => {
    it('requires a DEREGISTER in a DEVICE_REPLACEMENT', () => {
      const message = deviceReplacement({
        locationInfo: { controllableDevices: [controllableDevice({ replacesDeviceId: 'D-0999' })] },
      });
      expect(replacementPairs(message)).toEqual([
        {
          path: DEVICES,
          message: 'a DEVICE_REPLACEMENT must hold at least one DEREGISTER and one REGISTER device',
        },
        {
          path: `${DEVICES}/0/replacesDeviceId`,
          message: "replacesDeviceId 'D-0999' must name a DEREGISTER device of this request",
        },
      ]);
    });

    it('requires a REGISTER in a DEVICE_REPLACEMENT', () => {
      const message = deviceReplacement({
        locationInfo: { controllableDevices: [controllableDevice({ registrationAction: 'DEREGISTER' })] },
      });
      expect(replacementPairs(message)).toEqual([
        {
          path: DEVICES,
          message: 'a DEVICE_REPLACEMENT must hold at least one DEREGISTER and one REGISTER device',
        },
      ]);
    });

    it("requires each REGISTER's replacesDeviceId", () => {
      const message = deviceReplacement();
      delete message.locationInfo.controllableDevices[1]!.replacesDeviceId;
      expect(replacementPairs(message)).toEqual([
        {
          path: `${DEVICES}/1/replacesDeviceId`,
          message: 'a REGISTER of a DEVICE_REPLACEMENT must name the device it replaces',
        },
      ]);
    });

    it('rejects a replacesDeviceId naming a REGISTER device of the request', () => {
      const message = deviceReplacement();
      message.locationInfo.controllableDevices[1]!.replacesDeviceId = 'D-2001';
      expect(replacementPairs(message)).toEqual([
        {
          path: `${DEVICES}/1/replacesDeviceId`,
          message: "replacesDeviceId 'D-2001' must name a DEREGISTER device of this request",
        },
      ]);
    });

    it('does not apply to other reasons', () => {
      expect(replacementPairs(assetSyncRequest({ sendDetails: { reason: 'ADD_DEVICE' } }))).toEqual([]);
    });
  });

  describe('unenrollOnlyDeregisters', () => {
    it('rejects every REGISTER device of an UNENROLL', () => {
      const devices = controllableDevices();
      devices[1]!.registrationAction = 'DEREGISTER';
      const message = assetSyncRequest({
        sendDetails: { reason: 'UNENROLL' },
        locationInfo: { controllableDevices: devices },
      });
      expect(unenrollOnlyDeregisters(message)).toEqual([
        { path: `${DEVICES}/0/registrationAction`, message: 'an UNENROLL may only hold DEREGISTER devices' },
        { path: `${DEVICES}/2/registrationAction`, message: 'an UNENROLL may only hold DEREGISTER devices' },
      ]);
    });

    it('accepts an UNENROLL of DEREGISTER devices', () => {
      const devices = controllableDevices().map((d) => ({ ...d, registrationAction: 'DEREGISTER' as const }));
      const message = assetSyncRequest({
        sendDetails: { reason: 'UNENROLL' },
        locationInfo: { controllableDevices: devices },
      });
      expect(unenrollOnlyDeregisters(message)).toEqual([]);
    });
  });

  describe('oneEntityGroupPerCategory', () => {
    it('rejects a second group of the same category on one device', () => {
      const devices = controllableDevices();
      devices[1]!.entityGroups.push({ entityGroupId: 'SUB-SOUTH', groupCategory: 'SUBSTATION' });
      expect(
        oneEntityGroupPerCategory(assetSyncRequest({ locationInfo: { controllableDevices: devices } })),
      ).toEqual([
        {
          path: `${DEVICES}/1/entityGroups/2/groupCategory`,
          message:
            "groupCategory 'SUBSTATION' is already used by entity group 1; a device holds at most one group per category",
        },
      ]);
    });

    it('lets different devices share a category', () => {
      expect(oneEntityGroupPerCategory(assetSyncRequest())).toEqual([]);
    });
  });

  describe('unavailabilityWindow', () => {
    it.each(['ADD', 'UPDATE'] as const)('requires both ends of the window on %s', (action) => {
      const message = unavailability({ action, startDateTime: undefined, endDateTime: undefined });
      expect(unavailabilityWindow(message)).toEqual([
        { path: '/startDateTime', message: 'startDateTime is required unless action is CANCEL' },
        { path: '/endDateTime', message: 'endDateTime is required unless action is CANCEL' },
      ]);
    });

    it('lets a CANCEL leave the window out', () => {
      const message = unavailability({ action: 'CANCEL', startDateTime: undefined, endDateTime: undefined });
      expect(unavailabilityWindow(message)).toEqual([]);
    });

    it('compares the window as instants across offsets', () => {
      // 10:00-08:00 is 18:00Z; 17:30Z is before it although its wall-clock time is later.
      const before = unavailability({
        startDateTime: '2026-12-10T10:00:00-08:00',
        endDateTime: '2026-12-10T17:30:00Z',
      });
      expect(unavailabilityWindow(before)).toEqual([
        { path: '/endDateTime', message: 'endDateTime must be after startDateTime' },
      ]);
      const after = unavailability({
        startDateTime: '2026-12-10T10:00:00-08:00',
        endDateTime: '2026-12-10T18:30:00Z',
      });
      expect(unavailabilityWindow(after)).toEqual([]);
    });

    it('rejects an empty window', () => {
      const message = unavailability({
        startDateTime: '2026-12-10T18:00:00Z',
        endDateTime: '2026-12-10T10:00:00-08:00',
      });
      expect(unavailabilityWindow(message)).toEqual([
        { path: '/endDateTime', message: 'endDateTime must be after startDateTime' },
      ]);
    });

    it('applies on a CANCEL that carries a window', () => {
      const message = unavailability({ action: 'CANCEL', endDateTime: '2026-12-01T00:00:00Z' });
      expect(unavailabilityWindow(message)).toHaveLength(1);
    });
  });

  describe('uniqueAckDeviceIds', () => {
    it('rejects a deviceId reported twice in an ack', () => {
      const message = assetSyncAck({
        devices: [
          ackDevice(),
          ackDevice({ deviceId: 'D-1002' }),
          ackDevice({ registrationStatus: 'FAILED' }),
        ],
      });
      expect(uniqueAckDeviceIds(message)).toEqual([
        {
          path: '/devices/2/deviceId',
          message: "deviceId 'D-1001' is already used at /devices/0; deviceIds must be unique",
        },
      ]);
    });
  });
});

describe('safeAckSequence', () => {
  it('rejects a sequence JavaScript cannot hold exactly, however JSON wrote it', () => {
    for (const literal of [
      '9007199254740992',
      '9007199254740993',
      '1e300',
      '123456789012345678901234567890',
    ]) {
      const ack = JSON.parse(JSON.stringify(assetSyncAck()).replace('"sequence":1', `"sequence":${literal}`));
      expect(safeAckSequence(ack)).toEqual([
        { path: '/sequence', message: 'must be at most 9007199254740991' },
      ]);
    }
  });

  it('takes the largest safe integer, and leaves other types to the schema', () => {
    for (const sequence of [1, Number.MAX_SAFE_INTEGER, 1.5, '1', Number.POSITIVE_INFINITY, null]) {
      expect(safeAckSequence({ ...assetSyncAck(), sequence })).toEqual([]);
    }
  });
});

describe('toInstant', () => {
  it('places equal instants with different offsets at the same point', () => {
    expect(toInstant('2026-12-01T14:00:00-08:00')).toBe(toInstant('2026-12-01T22:00:00Z'));
    expect(toInstant('2026-12-01t22:00:00z')).toBe(toInstant('2026-12-02T03:30:00+05:30'));
  });

  it('keeps sub-millisecond precision', () => {
    expect(toInstant('2026-12-01T22:00:00.0000001Z')! > toInstant('2026-12-01T22:00:00Z')!).toBe(true);
    expect(toInstant('2026-12-01T22:00:00.5Z')).toBe(toInstant('2026-12-01T22:00:00.500000000Z'));
  });

  it('places a leap second, which RFC 3339 allows, at the last instant of its minute', () => {
    expect(toInstant('2026-12-31T23:59:60Z')).toBe(toInstant('2026-12-31T23:59:59.999999999Z'));
  });

  it.each([undefined, 5, 'now', '2026-12-01T22:00:00'])('places nothing for %p', (value) => {
    expect(toInstant(value)).toBeUndefined();
  });
});

describe('instantMs', () => {
  it('orders instants across offsets, and a leap second as the end of its minute', async () => {
    const { instantMs } = await import('#shared/contracts/rules.ts');
    expect(instantMs('2026-12-01T18:30:00+01:00')).toBe(Date.parse('2026-12-01T17:30:00Z'));
    const leap = instantMs('2026-12-31T23:59:60Z');
    expect(leap).toBeGreaterThan(instantMs('2026-12-31T23:59:59.998Z'));
    expect(leap).toBeLessThan(instantMs('2027-01-01T00:00:00Z'));
    expect(() => instantMs('yesterday')).toThrow(TypeError);
  });
});
