/**
 * The consolidated ack under permanent and slow faults, against DynamoDB Local: a refusal dead-letters it
 * once and out of the deadline index; a redrive of its owner re-sends it; a Retry-After binds every owner;
 * the support view shows its delivery.
 */
import { describe, expect, it } from '@jest/globals';
import {
  ACK_OUTCOMES,
  claimOverdue,
  consolidateOnDeadline,
  findOverdue,
  getSyncRequestStatus,
  handleAck,
  recordSyncRequest,
} from '#shared/consolidation/index.ts';
import {
  ack,
  ackContext,
  DEADLINE,
  dacs,
  dacsDown,
  dacsRefuses,
  deadlineContext,
  newSyncRequestId,
  request,
  T0,
} from './fixtures.ts';

const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

async function recorded(deadline = DEADLINE): Promise<string> {
  const id = newSyncRequestId();
  await recordSyncRequest(request(id, [{ id: 'A' }, { id: 'B' }]), {
    messageId: `req-${id}`,
    receivedAt: T0,
    deadline,
  });
  return id;
}

describe('a consolidated ack DACS refuses for good', () => {
  it('is dead-lettered once, leaves the deadline index, is not adopted, and a redrive of its owner re-sends it', async () => {
    const id = await recorded();
    const d = dacs();
    const final = ack(id, 1, [['A', 'REGISTERED']], { final: true });
    d.failNext(1, dacsRefuses(422));
    await expect(handleAck(final, ackContext(d.send, { messageId: 'owner', now: at(10) }))).rejects.toThrow(
      '422',
    );

    const status = await getSyncRequestStatus(id);
    expect(status?.consolidatedAck).toMatchObject({
      frozenAt: at(10).toISOString(),
      delivery: { state: 'DEAD_LETTERED', attempts: 1, lastError: 'DACS answered 422' },
    });
    expect(status?.consolidatedAck).not.toHaveProperty('sentAt');
    expect(status?.consolidatedAck?.acknowledgement.deviceHeadendStatus).toHaveLength(2);

    // Nothing re-sends it: not in the index, not claimable, not adoptable, however late.
    const muchLater = at(7 * 86_400);
    expect(await findOverdue(muchLater, 10_000)).not.toContain(id);
    expect(await claimOverdue(id, muchLater, 300)).toBe(false);
    const command = await consolidateOnDeadline(id, deadlineContext('cmd', muchLater, d.send));
    expect(command.status).toBe(ACK_OUTCOMES.ALREADY_CONSOLIDATED);
    // Another ack meanwhile sends nothing either (no consolidated ack delivered, so no follow-up).
    await handleAck(ack(id, 2, [['B', 'REGISTERED']]), ackContext(d.send, { now: at(20) }));
    expect(d.calls).toHaveLength(0);

    // The operator redrives the owner's message: same message id, same frozen body, same key.
    const redriven = await handleAck(final, ackContext(d.send, { messageId: 'owner', now: at(3600) }));
    expect(redriven).toMatchObject({
      status: ACK_OUTCOMES.CONSOLIDATED,
      consolidatedAckSent: true,
      followUpsSent: 1,
    });
    expect(d.calls.map((c) => c.key)).toEqual([id, `${id}#B#D1RE#followup`]);
    expect(d.calls[0]?.body.deviceHeadendStatus.map((s) => s.headEndRegistration)).toEqual(['D1RE', 'D1NR']);
    expect((await getSyncRequestStatus(id))?.consolidatedAck).toMatchObject({
      sentAt: at(3600).toISOString(),
      delivery: { state: 'DELIVERED', attempts: 2, lastError: 'DACS answered 422' },
    });
  });

  it('is dead-lettered the same way when a deadline command owns it', async () => {
    const id = await recorded(at(60));
    const d = dacs();
    d.failNext(1, dacsRefuses(400));
    await expect(consolidateOnDeadline(id, deadlineContext('cmd-1', at(61), d.send))).rejects.toThrow('400');
    expect((await getSyncRequestStatus(id))?.consolidatedAck?.delivery.state).toBe('DEAD_LETTERED');
    expect(await findOverdue(at(86_400), 10_000)).not.toContain(id);
    const other = await consolidateOnDeadline(id, deadlineContext('cmd-2', at(86_400), d.send));
    expect(other.status).toBe(ACK_OUTCOMES.ALREADY_CONSOLIDATED);
    const redrive = await consolidateOnDeadline(id, deadlineContext('cmd-1', at(90_000), d.send));
    expect(redrive).toMatchObject({
      status: ACK_OUTCOMES.CONSOLIDATED,
      consolidatedAckSent: true,
      trigger: 'DEADLINE',
    });
    expect(d.calls.map((c) => c.key)).toEqual([id]);
  });
});

describe('a consolidated ack DACS asks to retry later', () => {
  it('is RETRYING with its next attempt, and no deadline command sends before it (Retry-After binds every owner)', async () => {
    const id = await recorded();
    const d = dacs();
    const final = ack(id, 1, [['A', 'REGISTERED']], { final: true });
    d.failNext(1, dacsDown(3600));
    await expect(handleAck(final, ackContext(d.send, { messageId: 'owner', now: at(10) }))).rejects.toThrow(
      '503',
    );
    expect((await getSyncRequestStatus(id))?.consolidatedAck?.delivery).toEqual({
      state: 'RETRYING',
      attempts: 1,
      lastError: 'DACS answered 503',
      nextAttemptAt: at(3610).toISOString(),
    });

    // Past the usual requeue interval, and past the Retry-After itself: the owner has the first go.
    for (const seconds of [400, 3610, 3909]) {
      expect(await findOverdue(at(seconds), 10_000)).not.toContain(id);
      expect(await claimOverdue(id, at(seconds), 300)).toBe(false);
      const early = await consolidateOnDeadline(id, deadlineContext(`cmd-${seconds}`, at(seconds), d.send));
      expect(early.status).toBe(ACK_OUTCOMES.ALREADY_CONSOLIDATED);
    }
    expect(d.calls).toHaveLength(0);

    // The owner never came back: a requeue interval after its next attempt, the sweep hands it on.
    const later = at(3911);
    expect(await findOverdue(later, 10_000)).toContain(id);
    expect(await claimOverdue(id, later, 300)).toBe(true);
    const adopted = await consolidateOnDeadline(id, deadlineContext('cmd-late', later, d.send));
    expect(adopted).toMatchObject({ status: ACK_OUTCOMES.CONSOLIDATED, consolidatedAckSent: true });
    expect(d.calls.map((c) => c.key)).toEqual([id]);
    expect((await getSyncRequestStatus(id))?.consolidatedAck?.delivery).toMatchObject({
      state: 'DELIVERED',
      attempts: 2,
    });
  });

  it('is delivered by its owner on its retry, which nobody overtook', async () => {
    const id = await recorded();
    const d = dacs();
    const final = ack(id, 1, [['A', 'REGISTERED']], { final: true });
    d.failNext(2, dacsDown());
    await expect(handleAck(final, ackContext(d.send, { messageId: 'owner', now: at(10) }))).rejects.toThrow();
    await expect(handleAck(final, ackContext(d.send, { messageId: 'owner', now: at(12) }))).rejects.toThrow();
    expect((await getSyncRequestStatus(id))?.consolidatedAck?.delivery).toMatchObject({
      state: 'RETRYING',
      attempts: 2,
    });
    const out = await handleAck(final, ackContext(d.send, { messageId: 'owner', now: at(14) }));
    expect(out.consolidatedAckSent).toBe(true);
    expect((await getSyncRequestStatus(id))?.consolidatedAck?.delivery).toEqual({
      state: 'DELIVERED',
      attempts: 3,
      lastError: 'DACS answered 503',
    });
  });
});
