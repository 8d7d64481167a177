/** Shared fixtures of the consolidation integration tests: unique ids, a DACS recorder, requests and acks. */

import type { AckContext, DeadlineContext, DecideFailure } from '#shared/consolidation/index.ts';
import type {
  AckDevice,
  AssetSyncAck,
  AssetSyncRequest,
  DacsAcknowledgement,
} from '#shared/contracts/types.ts';
import { DeliveryError } from '#shared/errors.ts';
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

/** DACS answering 503 (retryable), optionally with Retry-After, or a permanent 4xx. */
export const dacsDown = (retryAfterSeconds?: number): DeliveryError =>
  new DeliveryError('DACS answered 503', {
    retryable: true,
    statusCode: 503,
    ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
  });
export const dacsRefuses = (status = 422, body = '{"error":"refused"}'): DeliveryError =>
  new DeliveryError(`DACS answered ${status}`, { retryable: false, statusCode: status, responseBody: body });

/**
 * The process handler's decision as the processors see it (`ProcessContext.failureDecision`): a permanent
 * DeliveryError dead-letters, anything else is retried after its Retry-After (or 2 s) from `now`.
 */
export function decide(now: Date, attempts = 1): DecideFailure {
  return (error) => {
    const reason = error instanceof Error ? error.message : String(error);
    if (error instanceof DeliveryError && !error.retryable) {
      return { action: 'dead-letter', reason, attempts, permanent: true };
    }
    const delay = error instanceof DeliveryError ? (error.retryAfterSeconds ?? 2) : 2;
    return {
      action: 'retry',
      reason,
      attempts,
      permanent: false,
      nextAttemptAt: new Date(now.getTime() + delay * 1000),
    };
  };
}

/** A DACS stand-in: records every call in order; `failNext` makes the next calls throw (a 503 by default). */
export function dacs() {
  const calls: Sent[] = [];
  const failures: Error[] = [];
  const send = async (body: DacsAcknowledgement, key: string): Promise<void> => {
    const failure = failures.shift();
    if (failure) throw failure;
    calls.push({ body: structuredClone(body), key });
  };
  return {
    calls,
    send,
    failNext(times = 1, error: Error = new Error('DACS unavailable')) {
      for (let i = 0; i < times; i++) failures.push(error);
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
  const now = overrides.now ?? new Date(T0.getTime() + 60_000);
  return {
    messageId: `m-${Math.random().toString(36).slice(2)}`,
    firstReceivedAt: T0,
    now,
    uncorrelatedWindowSeconds: 300,
    lastAttempt: false,
    sendToDacs: send,
    failureDecision: decide(now),
    ...overrides,
  };
}

/** A deadline command's context. */
export function deadlineContext(
  messageId: string,
  now: Date,
  send: DeadlineContext['sendToDacs'],
  overrides: Partial<DeadlineContext> = {},
): DeadlineContext {
  return { messageId, now, sendToDacs: send, failureDecision: decide(now), ...overrides };
}

export const ids = (n: number, prefix = 'D'): string[] =>
  Array.from({ length: n }, (_, i) => `${prefix}${i}`);
