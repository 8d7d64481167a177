/** What the local HTTP servers (the API host and the simulators) share to write an answer. */
import type { ServerResponse } from 'node:http';

/**
 * Writes `body` as JSON with its length, or an empty answer when there is no body. `headers` are
 * written last, so they may replace the default `Content-Type` (e.g. with `application/problem+json`).
 */
export function send(
  res: ServerResponse,
  status: number,
  body?: unknown,
  headers: Readonly<Record<string, string>> = {},
): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}
