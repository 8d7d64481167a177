/**
 * HTTP helpers for the end-to-end layer: tokens from the local token endpoint, calls to the API as DACS,
 * DERMS or support would make them, and the simulators' control API. Everything goes over HTTP.
 */
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  generateSigningKey,
  readSigningKey,
  type SigningKey,
  signAccessToken,
  signingKeyFile,
} from '#local/auth.ts';
import type { DacsAcknowledgement } from '#shared/contracts/types.ts';
import { assetSyncRequest, controllableDevice } from '#test/helpers/messages.ts';

const REPO_ROOT = resolve(fileURLToPath(import.meta.url), '../../..');

export const API = () => process.env.LOCAL_API_URL ?? 'http://127.0.0.1:3000';
export const DERMS = () => process.env.DERMS_SIM_URL ?? 'http://127.0.0.1:3001';
export const DACS = () => process.env.DACS_SIM_URL ?? 'http://127.0.0.1:3002';

export type Client = 'dacs-local' | 'derms-local' | 'support-local';

/** Tokens per API (the main e2e stack, or a second one) and client. */
const tokens = new Map<string, string>();

export async function fetchToken(
  client: string,
  secret = 'local-secret',
  grant = 'client_credentials',
  api = API(),
): Promise<Response> {
  return fetch(`${api}/oauth2/token`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      Authorization: `Basic ${Buffer.from(`${client}:${secret}`).toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: grant }).toString(),
  });
}

export async function token(client: Client, api = API()): Promise<string> {
  const cached = tokens.get(`${api} ${client}`);
  if (cached) return cached;
  const response = await fetchToken(client, 'local-secret', 'client_credentials', api);
  if (response.status !== 200)
    throw new Error(`token for ${client}: ${response.status} ${await response.text()}`);
  const { access_token: accessToken } = (await response.json()) as { access_token: string };
  tokens.set(`${api} ${client}`, accessToken);
  return accessToken;
}

/**
 * The local stack's token signing key, which `npm start` writes into its data directory
 * (LOCAL_DATA_DIR, as the e2e setup passes it) at each start.
 */
export function stackSigningKey(
  dataDir = resolve(REPO_ROOT, process.env.LOCAL_DATA_DIR ?? '.local'),
): SigningKey {
  return readSigningKey(signingKeyFile(dataDir));
}

/** The kinds of token that must not pass the authorizer (401), whatever their scope. */
export const BAD_TOKENS = [
  'malformed',
  'expired',
  'forged',
  'alg-none',
  'other-issuer',
  'other-client',
] as const;
export type BadToken = (typeof BAD_TOKENS)[number];

let forger: Promise<SigningKey> | undefined;
const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * A token the authorizer must refuse, carrying `scope` as `dacs-local` (or `clientId`) would:
 *   malformed     three base64url parts that are no JWT
 *   expired       the stack's key and issuer, expired an hour ago
 *   forged        the stack's issuer and key id, signed with another key (a bad signature)
 *   alg-none      unsigned (`alg: none`), the stack's key id and issuer
 *   other-issuer  signed with the stack's key, from another issuer (a Cognito user pool)
 *   other-client  signed with the stack's key, issued to an app client not on the list
 * The issuer is the API's URL (`api`), as the local token endpoint sets it.
 */
export async function badToken(
  kind: BadToken,
  scope = 'integration/dacs',
  { api = API(), clientId = 'dacs-local', key = stackSigningKey() } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  switch (kind) {
    case 'malformed':
      return `${b64({ typ: 'text' })}.${Buffer.from('not json').toString('base64url')}.${b64({ sig: 1 })}`;
    case 'expired':
      return signAccessToken(key, api, clientId, [scope], -3600, { iat: now - 7200, auth_time: now - 7200 });
    case 'forged': {
      forger ??= generateSigningKey();
      return signAccessToken({ ...(await forger), kid: key.kid }, api, clientId, [scope]);
    }
    case 'alg-none': {
      const payload = {
        sub: clientId,
        client_id: clientId,
        token_use: 'access',
        scope,
        iss: api,
        iat: now,
        exp: now + 3600,
      };
      return `${b64({ alg: 'none', kid: key.kid })}.${b64(payload)}.`;
    }
    case 'other-issuer':
      return signAccessToken(key, api, clientId, [scope], 3600, {
        iss: 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_NotOurPool',
      });
    case 'other-client':
      return signAccessToken(key, api, 'intruder-local', [scope]);
  }
}

export interface CallOptions {
  /** Base URL of the API. @default the main e2e stack's (LOCAL_API_URL) */
  api?: string;
  client?: Client | null;
  bearer?: string;
  contentType?: string;
  rawBody?: string | Buffer;
}

export interface Answer<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

async function answer<T>(response: Response): Promise<Answer<T>> {
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, headers: response.headers, body: body as T };
}

async function authHeader(options: CallOptions): Promise<Record<string, string>> {
  if (options.bearer) return { Authorization: `Bearer ${options.bearer}` };
  if (options.client === null) return {};
  return { Authorization: `Bearer ${await token(options.client ?? 'dacs-local', options.api ?? API())}` };
}

export async function post<T = Record<string, unknown>>(
  path: string,
  body: unknown,
  options: CallOptions = {},
): Promise<Answer<T>> {
  const response = await fetch(`${options.api ?? API()}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': options.contentType ?? 'application/json', ...(await authHeader(options)) },
    body: options.rawBody ?? JSON.stringify(body),
  });
  return answer<T>(response);
}

export async function get<T = Record<string, unknown>>(
  path: string,
  options: CallOptions = {},
): Promise<Answer<T>> {
  const response = await fetch(`${options.api ?? API()}${path}`, {
    headers: await authHeader({ client: 'support-local', ...options }),
  });
  return answer<T>(response);
}

export interface SimCall {
  path: string;
  receivedAt: string;
  body: Record<string, unknown>;
  idempotencyKey?: string;
  correlationId?: string;
  /** True when the simulator had already applied this `Idempotency-Key` (a redundant delivery). */
  duplicate?: boolean;
}

export const sim = (base: () => string) => ({
  async calls(pathSuffix?: string): Promise<SimCall[]> {
    const query = pathSuffix ? `?path=${encodeURIComponent(pathSuffix)}` : '';
    return (await fetch(`${base()}/sim/calls${query}`)).json() as Promise<SimCall[]>;
  },
  async fault(rule: Record<string, unknown>): Promise<string> {
    const response = await fetch(`${base()}/sim/faults`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(rule),
    });
    if (response.status !== 201)
      throw new Error(`fault refused: ${response.status} ${await response.text()}`);
    return ((await response.json()) as { id: string }).id;
  },
  async clearFaults(): Promise<void> {
    await fetch(`${base()}/sim/faults`, { method: 'DELETE' });
  },
  async device(
    deviceId: string,
  ): Promise<Answer<{ deviceId: string; headEndRegistration: string; updatedAt: string }>> {
    return answer(await fetch(`${base()}/sim/devices/${encodeURIComponent(deviceId)}`));
  },
});

export const dermsSim = sim(DERMS);
export const dacsSim = sim(DACS);

/** Polls until `probe` returns a value (not undefined/false) or the time runs out. */
export async function waitFor<T>(
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < until) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

/** A short unique suffix, so tests never collide with each other or with an earlier run. */
export const uid = (): string => randomBytes(4).toString('hex').toUpperCase();

export async function traceOf(messageId: string): Promise<Record<string, unknown>> {
  return (await get(`/v1/messages/${messageId}`)).body;
}

/** Waits until a message's trace reaches one of `states`. */
export async function waitForState(
  messageId: string,
  states: string[],
  timeoutMs = 20_000,
): Promise<Record<string, unknown>> {
  return waitFor(
    async () => {
      const trace = await traceOf(messageId);
      return states.includes(String(trace.state)) ? trace : undefined;
    },
    timeoutMs,
    `message ${messageId} to reach ${states.join('/')}`,
  );
}

/** DACS's consolidated-ack route, as the DACS simulator records it. */
export const ACK_PATH = '/rest/apis/cross/digitalAssets/programEnrollments/postAcknowledgement';

/** The acks DACS received for one sync request, oldest first. */
export const acksFor = async (syncRequestId: string): Promise<(SimCall & { body: DacsAcknowledgement })[]> =>
  (await dacsSim.calls(ACK_PATH)).filter(
    (c) => (c.body as { syncRequestId?: string }).syncRequestId === syncRequestId,
  ) as never;

/** An asset sync of `count` REGISTER devices with fresh ids. */
export function syncOf(count: number, reason: 'ENROLL' | 'ADD_DEVICE' = 'ENROLL') {
  const id = uid();
  const devices = Array.from({ length: count }, (_, i) =>
    controllableDevice({
      deviceId: `D${id}${String.fromCharCode(65 + i)}`,
      nicId: `NIC-${id}-${i}`,
      networkAddress: `10.0.0.${i + 1}`,
    }),
  );
  return {
    syncRequestId: `SR${id}`,
    deviceIds: devices.map((d) => d.deviceId),
    request: assetSyncRequest({
      sendDetails: { syncRequestId: `SR${id}`, reason },
      subscriptionInfo: { subscriptionId: `SUB-${id}` },
      locationInfo: { controllableDevices: devices },
    }),
  };
}
