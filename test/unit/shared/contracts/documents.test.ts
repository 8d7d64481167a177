import { validateDocument } from '#shared/contracts/documents.ts';

describe('validateDocument', () => {
  const acknowledgement = {
    syncRequestId: 'SR-1001',
    hasError: true,
    exceptionInfo: [
      {
        comments: 'Device D-9 is not part of the request',
        messageCategory: 11001,
        messageNumber: 2,
        messageParameters: ['D-9'],
      },
    ],
    deviceHeadendStatus: [
      { deviceId: 'D-1001', headEndRegistration: 'D1NR', message: 'No status by the deadline' },
    ],
  };

  it('accepts a DACS acknowledgement', () => {
    expect(validateDocument('DacsAcknowledgement', acknowledgement)).toEqual({
      ok: true,
      value: acknowledgement,
    });
  });

  it('holds a DACS acknowledgement to comments of at most 254 characters and the three flags', () => {
    const bad = structuredClone(acknowledgement);
    bad.exceptionInfo[0]!.comments = 'c'.repeat(255);
    bad.deviceHeadendStatus[0]!.headEndRegistration = 'D1XX';
    const result = validateDocument('DacsAcknowledgement', bad);
    expect(result.ok ? [] : result.violations.map((v) => v.path)).toEqual([
      '/exceptionInfo/0/comments',
      '/deviceHeadendStatus/0/headEndRegistration',
    ]);
  });

  it('accepts the support views', () => {
    const status = {
      syncRequestId: 'SR-1001',
      reason: 'ENROLL',
      deadline: '2026-12-02T22:00:00.000Z',
      devices: [{ deviceId: 'D-1001', expected: 'REGISTER', reportedStatus: 'REGISTERED' }],
      acks: [{ sequence: 1, ackType: 'SUCCESS', ackDateTime: '2026-12-01T14:05:00-08:00', final: true }],
      consolidatedAck: {
        sentAt: '2026-12-01T22:05:01.000Z',
        trigger: 'FINAL_ACK',
        acknowledgement,
        delivery: { state: 'DELIVERED', attempts: 1 },
      },
    };
    expect(validateDocument('SyncRequestStatus', status).ok).toBe(true);
    const trace = {
      messageId: 'm-1',
      flow: 'assetSync',
      businessKey: 'SR-1001',
      keys: { syncRequestId: 'SR-1001' },
      receivedAt: '2026-12-01T22:00:00.000Z',
      state: 'DELIVERED',
      attempts: 1,
      deliveredAt: '2026-12-01T22:00:01.000Z',
      updatedAt: '2026-12-01T22:00:01.000Z',
      events: [{ at: '2026-12-01T22:00:00.000Z', state: 'ACCEPTED' }],
    };
    expect(validateDocument('MessageTrace', trace).ok).toBe(true);
    expect(validateDocument('MessageTrace', { ...trace, state: 'LOST' }).ok).toBe(false);
  });
});
