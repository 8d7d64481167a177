import { describe, expect, it } from '@jest/globals';
import { advancingClock, timeOf } from '#shared/consolidation/context.ts';

const T = new Date('2026-12-01T22:00:00.000Z');

describe('the consolidation clock', () => {
  it('starts at the message’s now and advances with the time spent since', () => {
    let elapsed = 0;
    const clock = advancingClock(T, () => elapsed);
    expect(clock()).toEqual(T);
    elapsed = 61_500;
    expect(clock()).toEqual(new Date(T.getTime() + 61_500));
  });

  it('is the context’s clock when it has one, else its fixed now', () => {
    expect(timeOf({ now: T })).toBe(T);
    const later = new Date(T.getTime() + 1000);
    expect(timeOf({ now: T, clock: () => later })).toBe(later);
  });
});
