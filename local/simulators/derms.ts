/**
 * The Edge DERMS simulator (port 3001). It answers the three DERMS routes and, like Live Energy Connect,
 * acknowledges every enrollment sync asynchronously through the integration's own ack route: one
 * partial ack per chunk of devices (sequence 1..n, `final: false`), then a final ack with no devices
 * (`final: true`). Every device is REGISTERED or DEREGISTERED as its `registrationAction` asked.
 *
 * Local extension of the control API: the fault action `headEndFail` with `match.deviceId` makes that
 * device report FAILED (with the rule's `message`, if any), to play a head-end failure.
 * `silent` accepts and records an enrollment sync but never acknowledges it.
 *
 * A repeat of an enrollment sync, opt-out or unavailability whose `Idempotency-Key` was already applied
 * is answered as the first was and not applied again (core.ts): in particular, no second round of acks.
 */
import { createSimulator, type SimCall, type Simulator } from '#local/simulators/core.ts';
import { FLOWS } from '#shared/flows/registry.ts';
import { sleep } from '#shared/time.ts';

/** The DERMS routes the integration calls: the registry's default paths. */
export const DERMS_ROUTES = {
  enrollmentSync: FLOWS.assetSync.target.defaultPath,
  optOuts: FLOWS.optOut.target.defaultPath,
  unavailability: FLOWS.unavailability.target.defaultPath,
} as const;
export type DermsRoute = keyof typeof DERMS_ROUTES;

export interface DermsSimulatorOptions {
  /** The integration's ack route. @default 'http://127.0.0.1:3000/v1/derms/asset-sync-acks' */
  readonly ackUrl?: string;
  /** The integration's token endpoint. @default 'http://127.0.0.1:3000/oauth2/token' */
  readonly tokenUrl?: string;
  /** @default 'derms-local' */
  readonly clientId?: string;
  /** @default 'local-secret' */
  readonly clientSecret?: string;
  /** Devices per partial ack (at least enough for {@link MAX_PARTIAL_ACKS} partial acks). @default 2 */
  readonly ackChunkSize?: number;
  /** Wait before the first ack, and between acks. @default 300 */
  readonly ackDelayMs?: number;
  /** Attempts per ack while the integration is unreachable or answers 429/5xx. @default 30 */
  readonly ackAttempts?: number;
  /** Paths overridden like the integration's (`DERMS_*_PATH`). @default DERMS_ROUTES */
  readonly paths?: Partial<Record<DermsRoute, string>>;
  readonly log?: (line: string) => void;
}

interface SyncDevice {
  readonly deviceId: string;
  readonly headEndSystem: string;
  readonly nicId: string;
  readonly registrationAction: string;
}

/** The devices of an enrollment sync, wherever the mapping put them. */
export function enrollmentDevices(body: unknown): SyncDevice[] {
  const b = (body ?? {}) as {
    locationInfo?: { controllableDevices?: unknown };
    devices?: unknown;
    controllableDevices?: unknown;
  };
  const list = b.locationInfo?.controllableDevices ?? b.devices ?? b.controllableDevices;
  if (!Array.isArray(list)) return [];
  return list
    .filter(
      (d): d is Record<string, unknown> => !!d && typeof d === 'object' && typeof d.deviceId === 'string',
    )
    .map((d) => ({
      deviceId: d.deviceId as string,
      headEndSystem: String(d.headEndSystem ?? d.headEnd ?? 'UNKNOWN'),
      nicId: String(d.nicId ?? d.nic ?? 'UNKNOWN'),
      registrationAction: String(d.registrationAction ?? d.action ?? 'REGISTER'),
    }));
}

export interface PlannedAck {
  readonly syncRequestId: string;
  readonly ackType: 'SUCCESS' | 'ERROR';
  readonly sequence: number;
  readonly final: boolean;
  readonly devices: {
    deviceId: string;
    headEndSystem: string;
    nicId: string;
    registrationStatus: 'REGISTERED' | 'DEREGISTERED' | 'FAILED';
    message?: string;
  }[];
}

/** The most partial acks the simulator sends for one enrollment sync, before its final one. */
export const MAX_PARTIAL_ACKS = 8;

/** The acks DERMS sends for one enrollment sync (without `ackDateTime`, stamped when sent). */
export function planAcks(
  syncRequestId: string,
  devices: readonly SyncDevice[],
  failed: ReadonlyMap<string, string>,
  chunkSize: number,
): PlannedAck[] {
  const results = devices.map((d) => {
    const failure = failed.get(d.deviceId);
    const base = { deviceId: d.deviceId, headEndSystem: d.headEndSystem, nicId: d.nicId };
    if (failure !== undefined) return { ...base, registrationStatus: 'FAILED' as const, message: failure };
    return {
      ...base,
      registrationStatus:
        d.registrationAction === 'DEREGISTER' ? ('DEREGISTERED' as const) : ('REGISTERED' as const),
    };
  });
  const acks: PlannedAck[] = [];
  // Large requests are reported in at most MAX_PARTIAL_ACKS partial acks, as Live Energy Connect batches
  // them; a 10,000-device sync must not become 5,000 HTTP calls.
  const size = Math.max(1, chunkSize, Math.ceil(results.length / MAX_PARTIAL_ACKS));
  for (let i = 0; i < results.length; i += size) {
    const chunk = results.slice(i, i + size);
    acks.push({
      syncRequestId,
      ackType: chunk.some((d) => d.registrationStatus === 'FAILED') ? 'ERROR' : 'SUCCESS',
      sequence: acks.length + 1,
      final: false,
      devices: chunk,
    });
  }
  acks.push({
    syncRequestId,
    ackType: results.some((d) => d.registrationStatus === 'FAILED') ? 'ERROR' : 'SUCCESS',
    sequence: acks.length + 1,
    final: true,
    devices: [],
  });
  return acks;
}

export interface DermsSimulator extends Simulator {
  /** The acks sent, with the integration's answer. */
  readonly acksSent: { ack: unknown; status: number | null; answer: unknown }[];
}

export function createDermsSimulator(options: DermsSimulatorOptions = {}): DermsSimulator {
  const sender = ackSender(options);
  const routes = { ...DERMS_ROUTES, ...options.paths };
  const simulator = createSimulator({
    name: 'DERMS',
    actions: ['status', 'delay', 'reset', 'silent', 'headEndFail'],
    routes: {
      [routes.enrollmentSync]: () => ({ status: 202, body: { status: 'ACCEPTED' } }),
      [routes.optOuts]: () => ({ status: 200, body: { status: 'RESERVATION_CANCELLED' } }),
      [routes.unavailability]: () => ({ status: 200, body: { status: 'APPLIED' } }),
    },
    control: (method, url) =>
      method === 'GET' && url.pathname === '/sim/acks' ? { status: 200, body: sender.acksSent } : undefined,
    afterAnswer: (call) => {
      // A redelivery of an applied sync (same Idempotency-Key) never gets here: it is acknowledged once.
      if (call.path !== routes.enrollmentSync || call.decision.silent) return;
      acknowledge(sender, call).catch((error: unknown) =>
        sender.log(`[derms] ack failed: ${(error as Error).message}`),
      );
    },
    log: sender.log,
  });
  return {
    ...simulator,
    acksSent: sender.acksSent,
    close: async () => {
      sender.closed = true;
      await simulator.close();
    },
  };
}

/** What sending acks to the integration needs: the options with their defaults, and what it keeps. */
interface AckSender {
  readonly ackUrl: string;
  readonly tokenUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly chunkSize: number;
  readonly delayMs: number;
  readonly attempts: number;
  readonly log: (line: string) => void;
  readonly acksSent: DermsSimulator['acksSent'];
  /** The integration's access token, until a minute before it expires. */
  token: { value: string; until: number } | undefined;
  /** Set when the simulator closes: no more acks, no more attempts. */
  closed: boolean;
}

function ackSender(options: DermsSimulatorOptions): AckSender {
  return {
    ackUrl: options.ackUrl ?? 'http://127.0.0.1:3000/v1/derms/asset-sync-acks',
    tokenUrl: options.tokenUrl ?? 'http://127.0.0.1:3000/oauth2/token',
    clientId: options.clientId ?? 'derms-local',
    clientSecret: options.clientSecret ?? 'local-secret',
    chunkSize: options.ackChunkSize ?? 2,
    delayMs: options.ackDelayMs ?? 300,
    attempts: options.ackAttempts ?? 30,
    log: options.log ?? (() => {}),
    acksSent: [],
    token: undefined,
    closed: false,
  };
}

/** Sends the acks of an enrollment sync one after the other, `delayMs` before each. */
async function acknowledge(sender: AckSender, call: SimCall): Promise<void> {
  const body = call.body as Record<string, unknown> & { sendDetails?: { syncRequestId?: string } };
  const syncRequestId = (body?.syncRequestId ?? body?.dacsMessageId ?? body?.sendDetails?.syncRequestId) as
    | string
    | undefined;
  if (!syncRequestId) {
    sender.log('[derms] enrollment sync without syncRequestId: not acknowledged');
    return;
  }
  const devices = enrollmentDevices(call.body);
  const acks = planAcks(syncRequestId, devices, call.decision.failedDevices, sender.chunkSize);
  for (const ack of acks) {
    await sleep(sender.delayMs);
    if (sender.closed) return;
    await postAck(sender, ack);
  }
}

/** Posts one ack, retrying with backoff while the integration is down or answers 401, 429 or 5xx. */
async function postAck(sender: AckSender, ack: PlannedAck): Promise<void> {
  const body = { ...ack, ackDateTime: new Date().toISOString() };
  for (let attempt = 1; attempt <= sender.attempts && !sender.closed; attempt++) {
    if (await tryPostAck(sender, ack, body)) return;
    await sleep(Math.min(5000, 250 * 2 ** Math.min(attempt, 5)));
  }
  sender.acksSent.push({ ack: body, status: null, answer: 'gave up' });
  sender.log(`[derms] gave up on ack ${ack.syncRequestId}#${ack.sequence}`);
}

/** One attempt; true when the integration's answer is final (accepted or refused), false to retry. */
async function tryPostAck(sender: AckSender, ack: PlannedAck, body: unknown): Promise<boolean> {
  try {
    const response = await fetch(sender.ackUrl, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${await accessToken(sender)}` },
      body: JSON.stringify(body),
    });
    const answer = await response.json().catch(() => null);
    if (response.status === 401) sender.token = undefined;
    if (response.status >= 500 || response.status === 429 || response.status === 401) return false;
    sender.acksSent.push({ ack: body, status: response.status, answer });
    if (response.status >= 400)
      sender.log(`[derms] ack ${ack.syncRequestId}#${ack.sequence} refused: ${response.status}`);
    return true;
  } catch {
    // the integration is down (a test may have stopped it); LEC retries too
    return false;
  }
}

/** A client-credentials token from the integration's token endpoint, reused until near its expiry. */
async function accessToken(sender: AckSender): Promise<string> {
  if (sender.token && sender.token.until > Date.now()) return sender.token.value;
  const response = await fetch(sender.tokenUrl, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      Authorization: `Basic ${Buffer.from(`${sender.clientId}:${sender.clientSecret}`).toString('base64')}`,
    },
    body: 'grant_type=client_credentials',
  });
  if (!response.ok) throw new Error(`token endpoint answered ${response.status}`);
  const body = (await response.json()) as { access_token: string; expires_in: number };
  sender.token = { value: body.access_token, until: Date.now() + (body.expires_in - 60) * 1000 };
  return sender.token.value;
}
