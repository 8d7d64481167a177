/**
 * Resolves after `ms`, or as soon as `signal` aborts (it never rejects, so a polling loop can simply
 * check `signal.aborted` afterwards).
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((done) => {
    if (signal?.aborted) {
      done();
      return;
    }
    const wake = () => {
      clearTimeout(timer);
      done();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', wake);
      done();
    }, ms);
    signal?.addEventListener('abort', wake, { once: true });
  });
}
