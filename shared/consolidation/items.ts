/**
 * The correlation record in DynamoDB: keys and item shapes. One partition per sync request
 * (`pk = SYNC#<syncRequestId>`):
 *
 *   sk = HEADER                      request summary, deviceCount, terminalCount, deadline, infoVersion,
 *                                    gsi1pk/gsi1sk (PENDING until delivered; DEAD_LETTERED while refused),
 *                                    an enrollment refusal, support's resubmissions of a refused one,
 *                                    and once frozen: consolidatedAt/By, consolidationTrigger,
 *                                    consolidatedSummary (bounded), consolidatedDeliveredAt, delivery*
 *   sk = DEVICE#<deviceId>           index (request order), expected, reported status + version,
 *                                    gsi2pk/gsi2sk (the byDevice index: deviceId, receivedAt#syncRequestId)
 *                                    (reportedAtMs, ackSequence); follow-ups: toldFlag (what DACS accepted),
 *                                    the lease (lease*), followUpSeq, the last refusal (refused*)
 *   sk = ACK#<ackDateTime>#<seq>     each ack received: type, final, counts, appliedAt, infoPublishedAt or
 *                                    lateInfo (+ its lease and lateInfoSentAt / lateInfoRefusedAt)
 *   sk = ERROR#<ackDateTime>#<seq>#<n>      one per error of an ack
 *   sk = UNKNOWN#<ackDateTime>#<seq>#<id>   one per device an ack named that the request does not hold
 *   sk = SENT#<deviceId>             the device's line of the consolidated ack, written by its owner
 *   sk = FOLLOWUP#<deviceId>#<n>     each follow-up DACS accepted, with its body
 *   sk = FOLLOWUP#ACK#…              the late-information follow-up of an ack, with its body
 *
 * Every item is bounded, so none comes near the 400 KB item limit whatever the request or its acks hold:
 * the consolidated body of 10,000 devices (0.7 MB with short messages, up to 20 MB with DERMS' messages)
 * lives in SENT# lines, an ack's errors and unknown devices in items of their own, and the header keeps
 * only the bounded part (hasError inputs, exceptionInfo within MAX_EXCEPTION_INFO_BYTES).
 */
import { requireString } from '#shared/config/env.ts';
import { CORRELATION_TABLE } from '#shared/store/tables.ts';
import type { AckSummary } from './ack.ts';
import { retentionDays } from './context.ts';
import type {
  AckError,
  AckType,
  ConsolidationTrigger,
  DacsAcknowledgement,
  DeliveryState,
  HeadEndFlag,
  RegistrationAction,
  RegistrationStatus,
} from './types.ts';

export const SK = {
  HEADER: 'HEADER',
  DEVICE: 'DEVICE#',
  ACK: 'ACK#',
  ERROR: 'ERROR#',
  UNKNOWN: 'UNKNOWN#',
  SENT: 'SENT#',
  FOLLOWUP: 'FOLLOWUP#',
} as const;

export interface Key {
  pk: string;
  sk: string;
}

export const pkOf = (syncRequestId: string): string => `SYNC#${syncRequestId}`;
export const syncRequestIdOf = (pk: string): string => pk.slice('SYNC#'.length);
export const headerKey = (syncRequestId: string): Key => ({ pk: pkOf(syncRequestId), sk: SK.HEADER });
export const deviceKey = (syncRequestId: string, deviceId: string): Key => ({
  pk: pkOf(syncRequestId),
  sk: `${SK.DEVICE}${deviceId}`,
});
export const sentKey = (syncRequestId: string, deviceId: string): Key => ({
  pk: pkOf(syncRequestId),
  sk: `${SK.SENT}${deviceId}`,
});
export const ackSk = (ackDateTime: string, sequence: number): string => `${SK.ACK}${ackDateTime}#${sequence}`;
export const ackKey = (syncRequestId: string, sk: string): Key => ({ pk: pkOf(syncRequestId), sk });
/** The part of an ack's sort key after `ACK#`, which names its ERROR# and UNKNOWN# items. */
const ackPart = (ackSortKey: string): string => ackSortKey.slice(SK.ACK.length);
export const errorSk = (ackSortKey: string, index: number): string =>
  `${SK.ERROR}${ackPart(ackSortKey)}#${String(index).padStart(4, '0')}`;
export const unknownSk = (ackSortKey: string, deviceId: string): string =>
  `${SK.UNKNOWN}${ackPart(ackSortKey)}#${deviceId}`;
export const followUpSk = (deviceId: string, seq: number): string =>
  `${SK.FOLLOWUP}${deviceId}#${String(seq).padStart(6, '0')}`;
/** Device ids are at most 12 characters, so this never meets a device's follow-up. */
export const lateInfoSk = (ackSortKey: string): string => `${SK.FOLLOWUP}${ackSortKey}`;

interface Keys extends Key {
  expiresAt: number;
}

export interface HeaderItem extends Keys {
  syncRequestId: string;
  reason: string;
  sentDateTime: string;
  messageId: string;
  receivedAt: string;
  deadline: string;
  deviceCount: number;
  terminalCount: number;
  /** Acks whose information (errors, unknown devices, non-SUCCESS type) was published before the freeze. */
  infoVersion?: number;
  gsi1pk?: string;
  gsi1sk?: string;
  /** DERMS refused the enrollment sync (its answer, trimmed): consolidated at once with trigger DERMS_REFUSED. */
  refusedReason?: string;
  refusedAt?: string;
  consolidatedAt?: string;
  consolidatedBy?: string;
  consolidationTrigger?: ConsolidationTrigger;
  consolidatedSummary?: AckSummary;
  consolidatedDeliveredAt?: string;
  /** Delivery of the consolidated ack: state, sends tried (every owner), last failure, next try. */
  deliveryState?: DeliveryState;
  deliveryAttempts?: number;
  deliveryLastError?: string;
  deliveryNextAttemptAt?: string;
  /** Times support resubmitted the DEAD_LETTERED consolidated ack, the last time, and who (client id). */
  resubmissions?: number;
  resubmittedAt?: string;
  resubmittedBy?: string;
  /** Sequence of the first final ack received; consolidation waits for the acks before it. */
  finalSequence?: number;
}

export interface DeviceItem extends Keys {
  /** The `byDevice` index: deviceId, and `<request receivedAt>#<syncRequestId>`. */
  gsi2pk?: string;
  gsi2sk?: string;
  deviceId: string;
  index: number;
  expected: RegistrationAction;
  headEndSystem: string;
  nicId: string;
  reportedStatus?: RegistrationStatus;
  reportedMessage?: string;
  reportedAt?: string;
  reportedAtMs?: number;
  ackSequence?: number;
  reportedBy?: string;
  /** The flag DACS accepted (2xx) in this device's last follow-up; absent: its consolidated line. */
  toldFlag?: HeadEndFlag;
  toldAt?: string;
  /** Follow-ups claimed so far: the version of the follow-up state (leases taken, takeovers included). */
  followUpSeq?: number;
  /**
   * The number in the key of the follow-up in flight: a fresh claim's seq, or, for a lease taken over
   * from a holder that died, that holder's (its send may have reached DACS; the same key makes it once).
   */
  leaseKey?: number;
  /** The follow-up in flight: who holds it, what it sends, and until when the lease holds. */
  leaseBy?: string;
  leaseFlag?: HeadEndFlag;
  leaseMessage?: string;
  leaseUntil?: string;
  /** The last follow-up DACS refused (dead-lettered): for which report, by whom, and why. */
  refusedFlag?: HeadEndFlag;
  refusedBy?: string;
  refusedReport?: string;
  refusedError?: string;
}

export interface AckItem extends Keys {
  messageId: string;
  receivedAt: string;
  sequence: number;
  ackDateTime: string;
  ackAtMs: number;
  ackType: AckType;
  final: boolean;
  deviceCount: number;
  /** How many ERROR# items it has. */
  errorCount?: number;
  /** How many UNKNOWN# items it has, set once they are written. */
  unknownCount?: number;
  /** Set once every report of this ack is stored. */
  appliedAt?: string;
  /** Its information was published before the freeze: the consolidated ack carries it. */
  infoPublishedAt?: string;
  /** Its information came after the freeze: it goes to DACS as a follow-up of its own. */
  lateInfo?: boolean;
  leaseBy?: string;
  leaseUntil?: string;
  lateInfoSentAt?: string;
  lateInfoRefusedAt?: string;
  lateInfoRefusedError?: string;
}

export interface ErrorItem extends Keys {
  ackSk: string;
  index: number;
  code: string;
  message: string;
}

export interface UnknownItem extends Keys {
  ackSk: string;
  deviceId: string;
  registrationStatus: RegistrationStatus;
  headEndSystem?: string;
  nicId?: string;
}

export interface SentItem extends Keys {
  deviceId: string;
  index: number;
  flag: HeadEndFlag;
  message: string;
  isError: boolean;
}

export interface FollowUpItem extends Keys {
  /** The device, or the ack (its sort key) for a late-information follow-up. */
  deviceId?: string;
  ackSk?: string;
  seq?: number;
  flag?: HeadEndFlag;
  sentAt: string;
  acknowledgement: DacsAcknowledgement;
}

/** Every item of one partition, split by kind; devices in request order, errors in ack order. */
export interface Partition {
  header?: HeaderItem;
  devices: DeviceItem[];
  acks: AckItem[];
  /** By ack sort key. */
  errors: Map<string, AckError[]>;
  unknown: Map<string, UnknownItem[]>;
  sent: Map<string, SentItem>;
  followUps: FollowUpItem[];
}

let table: string | undefined;
/** The correlation table name, read once (lazily, so tests can set the environment first). */
export function tableName(): string {
  table ??= requireString(CORRELATION_TABLE.nameEnv);
  return table;
}

/** TTL attribute value: `from` plus RETENTION_DAYS, in epoch seconds. */
export function expiresAt(from: Date): number {
  const days = retentionDays();
  return Math.floor(from.getTime() / 1000) + Math.round(days * 86_400);
}
