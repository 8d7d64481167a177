/**
 * A 10,000-device asset sync end to end, over real HTTP with real tokens: DACS posts it, DERMS receives
 * the EnrollmentSync, DERMS acknowledges (the simulator's partial acks, or one final ack for every
 * device that the bench posts itself while the simulator stays `silent`), and DACS receives the one
 * consolidated ack, which is checked (every device D1RE, no error) before any figure is kept.
 *
 * Times are the simulators' `receivedAt` and the callers' clocks: one machine, one clock.
 */
import type { AssetSyncAck, ControllableDevice, DacsAcknowledgement } from '#shared/contracts/types.ts';
import { FLOWS } from '#shared/flows/registry.ts';
import { assetSyncRequest } from '#test/helpers/messages.ts';
import { uid } from './load.ts';

export interface SyncContext {
  readonly api: string;
  readonly derms: string;
  readonly dacs: string;
  readonly tokens: { readonly dacs: string; readonly derms: string; readonly support: string };
  /** How long the EnrollmentSync may take to reach DERMS, and the consolidated ack to reach DACS after it. */
  readonly timeouts: { readonly toDermsMs: number; readonly consolidatedMs: number };
}

/** A step that did not happen in its time: the run reports what it measured until then. */
export class StepTimeoutError extends Error {
  override readonly name = 'StepTimeoutError';
}

export interface SyncTimings {
  readonly devices: number;
  readonly bodyBytes: number;
  /** POST of the sync to its 202. */
  readonly acceptMs: number;
  /** The 202 to DERMS's receipt of the EnrollmentSync. */
  readonly toDermsMs?: number;
  /** DERMS's last ack sent before the consolidated ack arrived, to DACS's receipt of it. */
  readonly lastAckMs?: number;
  /** Which ack was last, e.g. `ack 9 of 9 (final)`. */
  readonly lastAck?: string;
  /** POST of the sync to DACS's receipt of the consolidated ack. */
  readonly totalMs?: number;
  /** The step that did not happen in its time, when one did not: the figures after it are missing. */
  readonly timedOut?: string;
}

const ACK_ROUTE = FLOWS.assetSyncAck.route.path;
const SYNC_PATH = FLOWS.assetSync.target.defaultPath;
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/**
 * A lean ENROLL of `count` devices: the required fields, one entity group each, so 10,000 devices
 * (about 2 MB) fit the body limit as the contract's figure does.
 */
export function leanSync(count: number) {
  const id = uid();
  const devices: ControllableDevice[] = Array.from({ length: count }, (_, i) => ({
    deviceId: `B${id.slice(0, 5)}${String(i).padStart(5, '0')}`,
    registrationAction: 'REGISTER',
    headEndSystem: 'LEC-HES-1',
    nicId: `NIC-${id}-${i}`,
    networkAddress: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
    entityGroups: [{ entityGroupId: `FEEDER-${i % 40}`, groupCategory: 'FEEDER' }],
    deviceType: 'THERMOSTAT',
  }));
  const syncRequestId = `SRB${id}`;
  const request = assetSyncRequest({
    sendDetails: { syncRequestId },
    subscriptionInfo: { subscriptionId: `SUB-B${id}` },
    locationInfo: { controllableDevices: devices },
  });
  return { syncRequestId, request, devices };
}

async function getJson<T>(url: string, bearer?: string): Promise<T> {
  const response = await fetch(url, bearer ? { headers: { Authorization: `Bearer ${bearer}` } } : {});
  if (!response.ok) throw new Error(`GET ${url}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

async function postJson(url: string, body: string, bearer: string) {
  const sentAt = Date.now();
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${bearer}` },
    body,
  });
  const answer = (await response.json().catch(() => ({}))) as { messageId?: string };
  if (response.status !== 202) throw new Error(`POST ${url}: ${response.status} ${JSON.stringify(answer)}`);
  return { sentAt, answeredAt: Date.now(), messageId: answer.messageId ?? '' };
}

/** Polls `probe` every 250 ms until it gives a value, for at most `timeoutMs`. */
async function until<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new StepTimeoutError(`${what} did not happen within ${timeoutMs / 1000} s`);
    await sleep(250);
  }
}

/** DERMS's receipt of the EnrollmentSync: once its trace says DELIVERED, the simulator's record of it. */
async function dermsReceipt(ctx: SyncContext, syncRequestId: string, messageId: string): Promise<number> {
  await until(
    async () => {
      const trace = await getJson<{ state: string }>(
        `${ctx.api}/v1/messages/${messageId}`,
        ctx.tokens.support,
      );
      if (trace.state === 'DEAD_LETTERED') throw new Error(`the sync ${syncRequestId} was dead-lettered`);
      return trace.state === 'DELIVERED' ? true : undefined;
    },
    ctx.timeouts.toDermsMs,
    `the EnrollmentSync ${syncRequestId} reaching DERMS`,
  );
  const calls = await getJson<{ receivedAt: string; idempotencyKey: string | null }[]>(
    `${ctx.derms}/sim/calls?path=${encodeURIComponent(SYNC_PATH)}`,
  );
  const call = calls.find((c) => c.idempotencyKey === syncRequestId);
  if (!call) throw new Error(`DERMS has no record of the EnrollmentSync ${syncRequestId}`);
  return Date.parse(call.receivedAt);
}

/** DACS's receipt of the consolidated ack, checked: every device D1RE and no error. */
async function consolidatedReceipt(
  ctx: SyncContext,
  syncRequestId: string,
  devices: number,
): Promise<number> {
  const call = await until(
    async () => {
      const calls = await getJson<{ receivedAt: string; body: DacsAcknowledgement }[]>(
        `${ctx.dacs}/sim/calls?path=${encodeURIComponent(FLOWS.assetSyncAck.target.defaultPath)}`,
      );
      return calls.find((c) => c.body.syncRequestId === syncRequestId);
    },
    ctx.timeouts.consolidatedMs,
    `the consolidated ack of ${syncRequestId} reaching DACS`,
  );
  const flags = call.body.deviceHeadendStatus;
  const registered = flags.filter((d) => d.headEndRegistration === 'D1RE').length;
  if (call.body.hasError || flags.length !== devices || registered !== devices) {
    throw new Error(
      `the consolidated ack of ${syncRequestId} is wrong: hasError ${call.body.hasError}, ` +
        `${flags.length} devices, ${registered} D1RE (expected ${devices} D1RE)`,
    );
  }
  return Date.parse(call.receivedAt);
}

/** Posts the sync as DACS. */
async function postSync(ctx: SyncContext, sync: ReturnType<typeof leanSync>) {
  const body = JSON.stringify(sync.request);
  const posted = await postJson(`${ctx.api}${FLOWS.assetSync.route.path}`, body, ctx.tokens.dacs);
  const timings: SyncTimings = {
    devices: sync.devices.length,
    bodyBytes: Buffer.byteLength(body),
    acceptMs: posted.answeredAt - posted.sentAt,
  };
  return { ...posted, timings };
}

/** What `step` gives, or the timings so far with the step that timed out. */
async function orTimedOut<T>(
  timings: SyncTimings,
  step: () => Promise<T>,
): Promise<{ value: T } | { timedOut: SyncTimings }> {
  try {
    return { value: await step() };
  } catch (error) {
    if (error instanceof StepTimeoutError) return { timedOut: { ...timings, timedOut: error.message } };
    throw error;
  }
}

interface SentAck {
  readonly ack: { syncRequestId: string; sequence: number; final: boolean; ackDateTime: string };
}

/** The simulator's acks: once its final one is sent, the last one sent before `consolidatedAt`. */
async function lastSimulatorAck(ctx: SyncContext, syncRequestId: string, consolidatedAt: number) {
  const acks = await until(
    async () => {
      const sent = (await getJson<SentAck[]>(`${ctx.derms}/sim/acks`)).filter(
        (a) => a.ack.syncRequestId === syncRequestId,
      );
      return sent.some((a) => a.ack.final) ? sent : undefined;
    },
    ctx.timeouts.consolidatedMs,
    `the DERMS simulator's final ack of ${syncRequestId}`,
  );
  const before = acks.filter((a) => Date.parse(a.ack.ackDateTime) <= consolidatedAt);
  const last = before.at(-1) ?? acks[0]!;
  return {
    at: Date.parse(last.ack.ackDateTime),
    label: `ack ${last.ack.sequence} of ${acks.length}${last.ack.final ? ' (final)' : ''}`,
  };
}

/** The simulator acknowledges as Live Energy Connect would: partial acks, then a final one. */
export async function syncWithPartialAcks(ctx: SyncContext, devices: number): Promise<SyncTimings> {
  const sync = leanSync(devices);
  const posted = await postSync(ctx, sync);
  const atDerms = await orTimedOut(posted.timings, () =>
    dermsReceipt(ctx, sync.syncRequestId, posted.messageId),
  );
  if ('timedOut' in atDerms) return atDerms.timedOut;
  const timings = { ...posted.timings, toDermsMs: atDerms.value - posted.answeredAt };
  const atDacs = await orTimedOut(timings, async () => {
    const consolidatedAt = await consolidatedReceipt(ctx, sync.syncRequestId, devices);
    return { consolidatedAt, last: await lastSimulatorAck(ctx, sync.syncRequestId, consolidatedAt) };
  });
  if ('timedOut' in atDacs) return atDacs.timedOut;
  const { consolidatedAt, last } = atDacs.value;
  return {
    ...timings,
    lastAckMs: consolidatedAt - last.at,
    lastAck: last.label,
    totalMs: consolidatedAt - posted.sentAt,
  };
}

async function simFault(ctx: SyncContext, rule: object): Promise<void> {
  const response = await fetch(`${ctx.derms}/sim/faults`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(rule),
  });
  if (response.status !== 201) throw new Error(`fault refused: ${response.status} ${await response.text()}`);
}

/** One final SUCCESS ack of every device, as DERMS would send it. */
function finalAck(sync: ReturnType<typeof leanSync>): AssetSyncAck {
  return {
    syncRequestId: sync.syncRequestId,
    ackType: 'SUCCESS',
    ackDateTime: new Date().toISOString(),
    sequence: 1,
    final: true,
    devices: sync.devices.map((d) => ({
      deviceId: d.deviceId,
      headEndSystem: d.headEndSystem,
      nicId: d.nicId,
      registrationStatus: 'REGISTERED',
    })),
  };
}

/** The simulator stays silent; the bench plays DERMS with one final ack for every device. */
export async function syncWithOneFinalAck(ctx: SyncContext, devices: number): Promise<SyncTimings> {
  const sync = leanSync(devices);
  await simFault(ctx, { match: { syncRequestId: sync.syncRequestId }, action: 'silent' });
  try {
    const posted = await postSync(ctx, sync);
    const atDerms = await orTimedOut(posted.timings, () =>
      dermsReceipt(ctx, sync.syncRequestId, posted.messageId),
    );
    if ('timedOut' in atDerms) return atDerms.timedOut;
    const timings = { ...posted.timings, toDermsMs: atDerms.value - posted.answeredAt };
    const acked = await postJson(`${ctx.api}${ACK_ROUTE}`, JSON.stringify(finalAck(sync)), ctx.tokens.derms);
    const atDacs = await orTimedOut(timings, () => consolidatedReceipt(ctx, sync.syncRequestId, devices));
    if ('timedOut' in atDacs) return atDacs.timedOut;
    return {
      ...timings,
      lastAckMs: atDacs.value - acked.sentAt,
      lastAck: 'one final ack of every device',
      totalMs: atDacs.value - posted.sentAt,
    };
  } finally {
    await fetch(`${ctx.derms}/sim/faults`, { method: 'DELETE' }).then((r) => r.arrayBuffer());
  }
}
