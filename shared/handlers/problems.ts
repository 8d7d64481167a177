/**
 * The problem types the integration answers with (RFC 9457): one row per problem, with its status, the
 * `type` URI a client branches on and its `title`. Whoever answers (a handler, an API Gateway gateway
 * response, the local host) reads its type and title here, so a caller sees one set whoever refused it.
 *
 * Pure data, no imports: CDK code and the local host can import it without pulling in an SDK.
 */

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
export const PROBLEM_TYPE_BASE = 'https://integration.example/problems/';

export interface ProblemType {
  readonly status: number;
  /** A URI naming the problem; clients branch on it, never on `title`. */
  readonly type: string;
  /** Short, the same for every occurrence of the problem (RFC 9457 §3.1.4). */
  readonly title: string;
}

const problem = (status: number, slug: string, title: string): ProblemType => ({
  status,
  type: `${PROBLEM_TYPE_BASE}${slug}`,
  title,
});

/**
 * Every problem by name. A status's first row here is its default ({@link PROBLEM_BY_STATUS}); a second
 * problem of the same status would get a row of its own with its own `type`.
 */
export const PROBLEMS = {
  malformedJson: problem(400, 'malformed-json', 'Malformed JSON'),
  /** A request refused as malformed: by API Gateway's request validation, or a support search's query. */
  badRequest: problem(400, 'bad-request', 'Bad Request'),
  unauthenticated: problem(401, 'unauthenticated', 'Unauthenticated'),
  forbidden: problem(403, 'forbidden', 'Forbidden'),
  notFound: problem(404, 'not-found', 'Not found'),
  conflictingDuplicate: problem(409, 'conflicting-duplicate', 'Conflicting duplicate'),
  /** A support resubmit of a message that is not (or no longer) DEAD_LETTERED. */
  notDeadLettered: problem(409, 'not-dead-lettered', 'Not dead-lettered'),
  /** The legacy message-level acknowledgement, switched off (`LEGACY_ACK_MODE=reject`). */
  legacyAckSwitchedOff: problem(410, 'gone', 'Gone'),
  // The slug predates the RFC 9110 title; clients branch on it, so it stays.
  contentTooLarge: problem(413, 'payload-too-large', 'Content Too Large'),
  unsupportedMediaType: problem(415, 'unsupported-media-type', 'Unsupported media type'),
  validationFailed: problem(422, 'validation-failed', 'Unprocessable message'),
  throttled: problem(429, 'throttled', 'Too Many Requests'),
  /** Nothing was accepted; the caller should retry (always with `Retry-After`). */
  unavailable: problem(503, 'unavailable', 'Service unavailable'),
  /** Answered by the local host only: on AWS the gateway answers these as `unavailable`. */
  badGateway: problem(502, 'bad-gateway', 'Bad Gateway'),
  gatewayTimeout: problem(504, 'gateway-timeout', 'Gateway Timeout'),
} as const satisfies Record<string, ProblemType>;

export type ProblemName = keyof typeof PROBLEMS;

/** The default problem of each status in {@link PROBLEMS}. */
export const PROBLEM_BY_STATUS: Readonly<Record<number, ProblemType>> = Object.freeze(
  Object.values(PROBLEMS).reduce<Record<number, ProblemType>>((byStatus, row) => {
    byStatus[row.status] ??= row;
    return byStatus;
  }, {}),
);

/** The problem of a status, or RFC 9457's `about:blank` for a status the table does not name. */
export const problemForStatus = (status: number): ProblemType =>
  PROBLEM_BY_STATUS[status] ?? { status, type: 'about:blank', title: 'Error' };
