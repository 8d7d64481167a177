import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { sleep } from '#shared/time.ts';

describe('sleep', () => {
  beforeEach(() => {
    jest.useFakeTimers();
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  const settled = async (promise: Promise<void>) => {
    let done = false;
    void promise.then(() => {
      done = true;
    });
    await Promise.resolve();
    await Promise.resolve();
    return done;
  };

  it('resolves once the time has passed, not before', async () => {
    const waiting = sleep(1000);
    jest.advanceTimersByTime(999);
    expect(await settled(waiting)).toBe(false);
    jest.advanceTimersByTime(1);
    expect(await settled(waiting)).toBe(true);
  });

  it('resolves as soon as the signal aborts, without waiting for the time', async () => {
    const controller = new AbortController();
    const waiting = sleep(60_000, controller.signal);
    expect(await settled(waiting)).toBe(false);
    controller.abort();
    expect(await settled(waiting)).toBe(true);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('resolves at once when the signal has already aborted', async () => {
    expect(await settled(sleep(60_000, AbortSignal.abort()))).toBe(true);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('lets go of the signal once the time has passed', async () => {
    const controller = new AbortController();
    const remove = jest.spyOn(controller.signal, 'removeEventListener');
    const waiting = sleep(10, controller.signal);
    jest.advanceTimersByTime(10);
    await waiting;
    expect(remove).toHaveBeenCalledWith('abort', expect.any(Function));
  });
});
