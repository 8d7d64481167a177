import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type RequestRecorder, recordRequests } from '#shared/aws/requestRecorder.ts';
import {
  ACK_OUTCOMES,
  getSyncRequestStatus,
  handleAck,
  recordSyncRequest,
} from '#shared/consolidation/index.ts';
import { ack, ackContext, DEADLINE, dacs, ids, newSyncRequestId, request, T0 } from './fixtures.ts';

const N = 10_000;

let recorder: RequestRecorder;
beforeAll(() => {
  recorder = recordRequests();
});
afterAll(() => recorder.stop());
const op = (name: string) => recorder.counts().byOperation[`DynamoDB:${name}`] ?? 0;

describe('a 10,000-device sync request', () => {
  it('is recorded and consolidated into one ack listing every device in request order', async () => {
    const id = newSyncRequestId();
    const deviceIds = ids(N, 'DV');
    const req = request(
      id,
      deviceIds.map((x) => ({ id: x })),
    );
    recorder.reset();
    let t = performance.now();
    await recordSyncRequest(req, { messageId: `req-${id}`, receivedAt: T0, deadline: DEADLINE });
    const recordMs = performance.now() - t;
    // Devices 25 a BatchWriteItem, then the header: ⌈N/25⌉ + 1 writes; one read (is it recorded already?).
    expect(recorder.counts()).toMatchObject({ writeRequests: N / 25 + 1, readRequests: 1 });
    recorder.reset();

    const d = dacs();
    // Half in a partial ack, the rest in the final one.
    const half = N / 2;
    t = performance.now();
    const partial = await handleAck(
      ack(
        id,
        1,
        deviceIds.slice(0, half).map((x) => [x, 'REGISTERED']),
      ),
      ackContext(d.send),
    );
    const partialMs = performance.now() - t;
    expect(partial.devicesApplied).toBe(half);
    // The reports: one transaction per 100 devices, after one batched read per 100.
    expect([op('TransactWriteItems'), op('BatchGetItem')]).toEqual([half / 100, half / 100]);
    recorder.reset();
    t = performance.now();
    const final = await handleAck(
      ack(
        id,
        2,
        deviceIds.slice(half).map((x) => [x, 'REGISTERED']),
        { final: true },
      ),
      ackContext(d.send),
    );
    const finalMs = performance.now() - t;
    expect(final).toMatchObject({
      status: ACK_OUTCOMES.CONSOLIDATED,
      trigger: 'ALL_TERMINAL',
      followUpsSent: 0,
    });
    expect(d.calls).toHaveLength(1);
    // Reports, then every SENT# line, in transactions of 100; no device written on its own, no scan.
    expect(op('TransactWriteItems')).toBe(half / 100 + N / 100);
    expect([op('PutItem'), op('Scan')]).toEqual([1, 0]);
    const body = d.calls[0]!.body;
    expect(body.hasError).toBe(false);
    expect(body.deviceHeadendStatus.map((s) => s.deviceId)).toEqual(deviceIds);
    expect(body.deviceHeadendStatus.every((s) => s.headEndRegistration === 'D1RE')).toBe(true);
    const bytes = Buffer.byteLength(JSON.stringify(body));

    t = performance.now();
    const status = await getSyncRequestStatus(id);
    const statusMs = performance.now() - t;
    expect(status?.devices).toHaveLength(N);
    expect(status?.consolidatedAck?.acknowledgement).toEqual(body);
    console.info(
      `10,000 devices: record ${recordMs.toFixed(0)} ms, partial ack (5,000) ${partialMs.toFixed(0)} ms, ` +
        `final ack (5,000) + consolidation ${finalMs.toFixed(0)} ms, support view ${statusMs.toFixed(0)} ms, ` +
        `body ${(bytes / 1024).toFixed(0)} KiB`,
    );
  }, 120_000);
});
