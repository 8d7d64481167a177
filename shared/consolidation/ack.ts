/**
 * Building the DACS acknowledgement bodies: the consolidated one (every device of the request, in request
 * order), a follow-up for one device, and the forward of an uncorrelated ack. Pure functions.
 */
import { instantMs } from '#shared/contracts/rules.ts';
import { assessDevice, flagFor, LIMITS, truncate } from './flags.ts';
import type {
  AckError,
  AckType,
  AssetSyncAck,
  ConsolidationTrigger,
  DacsAcknowledgement,
  DeviceHeadendStatus,
  ExceptionInfo,
  HeadEndFlag,
  RegistrationAction,
  RegistrationStatus,
} from './types.ts';

/** DACS `messageCategory` of every exception this integration reports. */
export const EXCEPTION_CATEGORY = 90000;

/** DACS `messageNumber`, one per kind of exception. */
export const EXCEPTION_NUMBERS = {
  /** An ack with ackType ERROR/FAILURE, or one of its `errors`. Parameters: sequence, ackType, code, message. */
  DERMS_ERROR: 1001,
  /** DERMS reported a device the request did not hold. Parameters: deviceId, status, headEndSystem, nicId. */
  UNKNOWN_DEVICE: 1002,
  /** An ack forwarded without its sync request. Parameters: syncRequestId, ackDateTime, sequence. */
  UNCORRELATED_ACK: 1003,
  /** Devices without a terminal status at consolidation. Parameters: count, deadline. */
  DEADLINE: 1004,
  /** More exceptions than {@link MAX_EXCEPTIONS}; the rest are counted here. Parameters: count omitted. */
  TRUNCATED: 1099,
} as const;
export type ExceptionNumber = (typeof EXCEPTION_NUMBERS)[keyof typeof EXCEPTION_NUMBERS];

/**
 * At most this many `exceptionInfo` entries (the last one then counts the rest), so that an ack full of
 * unknown devices keeps the body and the frozen header summary bounded (a DynamoDB item holds 400 KB).
 */
export const MAX_EXCEPTIONS = 500;

export interface ConsolidationHeader {
  readonly syncRequestId: string;
  /** UTC ISO. */
  readonly deadline: string;
  readonly trigger?: ConsolidationTrigger | undefined;
}

export interface DeviceState {
  readonly deviceId: string;
  readonly expected: RegistrationAction;
  readonly reportedStatus?: RegistrationStatus | undefined;
  readonly reportedMessage?: string | undefined;
}

export interface UnknownDevice {
  readonly deviceId: string;
  readonly registrationStatus: RegistrationStatus;
  readonly headEndSystem?: string | undefined;
  readonly nicId?: string | undefined;
}

export interface AckRecord {
  readonly sequence: number;
  readonly ackDateTime: string;
  readonly ackType: AckType;
  readonly errors?: readonly AckError[] | undefined;
  readonly unknownDevices?: readonly UnknownDevice[] | undefined;
}

/** One line of `deviceHeadendStatus` plus whether it counts as error. */
export interface DeviceOutcome {
  readonly deviceId: string;
  readonly flag: HeadEndFlag;
  readonly message: string;
  readonly isError: boolean;
}

/** The parts of a consolidated ack that do not belong to one device (frozen on the header). */
export interface AckSummary {
  /** Some ack was not SUCCESS or carried errors. */
  readonly ackError: boolean;
  readonly exceptionInfo: ExceptionInfo[];
}

export function exception(
  number: ExceptionNumber,
  comments: string,
  parameters: readonly string[],
): ExceptionInfo {
  return {
    comments: truncate(comments, LIMITS.COMMENTS),
    messageCategory: EXCEPTION_CATEGORY,
    messageNumber: number,
    messageParameters: parameters.map((p) => truncate(p, LIMITS.PARAMETER)),
  };
}

const ackOrder = (a: AckRecord, b: AckRecord): number =>
  instantMs(a.ackDateTime) - instantMs(b.ackDateTime) || a.sequence - b.sequence;

/** True when an ack was not SUCCESS or carried errors. */
export function isAckError(ack: Pick<AckRecord, 'ackType' | 'errors'>): boolean {
  return ack.ackType !== 'SUCCESS' || (ack.errors?.length ?? 0) > 0;
}

/** The exceptions an ack reports by itself: its ackType when not SUCCESS, and each of its errors. */
export function ackExceptions(syncRequestId: string, ack: AckRecord): ExceptionInfo[] {
  const out: ExceptionInfo[] = [];
  const seq = String(ack.sequence);
  if (ack.ackType !== 'SUCCESS' && (ack.errors?.length ?? 0) === 0) {
    out.push(
      exception(
        EXCEPTION_NUMBERS.DERMS_ERROR,
        `DERMS acknowledgement ${seq} of sync request ${syncRequestId} reported ${ack.ackType}`,
        [seq, ack.ackType, '', ''],
      ),
    );
  }
  for (const error of ack.errors ?? []) {
    out.push(
      exception(EXCEPTION_NUMBERS.DERMS_ERROR, `DERMS error ${error.code} (ack ${seq}): ${error.message}`, [
        seq,
        ack.ackType,
        error.code,
        error.message,
      ]),
    );
  }
  return out;
}

export function unknownDeviceException(syncRequestId: string, device: UnknownDevice): ExceptionInfo {
  return exception(
    EXCEPTION_NUMBERS.UNKNOWN_DEVICE,
    `DERMS reported device ${device.deviceId} as ${device.registrationStatus}, but sync request ${syncRequestId} does not hold it`,
    [device.deviceId, device.registrationStatus, device.headEndSystem ?? '', device.nicId ?? ''],
  );
}

/** Keeps the first {@link MAX_EXCEPTIONS} - 1 entries and counts the rest in a last one. */
export function capExceptions(entries: ExceptionInfo[]): ExceptionInfo[] {
  if (entries.length <= MAX_EXCEPTIONS) return entries;
  const kept = entries.slice(0, MAX_EXCEPTIONS - 1);
  const omitted = entries.length - kept.length;
  kept.push(exception(EXCEPTION_NUMBERS.TRUNCATED, `${omitted} more exceptions omitted`, [String(omitted)]));
  return kept;
}

/** The flag and message of each device, in the order given. */
export function deviceOutcomes(
  header: ConsolidationHeader,
  devices: readonly DeviceState[],
): DeviceOutcome[] {
  const finalAck = header.trigger === 'FINAL_ACK';
  return devices.map((d) => ({
    deviceId: d.deviceId,
    ...assessDevice(d.expected, d.reportedStatus, {
      deadline: header.deadline,
      reportedMessage: d.reportedMessage,
      finalAck,
    }),
  }));
}

/** Everything but the device lines: ack errors, unknown devices, devices without status by the deadline. */
export function summarize(
  header: ConsolidationHeader,
  devices: readonly DeviceState[],
  acks: readonly AckRecord[],
): AckSummary {
  const ordered = [...acks].sort(ackOrder);
  const entries: ExceptionInfo[] = [];
  for (const ack of ordered) entries.push(...ackExceptions(header.syncRequestId, ack));
  const seen = new Set<string>();
  for (const ack of ordered) {
    for (const device of ack.unknownDevices ?? []) {
      if (seen.has(device.deviceId)) continue;
      seen.add(device.deviceId);
      entries.push(unknownDeviceException(header.syncRequestId, device));
    }
  }
  const missing = devices.filter(
    (d) => d.reportedStatus === undefined || d.reportedStatus === 'PENDING',
  ).length;
  if (missing > 0) {
    entries.push(
      exception(
        EXCEPTION_NUMBERS.DEADLINE,
        `${missing} of ${devices.length} devices had no head-end status at consolidation (deadline ${header.deadline})`,
        [String(missing), header.deadline],
      ),
    );
  }
  return { ackError: ordered.some(isAckError), exceptionInfo: capExceptions(entries) };
}

/** Puts a body together from its frozen parts. `hasError` follows the contract. */
export function assembleAck(
  syncRequestId: string,
  summary: AckSummary,
  outcomes: readonly DeviceOutcome[],
): DacsAcknowledgement {
  const deviceHeadendStatus: DeviceHeadendStatus[] = outcomes.map((o) => ({
    deviceId: o.deviceId,
    headEndRegistration: o.flag,
    message: o.message,
  }));
  return {
    syncRequestId,
    hasError: summary.ackError || outcomes.some((o) => o.isError),
    exceptionInfo: summary.exceptionInfo,
    deviceHeadendStatus,
  };
}

/**
 * The consolidated acknowledgement: every device of the request in the order given (request order), a
 * device without a terminal status as D1NR naming the deadline, devices the request did not hold only in
 * `exceptionInfo`, and ack errors in `exceptionInfo`.
 */
export function buildConsolidatedAck(
  header: ConsolidationHeader,
  devices: readonly DeviceState[],
  acks: readonly AckRecord[],
): DacsAcknowledgement {
  return assembleAck(header.syncRequestId, summarize(header, devices, acks), deviceOutcomes(header, devices));
}

/** A follow-up for one device whose status changed after the consolidated ack. */
export function buildFollowUpAck(
  syncRequestId: string,
  device: DeviceState,
  flag: HeadEndFlag,
  message: string,
): DacsAcknowledgement {
  return {
    syncRequestId,
    hasError: flagFor(device.expected, device.reportedStatus).isError,
    exceptionInfo: [],
    deviceHeadendStatus: [
      {
        deviceId: device.deviceId,
        headEndRegistration: flag,
        message: truncate(`Update after the consolidated acknowledgement: ${message}`, LIMITS.DEVICE_MESSAGE),
      },
    ],
  };
}

/**
 * An ack whose sync request was never recorded, forwarded with what it reports. The requested action is
 * unknown, so REGISTERED → D1RE, DEREGISTERED → D1DR, and FAILED or PENDING → D1NR (state unknown, error).
 */
export function buildUncorrelatedAck(ack: AssetSyncAck): DacsAcknowledgement {
  const outcomes: DeviceOutcome[] = ack.devices.map((d) => {
    const known = d.registrationStatus === 'REGISTERED' || d.registrationStatus === 'DEREGISTERED';
    const flag: HeadEndFlag = d.registrationStatus === 'REGISTERED' ? 'D1RE' : known ? 'D1DR' : 'D1NR';
    const base = known
      ? `Head end reports ${d.registrationStatus}`
      : `Head-end registration state unknown: DERMS reported ${d.registrationStatus}`;
    const text = `${base} (no matching sync request was recorded)${d.message ? `. DERMS: ${d.message}` : ''}`;
    return { deviceId: d.deviceId, flag, isError: !known, message: truncate(text, LIMITS.DEVICE_MESSAGE) };
  });
  const record: AckRecord = {
    sequence: ack.sequence,
    ackDateTime: ack.ackDateTime,
    ackType: ack.ackType,
    errors: ack.errors,
  };
  const exceptionInfo = capExceptions([
    exception(
      EXCEPTION_NUMBERS.UNCORRELATED_ACK,
      `Acknowledgement ${ack.sequence} at ${ack.ackDateTime} has no recorded sync request ${ack.syncRequestId}; forwarded as reported`,
      [ack.syncRequestId, ack.ackDateTime, String(ack.sequence)],
    ),
    ...ackExceptions(ack.syncRequestId, record),
  ]);
  return assembleAck(ack.syncRequestId, { ackError: isAckError(record), exceptionInfo }, outcomes);
}

/**
 * Reports devices DERMS named after the consolidated ack that the request does not hold: no device line
 * changes, so only `exceptionInfo` carries them.
 */
export function buildUnknownDevicesAck(
  syncRequestId: string,
  devices: readonly UnknownDevice[],
): DacsAcknowledgement {
  return {
    syncRequestId,
    hasError: false,
    exceptionInfo: capExceptions(devices.map((d) => unknownDeviceException(syncRequestId, d))),
    deviceHeadendStatus: [],
  };
}
