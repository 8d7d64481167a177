/**
 * The review behind issue 10's budget "no request whose answer cannot change the outcome": every AWS
 * request an opt-out, an unavailability update or a legacy ack makes on its way (ingest, then process,
 * delivered at the first try), with what it is for. `bench/requests.ts` checks the counts it measures
 * against this list (a budget of BENCHMARKS.md) and prints it; `test/integration/bench/requests.test.ts`
 * enforces it, so a request added to a flow fails the test until it is reviewed here.
 */
import type { RequestCounts } from '#shared/aws/requestRecorder.ts';

export interface ReviewedRequest {
  /** `service:operation` as the request recorder names it, e.g. `DynamoDB:PutItem`. */
  readonly operation: string;
  /** Which function makes it, on which table or queue. */
  readonly where: string;
  /** What its answer decides, or what its write is needed for. */
  readonly purpose: string;
}

const IDEMPOTENCY_PUT: ReviewedRequest = {
  operation: 'DynamoDB:PutItem',
  where: 'ingest, idempotency table (Powertools: INPROGRESS, conditional)',
  purpose:
    'its answer decides new message, duplicate (the stored answer, 202 duplicate), conflict (409) or in flight (503)',
};
const TRACE_PUT: ReviewedRequest = {
  operation: 'DynamoDB:PutItem',
  where: 'ingest, trace table (ACCEPTED, if absent)',
  purpose:
    'the trace support reads from acceptance on, written before the message is queued; a refusal tells the ' +
    'retry of an attempt that died after writing it (then recovered: sent again or not) from a first attempt',
};
const SEND: ReviewedRequest = {
  operation: 'SQS:SendMessage',
  where: "ingest, the flow's queue",
  purpose: 'the message itself; 202 only once it succeeded',
};
const IDEMPOTENCY_COMPLETE: ReviewedRequest = {
  operation: 'DynamoDB:UpdateItem',
  where: 'ingest, idempotency table (Powertools: COMPLETED with the answer)',
  purpose:
    'its answer changes nothing for this call (202 either way), but its write is what answers a later ' +
    'duplicate 202 `duplicate: true` at once instead of 503 while the in-progress window lasts; the trace ' +
    'cannot carry it, as the trace is written before the message is queued',
};
const TRACE_READ: ReviewedRequest = {
  operation: 'DynamoDB:GetItem',
  where: 'process, trace table (consistent read)',
  purpose:
    'skips a receive whose trace is DELIVERED or SUPERSEDED, or a stale copy of a resubmitted message, and ' +
    'gives the attempts so far (retry window, receive limit); it must come before the delivery',
};
const TRACE_DELIVERED: ReviewedRequest = {
  operation: 'DynamoDB:UpdateItem',
  where: 'process, trace table (DELIVERED, unless already final)',
  purpose:
    'the outcome support reads and later duplicate receives are skipped by; it must follow the delivery',
};
const ORDERING_CLAIM: ReviewedRequest = {
  operation: 'DynamoDB:UpdateItem',
  where: 'process, correlation table (newest update per unavailabilityId, conditional)',
  purpose:
    'its answer decides deliver or SUPERSEDED; a refusal returns the newer update that refused it ' +
    '(`ReturnValuesOnConditionCheckFailure`), so no read follows',
};

/** Each simple flow's requests, delivered at the first try, in the order they are made. */
export const REVIEWED_REQUESTS = {
  optOut: [IDEMPOTENCY_PUT, TRACE_PUT, SEND, IDEMPOTENCY_COMPLETE, TRACE_READ, TRACE_DELIVERED],
  unavailability: [
    IDEMPOTENCY_PUT,
    TRACE_PUT,
    SEND,
    IDEMPOTENCY_COMPLETE,
    TRACE_READ,
    ORDERING_CLAIM,
    TRACE_DELIVERED,
  ],
  legacyAck: [IDEMPOTENCY_PUT, TRACE_PUT, SEND, IDEMPOTENCY_COMPLETE, TRACE_READ, TRACE_DELIVERED],
} as const satisfies Record<string, readonly ReviewedRequest[]>;

export type ReviewedFlow = keyof typeof REVIEWED_REQUESTS;

/** The requests per `service:operation` the review accounts for. */
export function reviewedCounts(flow: ReviewedFlow): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of REVIEWED_REQUESTS[flow]) counts[r.operation] = (counts[r.operation] ?? 0) + 1;
  return counts;
}

/** Operations measured but not reviewed, or reviewed but not measured: `+` more, `-` fewer. */
export function unreviewed(flow: ReviewedFlow, counts: RequestCounts): string[] {
  const expected = reviewedCounts(flow);
  const names = new Set([...Object.keys(expected), ...Object.keys(counts.byOperation)]);
  const differences: string[] = [];
  for (const name of [...names].sort()) {
    const delta = (counts.byOperation[name] ?? 0) - (expected[name] ?? 0);
    if (delta !== 0) differences.push(`${delta > 0 ? '+' : ''}${delta} ${name}`);
  }
  return differences;
}

/** The review as a markdown table. */
export function reviewTable(): string {
  const cell = (text: string) => text.replaceAll('|', '\\|');
  const lines = ['| Flow | Request | Where | What its answer or write is for |', '|---|---|---|---|'];
  for (const [flow, requests] of Object.entries(REVIEWED_REQUESTS)) {
    for (const r of requests) {
      lines.push(
        `| ${flow} | ${r.operation.replace('DynamoDB:', '')} | ${cell(r.where)} | ${cell(r.purpose)} |`,
      );
    }
  }
  return lines.join('\n');
}
