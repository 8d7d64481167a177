/**
 * Small pieces shared by the delivery client and the token fetch: how we name ourselves, how long a
 * recorded answer may be, and how a failed `fetch` reads in a trace.
 */

/** Sent on every outbound call so receivers can tell the integration's traffic apart. */
export const USER_AGENT = 'dacs-derms-integration (Oracle Utilities DACS - Edge DERMS)';

/** Longest receiver answer recorded on a {@link DeliveryError}. */
export const MAX_RECORDED_BODY_CHARS = 1000;

/** @default 10000, overridden by `HTTP_TIMEOUT_MS` */
export const DEFAULT_HTTP_TIMEOUT_MS = 10_000;

export type FetchLike = typeof fetch;

/** A receiver's answer cut to at most {@link MAX_RECORDED_BODY_CHARS} (an ellipsis marks the cut), or undefined when empty. */
export function trimBody(text: string): string | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  return trimmed.length > MAX_RECORDED_BODY_CHARS
    ? `${trimmed.slice(0, MAX_RECORDED_BODY_CHARS - 1)}…`
    : trimmed;
}

/** True when `fetch` (or reading its body) was aborted by `AbortSignal.timeout`. */
export function isTimeout(error: unknown): boolean {
  const name = field(error, 'name');
  return name === 'TimeoutError' || name === 'AbortError';
}

/**
 * Why a `fetch` failed, for a trace: "connection reset (ECONNRESET)". Node's `fetch` throws a bare
 * `TypeError('fetch failed')` whose `cause` carries the socket error code. Timeouts are told apart
 * with {@link isTimeout} first.
 */
export function networkReason(error: unknown): string {
  const code = errorCode(error);
  if (code === undefined) return field(error, 'message') || 'network error';
  return `${NETWORK_REASONS[code] ?? 'network error'} (${code})`;
}

const NETWORK_REASONS: Record<string, string> = {
  ECONNRESET: 'connection reset',
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'DNS lookup failed',
  ETIMEDOUT: 'connection timed out',
  EPIPE: 'connection closed while sending',
  UND_ERR_SOCKET: 'connection closed or reset',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  UND_ERR_HEADERS_TIMEOUT: 'no answer headers in time',
  UND_ERR_BODY_TIMEOUT: 'answer body stalled',
  CERT_HAS_EXPIRED: 'TLS certificate expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed TLS certificate',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'TLS certificate not trusted',
};

function errorCode(error: unknown): string | undefined {
  // Walk the cause chain: TypeError('fetch failed') → SocketError / system error with `code`.
  let current: unknown = error;
  for (let depth = 0; depth < 4 && typeof current === 'object' && current !== null; depth++) {
    const code = field(current, 'code');
    if (code !== undefined) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

// Duck-typed rather than `instanceof Error`: fetch's errors (DOMException, undici's) may come from
// another realm, as under Jest's VM modules.
function field(error: unknown, key: 'name' | 'message' | 'code'): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const value = (error as Record<string, unknown>)[key];
  return typeof value === 'string' ? value : undefined;
}
