/** Shared fixtures of the consolidation integration tests: unique ids, a DACS recorder, requests and acks. */

import type { AckContext } from '#shared/consolidation/index.ts';
import type {
  AckDevice,
  AssetSyncAck,
  AssetSyncRequest,
  DacsAcknowledgement,
} from '#shared/contracts/types.ts';
import { ackDevice, assetSyncAck, assetSyncRequest, controllableDevice } from '#test/helpers/messages.ts';

let counter = 0;
/** A fresh syncRequestId (at most 14 characters) per call. */
export const newSyncRequestId = (): string =>
  `T${(Date.now() % 1e7).toString(36)}${(counter++).toString(36)}${Math.random().toString(36).slice(2, 5)}`.slice(
    0,
    14,
  );

export interface Sent {
  readonly body: DacsAcknowledgement;
  readonly key: string;
}

/** A DACS stand-in: records every call in order; `failNext` makes the next calls throw. */
export function dacs() {
  const calls: Sent[] = [];
  let failures = 0;
  const send = async (body: DacsAcknowledgement, key: string): Promise<void> => {
    if (failures > 0) {
      failures--;
      throw new Error('DACS unavailable');
    }
    calls.push({ body: structuredClone(body), key });
  };
  return {
    calls,
    send,
    failNext(times = 1) {
      failures = times;
    },
    /** The receiver's view: each key once, then each device's flag after every call in order. */
    flags(): Map<string, string> {
      const seen = new Set<string>();
      const flags = new Map<string, string>();
      for (const call of calls) {
        if (seen.has(call.key)) continue;
        seen.add(call.key);
        for (const d of call.body.deviceHeadendStatus) flags.set(d.deviceId, d.headEndRegistration);
      }
      return flags;
    },
  };
}

export function request(
  syncRequestId: string,
  devices: { id: string; action?: 'REGISTER' | 'DEREGISTER' }[],
): AssetSyncRequest {
  return assetSyncRequest({
    sendDetails: { syncRequestId },
    locationInfo: {
      controllableDevices: devices.map((d, i) =>
        controllableDevice({
          deviceId: d.id,
          registrationAction: d.action ?? 'REGISTER',
          nicId: `NIC-${i}`,
          ...(d.action === 'DEREGISTER' ? { networkAddress: undefined } : {}),
        }),
      ),
    },
  });
}

export function ack(
  syncRequestId: string,
  sequence: number,
  devices: [string, AckDevice['registrationStatus']][],
  overrides: Partial<AssetSyncAck> = {},
): AssetSyncAck {
  const minute = String(sequence % 60).padStart(2, '0');
  return {
    ...assetSyncAck({
      syncRequestId,
      sequence,
      final: false,
      ackDateTime: `2026-12-01T14:${minute}:00-08:00`,
    }),
    devices: devices.map(([deviceId, registrationStatus]) => ackDevice({ deviceId, registrationStatus })),
    ...overrides,
  };
}

export const T0 = new Date('2026-12-01T22:00:00.000Z');
export const DEADLINE = new Date('2026-12-02T22:00:00.000Z');

export function ackContext(send: AckContext['sendToDacs'], overrides: Partial<AckContext> = {}): AckContext {
  return {
    messageId: `m-${Math.random().toString(36).slice(2)}`,
    firstReceivedAt: T0,
    now: new Date(T0.getTime() + 60_000),
    uncorrelatedWindowSeconds: 300,
    lastAttempt: false,
    sendToDacs: send,
    ...overrides,
  };
}

export const ids = (n: number, prefix = 'D'): string[] =>
  Array.from({ length: n }, (_, i) => `${prefix}${i}`);
