import { describe, expect, it } from '@jest/globals';
import {
  ACK_OUTCOMES,
  consolidateOnDeadline,
  EXCEPTION_NUMBERS,
  findOverdue,
  getSyncRequestStatus,
  handleAck,
  recordSyncRequest,
} from '#shared/consolidation/index.ts';
import { RetryLaterError } from '#shared/errors.ts';
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

async function recorded(devices: { id: string; action?: 'REGISTER' | 'DEREGISTER' }[], deadline = DEADLINE) {
  const id = newSyncRequestId();
  await recordSyncRequest(request(id, devices), { messageId: `req-${id}`, receivedAt: T0, deadline });
  return id;
}

describe('handleAck', () => {
  it('gathers partial acks and consolidates on the final one', async () => {
    const id = await recorded([{ id: 'A' }, { id: 'B' }, { id: 'C', action: 'DEREGISTER' }]);
    const d = dacs();
    const first = await handleAck(ack(id, 1, [['A', 'REGISTERED']]), ackContext(d.send));
    expect(first).toMatchObject({
      status: ACK_OUTCOMES.RECORDED,
      devicesApplied: 1,
      consolidatedAckSent: false,
    });
    expect(d.calls).toEqual([]);

    const second = await handleAck(ack(id, 2, [['B', 'FAILED']], { final: true }), ackContext(d.send));
    expect(second).toMatchObject({
      status: ACK_OUTCOMES.CONSOLIDATED,
      trigger: 'FINAL_ACK',
      consolidatedAckSent: true,
    });
    expect(d.calls).toHaveLength(1);
    expect(d.calls[0]?.key).toBe(id);
    expect(d.calls[0]?.body).toEqual({
      syncRequestId: id,
      hasError: true,
      exceptionInfo: [
        expect.objectContaining({
          messageNumber: EXCEPTION_NUMBERS.DEADLINE,
          messageParameters: ['1', DEADLINE.toISOString()],
        }),
      ],
      deviceHeadendStatus: [
        { deviceId: 'A', headEndRegistration: 'D1RE', message: 'Registered at the head end' },
        { deviceId: 'B', headEndRegistration: 'D1NR', message: expect.stringMatching(/failed/) },
        {
          deviceId: 'C',
          headEndRegistration: 'D1NR',
          message: expect.stringContaining(DEADLINE.toISOString()),
        },
      ],
    });
    const status = await getSyncRequestStatus(id);
    expect(status?.consolidatedAck).toEqual({
      sentAt: expect.any(String),
      frozenAt: expect.any(String),
      trigger: 'FINAL_ACK',
      acknowledgement: d.calls[0]?.body,
      delivery: { state: 'DELIVERED', attempts: 1 },
    });
    expect(status?.acks.map((a) => [a.sequence, a.final, a.deviceCount])).toEqual([
      [1, false, 1],
      [2, true, 1],
    ]);
    expect(
      status?.devices.map((x) => [x.deviceId, x.expected, x.reportedStatus, x.headEndRegistration]),
    ).toEqual([
      ['A', 'REGISTER', 'REGISTERED', 'D1RE'],
      ['B', 'REGISTER', 'FAILED', 'D1NR'],
      ['C', 'DEREGISTER', undefined, 'D1NR'],
    ]);
    expect(JSON.stringify(status)).not.toMatch(/contactId|cisPersonId/);
  });

  it('consolidates once every device is terminal, without a final ack', async () => {
    const id = await recorded([{ id: 'A' }, { id: 'B', action: 'DEREGISTER' }]);
    const d = dacs();
    await handleAck(
      ack(id, 1, [
        ['A', 'PENDING'],
        ['B', 'DEREGISTERED'],
      ]),
      ackContext(d.send),
    );
    expect(d.calls).toEqual([]);
    const out = await handleAck(ack(id, 2, [['A', 'REGISTERED']]), ackContext(d.send));
    expect(out).toMatchObject({ status: ACK_OUTCOMES.CONSOLIDATED, trigger: 'ALL_TERMINAL' });
    expect(d.calls.map((c) => c.body.deviceHeadendStatus.map((s) => s.headEndRegistration))).toEqual([
      ['D1RE', 'D1DR'],
    ]);
    expect(d.calls[0]?.body.hasError).toBe(false);
  });

  it('does not count a redelivered ack twice, nor let an older report overwrite a newer one', async () => {
    const id = await recorded([{ id: 'A' }, { id: 'B' }]);
    const d = dacs();
    const newer = ack(id, 2, [['A', 'FAILED']]);
    await handleAck(newer, ackContext(d.send));
    const again = await handleAck(newer, ackContext(d.send));
    expect(again).toMatchObject({ duplicateAck: true, status: ACK_OUTCOMES.RECORDED });
    const older = await handleAck(ack(id, 1, [['A', 'REGISTERED']]), ackContext(d.send));
    expect(older.staleReports).toBe(1);
    expect(d.calls).toEqual([]);
    const status = await getSyncRequestStatus(id);
    expect(status?.devices[0]?.reportedStatus).toBe('FAILED');
  });

  it('keeps reported statuses when the request is recorded again', async () => {
    const id = await recorded([{ id: 'A' }, { id: 'B' }]);
    await handleAck(ack(id, 1, [['A', 'REGISTERED']]), ackContext(dacs().send));
    await recordSyncRequest(request(id, [{ id: 'A' }, { id: 'B' }]), {
      messageId: 'again',
      receivedAt: T0,
      deadline: DEADLINE,
    });
    expect((await getSyncRequestStatus(id))?.devices[0]?.reportedStatus).toBe('REGISTERED');
  });

  it('reports a device the request did not hold in exceptionInfo only', async () => {
    const id = await recorded([{ id: 'A' }]);
    const d = dacs();
    const out = await handleAck(
      ack(
        id,
        1,
        [
          ['A', 'REGISTERED'],
          ['ZZ', 'REGISTERED'],
        ],
        { final: true },
      ),
      ackContext(d.send),
    );
    expect(out).toMatchObject({ unknownDevices: 1, status: ACK_OUTCOMES.CONSOLIDATED });
    const body = d.calls[0]?.body;
    expect(body?.deviceHeadendStatus.map((s) => s.deviceId)).toEqual(['A']);
    expect(body?.exceptionInfo).toEqual([
      expect.objectContaining({
        messageNumber: EXCEPTION_NUMBERS.UNKNOWN_DEVICE,
        messageParameters: expect.arrayContaining(['ZZ']),
      }),
    ]);
  });

  it('carries DERMS errors into exceptionInfo and hasError', async () => {
    const id = await recorded([{ id: 'A' }]);
    const d = dacs();
    await handleAck(
      ack(id, 1, [['A', 'REGISTERED']], {
        final: true,
        ackType: 'ERROR',
        errors: [{ code: 'LEC-7', message: 'late' }],
      }),
      ackContext(d.send),
    );
    expect(d.calls[0]?.body.hasError).toBe(true);
    expect(d.calls[0]?.body.exceptionInfo[0]).toMatchObject({
      messageNumber: EXCEPTION_NUMBERS.DERMS_ERROR,
      messageParameters: ['1', 'ERROR', 'LEC-7', 'late'],
    });
  });
});

describe('follow-ups', () => {
  it('sends exactly one follow-up for a late change, nothing for a repeat or a late PENDING', async () => {
    const id = await recorded([{ id: 'A' }, { id: 'B' }]);
    const d = dacs();
    await handleAck(ack(id, 1, [['A', 'REGISTERED']], { final: true }), ackContext(d.send));
    expect(d.calls).toHaveLength(1);

    const late = await handleAck(ack(id, 2, [['B', 'REGISTERED']]), ackContext(d.send));
    expect(late).toMatchObject({ status: ACK_OUTCOMES.FOLLOW_UPS_SENT, followUpsSent: 1 });
    expect(d.calls[1]).toEqual({
      key: `${id}#B#D1RE#followup`,
      body: {
        syncRequestId: id,
        hasError: false,
        exceptionInfo: [],
        deviceHeadendStatus: [
          { deviceId: 'B', headEndRegistration: 'D1RE', message: expect.stringMatching(/Registered/) },
        ],
      },
    });

    const repeat = await handleAck(
      ack(id, 3, [
        ['B', 'REGISTERED'],
        ['A', 'REGISTERED'],
      ]),
      ackContext(d.send),
    );
    expect(repeat).toMatchObject({ status: ACK_OUTCOMES.ALREADY_CONSOLIDATED, followUpsSent: 0 });
    await handleAck(ack(id, 4, [['B', 'PENDING']]), ackContext(d.send));
    expect(d.calls).toHaveLength(2);

    const flip = await handleAck(
      ack(id, 5, [['A', 'FAILED']]),
      ackContext(d.send, { now: new Date(T0.getTime() + 120_000) }),
    );
    expect(flip.followUpsSent).toBe(1);
    expect(d.calls[2]?.key).toBe(`${id}#A#D1NR#followup`);
    const status = await getSyncRequestStatus(id);
    expect(status?.followUps?.map((f) => f.acknowledgement.deviceHeadendStatus[0]?.deviceId)).toEqual([
      'B',
      'A',
    ]);
    expect(status?.devices.map((x) => x.headEndRegistration)).toEqual(['D1NR', 'D1RE']);
  });

  it('re-delivers the frozen body with the same key after a failed delivery', async () => {
    const id = await recorded([{ id: 'A' }, { id: 'B' }]);
    const d = dacs();
    const message = ack(id, 1, [['A', 'REGISTERED']], { final: true });
    const ctx = ackContext(d.send);
    d.failNext();
    await expect(handleAck(message, ctx)).rejects.toThrow('DACS unavailable');
    // Meanwhile B reports; DACS has nothing yet, so nothing is sent for it.
    const meanwhile = await handleAck(ack(id, 2, [['B', 'REGISTERED']]), ackContext(d.send));
    expect(meanwhile.status).toBe(ACK_OUTCOMES.ALREADY_CONSOLIDATED);
    expect(d.calls).toEqual([]);

    const retry = await handleAck(message, ctx);
    expect(retry).toMatchObject({
      status: ACK_OUTCOMES.CONSOLIDATED,
      consolidatedAckSent: true,
      followUpsSent: 1,
    });
    expect(d.calls.map((c) => c.key)).toEqual([id, `${id}#B#D1RE#followup`]);
    expect(d.calls[0]?.body.deviceHeadendStatus.map((s) => s.headEndRegistration)).toEqual(['D1RE', 'D1NR']);
  });
});

describe('uncorrelated acks', () => {
  it('asks for a retry within the window, then forwards what the ack reports', async () => {
    const id = newSyncRequestId();
    const d = dacs();
    const message = ack(
      id,
      1,
      [
        ['A', 'REGISTERED'],
        ['B', 'FAILED'],
      ],
      { final: true },
    );
    await expect(handleAck(message, ackContext(d.send))).rejects.toBeInstanceOf(RetryLaterError);
    expect(d.calls).toEqual([]);

    const late = new Date(T0.getTime() + 301_000);
    const out = await handleAck(message, ackContext(d.send, { now: late }));
    expect(out).toMatchObject({ status: ACK_OUTCOMES.UNCORRELATED, uncorrelated: true });
    expect(d.calls[0]?.key).toBe(`${id}#uncorrelated#${message.ackDateTime}#1`);
    expect(d.calls[0]?.body.deviceHeadendStatus.map((s) => s.headEndRegistration)).toEqual(['D1RE', 'D1NR']);
    expect(d.calls[0]?.body.exceptionInfo[0]?.messageNumber).toBe(EXCEPTION_NUMBERS.UNCORRELATED_ACK);
  });

  it('forwards at once on the last attempt', async () => {
    const d = dacs();
    const out = await handleAck(
      ack(newSyncRequestId(), 1, [['A', 'REGISTERED']]),
      ackContext(d.send, { lastAttempt: true }),
    );
    expect(out.status).toBe(ACK_OUTCOMES.UNCORRELATED);
    expect(d.calls).toHaveLength(1);
  });

  it('correlates once the request is recorded', async () => {
    const id = newSyncRequestId();
    const d = dacs();
    const message = ack(id, 1, [['A', 'REGISTERED']], { final: true });
    await expect(handleAck(message, ackContext(d.send))).rejects.toBeInstanceOf(RetryLaterError);
    await recordSyncRequest(request(id, [{ id: 'A' }]), {
      messageId: 'r',
      receivedAt: T0,
      deadline: DEADLINE,
    });
    expect((await handleAck(message, ackContext(d.send))).status).toBe(ACK_OUTCOMES.CONSOLIDATED);
  });
});

describe('deadline', () => {
  it('finds overdue requests and consolidates them once with trigger DEADLINE', async () => {
    const deadline = new Date('2020-01-01T00:00:00.000Z');
    const id = await recorded([{ id: 'A' }, { id: 'B', action: 'DEREGISTER' }], deadline);
    const d = dacs();
    await handleAck(ack(id, 1, [['A', 'REGISTERED']]), ackContext(d.send));
    const before = new Date(deadline.getTime() - 1000);
    expect(await findOverdue(before, 1000)).not.toContain(id);
    expect((await consolidateOnDeadline(id, deadlineContext('sweep-0', before, d.send))).status).toBe(
      ACK_OUTCOMES.NOT_DUE,
    );

    const after = new Date(deadline.getTime() + 1000);
    expect(await findOverdue(after, 1000)).toContain(id);
    const out = await consolidateOnDeadline(id, deadlineContext('sweep-1', after, d.send));
    expect(out).toMatchObject({
      status: ACK_OUTCOMES.CONSOLIDATED,
      trigger: 'DEADLINE',
      consolidatedAckSent: true,
    });
    expect(d.calls[0]?.body.deviceHeadendStatus).toEqual([
      { deviceId: 'A', headEndRegistration: 'D1RE', message: 'Registered at the head end' },
      {
        deviceId: 'B',
        headEndRegistration: 'D1NR',
        message: expect.stringMatching(/unknown.*2020-01-01T00:00:00.000Z/),
      },
    ]);
    expect(await findOverdue(after, 1000)).not.toContain(id);
    const again = await consolidateOnDeadline(id, deadlineContext('sweep-2', after, d.send));
    expect(again.status).toBe(ACK_OUTCOMES.ALREADY_CONSOLIDATED);
    expect(
      await consolidateOnDeadline(newSyncRequestId(), deadlineContext('x', after, d.send)),
    ).toMatchObject({
      status: ACK_OUTCOMES.NOT_FOUND,
    });
    expect(d.calls).toHaveLength(1);
    expect((await getSyncRequestStatus(id))?.consolidatedAck?.trigger).toBe('DEADLINE');
  });
});
