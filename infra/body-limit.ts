/**
 * How large an inbound body may be so that API Gateway can still hand it to Lambda.
 *
 * API Gateway passes the body to the ingest function as one JSON string inside the proxy event, so the
 * body is escaped once more, and Lambda refuses an invocation over 6 MB (6,291,456 bytes). A body that
 * fits the handler's limit but not the invocation would be answered by the gateway with a 5xx (our 503
 * "retry"), forever. The worst case for a *valid JSON* body (the gateway's JSON model refuses anything
 * else with a 400 before Lambda is invoked):
 *
 *   byte of the body                               escaped in the event    growth
 *   `"`  `\`                                       `\"`  `\\`              × 2
 *   tab, LF, CR (whitespace between tokens)        `\t`  `\n`  `\r`        × 2
 *   other control characters (U+0000–U+001F)       cannot occur raw: valid JSON already carries them
 *                                                  as `\n` or `\u0001`, whose bytes grow × 2 or × 7/6
 *   anything else, non-ASCII included              unchanged (JSON.stringify escapes only lone
 *                                                  surrogates, which valid UTF-8 cannot hold)
 *
 * So every byte of a valid JSON body grows at most twofold: `"\\\\…\\"` (a string of backslashes) is the
 * worst body there is, and the limit is half of what is left of 6 MB once the rest of the event (headers
 * twice over, the request context, the path) has had its share.
 *
 * This module is pure data: the infra tests prove the figures with a worst-case event
 * (test/unit/infra/body-limit.test.ts), and the stage configuration refuses a larger `MAX_BODY_BYTES`.
 */

/** Lambda's synchronous invocation payload limit (6 MB). */
export const LAMBDA_INVOKE_LIMIT_BYTES = 6_291_456;

/**
 * What the event holds besides the body, at its worst: API Gateway allows 10,240 bytes of request line
 * and headers, which appear up to four times (`headers`, `multiValueHeaders`, the path and query fields,
 * `requestContext.identity`), each byte escaped to at most two, plus a request context of about 2 KB.
 * 128 KiB is half again as much.
 */
export const EVENT_HEADROOM_BYTES = 131_072;

/** The most a byte of a valid JSON body grows when the event is serialized (see the table above). */
export const WORST_CASE_ESCAPE_RATIO = 2;

/** The largest body whose worst-case event still fits Lambda: 3,080,192 bytes. */
export const MAX_SAFE_BODY_BYTES = Math.floor(
  (LAMBDA_INVOKE_LIMIT_BYTES - EVENT_HEADROOM_BYTES) / WORST_CASE_ESCAPE_RATIO,
);

/**
 * The contract's floor: the limit is never less than an asset sync or ack of 10,000 devices, "about
 * 2.5 MB" (about 250 bytes a device).
 */
export const CONTRACT_MIN_BODY_BYTES = 2_500_000;

/**
 * A regular expression matching a decimal integer (leading zeros allowed) greater than `limit`: the
 * firewall matches it against `Content-Length` to answer an oversized body with 413 before API Gateway
 * tries to invoke Lambda with it.
 */
export function greaterThanPattern(limit: number): string {
  if (!Number.isSafeInteger(limit) || limit < 0)
    throw new Error(`limit must be a whole number, got ${limit}`);
  const digits = String(limit);
  const longer = `[1-9][0-9]{${digits.length},}`;
  const sameLength = [...digits].flatMap((digit, i) => {
    if (digit === '9') return [];
    const next = Number(digit) + 1;
    const rest = digits.length - i - 1;
    return [`${digits.slice(0, i)}[${next}-9]${rest > 0 ? `[0-9]{${rest}}` : ''}`];
  });
  return `^0*(${[longer, ...sameLength].join('|')})$`;
}
