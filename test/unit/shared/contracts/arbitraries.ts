/**
 * fast-check arbitraries of valid inbound messages: every schema limit and business rule respected, with
 * unicode identifiers, any offset and optional fields present or not.
 */
import fc from 'fast-check';
import type {
  AckDevice,
  AssetSyncAck,
  AssetSyncRequest,
  ControllableDevice,
  EntityGroup,
  LegacyMsgAck,
  OptOutNotification,
  UnavailabilityNotification,
} from '#shared/contracts/types.ts';
import type { MessageType } from '#shared/flows/registry.ts';

/** A string of 1..max characters (code points, as JSON Schema counts them). */
export const id = (max: number): fc.Arbitrary<string> =>
  fc.string({ unit: 'binary', minLength: 1, maxLength: max });
const text = (max: number) => fc.string({ unit: 'binary', maxLength: max });

const pad = (n: number, width = 2) => String(Math.abs(n)).padStart(width, '0');

/** An RFC 3339 timestamp of `epochMs` as seen from `offsetMinutes`, with an optional fraction. */
export function formatInstant(epochMs: number, offsetMinutes: number, fraction: string): string {
  const local = new Date(epochMs + offsetMinutes * 60_000);
  const date = `${local.getUTCFullYear()}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}`;
  const time = `${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}`;
  const offset =
    offsetMinutes === 0
      ? 'Z'
      : `${offsetMinutes < 0 ? '-' : '+'}${pad(Math.trunc(offsetMinutes / 60))}:${pad(offsetMinutes % 60)}`;
  return `${date}T${time}${fraction ? `.${fraction}` : ''}${offset}`;
}

const MIN_MS = Date.UTC(2000, 0, 1);
const MAX_MS = Date.UTC(2099, 0, 1);
const offsetMinutes = fc.integer({ min: -48, max: 56 }).map((quarters) => quarters * 15);
const fraction = fc.oneof(fc.constant(''), fc.stringMatching(/^\d{1,9}$/));

/** A timestamp somewhere in this century, at any offset from -12:00 to +14:00. */
export const dateTimeAt = (epochMs: fc.Arbitrary<number>) =>
  fc.tuple(epochMs, offsetMinutes, fraction).map(([ms, offset, f]) => formatInstant(ms, offset, f));
export const dateTime = dateTimeAt(fc.integer({ min: MIN_MS, max: MAX_MS }));

const entityGroups: fc.Arbitrary<EntityGroup[]> = fc.uniqueArray(
  fc.record({ entityGroupId: id(100), groupCategory: id(100) }),
  { maxLength: 4, selector: (g) => g.groupCategory },
);

type Action = ControllableDevice['registrationAction'];

function device(
  deviceId: string,
  action: Action,
  replacesDeviceId?: string,
): fc.Arbitrary<ControllableDevice> {
  return fc
    .record(
      {
        headEndSystem: id(50),
        nicId: id(100),
        networkAddress: id(100),
        entityGroups,
        deviceType: id(100),
        make: id(100),
        model: id(100),
        serialNumber: id(100),
      },
      { requiredKeys: ['headEndSystem', 'nicId', 'entityGroups', 'deviceType'] },
    )
    .chain((rest) =>
      action === 'REGISTER' && rest.networkAddress === undefined
        ? id(100).map((networkAddress) => ({ ...rest, networkAddress }))
        : fc.constant(rest),
    )
    .map((rest) => ({
      deviceId,
      registrationAction: action,
      ...rest,
      ...(replacesDeviceId === undefined ? {} : { replacesDeviceId }),
    }));
}

const deviceIds = (min: number, max: number) => fc.uniqueArray(id(12), { minLength: min, maxLength: max });

const devicesFor = (
  reason: AssetSyncRequest['sendDetails']['reason'],
): fc.Arbitrary<ControllableDevice[]> => {
  switch (reason) {
    case 'UNENROLL':
      return deviceIds(1, 4).chain((ids) => fc.tuple(...ids.map((d) => device(d, 'DEREGISTER'))));
    case 'DEVICE_REPLACEMENT':
      return deviceIds(2, 6).chain((ids) =>
        fc.integer({ min: 1, max: ids.length - 1 }).chain((split) => {
          const removed = ids.slice(0, split);
          return fc.tuple(
            ...removed.map((d) => device(d, 'DEREGISTER')),
            ...ids
              .slice(split)
              .map((d) => fc.constantFrom(...removed).chain((r) => device(d, 'REGISTER', r))),
          );
        }),
      );
    default:
      return deviceIds(1, 4).chain((ids) =>
        fc.tuple(
          ...ids.map((d) => fc.constantFrom<Action>('REGISTER', 'DEREGISTER').chain((a) => device(d, a))),
        ),
      );
  }
};

export const assetSyncRequest: fc.Arbitrary<AssetSyncRequest> = fc
  .constantFrom('ENROLL', 'UNENROLL', 'DEVICE_REPLACEMENT', 'ADD_DEVICE' as const)
  .chain((reason) =>
    fc.record({
      sendDetails: fc.record({ syncRequestId: id(14), sentDateTime: dateTime, reason: fc.constant(reason) }),
      contactInfo: fc.record({ contactId: id(100), cisPersonId: id(100) }),
      subscriptionInfo: fc.record(
        {
          subscriptionId: id(100),
          cisAccountId: id(100),
          programId: id(100),
          programCode: id(100),
          subscriptionType: id(100),
          status: id(100),
          startDateTimeISO: dateTime,
          endDateTimeISO: dateTime,
        },
        {
          requiredKeys: [
            'subscriptionId',
            'cisAccountId',
            'programId',
            'programCode',
            'subscriptionType',
            'status',
            'startDateTimeISO',
          ],
        },
      ),
      locationInfo: fc.record(
        {
          division: id(100),
          servicePointId: id(100),
          cisPremiseId: id(100),
          cisServicePointId: id(100),
          rateClass: id(100),
          controllableDevices: devicesFor(reason),
        },
        {
          requiredKeys: [
            'division',
            'servicePointId',
            'cisPremiseId',
            'cisServicePointId',
            'controllableDevices',
          ],
        },
      ),
    }),
  );

export const optOut: fc.Arbitrary<OptOutNotification> = fc.record(
  {
    optOutId: id(100),
    eventExternalIdentifier: id(120),
    programId: id(100),
    subscriptionId: id(100),
    deviceId: id(12),
    headEndSystem: id(50),
    nicId: id(100),
    requestedDateTime: dateTime,
    channel: fc.constantFrom('PHONE', 'EMAIL', 'OTHER' as const),
    eventStartDateTime: dateTime,
    reason: text(2000),
  },
  {
    requiredKeys: [
      'optOutId',
      'eventExternalIdentifier',
      'programId',
      'subscriptionId',
      'deviceId',
      'headEndSystem',
      'nicId',
      'requestedDateTime',
      'channel',
    ],
  },
);

/** A window whose end is at least one second after its start, the two at independent offsets. */
const window = fc
  .tuple(fc.integer({ min: MIN_MS, max: MAX_MS }), fc.integer({ min: 1, max: 366 * 86_400 }))
  .chain(([start, seconds]) =>
    fc.record({
      startDateTime: dateTimeAt(fc.constant(start)),
      endDateTime: dateTimeAt(fc.constant(start + seconds * 1000 + 1000)),
    }),
  );

export const unavailability: fc.Arbitrary<UnavailabilityNotification> = fc
  .tuple(
    fc.constantFrom('ADD', 'UPDATE', 'CANCEL' as const),
    fc.record(
      {
        unavailabilityId: id(100),
        updatedDateTime: dateTime,
        deviceId: id(12),
        headEndSystem: id(50),
        nicId: id(100),
        programId: id(100),
        reason: text(254),
        comments: text(2000),
      },
      { requiredKeys: ['unavailabilityId', 'updatedDateTime', 'deviceId', 'headEndSystem', 'nicId'] },
    ),
    window,
    fc.boolean(),
  )
  .map(([action, rest, win, keepWindow]) => ({
    action,
    ...rest,
    ...(action !== 'CANCEL' || keepWindow ? win : {}),
  }));

const ackDevices: fc.Arbitrary<AckDevice[]> = deviceIds(0, 5).chain((ids) =>
  fc.tuple(
    ...ids.map((deviceId) =>
      fc
        .record(
          {
            headEndSystem: id(50),
            nicId: id(100),
            registrationStatus: fc.constantFrom('REGISTERED', 'DEREGISTERED', 'FAILED', 'PENDING' as const),
            message: text(2000),
          },
          { requiredKeys: ['headEndSystem', 'nicId', 'registrationStatus'] },
        )
        .map((rest) => ({ deviceId, ...rest })),
    ),
  ),
);

export const assetSyncAck: fc.Arbitrary<AssetSyncAck> = fc.record(
  {
    syncRequestId: id(14),
    ackType: fc.constantFrom('SUCCESS', 'ERROR', 'FAILURE' as const),
    ackDateTime: dateTime,
    sequence: fc.integer({ min: 1, max: 1_000_000 }),
    final: fc.boolean(),
    errors: fc.array(fc.record({ code: id(100), message: text(2000) }), { maxLength: 3 }),
    devices: ackDevices,
  },
  { requiredKeys: ['syncRequestId', 'ackType', 'ackDateTime', 'sequence', 'final', 'devices'] },
);

export const legacyAck: fc.Arbitrary<LegacyMsgAck> = fc.record({
  MsgAck: fc.record({
    ackType: fc.constantFrom('SUCCESS', 'ERROR', 'FAILURE' as const),
    whenISO: dateTime,
    responses: fc.record({
      response: fc.array(
        fc.record({ responseCode: id(100), dacsMessageId: id(100), responseTimeISO: dateTime }),
        { minLength: 1, maxLength: 3 },
      ),
    }),
  }),
});

export const VALID_MESSAGES: { readonly [T in MessageType]: fc.Arbitrary<unknown> } = {
  AssetSyncRequest: assetSyncRequest,
  OptOutNotification: optOut,
  UnavailabilityNotification: unavailability,
  AssetSyncAck: assetSyncAck,
  LegacyMsgAck: legacyAck,
};
