/**
 * Follow-ups and late information against DynamoDB Local: the follow-up claim is a lease that expires;
 * a refused follow-up does not count as told; ack errors and unknown devices after the freeze reach DACS
 * once; an enrollment sync DERMS refused is consolidated at once.
 */
import { describe, expect, it } from '@jest/globals';
import {
  ACK_OUTCOMES,
  claimOverdue,
  consolidateOnDeadline,
  EXCEPTION_NUMBERS,
  findOverdue,
  getSyncRequestStatus,
  handleAck,
  recordSyncRequest,
  refuseEnrollment,
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

/** A request of A and B whose consolidated ack (A D1RE, B D1NR) DACS has. */
async function consolidated(d: ReturnType<typeof dacs>): Promise<string> {
  const id = newSyncRequestId();
  await recordSyncRequest(request(id, [{ id: 'A' }, { id: 'B' }]), {
    messageId: `req-${id}`,
    receivedAt: T0,
    deadline: DEADLINE,
  });
  await handleAck(ack(id, 1, [['A', 'REGISTERED']], { final: true }), ackContext(d.send, { now: at(10) }));
  expect(d.calls.map((c) => c.key)).toEqual([id]);
  return id;
}

describe('a follow-up lease', () => {
  it('expires when its holder dies, and another message then sends the follow-up', async () => {
    const d = dacs();
    const id = await consolidated(d);
    // The holder claims B's follow-up and dies before DACS answers (nothing recorded).
    const dies = async () => {
      throw new Error('Lambda timed out');
    };
    const noRecord = () => {
      throw new Error('the process died');
    };
    await expect(
      handleAck(
        ack(id, 2, [['B', 'REGISTERED']]),
        ackContext(dies, { messageId: 'holder', now: at(100), failureDecision: noRecord }),
      ),
    ).rejects.toThrow();

    // Within the lease, another report of B sends nothing: the holder may still deliver.
    const within = await handleAck(ack(id, 3, [['B', 'REGISTERED']]), ackContext(d.send, { now: at(399) }));
    expect(within.followUpsSent).toBe(0);
    // Once the lease has passed, the next message takes it over and sends the holder's follow-up under
    // the holder's key: had the holder's send reached DACS, DACS would apply it once.
    const after = await handleAck(ack(id, 4, [['B', 'REGISTERED']]), ackContext(d.send, { now: at(401) }));
    expect(after.followUpsSent).toBe(1);
    expect(d.calls.map((c) => c.key)).toEqual([id, `${id}#B#D1RE#followup`]);
    expect((await getSyncRequestStatus(id))?.devices.map((x) => x.headEndRegistration)).toEqual([
      'D1RE',
      'D1RE',
    ]);
  });

  it("outlives a Retry-After: no other message sends before the holder's next attempt", async () => {
    const d = dacs();
    const id = await consolidated(d);
    d.failNext(1, dacsDown(3600));
    await expect(
      handleAck(ack(id, 2, [['B', 'REGISTERED']]), ackContext(d.send, { messageId: 'holder', now: at(100) })),
    ).rejects.toThrow('503');
    const other = await handleAck(ack(id, 3, [['B', 'REGISTERED']]), ackContext(d.send, { now: at(3699) }));
    expect(other.followUpsSent).toBe(0);
    const retry = await handleAck(
      ack(id, 2, [['B', 'REGISTERED']]),
      ackContext(d.send, { messageId: 'holder', now: at(3700) }),
    );
    expect(retry.followUpsSent).toBe(1);
    expect(d.calls.map((c) => c.key)).toEqual([id, `${id}#B#D1RE#followup`]);
  });
});

describe('a follow-up DACS refuses', () => {
  it('does not count as told: the lease is released and a later report of the same state goes out', async () => {
    const d = dacs();
    const id = await consolidated(d);
    d.failNext(1, dacsRefuses(422));
    await expect(
      handleAck(
        ack(id, 2, [['B', 'REGISTERED']]),
        ackContext(d.send, { messageId: 'refused', now: at(100) }),
      ),
    ).rejects.toThrow('422');
    const view = await getSyncRequestStatus(id);
    // DACS still has D1NR for B, and no follow-up is recorded as sent.
    expect(view?.devices.map((x) => x.headEndRegistration)).toEqual(['D1RE', 'D1NR']);
    expect(view?.followUps).toBeUndefined();

    // A repeat of the same report by another message sends nothing more (not re-sent without a redrive)...
    const again = await handleAck(ack(id, 1, [['A', 'REGISTERED']]), ackContext(d.send, { now: at(110) }));
    expect(again.followUpsSent).toBe(0);
    // ...but a later report of the same state goes out, without waiting for a lease.
    const later = await handleAck(ack(id, 3, [['B', 'REGISTERED']]), ackContext(d.send, { now: at(120) }));
    expect(later.followUpsSent).toBe(1);
    expect(d.calls.map((c) => c.key)).toEqual([id, `${id}#B#D1RE#followup#2`]);
    expect((await getSyncRequestStatus(id))?.devices.map((x) => x.headEndRegistration)).toEqual([
      'D1RE',
      'D1RE',
    ]);
  });

  it('is re-sent by a redrive of the message it refused', async () => {
    const d = dacs();
    const id = await consolidated(d);
    const message = ack(id, 2, [['B', 'REGISTERED']]);
    d.failNext(1, dacsRefuses(400));
    await expect(
      handleAck(message, ackContext(d.send, { messageId: 'refused', now: at(100) })),
    ).rejects.toThrow('400');
    const redrive = await handleAck(message, ackContext(d.send, { messageId: 'refused', now: at(5000) }));
    expect(redrive.followUpsSent).toBe(1);
    expect(d.calls.map((c) => c.key)).toEqual([id, `${id}#B#D1RE#followup#2`]);
  });
});

describe('late information', () => {
  it('reaches DACS once as a follow-up with exceptionInfo and hasError, keyed by the ack', async () => {
    const d = dacs();
    const id = await consolidated(d);
    const late = ack(id, 2, [['ZZ', 'REGISTERED']], {
      ackType: 'ERROR',
      errors: [{ code: 'LEC-9', message: 'late' }],
    });
    const out = await handleAck(late, ackContext(d.send, { messageId: 'late', now: at(100) }));
    expect(out).toMatchObject({ status: ACK_OUTCOMES.FOLLOW_UPS_SENT, followUpsSent: 1, unknownDevices: 1 });
    expect(d.calls[1]).toEqual({
      key: `${id}#late#ACK#${late.ackDateTime}#2`,
      body: {
        syncRequestId: id,
        hasError: true,
        deviceHeadendStatus: [],
        exceptionInfo: [
          expect.objectContaining({
            messageNumber: EXCEPTION_NUMBERS.DERMS_ERROR,
            messageParameters: ['2', 'ERROR', 'LEC-9', 'late'],
          }),
          expect.objectContaining({
            messageNumber: EXCEPTION_NUMBERS.UNKNOWN_DEVICE,
            messageParameters: expect.arrayContaining(['ZZ']),
          }),
        ],
      },
    });
    // A redelivery of the same ack sends nothing more.
    await handleAck(late, ackContext(d.send, { messageId: 'late', now: at(200) }));
    expect(d.calls).toHaveLength(2);
    const view = await getSyncRequestStatus(id);
    expect(view?.followUps?.map((f) => f.acknowledgement.hasError)).toEqual([true]);
    expect(view?.acks.find((a) => a.sequence === 2)).toMatchObject({
      unknownDeviceCount: 1,
      errors: [{ code: 'LEC-9', message: 'late' }],
    });
  });

  it('that is only a non-SUCCESS type sends nothing when DACS was told of an error already', async () => {
    const d = dacs();
    const id = await consolidated(d); // B went out as D1NR: hasError was true
    const late = ack(id, 2, [], { ackType: 'ERROR', final: true });
    const out = await handleAck(late, ackContext(d.send, { messageId: 'late', now: at(100) }));
    expect(out.status).toBe(ACK_OUTCOMES.ALREADY_CONSOLIDATED);
    expect(d.calls).toHaveLength(1);
  });

  it('that is only a non-SUCCESS type reaches DACS when the consolidated ack said no error', async () => {
    const id = newSyncRequestId();
    await recordSyncRequest(request(id, [{ id: 'A' }]), {
      messageId: `req-${id}`,
      receivedAt: T0,
      deadline: DEADLINE,
    });
    const d = dacs();
    await handleAck(ack(id, 1, [['A', 'REGISTERED']], { final: true }), ackContext(d.send, { now: at(10) }));
    expect(d.calls[0]?.body.hasError).toBe(false);
    const late = ack(id, 2, [], { ackType: 'FAILURE', final: true });
    await handleAck(late, ackContext(d.send, { messageId: 'late', now: at(100) }));
    expect(d.calls.map((c) => [c.key, c.body.hasError])).toEqual([
      [id, false],
      [`${id}#late#ACK#${late.ackDateTime}#2`, true],
    ]);
  });

  it('that arrives while the frozen ack is undelivered goes out right after it, and is not in it', async () => {
    const id = newSyncRequestId();
    await recordSyncRequest(request(id, [{ id: 'A' }]), {
      messageId: `req-${id}`,
      receivedAt: T0,
      deadline: DEADLINE,
    });
    const d = dacs();
    const final = ack(id, 1, [['A', 'REGISTERED']], { final: true });
    d.failNext(1, dacsDown());
    await expect(handleAck(final, ackContext(d.send, { messageId: 'owner', now: at(10) }))).rejects.toThrow();
    const late = ack(id, 2, [['ZZ', 'FAILED']]);
    expect((await handleAck(late, ackContext(d.send, { now: at(11) }))).status).toBe(
      ACK_OUTCOMES.ALREADY_CONSOLIDATED,
    );
    expect(d.calls).toHaveLength(0);

    const retry = await handleAck(final, ackContext(d.send, { messageId: 'owner', now: at(13) }));
    expect(retry).toMatchObject({ consolidatedAckSent: true, followUpsSent: 1 });
    expect(d.calls.map((c) => c.key)).toEqual([id, `${id}#late#ACK#${late.ackDateTime}#2`]);
    expect(d.calls[0]?.body.exceptionInfo).toEqual([]);
    expect(d.calls[1]?.body.exceptionInfo[0]?.messageNumber).toBe(EXCEPTION_NUMBERS.UNKNOWN_DEVICE);
  });

  it('that is published before the freeze is in the consolidated ack and sent nowhere else', async () => {
    const id = newSyncRequestId();
    await recordSyncRequest(request(id, [{ id: 'A' }, { id: 'B' }]), {
      messageId: `req-${id}`,
      receivedAt: T0,
      deadline: DEADLINE,
    });
    const d = dacs();
    await handleAck(
      ack(id, 1, [['ZZ', 'FAILED']], { errors: [{ code: 'E1', message: 'early' }] }),
      ackContext(d.send),
    );
    await handleAck(
      ack(
        id,
        2,
        [
          ['A', 'REGISTERED'],
          ['B', 'REGISTERED'],
        ],
        { final: true },
      ),
      ackContext(d.send),
    );
    expect(d.calls.map((c) => c.key)).toEqual([id]);
    expect(d.calls[0]?.body.hasError).toBe(true);
    expect(d.calls[0]?.body.exceptionInfo.map((e) => e.messageNumber)).toEqual([
      EXCEPTION_NUMBERS.DERMS_ERROR,
      EXCEPTION_NUMBERS.UNKNOWN_DEVICE,
    ]);
  });
});

describe('an enrollment sync DERMS refused', () => {
  it("is due at once and consolidated with every device without status and DERMS's answer", async () => {
    const id = newSyncRequestId();
    await recordSyncRequest(request(id, [{ id: 'A' }, { id: 'B', action: 'DEREGISTER' }]), {
      messageId: `req-${id}`,
      receivedAt: T0,
      deadline: DEADLINE,
    });
    expect(await refuseEnrollment(id, 'DERMS answered 422: unknown program', at(5))).toBe(true);
    expect(await findOverdue(at(5), 10_000)).toContain(id);
    expect(await claimOverdue(id, at(5), 300)).toBe(true);
    const d = dacs();
    const out = await consolidateOnDeadline(id, deadlineContext('cmd', at(6), d.send));
    expect(out).toMatchObject({
      status: ACK_OUTCOMES.CONSOLIDATED,
      trigger: 'DERMS_REFUSED',
      consolidatedAckSent: true,
    });
    const body = d.calls[0]?.body;
    expect(body?.hasError).toBe(true);
    expect(body?.deviceHeadendStatus.map((s) => s.headEndRegistration)).toEqual(['D1NR', 'D1NR']);
    expect(body?.deviceHeadendStatus[0]?.message).toContain('DERMS refused the enrollment sync');
    expect(body?.exceptionInfo).toEqual([
      expect.objectContaining({
        messageNumber: EXCEPTION_NUMBERS.DERMS_REFUSED,
        messageParameters: ['DERMS answered 422: unknown program'],
      }),
    ]);
    const view = await getSyncRequestStatus(id);
    expect(view?.enrollmentRefused).toEqual({
      at: at(5).toISOString(),
      reason: 'DERMS answered 422: unknown program',
    });
    expect(view?.consolidatedAck?.trigger).toBe('DERMS_REFUSED');
    // Once consolidated, a refusal changes nothing.
    expect(await refuseEnrollment(id, 'again', at(7))).toBe(false);
  });
});
