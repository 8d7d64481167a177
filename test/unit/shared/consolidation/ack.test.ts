import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  type AckRecord,
  buildConsolidatedAck,
  buildFollowUpAck,
  buildLateInfoAck,
  buildUncorrelatedAck,
  capExceptions,
  type DeviceState,
  EXCEPTION_CATEGORY,
  EXCEPTION_NUMBERS,
  exception,
  exceptionInfoBytes,
  MAX_EXCEPTION_INFO_BYTES,
  MAX_EXCEPTIONS,
} from '#shared/consolidation/ack.ts';
import { flagFor, LIMITS } from '#shared/consolidation/flags.ts';
import { REGISTRATION_STATUSES } from '#shared/consolidation/types.ts';

const HEADER = { syncRequestId: 'SR1', deadline: '2026-12-02T22:00:00.000Z' };
const ok: AckRecord = { sequence: 1, ackDateTime: '2026-12-01T14:00:00-08:00', ackType: 'SUCCESS' };

describe('buildConsolidatedAck', () => {
  it('lists every device in request order with its flag', () => {
    const devices: DeviceState[] = [
      { deviceId: 'B', expected: 'REGISTER', reportedStatus: 'REGISTERED' },
      { deviceId: 'A', expected: 'DEREGISTER', reportedStatus: 'DEREGISTERED' },
    ];
    const body = buildConsolidatedAck(HEADER, devices, [ok]);
    expect(body).toEqual({
      syncRequestId: 'SR1',
      hasError: false,
      exceptionInfo: [],
      deviceHeadendStatus: [
        { deviceId: 'B', headEndRegistration: 'D1RE', message: 'Registered at the head end' },
        { deviceId: 'A', headEndRegistration: 'D1DR', message: 'Deregistered at the head end' },
      ],
    });
  });

  it('gives a device without status D1NR naming the deadline, with a deadline exception', () => {
    const body = buildConsolidatedAck(HEADER, [{ deviceId: 'A', expected: 'REGISTER' }], []);
    expect(body.hasError).toBe(true);
    expect(body.deviceHeadendStatus[0]).toEqual({
      deviceId: 'A',
      headEndRegistration: 'D1NR',
      message: expect.stringContaining(HEADER.deadline),
    });
    expect(body.exceptionInfo).toEqual([
      {
        comments: expect.stringContaining(HEADER.deadline),
        messageCategory: EXCEPTION_CATEGORY,
        messageNumber: EXCEPTION_NUMBERS.DEADLINE,
        messageParameters: ['1', HEADER.deadline],
      },
    ]);
  });

  it('reports a device the request did not hold only in exceptionInfo', () => {
    const body = buildConsolidatedAck(
      HEADER,
      [{ deviceId: 'A', expected: 'REGISTER', reportedStatus: 'REGISTERED' }],
      [
        {
          ...ok,
          unknownDevices: [
            { deviceId: 'X', registrationStatus: 'REGISTERED', headEndSystem: 'H', nicId: 'N' },
          ],
        },
      ],
    );
    expect(body.deviceHeadendStatus.map((d) => d.deviceId)).toEqual(['A']);
    expect(body.exceptionInfo).toEqual([
      expect.objectContaining({
        messageNumber: EXCEPTION_NUMBERS.UNKNOWN_DEVICE,
        messageParameters: ['X', 'REGISTERED', 'H', 'N'],
      }),
    ]);
    expect(body.hasError).toBe(false);
  });

  it('puts ack errors and a non-SUCCESS ackType into exceptionInfo and sets hasError', () => {
    const acks: AckRecord[] = [
      { ...ok, sequence: 2, ackType: 'ERROR', errors: [{ code: 'E1', message: 'head end down' }] },
      { ...ok, sequence: 1, ackType: 'FAILURE' },
    ];
    const body = buildConsolidatedAck(
      HEADER,
      [{ deviceId: 'A', expected: 'REGISTER', reportedStatus: 'REGISTERED' }],
      acks,
    );
    expect(body.hasError).toBe(true);
    expect(body.exceptionInfo.map((e) => [e.messageNumber, e.messageParameters])).toEqual([
      [EXCEPTION_NUMBERS.DERMS_ERROR, ['1', 'FAILURE', '', '']],
      [EXCEPTION_NUMBERS.DERMS_ERROR, ['2', 'ERROR', 'E1', 'head end down']],
    ]);
  });

  it('sets hasError for errors on a SUCCESS ack', () => {
    const body = buildConsolidatedAck(
      HEADER,
      [{ deviceId: 'A', expected: 'REGISTER', reportedStatus: 'REGISTERED' }],
      [{ ...ok, errors: [{ code: 'W', message: 'warn' }] }],
    );
    expect(body.hasError).toBe(true);
  });

  it('truncates comments to 254 and parameters to 2000 characters', () => {
    const body = buildConsolidatedAck(
      HEADER,
      [],
      [{ ...ok, ackType: 'ERROR', errors: [{ code: 'E', message: 'm'.repeat(3000) }] }],
    );
    const [entry] = body.exceptionInfo;
    expect(entry?.comments).toHaveLength(LIMITS.COMMENTS);
    expect(entry?.messageParameters?.[3]).toHaveLength(LIMITS.PARAMETER);
  });

  it('caps exceptionInfo in bytes, counts what it left out, and keeps the deadline entry', () => {
    const unknownDevices = Array.from({ length: MAX_EXCEPTIONS + 10 }, (_, i) => ({
      deviceId: `U${i}`,
      registrationStatus: 'REGISTERED' as const,
    }));
    const body = buildConsolidatedAck(
      HEADER,
      [{ deviceId: 'A', expected: 'REGISTER' }],
      [{ ...ok, unknownDevices }],
    );
    expect(exceptionInfoBytes(body.exceptionInfo)).toBeLessThanOrEqual(MAX_EXCEPTION_INFO_BYTES);
    const kept = body.exceptionInfo.filter(
      (e) => e.messageNumber === EXCEPTION_NUMBERS.UNKNOWN_DEVICE,
    ).length;
    expect(kept).toBeGreaterThan(100);
    expect(body.exceptionInfo.at(-2)).toMatchObject({ messageNumber: EXCEPTION_NUMBERS.DEADLINE });
    expect(body.exceptionInfo.at(-1)).toEqual(
      expect.objectContaining({
        messageNumber: EXCEPTION_NUMBERS.TRUNCATED,
        messageParameters: [String(MAX_EXCEPTIONS + 10 - kept)],
      }),
    );
  });

  it('caps exceptionInfo at MAX_EXCEPTIONS entries when they are small', () => {
    const tiny = Array.from({ length: MAX_EXCEPTIONS + 10 }, () =>
      exception(EXCEPTION_NUMBERS.DERMS_ERROR, 'x', []),
    );
    const capped = capExceptions(tiny);
    expect(capped).toHaveLength(MAX_EXCEPTIONS);
    expect(capped.at(-1)).toMatchObject({
      messageNumber: EXCEPTION_NUMBERS.TRUNCATED,
      messageParameters: ['11'],
    });
    expect(capExceptions(tiny.slice(0, 3))).toHaveLength(3);
  });

  it('stays within its byte budget at the schema limits, with multi-byte text', () => {
    const errors = Array.from({ length: 1000 }, (_, i) => ({
      code: `E${i}`.padEnd(100, 'c'),
      message: 'é'.repeat(2000),
    }));
    const unknownDevices = Array.from({ length: 10_000 }, (_, i) => ({
      deviceId: `U${i}`.padEnd(12, 'u'),
      registrationStatus: 'FAILED' as const,
      headEndSystem: 'h'.repeat(50),
      nicId: 'n'.repeat(100),
    }));
    const body = buildConsolidatedAck(
      HEADER,
      [{ deviceId: 'A', expected: 'REGISTER' }],
      [{ ...ok, ackType: 'ERROR', errors, unknownDevices }],
    );
    expect(exceptionInfoBytes(body.exceptionInfo)).toBeLessThanOrEqual(MAX_EXCEPTION_INFO_BYTES);
    for (const e of body.exceptionInfo) {
      expect(e.comments.length).toBeLessThanOrEqual(LIMITS.COMMENTS);
      for (const p of e.messageParameters ?? []) expect(p.length).toBeLessThanOrEqual(LIMITS.PARAMETER);
    }
    expect(body.exceptionInfo.at(-2)?.messageNumber).toBe(EXCEPTION_NUMBERS.DEADLINE);
    expect(body.exceptionInfo.at(-1)?.messageNumber).toBe(EXCEPTION_NUMBERS.TRUNCATED);
  });

  const deviceArb = fc.record({
    expected: fc.constantFrom('REGISTER' as const, 'DEREGISTER' as const),
    reportedStatus: fc.option(fc.constantFrom(...REGISTRATION_STATUSES), { nil: undefined }),
  });
  const ackArb = fc.record({
    sequence: fc.integer({ min: 1, max: 50 }),
    ackDateTime: fc.constant('2026-12-01T14:00:00Z'),
    ackType: fc.constantFrom('SUCCESS' as const, 'ERROR' as const, 'FAILURE' as const),
    errors: fc.option(
      fc.array(fc.record({ code: fc.string({ minLength: 1 }), message: fc.string() }), { maxLength: 3 }),
      {
        nil: undefined,
      },
    ),
  });

  it('lists every request device exactly once, in order (property)', () => {
    fc.assert(
      fc.property(fc.array(deviceArb, { maxLength: 60 }), fc.array(ackArb, { maxLength: 5 }), (raw, acks) => {
        const devices = raw.map((d, i) => ({ ...d, deviceId: `D${i}` }));
        const body = buildConsolidatedAck(HEADER, devices, acks);
        expect(body.deviceHeadendStatus.map((d) => d.deviceId)).toEqual(devices.map((d) => d.deviceId));
        for (const [i, line] of body.deviceHeadendStatus.entries()) {
          const d = devices[i]!;
          expect(line.headEndRegistration).toBe(flagFor(d.expected, d.reportedStatus).flag);
          expect((line.message ?? '').length).toBeLessThanOrEqual(LIMITS.DEVICE_MESSAGE);
        }
      }),
    );
  });

  it('has hasError iff an ack is not SUCCESS, an ack has errors or a device counts as error (property)', () => {
    fc.assert(
      fc.property(fc.array(deviceArb, { maxLength: 30 }), fc.array(ackArb, { maxLength: 5 }), (raw, acks) => {
        const devices = raw.map((d, i) => ({ ...d, deviceId: `D${i}` }));
        const expected =
          acks.some((a) => a.ackType !== 'SUCCESS' || (a.errors?.length ?? 0) > 0) ||
          devices.some((d) => flagFor(d.expected, d.reportedStatus).isError);
        expect(buildConsolidatedAck(HEADER, devices, acks).hasError).toBe(expected);
      }),
    );
  });
});

describe('buildFollowUpAck', () => {
  it('carries one device with the flag given', () => {
    const body = buildFollowUpAck(
      'SR1',
      { deviceId: 'A', expected: 'REGISTER', reportedStatus: 'REGISTERED' },
      'D1RE',
      'Registered at the head end',
    );
    expect(body).toEqual({
      syncRequestId: 'SR1',
      hasError: false,
      exceptionInfo: [],
      deviceHeadendStatus: [
        {
          deviceId: 'A',
          headEndRegistration: 'D1RE',
          message: 'Update after the consolidated acknowledgement: Registered at the head end',
        },
      ],
    });
  });

  it('is an error when the device counts as error', () => {
    expect(
      buildFollowUpAck(
        'SR1',
        { deviceId: 'A', expected: 'DEREGISTER', reportedStatus: 'FAILED' },
        'D1RE',
        'x',
      ).hasError,
    ).toBe(true);
  });
});

describe('buildUncorrelatedAck', () => {
  it('forwards the reported statuses with an uncorrelated exception', () => {
    const body = buildUncorrelatedAck({
      syncRequestId: 'SR9',
      ackType: 'SUCCESS',
      ackDateTime: '2026-12-01T14:00:00Z',
      sequence: 3,
      final: true,
      devices: [
        { deviceId: 'A', headEndSystem: 'H', nicId: 'N', registrationStatus: 'REGISTERED' },
        { deviceId: 'B', headEndSystem: 'H', nicId: 'N', registrationStatus: 'DEREGISTERED' },
        { deviceId: 'C', headEndSystem: 'H', nicId: 'N', registrationStatus: 'FAILED' },
      ],
    });
    expect(body.deviceHeadendStatus.map((d) => d.headEndRegistration)).toEqual(['D1RE', 'D1DR', 'D1NR']);
    expect(body.hasError).toBe(true);
    expect(body.exceptionInfo).toEqual([
      expect.objectContaining({
        messageNumber: EXCEPTION_NUMBERS.UNCORRELATED_ACK,
        messageParameters: ['SR9', '2026-12-01T14:00:00Z', '3'],
      }),
    ]);
  });
});

describe('an enrollment sync DERMS refused', () => {
  const refused = {
    ...HEADER,
    trigger: 'DERMS_REFUSED' as const,
    refusal: 'DERMS answered 422: unknown program',
  };

  it("gives every device its flag for no status, whatever was reported, and names DERMS's answer", () => {
    const body = buildConsolidatedAck(
      refused,
      [
        { deviceId: 'A', expected: 'REGISTER' },
        { deviceId: 'B', expected: 'DEREGISTER', reportedStatus: 'DEREGISTERED' },
      ],
      [],
    );
    expect(body.hasError).toBe(true);
    expect(body.deviceHeadendStatus).toEqual([
      {
        deviceId: 'A',
        headEndRegistration: 'D1NR',
        message: expect.stringMatching(
          /^Not registered: DERMS refused the enrollment sync \(DERMS answered 422: unknown program\)$/,
        ),
      },
      {
        deviceId: 'B',
        headEndRegistration: 'D1NR',
        message: expect.stringMatching(/^Head-end registration state unknown: DERMS refused/),
      },
    ]);
    expect(body.exceptionInfo).toEqual([
      {
        comments: expect.stringContaining('DERMS refused the enrollment sync SR1: DERMS answered 422'),
        messageCategory: EXCEPTION_CATEGORY,
        messageNumber: EXCEPTION_NUMBERS.DERMS_REFUSED,
        messageParameters: ['DERMS answered 422: unknown program'],
      },
    ]);
  });
});

describe('buildLateInfoAck', () => {
  it("carries an ack's errors and unknown devices in exceptionInfo only, with hasError", () => {
    const body = buildLateInfoAck('SR1', {
      ...ok,
      errors: [{ code: 'LEC-9', message: 'late error' }],
      unknownDevices: [{ deviceId: 'ZZ', registrationStatus: 'REGISTERED' }],
    });
    expect(body).toEqual({
      syncRequestId: 'SR1',
      hasError: true,
      deviceHeadendStatus: [],
      exceptionInfo: [
        expect.objectContaining({
          messageNumber: EXCEPTION_NUMBERS.DERMS_ERROR,
          messageParameters: ['1', 'SUCCESS', 'LEC-9', 'late error'],
        }),
        expect.objectContaining({
          messageNumber: EXCEPTION_NUMBERS.UNKNOWN_DEVICE,
          messageParameters: ['ZZ', 'REGISTERED', '', ''],
        }),
      ],
    });
  });
});
