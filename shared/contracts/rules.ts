/**
 * The contract's business rules: what the JSON Schemas cannot say. Pure functions over the parsed body.
 *
 * Each rule takes `unknown` and guards every field it reads, because `validateMessage` runs the rules even when
 * the schema already failed, so that a 422 lists every violation at once. A rule ignores what it cannot read
 * (the schema reports that) and names the offending path of what it can.
 */

import type { Violation } from '#shared/errors.ts';
import type { MessageType } from '#shared/flows/registry.ts';

type Rule = (message: unknown) => Violation[];

const DEVICES = '/locationInfo/controllableDevices';

function record(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** Escapes one JSON Pointer reference token (RFC 6901). */
export function pointerToken(token: string | number): string {
  return String(token).replaceAll('~', '~0').replaceAll('/', '~1');
}

/** Reports the second and later occurrences of a deviceId within one list of devices. */
function duplicateDeviceIds(devices: unknown[], basePath: string): Violation[] {
  const firstIndex = new Map<string, number>();
  const violations: Violation[] = [];
  devices.forEach((device, index) => {
    const deviceId = text(record(device)?.deviceId);
    if (deviceId === undefined) return;
    const first = firstIndex.get(deviceId);
    if (first === undefined) firstIndex.set(deviceId, index);
    else
      violations.push({
        path: `${basePath}/${index}/deviceId`,
        message: `deviceId '${deviceId}' is already used at ${basePath}/${first}; deviceIds must be unique`,
      });
  });
  return violations;
}

function controllableDevices(message: unknown): unknown[] {
  return list(record(record(message)?.locationInfo)?.controllableDevices);
}

function reasonOf(message: unknown): string | undefined {
  return text(record(record(message)?.sendDetails)?.reason);
}

/** AssetSyncRequest: deviceIds are unique within a request. */
export const uniqueDeviceIds: Rule = (message) => duplicateDeviceIds(controllableDevices(message), DEVICES);

/**
 * AssetSyncRequest: a DEVICE_REPLACEMENT holds at least one DEREGISTER and one REGISTER, and each REGISTER's
 * `replacesDeviceId` names a DEREGISTER device of the same request.
 */
export const replacementPairs: Rule = (message) => {
  if (reasonOf(message) !== 'DEVICE_REPLACEMENT') return [];
  const devices = controllableDevices(message).map(record);
  const deregistered = new Set(
    devices.filter((d) => d?.registrationAction === 'DEREGISTER').flatMap((d) => text(d?.deviceId) ?? []),
  );
  const violations: Violation[] = [];
  const registers = devices.filter((d) => d?.registrationAction === 'REGISTER').length;
  const deregisters = devices.filter((d) => d?.registrationAction === 'DEREGISTER').length;
  if (deregisters === 0 || registers === 0) {
    violations.push({
      path: DEVICES,
      message: 'a DEVICE_REPLACEMENT must hold at least one DEREGISTER and one REGISTER device',
    });
  }
  devices.forEach((device, index) => {
    if (device?.registrationAction !== 'REGISTER') return;
    const path = `${DEVICES}/${index}/replacesDeviceId`;
    const replaces = text(device.replacesDeviceId);
    if (replaces === undefined) {
      violations.push({
        path,
        message: 'a REGISTER of a DEVICE_REPLACEMENT must name the device it replaces',
      });
    } else if (!deregistered.has(replaces)) {
      violations.push({
        path,
        message: `replacesDeviceId '${replaces}' must name a DEREGISTER device of this request`,
      });
    }
  });
  return violations;
};

/** AssetSyncRequest: an UNENROLL holds only DEREGISTER devices. */
export const unenrollOnlyDeregisters: Rule = (message) => {
  if (reasonOf(message) !== 'UNENROLL') return [];
  return controllableDevices(message).flatMap((device, index) =>
    record(device)?.registrationAction === 'REGISTER'
      ? [
          {
            path: `${DEVICES}/${index}/registrationAction`,
            message: 'an UNENROLL may only hold DEREGISTER devices',
          },
        ]
      : [],
  );
};

/** AssetSyncRequest: a device holds at most one entity group per groupCategory. */
export const oneEntityGroupPerCategory: Rule = (message) =>
  controllableDevices(message).flatMap((device, deviceIndex) => {
    const seen = new Map<string, number>();
    const violations: Violation[] = [];
    list(record(device)?.entityGroups).forEach((group, groupIndex) => {
      const category = text(record(group)?.groupCategory);
      if (category === undefined) return;
      const first = seen.get(category);
      if (first === undefined) seen.set(category, groupIndex);
      else
        violations.push({
          path: `${DEVICES}/${deviceIndex}/entityGroups/${groupIndex}/groupCategory`,
          message: `groupCategory '${category}' is already used by entity group ${first}; a device holds at most one group per category`,
        });
    });
    return violations;
  });

const RFC3339 = /^(\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * An RFC 3339 timestamp as nanoseconds since the epoch, exact whatever the offset and the fraction's length;
 * undefined when the value is not one (the schema reports that) or cannot be placed (a leap second).
 */
export function toInstant(value: unknown): bigint | undefined {
  const match = typeof value === 'string' ? RFC3339.exec(value) : null;
  if (!match) return undefined;
  const [, dateTime = '', fraction = '', offset = ''] = match;
  // A leap second (hh:mm:60, which RFC 3339 allows) orders as the last instant of its minute.
  const leap = dateTime.endsWith(':60');
  const base = leap ? `${dateTime.slice(0, -2)}59` : dateTime;
  const seconds = Date.parse(`${base.toUpperCase()}${offset.toUpperCase()}`);
  if (Number.isNaN(seconds)) return undefined;
  return BigInt(seconds) * 1_000_000n + (leap ? 999_999_999n : BigInt(fraction.padEnd(9, '0')));
}

/** Milliseconds since the epoch of an RFC 3339 timestamp (leap seconds included), for ordering. */
export function instantMs(value: string): number {
  const instant = toInstant(value);
  if (instant === undefined) throw new TypeError(`${value} is not an RFC 3339 timestamp`);
  return Number(instant / 1_000_000n);
}

/**
 * UnavailabilityNotification: `startDateTime` and `endDateTime` are required unless the action is CANCEL, and
 * `endDateTime` is after `startDateTime`, compared as instants (the two may carry different offsets).
 */
export const unavailabilityWindow: Rule = (message) => {
  const body = record(message);
  if (!body) return [];
  const violations: Violation[] = [];
  if (body.action === 'ADD' || body.action === 'UPDATE') {
    for (const field of ['startDateTime', 'endDateTime'] as const) {
      if (body[field] === undefined) {
        violations.push({ path: `/${field}`, message: `${field} is required unless action is CANCEL` });
      }
    }
  }
  const start = toInstant(body.startDateTime);
  const end = toInstant(body.endDateTime);
  if (start !== undefined && end !== undefined && end <= start) {
    violations.push({ path: '/endDateTime', message: 'endDateTime must be after startDateTime' });
  }
  return violations;
};

/** AssetSyncAck: deviceIds are unique within an ack. */
export const uniqueAckDeviceIds: Rule = (message) =>
  duplicateDeviceIds(list(record(message)?.devices), '/devices');

/**
 * AssetSyncAck: `sequence` is an integer JavaScript holds exactly (at most 2^53 − 1). JSON can write larger
 * ones, and the schema's `integer` takes them, but they arrive rounded (9007199254740993 reads as …992) and
 * the ack's records cannot store them: such an ack would be accepted and then fail on every attempt.
 */
export const safeAckSequence: Rule = (message) => {
  const sequence = record(message)?.sequence;
  return typeof sequence === 'number' && Number.isInteger(sequence) && !Number.isSafeInteger(sequence)
    ? [{ path: '/sequence', message: `must be at most ${Number.MAX_SAFE_INTEGER}` }]
    : [];
};

/** The business rules of each inbound message type, run after (and alongside) its schema. */
export const BUSINESS_RULES: Readonly<Record<MessageType, readonly Rule[]>> = {
  AssetSyncRequest: [uniqueDeviceIds, replacementPairs, unenrollOnlyDeregisters, oneEntityGroupPerCategory],
  OptOutNotification: [],
  UnavailabilityNotification: [unavailabilityWindow],
  AssetSyncAck: [uniqueAckDeviceIds, safeAckSequence],
  LegacyMsgAck: [],
};

/** Every business-rule violation of a message, in rule order. */
export function checkBusinessRules(type: MessageType, message: unknown): Violation[] {
  return BUSINESS_RULES[type].flatMap((rule) => rule(message));
}
