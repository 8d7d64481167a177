/**
 * The sweep's settings: its batch limit and requeue interval come from the settings read when its module
 * initialised, not from the environment at each run. The consolidation and the queue are mocked.
 */
import { beforeEach, describe, expect, it, jest } from '@jest/globals';

const consolidation = {
  findOverdue: jest.fn(async (_now: Date, _limit: number) => ['SR-1', 'SR-2']),
  claimOverdue: jest.fn(async (id: string, _now: Date, _requeue: number) => id === 'SR-1'),
};
const envelope = { enqueueDeadline: jest.fn(async (_flow: unknown, _id: string, _now: Date) => {}) };
jest.unstable_mockModule('#shared/consolidation/index.ts', () => consolidation);
jest.unstable_mockModule('#shared/queue/envelope.ts', () => envelope);

process.env.SWEEP_BATCH_LIMIT = '20';
process.env.DEADLINE_REQUEUE_SECONDS = '45';
const { sweep, sweepOverdue } = await import('#functions/sweep/handler.ts');
delete process.env.SWEEP_BATCH_LIMIT;
delete process.env.DEADLINE_REQUEUE_SECONDS;
const { DEFAULT_SETTINGS } = await import('#shared/config/settings.ts');

const NOW = new Date('2026-12-01T22:00:00.000Z');

beforeEach(() => {
  jest.clearAllMocks();
});

describe('sweep', () => {
  it('queries and claims with the settings read when the function initialised', async () => {
    process.env.SWEEP_BATCH_LIMIT = '1';
    try {
      await expect(sweep(NOW)).resolves.toEqual({ overdue: 2, queued: 1 });
    } finally {
      delete process.env.SWEEP_BATCH_LIMIT;
    }
    expect(consolidation.findOverdue).toHaveBeenCalledWith(NOW, 20);
    expect(consolidation.claimOverdue.mock.calls.map((call) => call[2])).toEqual([45, 45]);
    expect(envelope.enqueueDeadline).toHaveBeenCalledTimes(1);
    expect(envelope.enqueueDeadline.mock.calls[0]?.[1]).toBe('SR-1');
  });
});

describe('sweepOverdue', () => {
  it('takes its batch limit and requeue interval from the settings it is given', async () => {
    await sweepOverdue(NOW, { ...DEFAULT_SETTINGS, sweepBatchLimit: 3, deadlineRequeueSeconds: 7 });
    expect(consolidation.findOverdue).toHaveBeenCalledWith(NOW, 3);
    expect(consolidation.claimOverdue).toHaveBeenCalledWith('SR-1', NOW, 7);
  });

  it('defaults to 500 overdue requests and a 300 s requeue interval', async () => {
    await sweepOverdue(NOW, DEFAULT_SETTINGS);
    expect(consolidation.findOverdue).toHaveBeenCalledWith(NOW, 500);
    expect(consolidation.claimOverdue).toHaveBeenCalledWith('SR-1', NOW, 300);
  });
});
