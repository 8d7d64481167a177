/**
 * Opt-out → DERMS reservation cancellation. The one place that knows both shapes: a site whose
 * DERMS payload differs changes this file only.
 */
import type { OptOutNotification } from '#shared/contracts/types.ts';

export interface DeviceRef {
  headEndSystem: string;
  nicId: string;
  deviceId: string;
}

export interface ReservationCancellation {
  eventExternalIdentifier: string;
  device: DeviceRef;
  /** The DACS opt-out, as DERMS's reference. */
  optOutId: string;
  requestedDateTime: string;
  channel: OptOutNotification['channel'];
  programId: string;
  eventStartDateTime?: string;
  reason?: string;
}

export function toReservationCancellation(n: OptOutNotification): ReservationCancellation {
  return {
    eventExternalIdentifier: n.eventExternalIdentifier,
    device: { headEndSystem: n.headEndSystem, nicId: n.nicId, deviceId: n.deviceId },
    optOutId: n.optOutId,
    requestedDateTime: n.requestedDateTime,
    channel: n.channel,
    programId: n.programId,
    ...(n.eventStartDateTime ? { eventStartDateTime: n.eventStartDateTime } : {}),
    ...(n.reason ? { reason: n.reason } : {}),
  };
}
