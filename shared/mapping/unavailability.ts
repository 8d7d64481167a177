/**
 * Unavailability → DERMS exemption window. `comments` is free text typed by a contact-centre agent
 * and may hold customer details, so it is not forwarded.
 */
import type { UnavailabilityNotification } from '#shared/contracts/types.ts';
import type { DeviceRef } from '#shared/mapping/optOut.ts';

export interface ExemptionWindow {
  unavailabilityId: string;
  action: UnavailabilityNotification['action'];
  updatedDateTime: string;
  device: DeviceRef;
  /** Absent on CANCEL. */
  startDateTime?: string;
  endDateTime?: string;
  reason?: string;
  programId?: string;
}

export function toExemptionWindow(n: UnavailabilityNotification): ExemptionWindow {
  const window = n.action !== 'CANCEL' && n.startDateTime && n.endDateTime;
  return {
    unavailabilityId: n.unavailabilityId,
    action: n.action,
    updatedDateTime: n.updatedDateTime,
    device: { headEndSystem: n.headEndSystem, nicId: n.nicId, deviceId: n.deviceId },
    ...(window ? { startDateTime: n.startDateTime, endDateTime: n.endDateTime } : {}),
    ...(n.reason ? { reason: n.reason } : {}),
    ...(n.programId ? { programId: n.programId } : {}),
  };
}
