/**
 * What the reliability scenarios share, all over HTTP against the local stack:
 *
 * - a seeded random source (every random choice of a scenario comes from it, so a seed replays a run);
 * - callers that behave as DACS and DERMS would: a bounded number of requests in flight, and a 429 or 503
 *   retried after its `Retry-After` (a 503 means nothing was accepted);
 * - fault plans for the simulators (`POST /sim/faults`, one rule per business key, `times`-limited), and
 *   the count of what fired (`GET /sim/faults` keeps each rule's firings left);
 * - the accounting: every accepted message's trace polled to a final state, matched per business key
 *   with the calls the simulators recorded (`duplicate: true` marks a repeat they dropped);
 * - the consolidated acks of each sync request checked against DACS's recorded calls and device flags;
 * - crashes: function processes killed (one per role: the API, each flow, the sweep), DynamoDB Local
 *   stopped (all restarted by `npm start`'s supervisor, pids in the stack's data folder).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { BatchGetCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { FUNCTION_ROLES, type FunctionRole, LOCAL_PREFIX } from '#local/constants.ts';
import { tableNames } from '#local/resources.ts';
import { functionPidFile } from '#local/start.ts';
import type { DacsAcknowledgement } from '#shared/contracts/types.ts';
import { FLOWS, type FlowId } from '#shared/flows/registry.ts';
import { ACK_PATH, API, DACS, DERMS, get, type SimCall, token, waitFor } from '#test/e2e/helpers.ts';

// ── Random ──────────────────────────────────────────────────────────────────────────────────────────

export interface Random {
  /** In [0, 1). */
  next(): number;
  /** An integer in [min, max]. */
  int(min: number, max: number): number;
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  shuffle<T>(items: readonly T[]): T[];
  /** `n` base-36 characters. */
  tag(n: number): string;
}

/** mulberry32: small, fast and good enough to pick test cases. */
export function random(seedValue: number): Random {
  let state = seedValue >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  return {
    next,
    int,
    chance: (p) => next() < p,
    pick: (items) => items[Math.floor(next() * items.length)] as (typeof items)[number],
    shuffle(items) {
      const out = [...items];
      for (let i = out.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [out[i], out[j]] = [out[j] as (typeof out)[number], out[i] as (typeof out)[number]];
      }
      return out;
    },
    tag: (n) =>
      Array.from({ length: n }, () => int(0, 35).toString(36))
        .join('')
        .toUpperCase(),
  };
}

/** `RELIABILITY_SCALE` (default 1) times `n`, never below `min`. */
export function scaled(n: number, min = 1): number {
  const scale = Number(process.env.RELIABILITY_SCALE ?? '1');
  if (!Number.isFinite(scale) || scale <= 0) throw new Error(`RELIABILITY_SCALE must be > 0, got ${scale}`);
  return Math.max(min, Math.round(n * scale));
}

// ── Callers ─────────────────────────────────────────────────────────────────────────────────────────

/** At most `limit` tasks at once. */
export function pool(limit: number) {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async function run<T>(task: () => Promise<T>): Promise<T> {
    if (active >= limit) await new Promise<void>((go) => waiting.push(go));
    active++;
    try {
      return await task();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

export type Caller = 'dacs-local' | 'derms-local';

export interface Reply {
  status: number;
  retryAfter: string | null;
  body: Record<string, unknown>;
  /**
   * An earlier try of this request got no answer or a 503 that may have come after the message was queued
   * (a function timing out once it had queued it), so this answer may rightly say `duplicate: true`.
   */
  retriedUncertain?: boolean;
}

/** What a caller met on its way to an answer: refusals it retried, by status (`network` for no answer). */
export const refusals: Record<string, number> = {};

/** One POST, no retry; a network failure is status 0. */
export async function postOnce(path: string, body: unknown, caller: Caller): Promise<Reply> {
  try {
    const response = await fetch(`${API()}${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${await token(caller)}` },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(60_000),
    });
    const text = await response.text();
    let parsed: Record<string, unknown> = {};
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      parsed = { text };
    }
    return { status: response.status, retryAfter: response.headers.get('retry-after'), body: parsed };
  } catch (error) {
    return { status: 0, retryAfter: null, body: { error: String(error) } };
  }
}

/**
 * POSTs as DACS or DERMS would: a 429 or 503 (nothing accepted) is sent again after its `Retry-After`,
 * and so is a request that got no answer (the API's function process was restarting). Any other answer is
 * final. Gives up after `patienceMs`.
 */
export async function postPatiently(
  path: string,
  body: unknown,
  caller: Caller,
  patienceMs = 180_000,
): Promise<Reply> {
  const until = Date.now() + patienceMs;
  let uncertain = false;
  for (;;) {
    const reply = await postOnce(path, body, caller);
    if (![0, 429, 503].includes(reply.status) || Date.now() > until)
      return uncertain ? { ...reply, retriedUncertain: true } : reply;
    if (reply.status !== 429) uncertain = true;
    const key = reply.status === 0 ? 'network' : String(reply.status);
    refusals[key] = (refusals[key] ?? 0) + 1;
    const seconds = Math.min(5, Number(reply.retryAfter ?? '1') || 1);
    await sleep(reply.status === 0 ? 500 : seconds * 1000);
  }
}

export const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

// ── Messages ────────────────────────────────────────────────────────────────────────────────────────

/** A message to send: its flow, body and business key (the registry's, as the integration computes it). */
export interface Outbound {
  readonly flow: FlowId;
  readonly body: unknown;
  readonly key: string;
}

export const outbound = (flow: FlowId, body: unknown): Outbound => ({
  flow,
  body,
  key: FLOWS[flow].businessKey(body),
});

/** One message the integration accepted with 202. */
export interface Accepted extends Outbound {
  readonly messageId: string;
}

/** Sends a message until it is accepted (202) or refused for good; returns the reply. */
export async function send(message: Outbound, patienceMs?: number): Promise<Reply> {
  const caller: Caller = FLOWS[message.flow].caller === 'derms' ? 'derms-local' : 'dacs-local';
  return postPatiently(FLOWS[message.flow].route.path, message.body, caller, patienceMs);
}

/** Where each flow's effect lands, as the simulators record it. */
export const TARGET_PATH: Record<FlowId, string> = {
  assetSync: FLOWS.assetSync.target.defaultPath,
  optOut: FLOWS.optOut.target.defaultPath,
  unavailability: FLOWS.unavailability.target.defaultPath,
  assetSyncAck: FLOWS.assetSyncAck.target.defaultPath,
  legacyAck: FLOWS.legacyAck.target.defaultPath,
};
export const simOf = (flow: FlowId): 'DERMS' | 'DACS' => FLOWS[flow].target.system;

// ── Faults ──────────────────────────────────────────────────────────────────────────────────────────

export const FAULT_KINDS = [
  '500',
  '503',
  '503 with Retry-After',
  '429 with Retry-After',
  '429 without Retry-After',
  'delay past the HTTP timeout',
  'connection reset',
  'permanent 4xx',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultRule {
  match: { path?: string; businessKey?: string; syncRequestId?: string; deviceId?: string };
  action: 'status' | 'delay' | 'reset' | 'silent' | 'headEndFail';
  status?: number;
  retryAfterSeconds?: number;
  delayMs?: number;
  times?: number;
}

/** A rule installed on a simulator, with the kind it plays. */
export interface Installed {
  readonly sim: 'DERMS' | 'DACS';
  readonly kind: FaultKind | 'silent' | 'headEndFail' | 'delay within the timeout';
  readonly id: string;
  readonly times: number | undefined;
}

/** A transient fault of a seeded kind, firing once or twice; `delayMs` past `HTTP_TIMEOUT_MS`. */
export function transientFault(rng: Random, match: FaultRule['match']): { kind: FaultKind; rule: FaultRule } {
  const timeoutMs = Number(process.env.HTTP_TIMEOUT_MS ?? '3000');
  const kind = rng.pick(FAULT_KINDS.filter((k) => k !== 'permanent 4xx'));
  const times = rng.int(1, 2);
  const rules: Record<Exclude<FaultKind, 'permanent 4xx'>, FaultRule> = {
    '500': { match, action: 'status', status: 500, times },
    '503': { match, action: 'status', status: 503, times },
    '503 with Retry-After': { match, action: 'status', status: 503, retryAfterSeconds: rng.int(1, 3), times },
    '429 with Retry-After': {
      match,
      action: 'status',
      status: 429,
      retryAfterSeconds: rng.int(1, 3),
      times: 1,
    },
    '429 without Retry-After': { match, action: 'status', status: 429, times },
    'delay past the HTTP timeout': {
      match,
      action: 'delay',
      delayMs: timeoutMs + rng.int(300, 1500),
      times: 1,
    },
    'connection reset': { match, action: 'reset', times },
  };
  return { kind, rule: rules[kind as Exclude<FaultKind, 'permanent 4xx'>] };
}

/** A permanent refusal (a 4xx other than 408 and 429) for every call of the key. */
export function permanentFault(rng: Random, match: FaultRule['match']): FaultRule {
  return { match, action: 'status', status: rng.pick([400, 404, 409, 422]), times: 1000 };
}

const simBase = (sim: 'DERMS' | 'DACS') => (sim === 'DERMS' ? DERMS() : DACS());

export async function installFault(
  sim: 'DERMS' | 'DACS',
  kind: Installed['kind'],
  rule: FaultRule,
): Promise<Installed> {
  const response = await fetch(`${simBase(sim)}/sim/faults`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(rule),
  });
  if (response.status !== 201) throw new Error(`fault refused: ${response.status} ${await response.text()}`);
  const { id } = (await response.json()) as { id: string };
  return { sim, kind, id, times: rule.times };
}

/** How often each installed rule fired, by kind (from the rules' firings left). */
export async function faultsFired(installed: readonly Installed[]): Promise<Record<string, number>> {
  const left = new Map<string, number | undefined>();
  for (const sim of ['DERMS', 'DACS'] as const) {
    const rules = (await (await fetch(`${simBase(sim)}/sim/faults`)).json()) as {
      id: string;
      remaining?: number;
    }[];
    for (const rule of rules) left.set(rule.id, rule.remaining);
  }
  const fired: Record<string, number> = {};
  for (const rule of installed) {
    if (rule.times === undefined) continue;
    const n = rule.times - (left.get(rule.id) ?? rule.times);
    fired[rule.kind] = (fired[rule.kind] ?? 0) + n;
  }
  return fired;
}

/** Every call a simulator recorded on `path` (suffix), oldest first. */
export async function simCalls(
  sim: 'DERMS' | 'DACS',
  path: string,
): Promise<(SimCall & { duplicate?: boolean })[]> {
  const response = await fetch(`${simBase(sim)}/sim/calls?path=${encodeURIComponent(path)}`);
  return (await response.json()) as (SimCall & { duplicate?: boolean })[];
}

/** The acks the DERMS simulator sent for enrollment syncs, with the integration's answers. */
export async function dermsAcksSent(): Promise<
  { ack: Record<string, unknown>; status: number | null; answer: unknown }[]
> {
  return (await fetch(`${DERMS()}/sim/acks`)).json() as never;
}

/** DACS's head-end registration flag per device. */
export async function dacsFlags(): Promise<Map<string, string>> {
  const devices = (await (await fetch(`${DACS()}/sim/devices`)).json()) as {
    deviceId: string;
    headEndRegistration: string;
  }[];
  return new Map(devices.map((d) => [d.deviceId, d.headEndRegistration]));
}

// ── Traces ──────────────────────────────────────────────────────────────────────────────────────────

export interface Trace {
  messageId: string;
  flow: FlowId;
  businessKey: string;
  state: 'ACCEPTED' | 'DELIVERED' | 'RETRYING' | 'DEAD_LETTERED' | 'SUPERSEDED';
  attempts: number;
  lastError?: string;
  lastStatusCode?: number;
}

export const FINAL = ['DELIVERED', 'DEAD_LETTERED', 'SUPERSEDED'];

/** A GET as the support client, honouring a 429's `Retry-After` (the support route has a small share). */
export async function supportGet<T>(
  path: string,
  patienceMs = 120_000,
): Promise<{ status: number; body: T }> {
  const until = Date.now() + patienceMs;
  for (;;) {
    const answer = await get<T>(path).catch(() => ({
      status: 0,
      headers: new Headers(),
      body: undefined as T,
    }));
    if (![0, 429, 503].includes(answer.status) || Date.now() > until) return answer;
    refusals[`support ${answer.status || 'network'}`] =
      (refusals[`support ${answer.status || 'network'}`] ?? 0) + 1;
    await sleep(Math.min(5, Number(answer.headers.get('retry-after') ?? '1') || 1) * 1000);
  }
}

const localAws = {
  region: 'us-east-1',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  maxAttempts: 1,
};

/**
 * The trace items of `ids`, straight from the stack's trace table (what `GET /v1/messages/{id}` reads):
 * thousands of messages are polled in seconds, where the support route's throttle share would take
 * minutes. {@link checkSupportView} then reads a sample through the support route itself.
 */
async function readTraceItems(ids: readonly string[]): Promise<Map<string, Trace>> {
  const client = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      ...localAws,
      endpoint: `http://127.0.0.1:${process.env.LOCAL_DYNAMODB_PORT ?? '8000'}`,
    }),
  );
  const table = tableNames(LOCAL_PREFIX).TRACE_TABLE;
  const found = new Map<string, Trace>();
  try {
    for (let i = 0; i < ids.length; i += 100) {
      let keys: Record<string, unknown>[] | undefined = ids.slice(i, i + 100).map((pk) => ({ pk }));
      while (keys && keys.length > 0) {
        const answer = await client.send(
          new BatchGetCommand({ RequestItems: { [table]: { Keys: keys, ConsistentRead: true } } }),
        );
        for (const item of answer.Responses?.[table] ?? [])
          found.set(String(item.pk), { ...(item as Trace), messageId: String(item.pk) });
        keys = answer.UnprocessedKeys?.[table]?.Keys as Record<string, unknown>[] | undefined;
      }
    }
  } finally {
    client.destroy();
  }
  return found;
}

/**
 * Polls the traces until every message's is final, or `timeoutMs` is up (what is not final then is
 * returned as it was last seen). Only the messages not yet final are read again.
 */
export async function settle(
  messages: readonly Accepted[],
  timeoutMs: number,
): Promise<Map<string, Trace | undefined>> {
  const traces = new Map<string, Trace | undefined>();
  const until = Date.now() + timeoutMs;
  let open = [...new Set(messages.map((m) => m.messageId))];
  while (open.length > 0) {
    const read = await readTraceItems(open).catch(() => new Map<string, Trace>());
    for (const id of open) if (read.has(id) || !traces.has(id)) traces.set(id, read.get(id));
    open = open.filter((id) => !FINAL.includes(traces.get(id)?.state ?? ''));
    if (open.length === 0 || Date.now() > until) break;
    await sleep(1000);
  }
  return traces;
}

/**
 * Reads `sample` (every dead letter, and a share of the rest) through the support route, as support
 * would: the view must say what the trace says (state, attempts, last error). Returns the disagreements.
 */
export async function checkSupportView(
  sample: readonly string[],
  traces: Map<string, Trace | undefined>,
): Promise<string[]> {
  const problems: string[] = [];
  const run = pool(2);
  await Promise.all(
    sample.map((id) =>
      run(async () => {
        const view = await supportGet<Trace>(`/v1/messages/${id}`);
        const trace = traces.get(id);
        if (view.status !== 200) return void problems.push(`support view of ${id}: ${view.status}`);
        for (const field of ['state', 'attempts', 'lastError'] as const)
          if (view.body[field] !== trace?.[field])
            problems.push(`support view of ${id}: ${field} ${view.body[field]}, trace ${trace?.[field]}`);
      }),
    ),
  );
  return problems;
}

/** Every dead-lettered message, and `share` of the others picked by `rng`: what the support view is asked. */
export function supportSample(traces: Map<string, Trace | undefined>, rng: Random, share: number): string[] {
  return [...traces.entries()]
    .filter(([, t]) => t !== undefined && (t.state === 'DEAD_LETTERED' || rng.chance(share)))
    .map(([id]) => id);
}

// ── Accounting ──────────────────────────────────────────────────────────────────────────────────────

export interface Ledger {
  accepted: number;
  delivered: number;
  deadLettered: number;
  /** Dead-lettered with a reason in the trace. */
  deadLetteredWithReason: number;
  superseded: number;
  /** Accepted but neither delivered, dead-lettered nor superseded (or delivered without any effect). */
  lost: string[];
  /** Keys whose effect the receiver applied more than once. */
  appliedTwice: string[];
  /** Repeats the receivers dropped (`duplicate: true`). */
  redundant: number;
  /** Dead-lettered keys that were not planned to be refused, and planned refusals not dead-lettered. */
  unexpectedDeadLetters: string[];
  missedRefusals: string[];
  /** Superseded messages of flows that never supersede. */
  unexpectedSuperseded: string[];
}

/**
 * Matches accepted messages (one entry per messageId) with their traces and the receivers' calls. A
 * DERMS ack (`assetSyncAck`) has no effect of its own: DACS hears of it through the consolidated ack,
 * which {@link checkSync} accounts for; here it must only be processed.
 */
export async function account(
  messages: readonly Accepted[],
  traces: Map<string, Trace | undefined>,
  refused: ReadonlySet<string>,
): Promise<Ledger> {
  const unique = [...new Map(messages.map((m) => [m.messageId, m])).values()];
  const calls = new Map<string, (SimCall & { duplicate?: boolean })[]>();
  for (const flow of new Set(unique.map((m) => m.flow))) {
    if (flow === 'assetSyncAck') continue;
    calls.set(flow, await simCalls(simOf(flow), TARGET_PATH[flow]));
  }
  const ledger: Ledger = {
    accepted: unique.length,
    delivered: 0,
    deadLettered: 0,
    deadLetteredWithReason: 0,
    superseded: 0,
    lost: [],
    appliedTwice: [],
    redundant: 0,
    unexpectedDeadLetters: [],
    missedRefusals: [],
    unexpectedSuperseded: [],
  };
  const applied = new Map<string, number>();
  for (const [flow, list] of calls) {
    const keys = new Set(unique.filter((m) => m.flow === flow).map((m) => m.key));
    for (const call of list) {
      const key = call.idempotencyKey ?? '';
      if (!keys.has(key)) continue;
      if (call.duplicate) ledger.redundant++;
      else applied.set(`${flow} ${key}`, (applied.get(`${flow} ${key}`) ?? 0) + 1);
    }
  }
  for (const message of unique) {
    const trace = traces.get(message.messageId);
    const effects = applied.get(`${message.flow} ${message.key}`) ?? 0;
    const name = `${message.flow} ${message.key}`;
    if (effects > 1) ledger.appliedTwice.push(name);
    switch (trace?.state) {
      case 'DELIVERED':
        ledger.delivered++;
        if (message.flow !== 'assetSyncAck' && effects === 0)
          ledger.lost.push(`${name} (DELIVERED, no effect)`);
        if (refused.has(message.key)) ledger.missedRefusals.push(name);
        break;
      case 'DEAD_LETTERED':
        ledger.deadLettered++;
        if (trace.lastError) ledger.deadLetteredWithReason++;
        if (!refused.has(message.key)) ledger.unexpectedDeadLetters.push(`${name}: ${trace.lastError}`);
        break;
      case 'SUPERSEDED':
        ledger.superseded++;
        if (message.flow !== 'unavailability') ledger.unexpectedSuperseded.push(name);
        if (effects > 0) ledger.appliedTwice.push(`${name} (SUPERSEDED, yet applied)`);
        break;
      default:
        ledger.lost.push(`${name} (${trace?.state ?? 'no trace'})`);
    }
  }
  return ledger;
}

// ── Sync requests and their consolidated acks ──────────────────────────────────────────────────────

export interface SyncPlan {
  readonly syncRequestId: string;
  readonly deviceIds: readonly string[];
  /** Devices DERMS reports FAILED (REGISTER → D1NR). */
  readonly failed: ReadonlySet<string>;
  /** DERMS refuses the enrollment sync for good: every device D1NR, 1005. */
  readonly refused: boolean;
}

export interface SyncVerdict {
  consolidated: number;
  followUps: number;
  lateInfo: number;
  /** Repeats of its acks that DACS dropped by Idempotency-Key. */
  redundant: number;
  problems: string[];
}

/** What DACS should end with for each device of a sync. */
export const expectedFlag = (plan: SyncPlan, deviceId: string): string =>
  plan.refused || plan.failed.has(deviceId) ? 'D1NR' : 'D1RE';

/**
 * One sync request against what DACS received: exactly one consolidated ack (key = syncRequestId)
 * listing every device once, each flag either the right one or D1NR (no status yet when it was frozen),
 * `hasError` exactly when a flag is not D1RE, 1005 when refused; every follow-up after it, for one device,
 * changing that device's flag; and DACS ending with the right flag for every device.
 */
export function checkSync(
  plan: SyncPlan,
  ackCalls: readonly (SimCall & { duplicate?: boolean })[],
  flags: ReadonlyMap<string, string>,
): SyncVerdict {
  const problems: string[] = [];
  const id = plan.syncRequestId;
  const all = ackCalls.filter((c) => (c.body as { syncRequestId?: string }).syncRequestId === id);
  const mine = all.filter((c) => !c.duplicate);
  const consolidated = mine.filter((c) => c.idempotencyKey === id);
  const verdict: SyncVerdict = {
    consolidated: consolidated.length,
    followUps: 0,
    lateInfo: 0,
    redundant: all.length - mine.length,
    problems,
  };
  if (consolidated.length !== 1) {
    problems.push(`${id}: ${consolidated.length} consolidated acks`);
    return verdict;
  }
  const first = consolidated[0]!.body as unknown as DacsAcknowledgement;
  const listed = first.deviceHeadendStatus.map((d) => d.deviceId);
  if (listed.length !== plan.deviceIds.length || new Set(listed).size !== listed.length)
    problems.push(`${id}: the consolidated ack lists ${listed.length} devices of ${plan.deviceIds.length}`);
  const told = new Map<string, string>();
  for (const line of first.deviceHeadendStatus) {
    told.set(line.deviceId, line.headEndRegistration);
    const right = expectedFlag(plan, line.deviceId);
    if (line.headEndRegistration !== right && line.headEndRegistration !== 'D1NR')
      problems.push(`${id}: ${line.deviceId} consolidated as ${line.headEndRegistration}, expected ${right}`);
  }
  const anyError = [...told.values()].some((f) => f !== 'D1RE');
  if (first.hasError !== anyError)
    problems.push(`${id}: hasError ${first.hasError} with flags ${[...new Set(told.values())]}`);
  if (plan.refused && !first.exceptionInfo.some((e) => e.messageNumber === 1005))
    problems.push(`${id}: refused, but no 1005 in exceptionInfo`);
  const start = ackCalls.indexOf(consolidated[0]!);
  for (const call of mine) {
    if (call === consolidated[0]) continue;
    const body = call.body as unknown as DacsAcknowledgement;
    if (ackCalls.indexOf(call) < start)
      problems.push(`${id}: ${call.idempotencyKey} before the consolidated ack`);
    if (body.deviceHeadendStatus.length === 0) {
      verdict.lateInfo++;
      continue;
    }
    verdict.followUps++;
    if (body.deviceHeadendStatus.length !== 1)
      problems.push(`${id}: a follow-up for ${body.deviceHeadendStatus.length} devices`);
    for (const line of body.deviceHeadendStatus) {
      if (told.get(line.deviceId) === line.headEndRegistration)
        problems.push(`${id}: a follow-up repeats ${line.deviceId} ${line.headEndRegistration}`);
      told.set(line.deviceId, line.headEndRegistration);
    }
  }
  for (const deviceId of plan.deviceIds) {
    const right = expectedFlag(plan, deviceId);
    if (flags.get(deviceId) !== right)
      problems.push(`${id}: DACS holds ${deviceId} ${flags.get(deviceId)}, expected ${right}`);
  }
  return verdict;
}

/** The ack-route calls DACS recorded, oldest first. */
export const dacsAckCalls = () => simCalls('DACS', ACK_PATH);

// ── Sending units of traffic ────────────────────────────────────────────────────────────────────────

/** A unit of sending: messages sent one after the other (each waiting for its 202), or twice at once. */
export interface Unit {
  readonly messages: readonly Outbound[];
  /** Sent twice at the same instant. */
  readonly twin?: boolean;
}

/** What sending gave: the messages accepted (in the order their 202s came), and what went wrong. */
export interface Sending {
  accepted: Accepted[];
  problems: string[];
  duplicatesSent: number;
}

export const sending = (): Sending => ({ accepted: [], problems: [], duplicatesSent: 0 });

export async function sendUnit(unit: Unit, out: Sending): Promise<void> {
  for (const message of unit.messages) {
    if (unit.twin) {
      out.duplicatesSent++;
      const [a, b] = await Promise.all([send(message), send(message)]);
      expectTwin(message, a, b, out);
      if (a.status === 202) out.accepted.push({ ...message, messageId: String(a.body.messageId) });
      continue;
    }
    const reply = await send(message);
    if (reply.status !== 202)
      out.problems.push(`${message.flow} ${message.key}: ${reply.status} ${JSON.stringify(reply.body)}`);
    else out.accepted.push({ ...message, messageId: String(reply.body.messageId) });
  }
}

/** Two identical requests at once: both 202 with one messageId, exactly one of them not a duplicate. */
export function expectTwin(message: Outbound, a: Reply, b: Reply, out: Sending): void {
  const fresh = [a, b].filter((r) => r.body.duplicate === false).length;
  // A retried try may have been the one that queued the message: then both answers may be duplicates.
  const freshAllowed = a.retriedUncertain || b.retriedUncertain ? [0, 1] : [1];
  if (
    a.status !== 202 ||
    b.status !== 202 ||
    a.body.messageId !== b.body.messageId ||
    !freshAllowed.includes(fresh)
  )
    out.problems.push(
      `${message.flow} ${message.key} sent twice at once: ${a.status}/${b.status}, ${fresh} fresh`,
    );
}

/** Sends every unit, `concurrency` at a time; `onAccepted` hears of each 202 as it comes. */
export async function sendAll(
  units: readonly Unit[],
  concurrency: number,
  out = sending(),
): Promise<Sending> {
  const run = pool(concurrency);
  await Promise.all(units.map((unit) => run(() => sendUnit(unit, out))));
  return out;
}

// ── Waiting and checking ────────────────────────────────────────────────────────────────────────────

/** The acks the DERMS simulator sent for these syncs, once the final one of each was answered. */
export async function dermsAcks(syncs: readonly SyncPlan[], timeoutMs: number): Promise<Accepted[]> {
  const expecting = syncs.filter((s) => !s.refused).map((s) => s.syncRequestId);
  const sent = await waitFor(
    async () => {
      const all = await dermsAcksSent();
      const finals = new Set(all.filter((a) => a.ack.final === true).map((a) => String(a.ack.syncRequestId)));
      return expecting.every((id) => finals.has(id)) ? all : undefined;
    },
    timeoutMs,
    'the DERMS simulator to acknowledge every enrollment sync',
  );
  const mine = new Set(expecting);
  return sent
    .filter((a) => mine.has(String(a.ack.syncRequestId)))
    .map((a) => {
      if (a.status !== 202) throw new Error(`a DERMS ack got ${a.status}: ${JSON.stringify(a.answer)}`);
      return {
        ...outbound('assetSyncAck', a.ack),
        messageId: String((a.answer as { messageId: string }).messageId),
      };
    });
}

/** Waits until DACS holds the right flag for every device of every sync, then checks each. */
export async function checkSyncs(syncs: readonly SyncPlan[], timeoutMs: number) {
  await waitFor(
    async () => {
      const flags = await dacsFlags();
      return syncs.every((s) => s.deviceIds.every((d) => flags.get(d) === expectedFlag(s, d)));
    },
    timeoutMs,
    'DACS to hold the right flag for every device',
  ).catch(() => undefined); // what is still wrong is reported per sync below
  const [calls, flags] = await Promise.all([dacsAckCalls(), dacsFlags()]);
  const verdicts = syncs.map((s) => checkSync(s, calls, flags));
  await writeDiagnostics(syncs, verdicts, calls);
  return {
    expected: syncs.length,
    consolidated: verdicts.filter((v) => v.consolidated === 1).length,
    followUps: verdicts.reduce((n, v) => n + v.followUps, 0),
    lateInfo: verdicts.reduce((n, v) => n + v.lateInfo, 0),
    redundant: verdicts.reduce((n, v) => n + v.redundant, 0),
    problems: verdicts.flatMap((v) => v.problems),
  };
}

/**
 * For a sync whose checks failed: every DACS call naming the first devices in trouble (key, time,
 * correlation id, repeat or not, flag) and the support view of the request, into the stack's data folder.
 */
async function writeDiagnostics(
  syncs: readonly SyncPlan[],
  verdicts: readonly SyncVerdict[],
  calls: readonly (SimCall & { duplicate?: boolean })[],
): Promise<void> {
  const report: Record<string, unknown> = {};
  for (const [i, verdict] of verdicts.entries()) {
    if (verdict.problems.length === 0) continue;
    const id = syncs[i]!.syncRequestId;
    const devices = new Set(
      verdict.problems
        .map((p) => /(?:repeats|holds) (\S+)/.exec(p)?.[1])
        .filter(Boolean)
        .slice(0, 5) as string[],
    );
    const status = (await supportGet<{ devices?: { deviceId: string }[] }>(`/v1/sync-requests/${id}`)).body;
    report[id] = {
      problems: verdict.problems.slice(0, 20),
      calls: calls
        .filter((c) => (c.body as { syncRequestId?: string }).syncRequestId === id)
        .flatMap((c) =>
          (c.body as unknown as DacsAcknowledgement).deviceHeadendStatus
            .filter((d) => devices.has(d.deviceId) || c.idempotencyKey === id)
            .slice(0, c.idempotencyKey === id ? 0 : undefined)
            .map(
              (d) =>
                `${c.receivedAt} ${c.idempotencyKey} ${c.correlationId} ${c.duplicate ? 'dup' : ''} ${d.deviceId} ${d.headEndRegistration}`,
            )
            .concat(
              c.idempotencyKey === id
                ? [`${c.receivedAt} consolidated ${c.correlationId} ${c.duplicate ? 'dup' : ''}`]
                : [],
            ),
        ),
      status: { ...status, devices: status?.devices?.filter((d) => devices.has(d.deviceId)) },
    };
  }
  if (Object.keys(report).length === 0) return;
  const file = resolve(dataDir(), `reliability-diagnostics-${Date.now()}.json`);
  writeFileSync(file, JSON.stringify(report, null, 2));
  console.warn(`consolidation problems: diagnostics in ${file}`);
}

/** What the unavailability plan says: refused keys, the newest version per id, CANCELs sent first. */
export interface UnavailabilityPlan {
  readonly refused: ReadonlySet<string>;
  readonly newest: ReadonlyMap<string, string>;
  readonly overtaking: ReadonlySet<string>;
}

/**
 * Unavailability: in each id's arrival order, a version newer than all before it is tried (delivered,
 * or dead-lettered when refused), any other is superseded; DERMS ends with the newest version.
 */
export async function checkUnavailabilityOrder(
  plan: UnavailabilityPlan,
  accepted: readonly Accepted[],
  traces: Map<string, Trace | undefined>,
) {
  const problems: string[] = [];
  const calls = (await simCalls('DERMS', TARGET_PATH.unavailability)).filter((c) => !c.duplicate);
  const lastApplied = new Map<string, string>();
  for (const call of calls) {
    const body = call.body as { unavailabilityId: string; updatedDateTime: string };
    lastApplied.set(body.unavailabilityId, body.updatedDateTime);
  }
  const byId = new Map<string, Accepted[]>();
  for (const m of accepted.filter((a) => a.flow === 'unavailability')) {
    const id = (m.body as { unavailabilityId: string }).unavailabilityId;
    byId.set(id, [...(byId.get(id) ?? []), m]);
  }
  let addsOvertaken = 0;
  for (const [id, arrived] of byId) {
    let newestSoFar = -Infinity;
    for (const m of arrived) {
      const body = m.body as { updatedDateTime: string; action: string };
      const at = Date.parse(body.updatedDateTime);
      const tried = at > newestSoFar;
      if (tried) newestSoFar = at;
      const want = !tried ? 'SUPERSEDED' : plan.refused.has(m.key) ? 'DEAD_LETTERED' : 'DELIVERED';
      const state = traces.get(m.messageId)?.state;
      if (state !== want) problems.push(`${m.key}: ${state}, expected ${want}`);
      if (body.action === 'ADD' && plan.overtaking.has(id) && state === 'SUPERSEDED') addsOvertaken++;
    }
    const newest = plan.newest.get(id);
    if (newest && Date.parse(lastApplied.get(id) ?? '') !== Date.parse(newest))
      problems.push(`${id}: DERMS ends with ${lastApplied.get(id)}, not the newest ${newest}`);
  }
  return { ids: byId.size, overtaking: plan.overtaking.size, addsOvertaken, problems };
}

/** Accepted messages by flow, each messageId once. */
export const byFlow = (accepted: readonly Accepted[]) => {
  const counts: Partial<Record<FlowId, number>> = {};
  for (const m of new Map(accepted.map((a) => [a.messageId, a])).values())
    counts[m.flow] = (counts[m.flow] ?? 0) + 1;
  return counts;
};

/** Everything a ledger says went wrong, one line each. */
export const ledgerProblems = (ledger: Ledger) => [
  ...ledger.lost.map((x) => `lost: ${x}`),
  ...ledger.appliedTwice.map((x) => `applied twice: ${x}`),
  ...ledger.unexpectedDeadLetters.map((x) => `dead-lettered, not refused: ${x}`),
  ...ledger.missedRefusals.map((x) => `refused, yet delivered: ${x}`),
  ...ledger.unexpectedSuperseded.map((x) => `superseded: ${x}`),
];

// ── Crashes ─────────────────────────────────────────────────────────────────────────────────────────

const dataDir = () => dirname(process.env.LOCAL_FUNCTIONS_PID_FILE ?? resolve('.local/functions.pid'));
const readPid = (file: string) => (existsSync(file) ? Number(readFileSync(file, 'utf-8').trim()) : undefined);
/** The pid of a role's function process now running (`functions-<role>.pid`). */
export const functionPid = (role: FunctionRole) => readPid(functionPidFile(dataDir(), role));
export const dynamoDbPid = () => readPid(resolve(dataDir(), 'dynamodb.pid'));

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * SIGKILLs the function processes of these roles at once (Lambda crashes; every role by default) and
 * waits until each has a successor running, and the API answers when the API's was among them.
 */
export async function killFunctions(roles: readonly FunctionRole[] = FUNCTION_ROLES): Promise<void> {
  const before = roles.map((role) => {
    const pid = functionPid(role);
    if (pid === undefined) throw new Error(`no pid file of the ${role} function process`);
    return [role, pid] as const;
  });
  for (const [, pid] of before) process.kill(pid, 'SIGKILL');
  const restarted = (role: FunctionRole, old: number) => {
    const now = functionPid(role);
    return now !== undefined && now !== old && alive(now);
  };
  await waitFor(
    async () =>
      before.every(([role, old]) => restarted(role, old)) &&
      (!roles.includes('api') || (await fetch(`${API()}/openapi.json`)).status === 200),
    60_000,
    `the ${roles.join(', ')} function process${roles.length > 1 ? 'es' : ''} to be restarted`,
  );
}

/**
 * Stops DynamoDB Local (SIGTERM) and resolves once it is gone, with a function that waits for the
 * supervisor's restart (a new pid, answering).
 */
export async function stopDynamoDb(): Promise<{ back: () => Promise<void> }> {
  const before = dynamoDbPid();
  if (before === undefined) throw new Error('no DynamoDB Local pid file');
  process.kill(before, 'SIGTERM');
  await waitFor(async () => !alive(before), 20_000, 'DynamoDB Local to stop');
  return {
    back: () =>
      waitFor(
        async () => {
          const now = dynamoDbPid();
          return now !== undefined && now !== before && alive(now);
        },
        60_000,
        'DynamoDB Local to be restarted',
      ).then(() => undefined),
  };
}

/** Whether DynamoDB Local is down now: the pid the stack wrote is `before` and that process is gone. */
export const dynamoDbDown = (before: number) => dynamoDbPid() === before && !alive(before);

/** The visibility timeout of every flow's queue, in seconds (what a crash leaves in flight waits). */
export async function visibilityTimeouts(): Promise<Record<FlowId, number>> {
  const endpoint = `http://127.0.0.1:${process.env.LOCAL_SQS_PORT ?? '4566'}`;
  const sqs = new SQSClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const out = {} as Record<FlowId, number>;
  try {
    for (const id of Object.keys(FLOWS) as FlowId[]) {
      const name = `local-${FLOWS[id].queue.name}${FLOWS[id].queue.fifo ? '.fifo' : ''}`;
      const { Attributes } = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: `${endpoint}/000000000000/${name}`,
          AttributeNames: ['VisibilityTimeout'],
        }),
      );
      out[id] = Number(Attributes?.VisibilityTimeout);
    }
  } finally {
    sqs.destroy();
  }
  return out;
}

/** Lines of the stack's log that match (Lambda time-outs, restarts). */
export function stackLogCount(pattern: RegExp): number {
  const file = process.env.E2E_STACK_LOG;
  if (!file || !existsSync(file)) return 0;
  return readFileSync(file, 'utf-8')
    .split('\n')
    .filter((line) => pattern.test(line)).length;
}
