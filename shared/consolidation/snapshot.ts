/**
 * The correlation record's items as the body builders (`ack.ts`) take them.
 */
import type { AckRecord, ConsolidationHeader, DeviceState } from './ack.ts';
import type { AckItem, DeviceItem, HeaderItem, Partition } from './items.ts';

export const deviceState = (d: DeviceItem): DeviceState => ({
  deviceId: d.deviceId,
  expected: d.expected,
  reportedStatus: d.reportedStatus,
  reportedMessage: d.reportedMessage,
});

/** An ack with its errors and unknown devices, as the bodies take it. */
export const ackRecord = (a: AckItem, partition: Pick<Partition, 'errors' | 'unknown'>): AckRecord => ({
  sequence: a.sequence,
  ackDateTime: a.ackDateTime,
  ackType: a.ackType,
  errors: partition.errors.get(a.sk),
  unknownDevices: partition.unknown.get(a.sk)?.map((u) => ({
    deviceId: u.deviceId,
    registrationStatus: u.registrationStatus,
    headEndSystem: u.headEndSystem,
    nicId: u.nicId,
  })),
});

/** The acks whose information the consolidated ack carries: those published before the freeze. */
export const publishedAcks = (partition: Partition): AckRecord[] =>
  partition.acks.filter((a) => a.infoPublishedAt !== undefined).map((a) => ackRecord(a, partition));

export const frameOf = (header: HeaderItem, trigger = header.consolidationTrigger): ConsolidationHeader => ({
  syncRequestId: header.syncRequestId,
  deadline: header.deadline,
  trigger,
  refusal: header.refusedReason,
});
