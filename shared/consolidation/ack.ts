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
  /**
   * DERMS refused the enrollment sync for good, or it could not be delivered within the retry window;
   * every device is reported without status. Parameters: DERMS's answer (or the failure), trimmed.
   */
  DERMS_REFUSED: 1005,
  /** Entries left out to keep exceptionInfo within its bounds. Parameters: how many. */
  TRUNCATED: 1099,
} as const;
export type ExceptionNumber = (typeof EXCEPTION_NUMBERS)[keyof typeof EXCEPTION_NUMBERS];

/** At most this many `exceptionInfo` entries, the truncation entry included. */
export const MAX_EXCEPTIONS = 500;

/**
 * At most this many bytes of `exceptionInfo` (its JSON, UTF-8), the truncation entry included. Each
 * entry is within DACS's field limits (comments 254 characters, each parameter 2,000), so one entry is
 * at most ~7 KB; 64 KiB keeps every body small for DACS and the frozen summary on the header far below
 * DynamoDB's 400 KB item limit, whatever an ack holds (10,000 unknown devices, 1,000 errors of 2,000
 * characters).
 */
export const MAX_EXCEPTION_INFO_BYTES = 64 * 1024;

export interface ConsolidationHeader {
  readonly syncRequestId: string;
  /** UTC ISO. */
  readonly deadline: string;
  readonly trigger?: ConsolidationTrigger | undefined;
  /** DERMS's answer when it refused the enrollment sync (trigger DERMS_REFUSED). */
  readonly refusal?: string | undefined;
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

const bytesOf = (value: unknown): number => Buffer.byteLength(JSON.stringify(value));

/** The bytes `entries` take as a JSON array, as the budget counts them. */
export const exceptionInfoBytes = (entries: readonly ExceptionInfo[]): number => bytesOf(entries);

const truncation = (omitted: number): ExceptionInfo =>
  exception(EXCEPTION_NUMBERS.TRUNCATED, `${omitted} more exceptions omitted`, [String(omitted)]);

/** Entries kept whatever the bounds: `first` before the others, `last` after them. */
export interface PinnedExceptions {
  readonly first?: readonly ExceptionInfo[];
  readonly last?: readonly ExceptionInfo[];
}

/**
 * Bounds exceptionInfo to {@link MAX_EXCEPTIONS} entries and {@link MAX_EXCEPTION_INFO_BYTES} bytes:
 * `entries` are kept in order while they fit, pinned ones (the deadline, refusal or uncorrelated entry)
 * always, and when any is left out a truncation entry (1099) at the end counts them.
 */
export function capExceptions(
  entries: readonly ExceptionInfo[],
  { first = [], last = [] }: PinnedExceptions = {},
): ExceptionInfo[] {
  const pinned = [...first, ...last];
  // Room for the pinned entries and a truncation entry is kept whether or not one is needed.
  let used = bytesOf([...pinned, truncation(MAX_EXCEPTIONS * 1000)]);
  const room = MAX_EXCEPTIONS - pinned.length - 1;
  const kept: ExceptionInfo[] = [];
  for (const entry of entries) {
    const size = bytesOf(entry) + 1;
    if (kept.length >= room || used + size > MAX_EXCEPTION_INFO_BYTES) break;
    kept.push(entry);
    used += size;
  }
  const omitted = entries.length - kept.length;
  const capped = [...first, ...kept, ...last];
  return omitted > 0 ? [...capped, truncation(omitted)] : capped;
}

/** The flag and message of each device, in the order given. */
export function deviceOutcomes(
  header: ConsolidationHeader,
  devices: readonly DeviceState[],
): DeviceOutcome[] {
  const finalAck = header.trigger === 'FINAL_ACK';
  const refusal = header.trigger === 'DERMS_REFUSED' ? (header.refusal ?? '') : undefined;
  return devices.map((d) => ({
    deviceId: d.deviceId,
    ...assessDevice(d.expected, d.reportedStatus, {
      deadline: header.deadline,
      reportedMessage: d.reportedMessage,
      finalAck,
      refusal,
    }),
  }));
}

/** The exceptions of the acks given, in ack order: their own errors, then each unknown device once. */
function acksExceptions(syncRequestId: string, ordered: readonly AckRecord[]): ExceptionInfo[] {
  const entries: ExceptionInfo[] = [];
  for (const ack of ordered) entries.push(...ackExceptions(syncRequestId, ack));
  const seen = new Set<string>();
  for (const ack of ordered) {
    for (const device of ack.unknownDevices ?? []) {
      if (seen.has(device.deviceId)) continue;
      seen.add(device.deviceId);
      entries.push(unknownDeviceException(syncRequestId, device));
    }
  }
  return entries;
}

/** The entry that explains devices without status: DERMS's refusal, or the deadline. Never truncated. */
function missingStatusException(
  header: ConsolidationHeader,
  devices: readonly DeviceState[],
): ExceptionInfo | undefined {
  if (header.trigger === 'DERMS_REFUSED') {
    const answer = header.refusal ?? '';
    return exception(
      EXCEPTION_NUMBERS.DERMS_REFUSED,
      `DERMS refused the enrollment sync ${header.syncRequestId}: ${answer}`,
      [answer],
    );
  }
  const missing = devices.filter(
    (d) => d.reportedStatus === undefined || d.reportedStatus === 'PENDING',
  ).length;
  if (missing === 0) return undefined;
  return exception(
    EXCEPTION_NUMBERS.DEADLINE,
    `${missing} of ${devices.length} devices had no head-end status at consolidation (deadline ${header.deadline})`,
    [String(missing), header.deadline],
  );
}

/**
 * Everything but the device lines: ack errors, unknown devices, and devices without status (by the
 * deadline, or because DERMS refused the sync). Bounded by {@link capExceptions}.
 */
export function summarize(
  header: ConsolidationHeader,
  devices: readonly DeviceState[],
  acks: readonly AckRecord[],
): AckSummary {
  const ordered = [...acks].sort(ackOrder);
  const pinned = missingStatusException(header, devices);
  return {
    ackError: ordered.some(isAckError),
    exceptionInfo: capExceptions(acksExceptions(header.syncRequestId, ordered), {
      last: pinned ? [pinned] : [],
    }),
  };
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
  const exceptionInfo = capExceptions(ackExceptions(ack.syncRequestId, record), {
    first: [
      exception(
        EXCEPTION_NUMBERS.UNCORRELATED_ACK,
        `Acknowledgement ${ack.sequence} at ${ack.ackDateTime} has no recorded sync request ${ack.syncRequestId}; forwarded as reported`,
        [ack.syncRequestId, ack.ackDateTime, String(ack.sequence)],
      ),
    ],
  });
  return assembleAck(ack.syncRequestId, { ackError: isAckError(record), exceptionInfo }, outcomes);
}

/** Whether an ack carries anything for exceptionInfo: a non-SUCCESS type, errors, or unknown devices. */
export function hasAckInfo(ack: AckRecord): boolean {
  return isAckError(ack) || (ack.unknownDevices?.length ?? 0) > 0;
}

/**
 * The information of an ack that arrived after the consolidated ack was frozen: its errors (or its
 * non-SUCCESS type) and the devices it named that the request does not hold. No device line changes, so
 * only `exceptionInfo` carries them, and `hasError` is true: DACS is told something went wrong.
 */
export function buildLateInfoAck(syncRequestId: string, ack: AckRecord): DacsAcknowledgement {
  return {
    syncRequestId,
    hasError: true,
    exceptionInfo: capExceptions(acksExceptions(syncRequestId, [ack])),
    deviceHeadendStatus: [],
  };
}
