/**
 * The consolidation's clock advances while a message works. Found by the reliability suite: under load a
 * 1,000-device sync request's deadline command took a minute to reach its follow-ups, and every lease it
 * took lasted from when the command began, so it was born expired; another message took it over and DACS
 * got the same flag twice under two keys. Likewise a freeze dated when its message began looked old enough
 * to adopt while its owner was still delivering. What a message writes for others is now timed when it
 * is written (`DeadlineContext.clock`).
 */
import { describe, expect, it } from '@jest/globals';
import {
  ACK_OUTCOMES,
  consolidateOnDeadline,
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

const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);
const dies = async () => {
  throw new Error('Lambda timed out');
};
const noRecord = () => {
  throw new Error('the process died');
};

/** A request of A and B whose consolidated ack (A D1RE, B D1NR) DACS has. */
async function consolidated(d: ReturnType<typeof dacs>): Promise<string> {
  const id = newSyncRequestId();
  await recordSyncRequest(request(id, [{ id: 'A' }, { id: 'B' }]), {
    messageId: `req-${id}`,
    receivedAt: T0,
    deadline: DEADLINE,
  });
  await handleAck(ack(id, 1, [['A', 'REGISTERED']], { final: true }), ackContext(d.send, { now: at(10) }));
  return id;
}

describe('a message that works for longer than a lease', () => {
  it('takes a follow-up lease that lasts from when it was taken, so no other message sends it again meanwhile', async () => {
    const d = dacs();
    const id = await consolidated(d);
    // The holder began at 100 s, reaches B's follow-up 400 s later (past the 300 s lease), takes the
    // lease and dies before DACS answers.
    await expect(
      handleAck(
        ack(id, 2, [['B', 'REGISTERED']]),
        ackContext(dies, {
          messageId: 'holder',
          now: at(100),
          clock: () => at(500),
          failureDecision: noRecord,
        }),
      ),
    ).rejects.toThrow();

    // 100 s after it took the lease, another report of B sends nothing: the holder may still deliver.
    const within = await handleAck(ack(id, 3, [['B', 'REGISTERED']]), ackContext(d.send, { now: at(600) }));
    expect(within.followUpsSent).toBe(0);
    // Once that lease has passed, the next message takes it over.
    const after = await handleAck(ack(id, 4, [['B', 'REGISTERED']]), ackContext(d.send, { now: at(801) }));
    expect(after.followUpsSent).toBe(1);
    expect(d.calls.map((c) => c.key)).toEqual([id, `${id}#B#D1RE#followup`]);
  });

  it('dates its freeze when it froze, so a deadline command does not adopt it while the owner is delivering', async () => {
    const id = newSyncRequestId();
    await recordSyncRequest(request(id, [{ id: 'A' }]), {
      messageId: `req-${id}`,
      receivedAt: T0,
      deadline: DEADLINE,
    });
    // The owner began at 1 s and froze 400 s later (longer than the 300 s requeue interval); it dies
    // while sending, before it records anything.
    await expect(
      handleAck(
        ack(id, 1, [['A', 'REGISTERED']], { final: true }),
        ackContext(dies, { messageId: 'owner', now: at(1), clock: () => at(401), failureDecision: noRecord }),
      ),
    ).rejects.toThrow();

    const d = dacs();
    const early = await consolidateOnDeadline(id, deadlineContext('cmd-1', at(402), d.send));
    expect(early.status).toBe(ACK_OUTCOMES.ALREADY_CONSOLIDATED);
    expect(d.calls).toHaveLength(0);
    // A requeue interval after the freeze, the owner is taken for gone: adopted and sent once.
    const adopted = await consolidateOnDeadline(id, deadlineContext('cmd-2', at(702), d.send));
    expect(adopted).toMatchObject({ status: ACK_OUTCOMES.CONSOLIDATED, consolidatedAckSent: true });
    expect(d.calls.map((c) => c.key)).toEqual([id]);
  });
});

describe('a follow-up whose holder died after sending it', () => {
  it('is sent again under the same key, so DACS applies it once; a later change gets a key of its own', async () => {
    const d = dacs();
    const id = await consolidated(d);
    // The holder's send reaches DACS, then the holder dies before it records that DACS took it.
    const reachesThenDies = async (body: Parameters<typeof d.send>[0], key: string) => {
      await d.send(body, key);
      throw new Error('SIGKILL');
    };
    await expect(
      handleAck(
        ack(id, 2, [['B', 'REGISTERED']]),
        ackContext(reachesThenDies, { messageId: 'holder', now: at(100), failureDecision: noRecord }),
      ),
    ).rejects.toThrow();
    // After the lease, another message sends it again: same key, which DACS drops as a repeat.
    const retaken = await handleAck(ack(id, 3, [['B', 'REGISTERED']]), ackContext(d.send, { now: at(401) }));
    expect(retaken.followUpsSent).toBe(1);
    expect(d.calls.map((c) => c.key)).toEqual([id, `${id}#B#D1RE#followup`, `${id}#B#D1RE#followup`]);
    // B fails later: a new follow-up, a new key; then registered again: another new key.
    await handleAck(ack(id, 4, [['B', 'FAILED']]), ackContext(d.send, { now: at(500) }));
    await handleAck(ack(id, 5, [['B', 'REGISTERED']]), ackContext(d.send, { now: at(600) }));
    expect(d.calls.slice(3).map((c) => c.key)).toEqual([
      `${id}#B#D1NR#followup#3`,
      `${id}#B#D1RE#followup#4`,
    ]);
    expect(d.flags().get('B')).toBe('D1RE');
  });
});
