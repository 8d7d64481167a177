/**
 * The edge as callers see it, on the local host: each route has its own share of the stage throttle, so a
 * burst of bulk asset syncs cannot push time-critical opt-outs into 429 (the opt-outs' reserve, as
 * `apiThrottle.routes` sets it on AWS). The local stage throttle is 100/s with a burst of 200:
 * asset syncs get 20 % of it (burst 40), opt-outs 30 % (burst 60).
 */
import { optOut } from '#test/helpers/messages.ts';
import { API, token, uid } from './helpers.ts';

it('keeps the opt-outs’ share while a burst of asset syncs is throttled', async () => {
  await new Promise((resolve) => setTimeout(resolve, 2500)); // buckets full after earlier files
  const dacs = await token('dacs-local');
  const headers = { Authorization: `Bearer ${dacs}`, 'Content-Type': 'application/json' };
  const call = (path: string, body: unknown) =>
    fetch(`${API()}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
  // 100 asset syncs (an empty body: refused 422 if admitted, nothing queued) and 20 opt-outs at once.
  const syncs = Array.from({ length: 100 }, () => call('/v1/dacs/asset-sync', {}));
  const optOuts = Array.from({ length: 20 }, () =>
    call('/v1/dacs/event-opt-outs', optOut({ optOutId: `OO-${uid()}` })),
  );
  const [syncAnswers, optOutAnswers] = await Promise.all([Promise.all(syncs), Promise.all(optOuts)]);

  const throttledSyncs = syncAnswers.filter((a) => a.status === 429);
  expect(throttledSyncs.length).toBeGreaterThanOrEqual(40);
  expect(throttledSyncs[0]?.headers.get('retry-after')).toBe('1');
  expect(optOutAnswers.map((a) => a.status)).toEqual(Array(20).fill(202));
}, 60_000);
