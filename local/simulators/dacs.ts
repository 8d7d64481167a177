/**
 * The DACS simulator (port 3002). It answers both acknowledgement routes and keeps each device's
 * head-end registration flag from `deviceHeadendStatus`, readable at `GET /sim/devices/{deviceId}`.
 * A repeat of an acknowledgement whose `Idempotency-Key` was already applied is answered as the first
 * was and changes no flag (core.ts), as DACS drops it.
 */

import { createSimulator, type SimCall, type Simulator } from '#local/simulators/core.ts';
import { FLOWS } from '#shared/flows/registry.ts';

export const DACS_ROUTES = {
  ack: FLOWS.assetSyncAck.target.defaultPath,
  legacyAck: FLOWS.legacyAck.target.defaultPath,
} as const;

export interface DeviceFlag {
  readonly deviceId: string;
  readonly headEndRegistration: string;
  readonly updatedAt: string;
}

export interface DacsSimulatorOptions {
  /** Paths to answer besides the contract defaults (when `DACS_ACK_PATH` or `DACS_LEGACY_ACK_PATH` is set). */
  readonly ackPath?: string;
  readonly legacyAckPath?: string;
  readonly log?: (line: string) => void;
}

export interface DacsSimulator extends Simulator {
  readonly devices: Map<string, DeviceFlag>;
}

/** Applies a DACS acknowledgement's `deviceHeadendStatus` to the device flags. */
export function applyAcknowledgement(
  devices: Map<string, DeviceFlag>,
  body: unknown,
  now = new Date(),
): void {
  const statuses = (body as { deviceHeadendStatus?: unknown } | null)?.deviceHeadendStatus;
  if (!Array.isArray(statuses)) return;
  for (const status of statuses) {
    const { deviceId, headEndRegistration } = (status ?? {}) as Record<string, unknown>;
    if (typeof deviceId === 'string' && typeof headEndRegistration === 'string') {
      devices.set(deviceId, { deviceId, headEndRegistration, updatedAt: now.toISOString() });
    }
  }
}

export function createDacsSimulator(options: DacsSimulatorOptions = {}): DacsSimulator {
  const devices = new Map<string, DeviceFlag>();
  const ack = (call: SimCall) => {
    applyAcknowledgement(devices, call.body);
    return { status: 200, body: { status: 'OK' } };
  };
  const legacy = () => ({ status: 200, body: { status: 'OK' } });
  const routes: Record<string, (call: SimCall) => { status: number; body?: unknown }> = {
    [DACS_ROUTES.ack]: ack,
    [DACS_ROUTES.legacyAck]: legacy,
  };
  if (options.ackPath) routes[options.ackPath] = ack;
  if (options.legacyAckPath) routes[options.legacyAckPath] = legacy;

  const simulator = createSimulator({
    name: 'DACS',
    actions: ['status', 'delay', 'reset'],
    routes,
    control: (method, url) => {
      const match = /^\/sim\/devices\/([^/]+)$/.exec(url.pathname);
      if (match?.[1] && method === 'GET') {
        const device = devices.get(decodeURIComponent(match[1]));
        return device
          ? { status: 200, body: device }
          : { status: 404, body: { error: `no head-end registration flag for ${match[1]}` } };
      }
      if (url.pathname === '/sim/devices' && method === 'GET')
        return { status: 200, body: [...devices.values()] };
      if (url.pathname === '/sim/devices' && method === 'DELETE') {
        devices.clear();
        return { status: 204 };
      }
      return undefined;
    },
    ...(options.log ? { log: options.log } : {}),
  });
  return { ...simulator, devices };
}
