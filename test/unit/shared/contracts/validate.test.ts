import { DATE_TIME_PATTERN, validateMessage } from '#shared/contracts/validate.ts';
import type { Violation } from '#shared/errors.ts';
import {
  assetSyncAck,
  assetSyncRequest,
  controllableDevice,
  controllableDevices,
  deviceReplacement,
  legacyAck,
  optOut,
  unavailability,
} from '#test/helpers/messages.ts';

function violationsOf(result: ReturnType<typeof validateMessage>): Violation[] {
  if (result.ok) throw new Error('expected the message to be rejected');
  return result.violations;
}

describe('validateMessage', () => {
  describe('accepts the valid fixtures', () => {
    it.each([
      ['AssetSyncRequest', assetSyncRequest()],
      ['AssetSyncRequest', deviceReplacement()],
      ['OptOutNotification', optOut()],
      ['UnavailabilityNotification', unavailability()],
      [
        'UnavailabilityNotification',
        unavailability({ action: 'CANCEL', startDateTime: undefined, endDateTime: undefined }),
      ],
      ['AssetSyncAck', assetSyncAck()],
      ['LegacyMsgAck', legacyAck()],
    ] as const)('accepts a valid %s', (type, message) => {
      expect(validateMessage(type, message)).toEqual({ ok: true, value: message });
    });

    it('returns the message typed after its message type', () => {
      const result = validateMessage('AssetSyncRequest', assetSyncRequest());
      if (!result.ok) throw new Error('expected a valid message');
      // Compiles only when value is an AssetSyncRequest.
      expect(result.value.locationInfo.controllableDevices.map((d) => d.deviceId)).toEqual([
        'D-1001',
        'D-1002',
        'D-1003',
      ]);
    });

    it('accepts a message of the maximum sizes', () => {
      const devices = Array.from({ length: 10_000 }, (_, i) =>
        controllableDevice({ deviceId: `D-${i}`.padEnd(12, 'x') }),
      );
      const message = assetSyncRequest({
        sendDetails: { syncRequestId: '12345678901234' },
        locationInfo: { controllableDevices: devices },
      });
      expect(validateMessage('AssetSyncRequest', message).ok).toBe(true);
    });
  });

  describe('schema violations', () => {
    it('points at a missing required property', () => {
      const message = assetSyncRequest();
      delete (message.sendDetails as Partial<typeof message.sendDetails>).syncRequestId;
      expect(violationsOf(validateMessage('AssetSyncRequest', message))).toEqual([
        { path: '/sendDetails/syncRequestId', message: 'is required' },
      ]);
    });

    it('names an unknown property, wherever it is', () => {
      const message = assetSyncRequest();
      Object.assign(message.locationInfo.controllableDevices[1]!, { serialNo: 'X' });
      Object.assign(message, { extra: true });
      expect(violationsOf(validateMessage('AssetSyncRequest', message))).toEqual([
        { path: '/extra', message: "unknown property 'extra' is not allowed" },
        {
          path: '/locationInfo/controllableDevices/1/serialNo',
          message: "unknown property 'serialNo' is not allowed",
        },
      ]);
    });

    it('points into the device list for an over-long deviceId', () => {
      const devices = controllableDevices();
      devices[2]!.deviceId = 'D-1234567890123';
      const violations = violationsOf(
        validateMessage(
          'AssetSyncRequest',
          assetSyncRequest({ locationInfo: { controllableDevices: devices } }),
        ),
      );
      expect(violations).toEqual([
        {
          path: '/locationInfo/controllableDevices/2/deviceId',
          message: 'must NOT have more than 12 characters',
        },
      ]);
    });

    it.each([
      ['/sendDetails/syncRequestId', { sendDetails: { syncRequestId: '123456789012345' } }],
      ['/sendDetails/syncRequestId', { sendDetails: { syncRequestId: '' } }],
      ['/locationInfo/controllableDevices', { locationInfo: { controllableDevices: [] } }],
    ])('enforces the contract limit at %s', (path, overrides) => {
      const violations = violationsOf(validateMessage('AssetSyncRequest', assetSyncRequest(overrides)));
      expect(violations.map((v) => v.path)).toEqual([path]);
    });

    it('enforces headEndSystem 1..50, nicId 1..100 and eventExternalIdentifier 1..120', () => {
      const message = optOut({
        headEndSystem: 'h'.repeat(51),
        nicId: 'n'.repeat(101),
        eventExternalIdentifier: 'e'.repeat(121),
      });
      expect(violationsOf(validateMessage('OptOutNotification', message)).map((v) => v.path)).toEqual([
        '/eventExternalIdentifier',
        '/headEndSystem',
        '/nicId',
      ]);
      expect(
        validateMessage(
          'OptOutNotification',
          optOut({
            headEndSystem: 'h'.repeat(50),
            nicId: 'n'.repeat(100),
            eventExternalIdentifier: 'e'.repeat(120),
          }),
        ).ok,
      ).toBe(true);
    });

    it('counts characters, not UTF-16 code units', () => {
      expect(validateMessage('OptOutNotification', optOut({ deviceId: '🔌'.repeat(12) })).ok).toBe(true);
    });

    it('requires networkAddress on a REGISTER device only', () => {
      const devices = controllableDevices();
      delete devices[1]!.networkAddress;
      const message = assetSyncRequest({ locationInfo: { controllableDevices: devices } });
      expect(violationsOf(validateMessage('AssetSyncRequest', message))).toEqual([
        { path: '/locationInfo/controllableDevices/1/networkAddress', message: 'is required' },
      ]);
      devices[1]!.registrationAction = 'DEREGISTER';
      expect(validateMessage('AssetSyncRequest', message).ok).toBe(false);
      expect(
        validateMessage(
          'AssetSyncRequest',
          assetSyncRequest({ locationInfo: { controllableDevices: devices } }),
        ).ok,
      ).toBe(true);
    });

    it('lists the allowed values of an enum', () => {
      expect(
        violationsOf(validateMessage('OptOutNotification', optOut({ channel: 'SMS' as 'PHONE' }))),
      ).toEqual([{ path: '/channel', message: 'must be one of PHONE, EMAIL, OTHER' }]);
    });

    it.each([
      '2026-12-01T14:00:00',
      '2026-12-01T14:00:00+0800',
      '2026-12-01',
      '2026-02-30T14:00:00Z',
      '2026-12-01T25:00:00Z',
      'yesterday',
    ])('rejects %s as a timestamp, once', (value) => {
      expect(
        violationsOf(validateMessage('OptOutNotification', optOut({ requestedDateTime: value }))),
      ).toEqual([
        {
          path: '/requestedDateTime',
          message: 'must be an RFC 3339 date-time with an offset, e.g. 2026-12-01T14:00:00-08:00',
        },
      ]);
    });

    it.each(['2026-12-01T14:00:00Z', '2026-12-01T14:00:00.123456789+05:30', '2026-12-01t14:00:00z'])(
      'accepts %s as a timestamp',
      (value) => {
        expect(validateMessage('OptOutNotification', optOut({ requestedDateTime: value })).ok).toBe(true);
      },
    );

    it('requires sequence to be an integer from 1', () => {
      expect(violationsOf(validateMessage('AssetSyncAck', assetSyncAck({ sequence: 0 })))).toEqual([
        { path: '/sequence', message: 'must be >= 1' },
      ]);
      expect(violationsOf(validateMessage('AssetSyncAck', assetSyncAck({ sequence: 1.5 })))).toEqual([
        { path: '/sequence', message: 'must be integer' },
      ]);
    });

    it.each([null, [], 'text', 42])('rejects a body that is not an object (%p)', (body) => {
      expect(violationsOf(validateMessage('LegacyMsgAck', body))).toEqual([
        { path: '', message: 'must be object' },
      ]);
    });

    it('escapes JSON Pointer tokens of unknown properties', () => {
      const message = Object.assign(legacyAck(), { 'a/b~c': 1 });
      expect(violationsOf(validateMessage('LegacyMsgAck', message))).toEqual([
        { path: '/a~1b~0c', message: "unknown property 'a/b~c' is not allowed" },
      ]);
    });
  });

  describe('every violation at once', () => {
    it('lists schema and business-rule violations together', () => {
      const devices = controllableDevices();
      devices[1]!.deviceId = 'D-1001';
      devices[2]!.deviceId = 'D-1003-TOO-LONG';
      devices[2]!.entityGroups.push({ entityGroupId: 'FEEDER-99', groupCategory: 'FEEDER' });
      const message = assetSyncRequest({
        sendDetails: { sentDateTime: 'now' },
        locationInfo: { controllableDevices: devices },
      });
      Object.assign(message.contactInfo, { email: 'someone@example.com' });
      expect(violationsOf(validateMessage('AssetSyncRequest', message))).toEqual([
        {
          path: '/sendDetails/sentDateTime',
          message: 'must be an RFC 3339 date-time with an offset, e.g. 2026-12-01T14:00:00-08:00',
        },
        { path: '/contactInfo/email', message: "unknown property 'email' is not allowed" },
        {
          path: '/locationInfo/controllableDevices/2/deviceId',
          message: 'must NOT have more than 12 characters',
        },
        {
          path: '/locationInfo/controllableDevices/1/deviceId',
          message:
            "deviceId 'D-1001' is already used at /locationInfo/controllableDevices/0; deviceIds must be unique",
        },
        {
          path: '/locationInfo/controllableDevices/2/entityGroups/2/groupCategory',
          message:
            "groupCategory 'FEEDER' is already used by entity group 0; a device holds at most one group per category",
        },
      ]);
    });

    it('still runs the unavailability rules when the schema fails', () => {
      const message = unavailability({ nicId: '', endDateTime: '2026-12-09T23:00:00-09:00' });
      expect(violationsOf(validateMessage('UnavailabilityNotification', message))).toEqual([
        { path: '/nicId', message: 'must NOT have fewer than 1 characters' },
        { path: '/endDateTime', message: 'endDateTime must be after startDateTime' },
      ]);
    });
  });
});

describe('DATE_TIME_PATTERN', () => {
  it('is a valid regular expression', () => {
    expect(new RegExp(DATE_TIME_PATTERN, 'u').test('2026-12-01T14:00:00-08:00')).toBe(true);
  });
});
