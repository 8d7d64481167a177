/**
 * The support view of one sync request (`GET /v1/sync-requests/{id}`). No contact data.
 */
import { assembleAck, type DeviceOutcome, deviceOutcomes } from './ack.ts';
import type { HeaderItem, Partition } from './items.ts';
import { deviceState, frameOf } from './snapshot.ts';
import { readPartition } from './store.ts';
import { DELIVERY_STATES, type SyncRequestStatus } from './types.ts';

type ConsolidatedAckView = NonNullable<SyncRequestStatus['consolidatedAck']>;
type DeliveryView = ConsolidatedAckView['delivery'];

/** The consolidated ack's delivery: its state, sends tried, the last failure and the next try. */
export function deliveryView(header: HeaderItem): DeliveryView {
  const delivered = header.consolidatedDeliveredAt !== undefined;
  const state = delivered ? DELIVERY_STATES.DELIVERED : (header.deliveryState ?? DELIVERY_STATES.RETRYING);
  return {
    state,
    attempts: header.deliveryAttempts ?? (delivered ? 1 : 0),
    ...(header.deliveryLastError ? { lastError: header.deliveryLastError } : {}),
    ...(state === DELIVERY_STATES.RETRYING && header.deliveryNextAttemptAt
      ? { nextAttemptAt: header.deliveryNextAttemptAt }
      : {}),
  };
}

/** Support's resubmissions of the consolidated ack: how many, the last one's time and client id. */
export const resubmissionView = (
  header: HeaderItem,
): Pick<ConsolidatedAckView, 'resubmissions' | 'resubmittedAt' | 'resubmittedBy'> =>
  header.resubmissions
    ? {
        resubmissions: header.resubmissions,
        ...(header.resubmittedAt ? { resubmittedAt: header.resubmittedAt } : {}),
        ...(header.resubmittedBy ? { resubmittedBy: header.resubmittedBy } : {}),
      }
    : {};

/** The frozen ack as it was (or will be) sent: its lines, or what they will be where not written yet. */
function consolidatedAckView(header: HeaderItem, partition: Partition): ConsolidatedAckView {
  const missing = partition.devices.filter((d) => !partition.sent.has(d.deviceId));
  const computed = new Map(
    deviceOutcomes(frameOf(header), missing.map(deviceState)).map((o) => [o.deviceId, o]),
  );
  const outcomes: DeviceOutcome[] = partition.devices.map((d) => {
    const line = partition.sent.get(d.deviceId);
    return line
      ? { deviceId: d.deviceId, flag: line.flag, message: line.message, isError: line.isError }
      : computed.get(d.deviceId)!;
  });
  const summary = header.consolidatedSummary ?? { ackError: false, exceptionInfo: [] };
  return {
    ...(header.consolidatedDeliveredAt ? { sentAt: header.consolidatedDeliveredAt } : {}),
    ...(header.consolidatedAt ? { frozenAt: header.consolidatedAt } : {}),
    ...(header.consolidationTrigger ? { trigger: header.consolidationTrigger } : {}),
    acknowledgement: assembleAck(header.syncRequestId, summary, outcomes),
    delivery: deliveryView(header),
    ...resubmissionView(header),
  };
}

const devicesView = (partition: Partition, delivered: boolean): SyncRequestStatus['devices'] =>
  partition.devices.map((d) => {
    // What DACS accepted: its last delivered follow-up, else its consolidated line once delivered.
    const told = d.toldFlag ?? (delivered ? partition.sent.get(d.deviceId)?.flag : undefined);
    return {
      deviceId: d.deviceId,
      expected: d.expected,
      headEndSystem: d.headEndSystem,
      nicId: d.nicId,
      ...(d.reportedStatus ? { reportedStatus: d.reportedStatus } : {}),
      ...(d.reportedAt ? { reportedAt: d.reportedAt } : {}),
      ...(d.reportedMessage ? { message: d.reportedMessage } : {}),
      ...(told ? { headEndRegistration: told } : {}),
    };
  });

const acksView = (partition: Partition): SyncRequestStatus['acks'] =>
  [...partition.acks]
    .sort((a, b) => a.ackAtMs - b.ackAtMs || a.sequence - b.sequence)
    .map((a) => {
      const errors = partition.errors.get(a.sk);
      return {
        messageId: a.messageId,
        sequence: a.sequence,
        ackType: a.ackType,
        ackDateTime: a.ackDateTime,
        final: a.final,
        receivedAt: a.receivedAt,
        deviceCount: a.deviceCount,
        ...(errors?.length ? { errors } : {}),
        ...(a.unknownCount ? { unknownDeviceCount: a.unknownCount } : {}),
      };
    });

/** The support view of one sync request, or `undefined` when it has no record. */
export async function getSyncRequestStatus(syncRequestId: string): Promise<SyncRequestStatus | undefined> {
  const partition = await readPartition(syncRequestId);
  const { header } = partition;
  if (!header) return undefined;
  const status: SyncRequestStatus = {
    syncRequestId,
    reason: header.reason as SyncRequestStatus['reason'],
    messageId: header.messageId,
    receivedAt: header.receivedAt,
    deadline: header.deadline,
    ...(header.refusedAt
      ? { enrollmentRefused: { at: header.refusedAt, reason: header.refusedReason ?? '' } }
      : {}),
    devices: devicesView(partition, header.consolidatedDeliveredAt !== undefined),
    acks: acksView(partition),
  };
  if (header.consolidatedAt !== undefined) status.consolidatedAck = consolidatedAckView(header, partition);
  if (partition.followUps.length > 0) {
    status.followUps = [...partition.followUps]
      .sort((a, b) => a.sentAt.localeCompare(b.sentAt) || a.sk.localeCompare(b.sk))
      .map((f) => ({ sentAt: f.sentAt, acknowledgement: f.acknowledgement }));
  }
  return status;
}
