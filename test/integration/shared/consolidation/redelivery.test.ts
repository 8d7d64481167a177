/**
 * Found by the reliability suite (crashes during a 1,000-device request's consolidation): deadline commands
 * queued while the consolidated ack was being sent adopted it in turn and each caught up follow-ups; one
 * that was killed or timed out came back no longer the owner and did nothing, so the follow-up leases it
 * held were never resumed and those devices stayed D1NR at DACS. A deadline command that meets a delivered
 * consolidation now finishes the follow-ups still due.
 *
 * Also found there: an owner and an adopter building the consolidated ack from reads of different times
 * both wrote its device lines (last writer won), so DACS applied one body while the lines said another,
 * and follow-ups then repeated what DACS had, or never came. The first line written now decides.
 */
import { describe, expect, it } from '@jest/globals';
import { frozenBody } from '#shared/consolidation/freeze.ts';
import {
  ACK_OUTCOMES,
  consolidateOnDeadline,
  handleAck,
  recordSyncRequest,
} from '#shared/consolidation/index.ts';
import { readHeader, readPartition } from '#shared/consolidation/store.ts';
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
  throw new Error('SIGKILL');
};
const noRecord = () => {
  throw new Error('the process died');
};

describe('a deadline command that meets a consolidated ack another message delivered', () => {
  it('sends the follow-ups still due: its own lease when it comes back, and one whose holder died', async () => {
    const d = dacs();
    const id = newSyncRequestId();
    await recordSyncRequest(request(id, [{ id: 'A' }, { id: 'B' }]), {
      messageId: `req-${id}`,
      receivedAt: T0,
      deadline: DEADLINE,
    });
    // Consolidated on A's final ack: A D1RE, B D1NR.
    await handleAck(ack(id, 1, [['A', 'REGISTERED']], { final: true }), ackContext(d.send, { now: at(10) }));
    // B's report comes; its message takes B's follow-up lease and dies before DACS hears of it.
    await expect(
      handleAck(
        ack(id, 2, [['B', 'REGISTERED']]),
        ackContext(dies, { messageId: 'ack-b', now: at(20), failureDecision: noRecord }),
      ),
    ).rejects.toThrow();

    // A deadline command after that lease: it takes B's follow-up over, and dies in turn.
    await expect(
      consolidateOnDeadline(id, deadlineContext('cmd', at(400), dies, { failureDecision: noRecord })),
    ).rejects.toThrow();
    // It comes back (SQS redelivers it) and finishes what it held.
    const back = await consolidateOnDeadline(id, deadlineContext('cmd', at(450), d.send));
    expect(back).toMatchObject({ status: ACK_OUTCOMES.FOLLOW_UPS_SENT, followUpsSent: 1 });
    expect(d.calls.map((c) => c.key)).toEqual([id, `${id}#B#D1RE#followup`]);
    expect(d.flags().get('B')).toBe('D1RE');

    // Nothing is due any more: another command sends nothing.
    const again = await consolidateOnDeadline(id, deadlineContext('cmd-2', at(460), d.send));
    expect(again.status).toBe(ACK_OUTCOMES.ALREADY_CONSOLIDATED);
    expect(d.calls).toHaveLength(2);
  });
});

describe('two senders of one consolidated ack that read the devices at different times', () => {
  it('send the same body: the first one to write a device’s line decides it, and the lines say what DACS has', async () => {
    const d = dacs();
    const id = newSyncRequestId();
    await recordSyncRequest(request(id, [{ id: 'A' }, { id: 'B' }]), {
      messageId: `req-${id}`,
      receivedAt: T0,
      deadline: DEADLINE,
    });
    const header = (await readHeader(id))!;
    const before = await readPartition(id); // B has no status yet
    await handleAck(ack(id, 1, [['B', 'REGISTERED']]), ackContext(d.send, { now: at(10) }));
    const after = await readPartition(id); // B registered

    const first = await frozenBody(header, before, at(20));
    const second = await frozenBody(header, after, at(21));
    expect(second).toEqual(first);
    expect(first.deviceHeadendStatus.find((x) => x.deviceId === 'B')?.headEndRegistration).toBe('D1NR');
    // What is stored is what was sent: a later sender reads it back.
    expect(await frozenBody(header, undefined, at(22))).toEqual(first);
  });
});
