/**
 * Callers for the end-to-end bench, over real HTTP: tokens from the local token endpoint, closed-loop
 * callers (each sends its next request when its last one is answered), and the DERMS simulator's record
 * of when each delivery arrived, matched by `Idempotency-Key` (the opt-out's `optOutId`).
 */
import { randomBytes } from 'node:crypto';
import { FLOWS } from '#shared/flows/registry.ts';
import { optOut } from '#test/helpers/messages.ts';

export async function accessToken(api: string, client: string, secret = 'local-secret'): Promise<string> {
  const response = await fetch(`${api}/oauth2/token`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      Authorization: `Basic ${Buffer.from(`${client}:${secret}`).toString('base64')}`,
    },
    body: 'grant_type=client_credentials',
  });
  if (response.status !== 200)
    throw new Error(`token for ${client}: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { access_token: string }).access_token;
}

/** One request: its key, when it was sent and answered (epoch ms), and the answer's status. */
export interface Shot {
  readonly key: string;
  readonly sentAt: number;
  readonly answeredAt: number;
  readonly status: number;
}

/** Sends opt-out `key` and says when it was answered. */
export type Sender = (key: string) => Promise<Shot>;

export const uid = (): string => randomBytes(5).toString('hex').toUpperCase();

/** A sender of opt-outs as DACS sends them: JSON, with a bearer token when one is given. */
export function optOutSender(url: string, bearer?: string): Sender {
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  return async (key) => {
    const body = JSON.stringify(optOut({ optOutId: key, deviceId: `D-${key.slice(-8)}` }));
    const sentAt = Date.now();
    const response = await fetch(url, { method: 'POST', headers, body });
    await response.arrayBuffer();
    return { key, sentAt, answeredAt: Date.now(), status: response.status };
  };
}

/**
 * `concurrency` callers share `count` requests, each caller sending its next when its last is answered;
 * with `until`, they stop when it resolves instead (`count` is then a cap).
 */
export async function closedLoop(
  send: Sender,
  options: { count: number; concurrency: number; prefix: string; until?: Promise<unknown> },
): Promise<Shot[]> {
  let stopped = false;
  options.until?.then(() => {
    stopped = true;
  });
  const shots: Shot[] = [];
  let next = 0;
  const caller = async () => {
    while (!stopped && next < options.count) {
      const shot = await send(`${options.prefix}${String(next++).padStart(6, '0')}`);
      if (shot.status !== 202) throw new Error(`opt-out ${shot.key} answered ${shot.status}, not 202`);
      shots.push(shot);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, caller));
  return shots;
}

interface SimCall {
  readonly receivedAt: string;
  readonly idempotencyKey: string | null;
}

/** When the DERMS simulator received each key's opt-out (its first delivery), polling until all are in. */
export async function receipts(
  derms: string,
  keys: readonly string[],
  timeoutMs: number,
): Promise<Map<string, number>> {
  const wanted = new Set(keys);
  const found = new Map<string, number>();
  const until = Date.now() + timeoutMs;
  for (;;) {
    const calls = (await (
      await fetch(`${derms}/sim/calls?path=${encodeURIComponent(FLOWS.optOut.target.defaultPath)}`)
    ).json()) as SimCall[];
    for (const call of calls) {
      const key = call.idempotencyKey;
      if (key && wanted.has(key) && !found.has(key)) found.set(key, Date.parse(call.receivedAt));
    }
    if (found.size === wanted.size) return found;
    if (Date.now() > until) {
      throw new Error(
        `${wanted.size - found.size} of ${wanted.size} opt-outs did not reach DERMS within ${timeoutMs} ms`,
      );
    }
    await new Promise((done) => setTimeout(done, 250));
  }
}

/** Forgets what a simulator recorded, so the next poll reads only what follows. */
export async function clearCalls(simulator: string): Promise<void> {
  const response = await fetch(`${simulator}/sim/calls`, { method: 'DELETE' });
  await response.arrayBuffer();
}

/** The nearest-rank percentile of ascending `sorted`. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new Error('no samples');
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** What one run of opt-outs measured, from send to DERMS's receipt. */
export interface OptOutRun {
  readonly count: number;
  readonly concurrency: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Opt-outs delivered per second, from the first send to the last receipt. */
  readonly perSecond: number;
  /** 202 answers, p50 of the HTTP round trip. */
  readonly acceptP50Ms: number;
}

export function summarise(
  shots: readonly Shot[],
  received: ReadonlyMap<string, number>,
  concurrency: number,
) {
  const latencies = shots.map((s) => received.get(s.key)! - s.sentAt).sort((a, b) => a - b);
  const answers = shots.map((s) => s.answeredAt - s.sentAt).sort((a, b) => a - b);
  const first = Math.min(...shots.map((s) => s.sentAt));
  const last = Math.max(...received.values());
  return {
    count: shots.length,
    concurrency,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    perSecond: (shots.length * 1000) / Math.max(1, last - first),
    acceptP50Ms: percentile(answers, 50),
  } satisfies OptOutRun;
}

/**
 * `concurrency` callers send opt-outs for `durationMs` (at most `count`), then it waits until DERMS has
 * them all. Time-boxed, so a slow machine sends fewer rather than taking longer.
 */
export async function optOutRun(
  derms: string,
  send: Sender,
  options: { readonly concurrency: number; readonly durationMs: number; readonly count?: number },
): Promise<OptOutRun> {
  await clearCalls(derms);
  const shots = await closedLoop(send, {
    count: options.count ?? 1_000_000,
    concurrency: options.concurrency,
    prefix: `OOB${uid()}-`,
    until: new Promise((done) => setTimeout(done, options.durationMs)),
  });
  const received = await receipts(
    derms,
    shots.map((s) => s.key),
    60_000,
  );
  return summarise(shots, received, options.concurrency);
}
