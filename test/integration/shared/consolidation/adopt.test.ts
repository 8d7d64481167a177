import { describe, expect, it } from '@jest/globals';
import {
  ACK_OUTCOMES,
  claimOverdue,
  consolidateOnDeadline,
  findOverdue,
  handleAck,
  recordSyncRequest,
} from '#shared/consolidation/index.ts';
import {
  ack,
  ackContext,
  DEADLINE,
  dacs,
  deadlineContext,
  newSyncRequestId,
  request,
  T0,
} from './fixtures.ts';

describe('a frozen consolidated ack whose message never delivered it', () => {
  it('stays in the deadline index and is adopted and sent once by a deadline command after the requeue interval', async () => {
    const id = newSyncRequestId();
    await recordSyncRequest(request(id, [{ id: 'A' }]), {
      messageId: `req-${id}`,
      receivedAt: T0,
      deadline: DEADLINE,
    });
    const frozenAt = new Date(T0.getTime() + 1000);
    const failing = async () => {
      throw new Error('DACS down');
    };
    // The ack freezes the consolidated ack but cannot deliver it (its message will dead-letter).
    await expect(
      handleAck(
        ack(id, 1, [['A', 'REGISTERED']], { final: true }),
        ackContext(failing, { messageId: 'owner', now: frozenAt }),
      ),
    ).rejects.toThrow('DACS down');

    const d = dacs();
    // Within the requeue interval the owner still has it: a deadline command leaves it alone.
    const early = await consolidateOnDeadline(
      id,
      deadlineContext('cmd-1', new Date(frozenAt.getTime() + 60_000), d.send),
    );
    expect(early.status).toBe(ACK_OUTCOMES.ALREADY_CONSOLIDATED);
    expect(d.calls).toHaveLength(0);

    // The owner recorded its failure: it tries again at its next attempt (2 s later), and a deadline
    // command adopts no sooner than a requeue interval after that.
    const beforeDue = new Date(frozenAt.getTime() + 301_000);
    expect(await findOverdue(beforeDue, 1000)).not.toContain(id);
    expect(await claimOverdue(id, beforeDue, 300)).toBe(false);
    // After it, the sweep finds the request again and a deadline command adopts and sends it.
    const later = new Date(frozenAt.getTime() + 303_000);
    expect(await findOverdue(later, 1000)).toContain(id);
    expect(await claimOverdue(id, later, 300)).toBe(true);
    const adopted = await consolidateOnDeadline(id, deadlineContext('cmd-2', later, d.send));
    expect(adopted).toMatchObject({ status: ACK_OUTCOMES.CONSOLIDATED, consolidatedAckSent: true });
    expect(d.calls).toHaveLength(1);
    expect(d.calls[0]?.key).toBe(id);
    expect(d.calls[0]?.body.deviceHeadendStatus).toEqual([
      expect.objectContaining({ deviceId: 'A', headEndRegistration: 'D1RE' }),
    ]);

    // Delivered: out of the index for good, and a second command sends nothing.
    expect(await findOverdue(new Date(later.getTime() + 3_600_000), 1000)).not.toContain(id);
    const again = await consolidateOnDeadline(
      id,
      deadlineContext('cmd-3', new Date(later.getTime() + 3_600_000), d.send),
    );
    expect(again.status).toBe(ACK_OUTCOMES.ALREADY_CONSOLIDATED);
    expect(d.calls).toHaveLength(1);
  });
});
