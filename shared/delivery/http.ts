/**
 * The outbound HTTP client: one `POST` of a JSON body to DERMS or DACS, with the contract's headers,
 * a timeout, and every failure turned into a {@link DeliveryError} whose `retryable` flag follows the
 * contract ("Outbound calls"): network errors, timeouts, 408, 429 and 5xx are retryable, other 4xx and
 * 3xx (redirects are not followed) are permanent. Back-off itself is the process handler's job; the
 * error carries `statusCode`, `retryAfterSeconds` and the trimmed `responseBody` for it and the trace.
 */
import { optionalNumber, optionalString, requireString } from '#shared/config/env.ts';
import { type CredentialsProvider, createCredentialsProvider } from '#shared/delivery/credentials.ts';
import { encodeHeaderKey } from '#shared/delivery/keys.ts';
import { classifyHttpStatus, parseRetryAfter } from '#shared/delivery/retry.ts';
import {
  DEFAULT_HTTP_TIMEOUT_MS,
  type FetchLike,
  isTimeout,
  networkReason,
  trimBody,
  USER_AGENT,
} from '#shared/delivery/transport.ts';
import { ConfigurationError, DeliveryError } from '#shared/errors.ts';
import type { DeliveryTarget, TargetSystem } from '#shared/flows/registry.ts';

type Env = Record<string, string | undefined>;

export interface DeliveryRequest {
  system: TargetSystem;
  /** Path below the system's base URL, e.g. from {@link resolvePath}. */
  path: string;
  /** Serialised as JSON. */
  body: unknown;
  /**
   * The business key of the delivered message (contract: `Idempotency-Key`). Sent through
   * {@link encodeHeaderKey}: unchanged when it is visible ASCII without `%`, percent-encoded otherwise.
   */
  idempotencyKey: string;
  /** The integration's `messageId` (contract: `X-Correlation-Id`), encoded like the key. */
  correlationId: string;
}

export interface DeliveryResult {
  /** The receiver's 2xx status. */
  status: number;
  /** Time of the receiver call that succeeded, excluding any token request. */
  durationMs: number;
  /** The receiver's answer, when it sent one. */
  body?: string;
}

export type Deliver = (request: DeliveryRequest) => Promise<DeliveryResult>;

export interface DelivererDeps {
  /** @default the global `fetch` */
  readonly fetch?: FetchLike;
  /** @default `createCredentialsProvider({ env, fetch })` */
  readonly credentials?: CredentialsProvider;
  /** @default `process.env`, through `#shared/config/env.ts` */
  readonly env?: Env;
  /** Monotonic clock in milliseconds, for `durationMs`. @default performance.now */
  readonly now?: () => number;
}

/** The receiver path of a registry target: its `pathEnv` override, else the contract's `defaultPath`. */
export function resolvePath(target: DeliveryTarget, env?: Env): string {
  return optionalString(target.pathEnv, target.defaultPath, env);
}

/** What one deliverer holds: its transport, clock, timeout, credentials and the base URLs read so far. */
interface Deliverer {
  readonly fetch: FetchLike;
  readonly now: () => number;
  readonly timeoutMs: number;
  readonly credentials: CredentialsProvider;
  readonly env: Env | undefined;
  readonly baseUrls: Map<TargetSystem, string>;
}

/** A request checked and serialised, ready to send (and to send again after a token refresh). */
interface Prepared {
  readonly system: TargetSystem;
  readonly call: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly payload: string;
}

/** The receiver's answer, read whole. */
interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly durationMs: number;
}

export function createDeliverer(deps: DelivererDeps = {}): Deliver {
  const timeoutMs = optionalNumber('HTTP_TIMEOUT_MS', DEFAULT_HTTP_TIMEOUT_MS, deps.env);
  const deliverer: Deliverer = {
    fetch: deps.fetch ?? ((input, init) => fetch(input, init)),
    now: deps.now ?? (() => performance.now()),
    timeoutMs,
    credentials:
      deps.credentials ??
      createCredentialsProvider({
        timeoutMs,
        ...(deps.env !== undefined && { env: deps.env }),
        ...(deps.fetch !== undefined && { fetch: deps.fetch }),
      }),
    env: deps.env,
    baseUrls: new Map(),
  };
  return (request) => deliverWith(deliverer, request);
}

async function deliverWith(deliverer: Deliverer, request: DeliveryRequest): Promise<DeliveryResult> {
  const prepared = prepare(request, baseUrlFor(deliverer, request.system));
  const { system } = prepared;
  let authorization = await authorizationFor(deliverer.credentials, system);
  let answer = await send(deliverer, prepared, authorization);
  let refreshed = false;
  if (answer.status === 401 && authorization !== undefined) {
    // The token may have been revoked or rotated early: fetch a new one and try once more.
    deliverer.credentials.invalidate(system, authorization);
    authorization = await authorizationFor(deliverer.credentials, system);
    answer = await send(deliverer, prepared, authorization);
    refreshed = true;
  }
  const outcome = classifyHttpStatus(answer.status);
  if (outcome === 'ok') {
    return {
      status: answer.status,
      durationMs: Math.round(answer.durationMs),
      ...(answer.text !== '' && { body: answer.text }),
    };
  }
  const retryAfterSeconds = parseRetryAfter(answer.headers.get('retry-after'), new Date());
  const responseBody = trimBody(answer.text);
  throw new DeliveryError(
    `${system} answered ${answer.status} to ${prepared.call}${refreshed ? ' (after a token refresh)' : ''}`,
    {
      retryable: outcome === 'retryable',
      statusCode: answer.status,
      ...(retryAfterSeconds !== undefined && { retryAfterSeconds }),
      ...(responseBody !== undefined && { responseBody }),
    },
  );
}

/** Read once per system, on first use, so a function that only talks to DACS needs no DERMS_BASE_URL. */
function baseUrlFor({ baseUrls, env }: Deliverer, system: TargetSystem): string {
  const known = baseUrls.get(system);
  if (known !== undefined) return known;
  const key = `${system}_BASE_URL`;
  let raw: string;
  try {
    raw = requireString(key, env);
  } catch (cause) {
    // Retryable like unfilled credentials: fixing the configuration delivers what is waiting.
    throw new DeliveryError(`Cannot deliver to ${system}: environment variable ${key} is not set`, {
      retryable: true,
      cause,
    });
  }
  if (!URL.canParse(raw) || !/^https?:$/.test(new URL(raw).protocol)) {
    throw new DeliveryError(`Cannot deliver to ${system}: ${key} is not an http(s) URL`, {
      retryable: true,
      cause: new ConfigurationError(`${key} is not an http(s) URL`, { key }),
    });
  }
  const base = raw.replace(/\/+$/, '');
  baseUrls.set(system, base);
  return base;
}

async function authorizationFor(
  credentials: CredentialsProvider,
  system: TargetSystem,
): Promise<string | undefined> {
  try {
    return await credentials.authorizationHeader(system);
  } catch (cause) {
    if (cause instanceof DeliveryError) throw cause;
    throw new DeliveryError(`Cannot deliver to ${system}: no credentials (${String(cause)})`, {
      retryable: true,
      cause,
    });
  }
}

/** Checks the contract's headers and serialises the body; a failure here is a bug of ours, permanent. */
function prepare(request: DeliveryRequest, baseUrl: string): Prepared {
  const { system } = request;
  const path = request.path.startsWith('/') ? request.path : `/${request.path}`;
  const call = `POST ${path}`;
  for (const [name, value] of [
    ['Idempotency-Key', request.idempotencyKey],
    ['X-Correlation-Id', request.correlationId],
  ] as const) {
    // Every message has a business key and a message id.
    if (typeof value !== 'string' || value === '') {
      throw new DeliveryError(`Cannot send ${call} to ${system}: ${name} is missing or empty`, {
        retryable: false,
      });
    }
  }
  let payload: string | undefined;
  try {
    payload = JSON.stringify(request.body);
  } catch (cause) {
    throw new DeliveryError(`Cannot send ${call} to ${system}: the body is not serialisable as JSON`, {
      retryable: false,
      cause,
    });
  }
  if (payload === undefined) {
    throw new DeliveryError(`Cannot send ${call} to ${system}: there is no body`, { retryable: false });
  }
  const headers = {
    'Content-Type': 'application/json',
    Accept: 'application/json',
    // Any identifier survives as a header; visible ASCII without `%` goes out byte for byte as it is.
    'Idempotency-Key': encodeHeaderKey(request.idempotencyKey),
    'X-Correlation-Id': encodeHeaderKey(request.correlationId),
    'User-Agent': USER_AGENT,
  };
  return { system, call, url: `${baseUrl}${path}`, headers, payload };
}

/** One POST; a network failure or time-out is a retryable {@link DeliveryError}. */
async function send(
  deliverer: Deliverer,
  prepared: Prepared,
  authorization: string | undefined,
): Promise<Answer> {
  const { system, call, timeoutMs } = { ...prepared, timeoutMs: deliverer.timeoutMs };
  const headers =
    authorization === undefined ? prepared.headers : { ...prepared.headers, Authorization: authorization };
  const startedAt = deliverer.now();
  try {
    const response = await deliverer.fetch(prepared.url, {
      method: 'POST',
      headers,
      body: prepared.payload,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    // Read inside the timeout: a receiver that stalls mid-body is as dead as a silent one.
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      text,
      durationMs: deliverer.now() - startedAt,
    };
  } catch (cause) {
    const message = isTimeout(cause)
      ? `${system} did not answer ${call} within ${timeoutMs} ms`
      : `${system} could not be reached for ${call}: ${networkReason(cause)}`;
    throw new DeliveryError(message, { retryable: true, cause });
  }
}

let defaultDeliverer: Deliver | undefined;

/** {@link createDeliverer} bound to the real `fetch`, environment and Secrets Manager; created on first use. */
export async function deliver(request: DeliveryRequest): Promise<DeliveryResult> {
  defaultDeliverer ??= createDeliverer();
  return defaultDeliverer(request);
}
