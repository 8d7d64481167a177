/**
 * The asset-sync and ack processors' side of consolidation, with the consolidation and the HTTP delivery
 * mocked: a refused enrollment sync marks its record refused before it dead-letters, and the ack
 * processor hands the process handler's failure decision to the consolidation.
 */
import { beforeEach, describe, expect, it, jest } from '@jest/globals';
import { DEFAULT_SETTINGS, type Settings } from '#shared/config/settings.ts';
import type { FailureDecision, ProcessContext } from '#shared/handlers/process.ts';
import type { ResolvedEnvelope } from '#shared/queue/envelope.ts';
import { assetSyncAck, assetSyncRequest } from '#test/helpers/messages.ts';

const consolidation = {
  recordSyncRequest: jest.fn(async (_request: unknown, _ctx: unknown) => {}),
  refuseEnrollment: jest.fn(async (_id: string, _reason: string, _now: Date) => true),
  handleAck: jest.fn(async (_ack: unknown, _ctx: unknown) => ({
    status: 'RECORDED',
    consolidatedAckSent: false,
    followUpsSent: 0,
    uncorrelated: false,
  })),
  consolidateOnDeadline: jest.fn(async (_id: unknown, _ctx: unknown) => ({
    status: 'NOT_DUE',
    consolidatedAckSent: false,
    followUpsSent: 0,
    uncorrelated: false,
  })),
};
const deliver = jest.fn<(request: unknown) => Promise<{ status: number; durationMs: number }>>();
jest.unstable_mockModule('#shared/consolidation/index.ts', () => consolidation);
jest.unstable_mockModule('#shared/delivery/http.ts', () => ({ deliver, resolvePath: () => '/path' }));

const { assetSyncProcessor } = await import('#shared/processors/dermsFlows.ts');
const { assetSyncAckProcessor } = await import('#shared/processors/assetSyncAck.ts');
const { FLOWS } = await import('#shared/flows/registry.ts');

const NOW = new Date('2026-12-01T22:00:00.000Z');
const context = (decision: FailureDecision, settings: Settings = DEFAULT_SETTINGS): ProcessContext => ({
  flow: FLOWS.assetSync,
  attempt: decision.attempts,
  lastAttempt: false,
  now: NOW,
  settings,
  failureDecision: jest.fn(() => decision),
});
const message = (payload: unknown): ResolvedEnvelope => ({
  v: 1,
  kind: 'message',
  messageId: 'm-1',
  flowId: 'assetSync',
  businessKey: 'SR-1001',
  receivedAt: NOW.toISOString(),
  payload,
  claimCheck: false,
});

beforeEach(() => {
  jest.clearAllMocks();
});

describe('assetSyncProcessor', () => {
  const request = assetSyncRequest({ sendDetails: { syncRequestId: 'SR-1001' } });
  const refusal = new Error('DERMS answered 422: unknown program');

  it("marks the sync request refused with the decision's reason when the failure dead-letters, then rethrows", async () => {
    deliver.mockRejectedValue(refusal);
    const ctx = context({
      action: 'dead-letter',
      reason: 'DERMS answered 422: unknown program',
      attempts: 1,
      permanent: true,
    });
    await expect(assetSyncProcessor.process(message(request), ctx)).rejects.toBe(refusal);
    expect(ctx.failureDecision).toHaveBeenCalledWith(refusal);
    expect(consolidation.refuseEnrollment).toHaveBeenCalledWith(
      'SR-1001',
      'DERMS answered 422: unknown program',
      NOW,
    );
  });

  it('does the same when the retry window is exhausted', async () => {
    deliver.mockRejectedValue(refusal);
    const reason = 'retry window exhausted (86400 s, 40 attempts): DERMS answered 503';
    await expect(
      assetSyncProcessor.process(
        message(request),
        context({ action: 'dead-letter', reason, attempts: 40, permanent: false }),
      ),
    ).rejects.toBe(refusal);
    expect(consolidation.refuseEnrollment).toHaveBeenCalledWith('SR-1001', reason, NOW);
  });

  it('leaves the record alone while the delivery is retried', async () => {
    deliver.mockRejectedValue(new Error('DERMS answered 503'));
    const ctx = context({
      action: 'retry',
      reason: '503',
      attempts: 1,
      permanent: false,
      nextAttemptAt: NOW,
    });
    await expect(assetSyncProcessor.process(message(request), ctx)).rejects.toThrow('503');
    expect(consolidation.refuseEnrollment).not.toHaveBeenCalled();
  });

  it('rethrows the delivery failure even when marking the record fails', async () => {
    deliver.mockRejectedValue(refusal);
    consolidation.refuseEnrollment.mockRejectedValueOnce(new Error('DynamoDB down'));
    const ctx = context({ action: 'dead-letter', reason: '422', attempts: 1, permanent: true });
    await expect(assetSyncProcessor.process(message(request), ctx)).rejects.toBe(refusal);
  });

  it('records the request before delivering, and marks nothing when DERMS accepts', async () => {
    deliver.mockResolvedValue({ status: 202, durationMs: 1 });
    const out = await assetSyncProcessor.process(
      message(request),
      context({ action: 'retry', reason: '', attempts: 1, permanent: false }),
    );
    expect(out).toEqual({ state: 'DELIVERED', detail: 'DERMS answered 202' });
    expect(consolidation.recordSyncRequest).toHaveBeenCalledTimes(1);
    expect(consolidation.refuseEnrollment).not.toHaveBeenCalled();
  });

  it("sets the request's deadline SYNC_DEADLINE_SECONDS after its acceptance, from the handler's settings", async () => {
    deliver.mockResolvedValue({ status: 202, durationMs: 1 });
    const settings = { ...DEFAULT_SETTINGS, syncDeadlineSeconds: 15 };
    await assetSyncProcessor.process(
      message(request),
      context({ action: 'retry', reason: '', attempts: 1, permanent: false }, settings),
    );
    expect(consolidation.recordSyncRequest).toHaveBeenCalledWith(request, {
      messageId: 'm-1',
      receivedAt: NOW,
      deadline: new Date(NOW.getTime() + 15_000),
    });
  });
});

describe('assetSyncAckProcessor', () => {
  it("hands the process handler's failure decision to the consolidation, for acks and deadline commands", async () => {
    const decision: FailureDecision = {
      action: 'dead-letter',
      reason: 'DACS answered 422',
      attempts: 1,
      permanent: true,
    };
    const ctx = context(decision);
    await assetSyncAckProcessor.process(message(assetSyncAck()), ctx);
    const ackCtx = consolidation.handleAck.mock.calls[0]?.[1] as {
      failureDecision: (e: unknown) => FailureDecision;
    };
    const error = new Error('x');
    expect(ackCtx.failureDecision(error)).toBe(decision);
    expect(ctx.failureDecision).toHaveBeenCalledWith(error);

    await assetSyncAckProcessor.deadline!(
      { v: 1, kind: 'deadline', messageId: 'cmd', syncRequestId: 'SR-1001', requestedAt: NOW.toISOString() },
      ctx,
    );
    const deadlineCtx = consolidation.consolidateOnDeadline.mock.calls[0]?.[1] as {
      failureDecision: (e: unknown) => FailureDecision;
    };
    expect(deadlineCtx.failureDecision(error)).toBe(decision);
  });

  it("gives the consolidation the handler's UNCORRELATED_ACK_WINDOW_SECONDS", async () => {
    const settings = { ...DEFAULT_SETTINGS, uncorrelatedAckWindowSeconds: 5 };
    const decision: FailureDecision = { action: 'retry', reason: '', attempts: 1, permanent: false };
    await assetSyncAckProcessor.process(message(assetSyncAck()), context(decision, settings));
    expect(consolidation.handleAck.mock.calls[0]?.[1]).toMatchObject({ uncorrelatedWindowSeconds: 5 });
  });
});
