/**
 * Builders of valid inbound messages, for every test layer. Each returns a fresh, schema- and rule-valid
 * message; `overrides` are merged deeply (objects merge, arrays and values replace, `undefined` removes a
 * field), so a test states only what it is about:
 *
 *   assetSyncRequest({ sendDetails: { reason: 'UNENROLL' }, locationInfo: { controllableDevices: [device] } })
 *   unavailability({ action: 'CANCEL', startDateTime: undefined, endDateTime: undefined })
 */
import type {
  AckDevice,
  AssetSyncAck,
  AssetSyncRequest,
  ControllableDevice,
  LegacyMsgAck,
  OptOutNotification,
  UnavailabilityNotification,
} from '#shared/contracts/types.ts';

/** Deep overrides: nested objects are partial, arrays replace the default whole. */
export type Overrides<T> = {
  [K in keyof T]?: T[K] extends readonly unknown[] ? T[K] : T[K] extends object ? Overrides<T[K]> : T[K];
};

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Merges `overrides` into `base` (a fresh copy): objects recursively, anything else replaced, undefined removed. */
export function merge<T>(base: T, overrides?: Overrides<T>): T {
  if (!overrides) return structuredClone(base);
  const result: Record<string, unknown> = structuredClone(base) as Record<string, unknown>;
  for (const [key, value] of Object.entries(overrides as Record<string, unknown>)) {
    if (value === undefined) delete result[key];
    else if (isPlainObject(value) && isPlainObject(result[key])) result[key] = merge(result[key], value);
    else result[key] = structuredClone(value);
  }
  return result as T;
}

export const SYNC_REQUEST_ID = 'SR-1001';
export const DEVICE_IDS = ['D-1001', 'D-1002', 'D-1003'] as const;
export const HEAD_END_SYSTEM = 'LEC-HES-1';

/** The device ids of the default asset sync, as a mutable array. */
export const deviceIds = (): string[] => [...DEVICE_IDS];

/** A thermostat to REGISTER, with a network address and two entity groups. */
export function controllableDevice(overrides?: Overrides<ControllableDevice>): ControllableDevice {
  return merge<ControllableDevice>(
    {
      deviceId: 'D-1001',
      registrationAction: 'REGISTER',
      headEndSystem: HEAD_END_SYSTEM,
      nicId: 'NIC-00A1B2C3',
      networkAddress: '10.20.30.41',
      entityGroups: [
        { entityGroupId: 'FEEDER-12', groupCategory: 'FEEDER' },
        { entityGroupId: 'SUB-NORTH', groupCategory: 'SUBSTATION' },
      ],
      deviceType: 'THERMOSTAT',
      make: 'Ecobee',
      model: 'SmartThermostat Premium',
      serialNumber: 'EB-5501-1001',
    },
    overrides,
  );
}

/** The default devices: D-1001, D-1002 and D-1003, all REGISTER. */
export function controllableDevices(): ControllableDevice[] {
  return DEVICE_IDS.map((deviceId, index) =>
    controllableDevice({
      deviceId,
      nicId: `NIC-00A1B2C${index + 3}`,
      networkAddress: `10.20.30.${41 + index}`,
      serialNumber: `EB-5501-${deviceId.slice(2)}`,
    }),
  );
}

/** An ENROLL of three devices (D-1001..D-1003) under sync request SR-1001. */
export function assetSyncRequest(overrides?: Overrides<AssetSyncRequest>): AssetSyncRequest {
  return merge<AssetSyncRequest>(
    {
      sendDetails: {
        syncRequestId: SYNC_REQUEST_ID,
        sentDateTime: '2026-12-01T14:00:00-08:00',
        reason: 'ENROLL',
      },
      contactInfo: { contactId: 'CT-7781204', cisPersonId: '4455667788' },
      subscriptionInfo: {
        subscriptionId: 'SUB-55012',
        cisAccountId: '1234567890',
        programId: 'PRG-BYOT',
        programCode: 'BYOT',
        subscriptionType: 'DEMAND_RESPONSE',
        status: 'ACTIVE',
        startDateTimeISO: '2026-12-01T00:00:00-08:00',
      },
      locationInfo: {
        division: 'CA',
        servicePointId: 'SP-900112',
        cisPremiseId: 'PREM-3344556',
        cisServicePointId: '7788990011',
        rateClass: 'E-TOU-C',
        controllableDevices: controllableDevices(),
      },
    },
    overrides,
  );
}

/** A DEVICE_REPLACEMENT: D-1001 deregistered and replaced by D-2001. */
export function deviceReplacement(overrides?: Overrides<AssetSyncRequest>): AssetSyncRequest {
  return merge(
    assetSyncRequest({
      sendDetails: { syncRequestId: 'SR-1002', reason: 'DEVICE_REPLACEMENT' },
      locationInfo: {
        controllableDevices: [
          controllableDevice({ registrationAction: 'DEREGISTER', networkAddress: undefined }),
          controllableDevice({
            deviceId: 'D-2001',
            nicId: 'NIC-00FFEE01',
            networkAddress: '10.20.30.99',
            serialNumber: 'EB-5501-2001',
            replacesDeviceId: 'D-1001',
          }),
        ],
      },
    }),
    overrides,
  );
}

/** An opt-out of D-1001 from event EVT-2026-12-05-PEAK, by phone. */
export function optOut(overrides?: Overrides<OptOutNotification>): OptOutNotification {
  return merge<OptOutNotification>(
    {
      optOutId: 'OO-9001',
      eventExternalIdentifier: 'EVT-2026-12-05-PEAK',
      programId: 'PRG-BYOT',
      subscriptionId: 'SUB-55012',
      deviceId: 'D-1001',
      headEndSystem: HEAD_END_SYSTEM,
      nicId: 'NIC-00A1B2C3',
      requestedDateTime: '2026-12-04T09:15:00-08:00',
      channel: 'PHONE',
      eventStartDateTime: '2026-12-05T16:00:00-08:00',
      reason: 'Customer away from home',
    },
    overrides,
  );
}

/** An ADD of an unavailability window for D-1001 (a week in December). */
export function unavailability(
  overrides?: Overrides<UnavailabilityNotification>,
): UnavailabilityNotification {
  return merge<UnavailabilityNotification>(
    {
      unavailabilityId: 'UA-3001',
      action: 'ADD',
      updatedDateTime: '2026-12-02T10:00:00-08:00',
      deviceId: 'D-1001',
      headEndSystem: HEAD_END_SYSTEM,
      nicId: 'NIC-00A1B2C3',
      programId: 'PRG-BYOT',
      startDateTime: '2026-12-10T00:00:00-08:00',
      endDateTime: '2026-12-17T00:00:00-08:00',
      reason: 'VACATION',
      comments: 'Customer travelling; house unoccupied.',
    },
    overrides,
  );
}

/** A REGISTERED result for D-1001. */
export function ackDevice(overrides?: Overrides<AckDevice>): AckDevice {
  return merge<AckDevice>(
    {
      deviceId: 'D-1001',
      headEndSystem: HEAD_END_SYSTEM,
      nicId: 'NIC-00A1B2C3',
      registrationStatus: 'REGISTERED',
    },
    overrides,
  );
}

/** A final SUCCESS ack of SR-1001 with every default device REGISTERED. */
export function assetSyncAck(overrides?: Overrides<AssetSyncAck>): AssetSyncAck {
  return merge<AssetSyncAck>(
    {
      syncRequestId: SYNC_REQUEST_ID,
      ackType: 'SUCCESS',
      ackDateTime: '2026-12-01T14:05:00-08:00',
      sequence: 1,
      final: true,
      devices: DEVICE_IDS.map((deviceId, index) => ackDevice({ deviceId, nicId: `NIC-00A1B2C${index + 3}` })),
    },
    overrides,
  );
}

/** A deprecated message-level SUCCESS ack of SR-1001. */
export function legacyAck(overrides?: Overrides<LegacyMsgAck>): LegacyMsgAck {
  return merge<LegacyMsgAck>(
    {
      MsgAck: {
        ackType: 'SUCCESS',
        whenISO: '2026-12-01T14:05:00-08:00',
        responses: {
          response: [
            {
              responseCode: '0',
              dacsMessageId: SYNC_REQUEST_ID,
              responseTimeISO: '2026-12-01T14:04:59-08:00',
            },
          ],
        },
      },
    },
    overrides,
  );
}
