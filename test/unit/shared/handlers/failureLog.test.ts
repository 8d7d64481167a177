import { DeliveryError } from '#shared/errors.ts';
import { decideFailure, describeError, describeErrorForLog, errorCodeOf } from '#shared/handlers/failure.ts';

const echoed = JSON.stringify({
  code: 'INVALID_DEVICE',
  detail: 'networkAddress 10.20.30.41 is not reachable',
  request: { networkAddress: '10.20.30.41', comments: 'Customer travelling; house unoccupied.' },
});
const refused = (retryable: boolean, responseBody = echoed) =>
  new DeliveryError('DERMS answered 400 to enrollment sync', { retryable, statusCode: 400, responseBody });

describe('describeErrorForLog', () => {
  it('names a receiver’s answer by status, error code and length only; the trace keeps the answer', () => {
    const error = refused(false);
    expect(describeErrorForLog(error)).toBe(
      `DERMS answered 400 to enrollment sync (status 400, code INVALID_DEVICE, answer of ${echoed.length} chars)`,
    );
    expect(describeError(error)).toContain('10.20.30.41');
  });

  it('leaves an error without an answer as it is', () => {
    expect(describeErrorForLog(new Error('socket hang up'))).toBe('Error: socket hang up');
    const noBody = new DeliveryError('DERMS answered 503 to opt-out', { retryable: true, statusCode: 503 });
    expect(describeErrorForLog(noBody)).toBe('DERMS answered 503 to opt-out');
  });
});

describe('errorCodeOf', () => {
  it('takes one token of an error code, never free text', () => {
    expect(errorCodeOf('{"code":"E42"}')).toBe('E42');
    expect(errorCodeOf('{"type":"https://example.test/problems/validation"}')).toBe(
      'https://example.test/problems/validation',
    );
    expect(errorCodeOf('{"type":"about:blank","title":"Bad"}')).toBeUndefined();
    expect(errorCodeOf('{"error":"the device at 10.20.30.41 is gone"}')).toBeUndefined();
    expect(errorCodeOf('not json, 10.20.30.41')).toBeUndefined();
  });
});

describe('decideFailure', () => {
  const base = {
    attemptsBefore: 0,
    acceptedAt: new Date('2026-12-01T00:00:00Z'),
    now: new Date('2026-12-01T00:00:10Z'),
    policy: { baseSeconds: 1, maxSeconds: 4, windowSeconds: 60 },
    random: () => 0.5,
  };

  it('keeps the answer in the reason (trace, DLQ) and out of the log reason, whatever the decision', () => {
    const decisions = [
      decideFailure({ ...base, error: refused(false) }),
      decideFailure({ ...base, error: refused(true) }),
      decideFailure({ ...base, error: refused(true), now: new Date('2026-12-01T00:05:00Z') }),
      decideFailure({ ...base, error: refused(true), lastReceive: true }),
    ];
    expect(decisions.map((d) => d.action)).toEqual(['dead-letter', 'retry', 'dead-letter', 'dead-letter']);
    for (const d of decisions) {
      expect(d.reason).toContain(echoed);
      expect(d.logReason).not.toMatch(/networkAddress|10\.20\.30\.41|Customer/);
      expect(d.logReason).toContain('code INVALID_DEVICE');
    }
  });
});
