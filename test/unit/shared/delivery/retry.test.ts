import fc from 'fast-check';
import {
  backoffSeconds,
  classifyHttpStatus,
  DEFAULT_RETRY_POLICY,
  MAX_DELAY_SECONDS,
  MAX_RECEIVE_COUNT,
  minimumBackoffSeconds,
  nextDelaySeconds,
  parseRetryAfter,
  RECEIVE_SLACK,
  receiveLimit,
  retryPolicyFromEnv,
} from '#shared/delivery/retry.ts';

const NOW = new Date('2026-12-01T22:00:00Z');
const OPTS = { baseSeconds: 2, maxSeconds: 900 };

describe('classifyHttpStatus', () => {
  it.each([200, 201, 202, 204, 299])('treats %i as ok', (status) => {
    expect(classifyHttpStatus(status)).toBe('ok');
  });

  it.each([408, 429, 500, 502, 503, 504, 599])('retries %i', (status) => {
    expect(classifyHttpStatus(status)).toBe('retryable');
  });

  it.each([400, 401, 403, 404, 409, 410, 413, 415, 422, 301, 302, 307, 308, 100, 0, 600])(
    'treats %i as permanent',
    (status) => {
      expect(classifyHttpStatus(status)).toBe('permanent');
    },
  );

  it('classifies every 4xx other than 408 and 429 as permanent', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 400, max: 499 }).filter((s) => s !== 408 && s !== 429),
        (status) => classifyHttpStatus(status) === 'permanent',
      ),
    );
  });
});

describe('parseRetryAfter', () => {
  it('reads delta-seconds', () => {
    expect(parseRetryAfter('120', NOW)).toBe(120);
    expect(parseRetryAfter(' 7 ', NOW)).toBe(7);
    expect(parseRetryAfter('0', NOW)).toBe(0);
  });

  it('reads an IMF-fixdate relative to now', () => {
    expect(parseRetryAfter('Tue, 01 Dec 2026 22:01:30 GMT', NOW)).toBe(90);
  });

  it('reads the obsolete RFC 850 and asctime forms', () => {
    expect(parseRetryAfter('Tuesday, 01-Dec-26 22:00:10 GMT', NOW)).toBe(10);
    expect(parseRetryAfter('Tue Dec  1 22:00:05 2026', NOW)).toBeGreaterThanOrEqual(0);
  });

  it('gives 0 for a date in the past', () => {
    expect(parseRetryAfter('Mon, 30 Nov 2026 22:00:00 GMT', NOW)).toBe(0);
  });

  it('clamps to the SQS maximum visibility timeout', () => {
    expect(parseRetryAfter('999999999999999999999', NOW)).toBe(MAX_DELAY_SECONDS);
    expect(parseRetryAfter('Fri, 01 Jan 2027 00:00:00 GMT', NOW)).toBe(MAX_DELAY_SECONDS);
  });

  it.each([undefined, null, '', '  ', '-5', '1.5', '5 May 2001', 'soon', 'Thu, 99 Foo 2026 99:99:99 GMT'])(
    'ignores %p',
    (header) => {
      expect(parseRetryAfter(header, NOW)).toBeUndefined();
    },
  );

  it('always lands in [0, 43200] or undefined, whatever the header', () => {
    fc.assert(
      fc.property(fc.string(), (header) => {
        const seconds = parseRetryAfter(header, NOW);
        return seconds === undefined || (Number.isInteger(seconds) && seconds >= 0 && seconds <= 43_200);
      }),
    );
  });

  it('round-trips any delta-seconds within the bound', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 43_200 }), (n) => parseRetryAfter(String(n), NOW) === n));
  });
});

describe('backoffSeconds', () => {
  it('doubles the ceiling with every attempt', () => {
    const top = () => 1;
    expect([1, 2, 3, 4, 5].map((a) => backoffSeconds(a, OPTS, top))).toEqual([2, 4, 8, 16, 32]);
  });

  it('caps at maxSeconds', () => {
    expect(backoffSeconds(30, OPTS, () => 1)).toBe(900);
    expect(backoffSeconds(10_000, OPTS, () => 1)).toBe(900);
  });

  it('draws from the upper half of the ceiling (equal jitter), so the shortest delay is known', () => {
    expect([1, 2, 3, 4, 5].map((a) => backoffSeconds(a, OPTS, () => 0))).toEqual([1, 2, 4, 8, 16]);
    expect(backoffSeconds(30, OPTS, () => 0)).toBe(450);
  });

  it('never goes below one second', () => {
    expect(backoffSeconds(1, OPTS, () => 0)).toBe(1);
    expect(backoffSeconds(1, { baseSeconds: 0.1, maxSeconds: 0.5 }, () => 1)).toBe(1);
  });

  it('treats attempts below 1 or non-finite as the first', () => {
    expect(backoffSeconds(0, OPTS, () => 1)).toBe(2);
    expect(backoffSeconds(-3, OPTS, () => 1)).toBe(2);
    expect(backoffSeconds(Number.NaN, OPTS, () => 1)).toBe(2);
  });

  const attempts = fc.integer({ min: -5, max: 2000 });
  const opts = fc.record({
    baseSeconds: fc.double({ min: 0.1, max: 600, noNaN: true }),
    maxSeconds: fc.double({ min: 1, max: 100_000, noNaN: true }),
  });
  const randoms = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true });

  it('stays within [1, min(maxSeconds, 43200)] as a whole number', () => {
    fc.assert(
      fc.property(attempts, opts, randoms, (attempt, o, r) => {
        const s = backoffSeconds(attempt, o, () => r);
        return Number.isInteger(s) && s >= 1 && s <= Math.max(1, Math.min(o.maxSeconds, MAX_DELAY_SECONDS));
      }),
    );
  });

  it('never draws below minimumBackoffSeconds', () => {
    fc.assert(
      fc.property(attempts, opts, randoms, (attempt, o, r) => {
        return backoffSeconds(attempt, o, () => r) >= minimumBackoffSeconds(attempt, o);
      }),
    );
  });

  it('never shrinks as attempts grow, for the same jitter draw', () => {
    fc.assert(
      fc.property(attempts, fc.integer({ min: 1, max: 100 }), opts, randoms, (attempt, step, o, r) => {
        return backoffSeconds(attempt, o, () => r) <= backoffSeconds(attempt + step, o, () => r);
      }),
    );
  });

  it('reaches the cap exactly once the exponent passes it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3600 }), (maxSeconds) => {
        return backoffSeconds(64, { baseSeconds: 1, maxSeconds }, () => 1) === maxSeconds;
      }),
    );
  });
});

describe('nextDelaySeconds', () => {
  it('honours Retry-After when the receiver gave one', () => {
    expect(nextDelaySeconds(1, 120, OPTS, () => 1)).toBe(120);
    expect(nextDelaySeconds(9, 0, OPTS, () => 1)).toBe(1);
    expect(nextDelaySeconds(1, 2.2, OPTS, () => 1)).toBe(3);
  });

  it('caps Retry-After at the SQS maximum visibility timeout, not at maxSeconds', () => {
    expect(nextDelaySeconds(1, 5000, OPTS)).toBe(5000);
    expect(nextDelaySeconds(1, 100_000, OPTS)).toBe(MAX_DELAY_SECONDS);
  });

  it('falls back to back-off without Retry-After', () => {
    expect(nextDelaySeconds(3, undefined, OPTS, () => 1)).toBe(8);
  });

  it('always lands in [1, 43200]', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100 }),
        fc.option(fc.double({ min: -1e9, max: 1e9, noNaN: true }), { nil: undefined }),
        (attempt, retryAfter) => {
          const s = nextDelaySeconds(attempt, retryAfter, OPTS);
          return Number.isInteger(s) && s >= 1 && s <= MAX_DELAY_SECONDS;
        },
      ),
    );
  });
});

describe('receiveLimit', () => {
  it('gives the default window (2 s, 900 s, 24 h) 2 × its attempts at the shortest delays, plus slack', () => {
    // Shortest delays 1, 2, 4, …, 256 (511 s in 9 attempts), then 450 s: 191 more span the day.
    expect(receiveLimit(DEFAULT_RETRY_POLICY)).toBe(2 * 200 + RECEIVE_SLACK);
  });

  it('never cuts a window short: the attempts it allows at the shortest delays span the window', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 1, max: 3600 }),
        fc.integer({ min: 1, max: 200_000 }),
        (baseSeconds, maxSeconds, windowSeconds) => {
          const policy = { baseSeconds, maxSeconds, windowSeconds };
          const limit = receiveLimit(policy);
          if (limit === MAX_RECEIVE_COUNT) return true;
          let spanned = 0;
          for (let a = 1; a <= (limit - RECEIVE_SLACK) / 2; a++) spanned += minimumBackoffSeconds(a, policy);
          return spanned >= windowSeconds && limit <= MAX_RECEIVE_COUNT;
        },
      ),
    );
  });

  it('reads the window and back-off from the environment', () => {
    expect(
      retryPolicyFromEnv({ RETRY_WINDOW_SECONDS: '60', RETRY_BASE_SECONDS: '1', RETRY_MAX_SECONDS: '4' }),
    ).toEqual({ baseSeconds: 1, maxSeconds: 4, windowSeconds: 60 });
    expect(retryPolicyFromEnv({})).toEqual(DEFAULT_RETRY_POLICY);
  });
});
