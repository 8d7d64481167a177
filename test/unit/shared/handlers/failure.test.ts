import { DeliveryError, PoisonMessageError, RetryLaterError } from '#shared/errors.ts';
import { decideFailure, FAILURE_ACTIONS, memoiseDecisions } from '#shared/handlers/failure.ts';

const ACCEPTED = new Date('2026-12-01T00:00:00Z');
const POLICY = { baseSeconds: 2, maxSeconds: 900, windowSeconds: 86_400 };
const at = (seconds: number) => new Date(ACCEPTED.getTime() + seconds * 1000);
const unavailable = () => new DeliveryError('DERMS answered 503', { retryable: true, statusCode: 503 });
const decide = (error: unknown, seconds: number, attemptsBefore = 0) =>
  decideFailure({
    error,
    attemptsBefore,
    acceptedAt: ACCEPTED,
    now: at(seconds),
    policy: POLICY,
    random: () => 0,
  });

describe('decideFailure', () => {
  it('retries a retryable failure hours into an outage, while the window is open', () => {
    const decision = decide(unavailable(), 6 * 3600, 40);
    expect(decision).toMatchObject({ action: FAILURE_ACTIONS.RETRY, attempts: 41, delaySeconds: 450 });
    expect(decision.nextAttemptAt).toEqual(at(6 * 3600 + 450));
  });

  it('dead-letters it once the window is over, saying so with the last answer', () => {
    const decision = decide(unavailable(), 86_400, 200);
    expect(decision).toMatchObject({ action: FAILURE_ACTIONS.DEAD_LETTER, permanent: false, attempts: 201 });
    expect(decision.reason).toBe('retry window exhausted (86400 s, 201 attempts): DERMS answered 503');
  });

  it('ends a back-off of its own with the window, so the last try is at its end', () => {
    expect(decide(unavailable(), 86_400 - 10, 100).delaySeconds).toBe(10);
  });

  it('honours a Retry-After past the window end and past RETRY_MAX_SECONDS', () => {
    const error = new DeliveryError('DACS answered 503', { retryable: true, retryAfterSeconds: 7200 });
    expect(decide(error, 86_400 - 10).delaySeconds).toBe(7200);
  });

  it('dead-letters a permanent refusal at once, whatever the window', () => {
    const refused = new DeliveryError('DACS answered 422', { retryable: false, statusCode: 422 });
    expect(decide(refused, 1)).toMatchObject({ action: FAILURE_ACTIONS.DEAD_LETTER, permanent: true });
    expect(decide(new PoisonMessageError('not JSON'), 1).permanent).toBe(true);
  });

  it('counts no attempt for a deliberate wait and uses its delay', () => {
    const decision = decide(new RetryLaterError('waiting', { delaySeconds: 30 }), 5, 3);
    expect(decision).toMatchObject({ action: FAILURE_ACTIONS.RETRY, attempts: 3, delaySeconds: 30 });
  });

  it('dead-letters on the last receive left, naming the receive limit', () => {
    const decision = decideFailure({
      error: unavailable(),
      attemptsBefore: 4,
      acceptedAt: ACCEPTED,
      now: at(60),
      policy: POLICY,
      lastReceive: true,
    });
    expect(decision.action).toBe(FAILURE_ACTIONS.DEAD_LETTER);
    expect(decision.reason).toMatch(/^receive limit reached \(5 attempts\)/);
  });
});

describe('memoiseDecisions', () => {
  it('decides once per error', () => {
    let calls = 0;
    const decideOnce = memoiseDecisions(() => {
      calls += 1;
      return decide(unavailable(), 1);
    });
    const error = new Error('x');
    expect(decideOnce(error)).toBe(decideOnce(error));
    decideOnce(new Error('y'));
    expect(calls).toBe(2);
  });
});
