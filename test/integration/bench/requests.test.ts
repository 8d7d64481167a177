/**
 * The request budgets of issue 10, enforced by `npm test` (counts only, never timings): every flow runs
 * through its real handlers against DynamoDB Local and fauxqs, with the request recorder on the SDK
 * clients (`bench/requestFlows.ts`, the same runner `npm run bench` measures with).
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { dynamoClient } from '#shared/aws/clients.ts';
import { recordRequests } from '#shared/aws/requestRecorder.ts';
import {
  type FlowRunner,
  runMessage,
  runSync,
  sampleMessage,
  startFlowRunner,
  stopFlowRunner,
} from '../../../bench/requestFlows.ts';
import { REVIEWED_REQUESTS, reviewedCounts, unreviewed } from '../../../bench/requestReview.ts';
import { syncWriteBudget } from '../../../bench/requests.ts';

let runner: FlowRunner;

beforeAll(async () => {
  runner = await startFlowRunner();
});

afterAll(async () => {
  await stopFlowRunner(runner);
});

const op = (counts: { byOperation: Readonly<Record<string, number>> }, name: string) =>
  counts.byOperation[name] ?? 0;

describe('the request recorder', () => {
  it('counts each request with the capacity DynamoDB consumed, and nothing once stopped', async () => {
    const recorder = recordRequests([dynamoClient()]);
    const key = { pk: { S: 'recorder-test' } };
    await dynamoClient().send(new GetItemCommand({ TableName: process.env.TRACE_TABLE, Key: key }));
    expect(recorder.requests).toEqual([
      {
        service: 'DynamoDB',
        operation: 'GetItem',
        readUnits: expect.any(Number),
        writeUnits: 0,
        estimated: false,
      },
    ]);
    expect(recorder.requests[0]!.readUnits).toBeGreaterThan(0);
    recorder.stop();
    await dynamoClient().send(new GetItemCommand({ TableName: process.env.TRACE_TABLE, Key: key }));
    expect(recorder.requests).toHaveLength(1);
  });
});

describe.each(['optOut', 'unavailability', 'legacyAck'] as const)('a %s message', (flow) => {
  it('makes exactly the requests the review accounts for: one read, one SQS send, no scan', async () => {
    const run = await runMessage(runner, flow, sampleMessage(flow));
    expect(run.delivered).toBe(1);
    // Every request is one bench/requestReview.ts says is needed; a new one fails here until reviewed.
    expect(run.counts.byOperation).toEqual(reviewedCounts(flow));
    expect(unreviewed(flow, run.counts)).toEqual([]);
    expect(run.counts.requests).toBe(REVIEWED_REQUESTS[flow].length);
    expect(run.counts.readRequests).toBe(1);
    expect(op(run.counts, 'SQS:SendMessage')).toBe(1);
    expect(op(run.counts, 'DynamoDB:Scan')).toBe(0);
  });
});

describe('the request review', () => {
  it('names what differs from the reviewed requests', () => {
    const counts: Record<string, number> = { ...reviewedCounts('optOut'), 'DynamoDB:GetItem': 2 };
    delete counts['SQS:SendMessage'];
    const measured = { requests: 0, readRequests: 0, readUnits: 0, writeRequests: 0, writeUnits: 0 };
    expect(unreviewed('optOut', { ...measured, byOperation: counts })).toEqual([
      '+1 DynamoDB:GetItem',
      '-1 SQS:SendMessage',
    ]);
  });
});

describe.each([1, 100, 1_000])('an asset sync of %i devices and its final ack', (n) => {
  it('costs at most ⌈N/25⌉ + 5 write requests for the request, and transactions of 100 for the ack', async () => {
    const { request, ack } = await runSync(runner, n);
    expect(request.delivered).toBe(1); // the enrollment sync, to DERMS
    expect(ack.delivered).toBe(1); // the consolidated ack, to DACS
    expect(request.counts.writeRequests).toBeLessThanOrEqual(syncWriteBudget(n));
    expect(op(request.counts, 'DynamoDB:BatchWriteItem')).toBe(Math.ceil(n / 25));
    // The trace (is it a duplicate receive?) and the header (is it recorded already?), nothing else.
    expect(request.counts.readRequests).toBe(2);
    // Reports and SENT# lines: one transaction per 100 devices each; nothing contends, so no fallback.
    expect(op(ack.counts, 'DynamoDB:TransactWriteItems')).toBe(2 * Math.ceil(n / 100));
    expect(op(ack.counts, 'DynamoDB:UpdateItem') + op(ack.counts, 'DynamoDB:PutItem')).toBeLessThanOrEqual(
      10,
    );
    // Held devices (100 keys a read), the trace and the header once each, the partition and the acks.
    expect(op(ack.counts, 'DynamoDB:BatchGetItem')).toBe(Math.ceil(n / 100));
    expect(op(ack.counts, 'DynamoDB:GetItem')).toBe(2);
    expect(op(ack.counts, 'DynamoDB:Query')).toBeLessThanOrEqual(2 + Math.floor(n / 1000));
    for (const run of [request, ack]) expect(op(run.counts, 'DynamoDB:Scan')).toBe(0);
  }, 120_000);
});
