/**
 * The deadline sweep (EventBridge, every minute): queries the sparse deadline index for sync requests
 * past their deadline, claims each one (which moves it forward in the index by the requeue interval) and
 * queues one deadline consolidation per claim on the ack queue, where the usual retries and
 * dead-lettering apply. A request consolidated meanwhile makes the command a no-op.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { loadSettings, type Settings } from '#shared/config/settings.ts';
import { claimOverdue, findOverdue } from '#shared/consolidation/index.ts';
import { FLOWS } from '#shared/flows/registry.ts';
import { countMetric, logger, METRIC } from '#shared/observability.ts';
import { enqueueDeadline } from '#shared/queue/envelope.ts';

export interface SweepResult {
  readonly overdue: number;
  readonly queued: number;
}

/** One sweep run at `now`: at most `sweepBatchLimit` requests, each moved `deadlineRequeueSeconds` on. */
export async function sweepOverdue(now: Date, settings: Settings): Promise<SweepResult> {
  const overdue = await findOverdue(now, settings.sweepBatchLimit);
  const queued: string[] = [];
  for (const syncRequestId of overdue) {
    if (!(await claimOverdue(syncRequestId, now, settings.deadlineRequeueSeconds))) continue;
    await enqueueDeadline(FLOWS.assetSyncAck, syncRequestId, now);
    queued.push(syncRequestId);
  }
  countMetric(METRIC.SyncRequestsOverdue, 'sweep', overdue.length);
  if (queued.length > 0)
    logger.info('Deadline consolidations queued', { count: queued.length, syncRequestIds: queued });
  return { overdue: overdue.length, queued: queued.length };
}

/** Read once, at module initialisation: once per cold start. */
const settings = loadSettings();

/** One run with this function's settings (`now` for tests). */
export const sweep = (now = new Date()): Promise<SweepResult> => sweepOverdue(now, settings);

export const handler = middy(async () => sweep()).use(injectLambdaContext(logger, { resetKeys: true }));
