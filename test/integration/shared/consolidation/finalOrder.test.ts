import { describe, expect, it } from '@jest/globals';
import { ACK_OUTCOMES, handleAck, recordSyncRequest } from '#shared/consolidation/index.ts';
import { RetryLaterError } from '#shared/errors.ts';
import { ack, ackContext, DEADLINE, dacs, newSyncRequestId, request, T0 } from './fixtures.ts';

/** Acks are processed in parallel: the final one can be handled before the partial ones it concludes. */
describe('a final ack that overtakes the partial acks before it', () => {
  const fresh = { firstReceivedAt: T0, now: new Date(T0.getTime() + 1000) };

  it('waits for them, and the last of them consolidates with every status they carried', async () => {
    const id = newSyncRequestId();
    await recordSyncRequest(request(id, [{ id: 'A' }, { id: 'B' }, { id: 'C' }]), {
      messageId: `req-${id}`,
      receivedAt: T0,
      deadline: DEADLINE,
    });
    const d = dacs();

    const final = ack(id, 2, [['B', 'REGISTERED']], { final: true });
    await expect(handleAck(final, ackContext(d.send, fresh))).rejects.toBeInstanceOf(RetryLaterError);
    expect(d.calls).toHaveLength(0);

    // C stays PENDING, so only the final ack (not "every device terminal") can make the request due.
    const partial = await handleAck(
      ack(id, 1, [
        ['A', 'REGISTERED'],
        ['C', 'PENDING'],
      ]),
      ackContext(d.send, fresh),
    );
    expect(partial).toMatchObject({
      status: ACK_OUTCOMES.CONSOLIDATED,
      trigger: 'FINAL_ACK',
      consolidatedAckSent: true,
    });
    expect(d.calls).toHaveLength(1);
    expect(d.calls[0]?.body.deviceHeadendStatus.map((s) => s.headEndRegistration)).toEqual([
      'D1RE',
      'D1RE',
      'D1NR',
    ]);

    // The final ack's retry finds it done and sends nothing more.
    const retried = await handleAck(final, ackContext(d.send, fresh));
    expect(retried.status).toBe(ACK_OUTCOMES.ALREADY_CONSOLIDATED);
    expect(d.calls).toHaveLength(1);
  });

  it('consolidates without them once its grace period has passed', async () => {
    const id = newSyncRequestId();
    await recordSyncRequest(request(id, [{ id: 'A' }, { id: 'B' }]), {
      messageId: `req-${id}`,
      receivedAt: T0,
      deadline: DEADLINE,
    });
    const d = dacs();
    const final = ack(id, 3, [['B', 'REGISTERED']], { final: true });
    await expect(handleAck(final, ackContext(d.send, fresh))).rejects.toBeInstanceOf(RetryLaterError);
    const late = await handleAck(
      final,
      ackContext(d.send, { firstReceivedAt: T0, now: new Date(T0.getTime() + 31_000) }),
    );
    expect(late).toMatchObject({ status: ACK_OUTCOMES.CONSOLIDATED, trigger: 'FINAL_ACK' });
    expect(d.calls[0]?.body.deviceHeadendStatus.map((s) => s.headEndRegistration)).toEqual(['D1NR', 'D1RE']);
  });
});
