/**
 * The deadline sweep (EventBridge, every minute): queries the sparse deadline index for sync requests
 * past their deadline, claims each one (which moves it forward in the index by the requeue interval) and
 * queues one deadline consolidation per claim on the ack queue, where the usual retries and
 * dead-lettering apply. A request consolidated meanwhile makes the command a no-op.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { optionalNumber } from '#shared/config/env.ts';
import { claimOverdue, deadlineRequeueSeconds, findOverdue } from '#shared/consolidation/index.ts';
import { FLOWS } from '#shared/flows/registry.ts';
import { countMetric, logger, METRIC } from '#shared/observability.ts';
import { enqueueDeadline } from '#shared/queue/envelope.ts';

export async function sweep(now = new Date()): Promise<{ overdue: number; queued: number }> {
  const requeueAfter = deadlineRequeueSeconds();
  const overdue = await findOverdue(now, optionalNumber('SWEEP_BATCH_LIMIT', 500));
  const queued: string[] = [];
  for (const syncRequestId of overdue) {
    if (!(await claimOverdue(syncRequestId, now, requeueAfter))) continue;
    await enqueueDeadline(FLOWS.assetSyncAck, syncRequestId, now);
    queued.push(syncRequestId);
  }
  countMetric(METRIC.SyncRequestsOverdue, 'sweep', overdue.length);
  if (queued.length > 0)
    logger.info('Deadline consolidations queued', { count: queued.length, syncRequestIds: queued });
  return { overdue: overdue.length, queued: queued.length };
}

export const handler = middy(async () => sweep()).use(injectLambdaContext(logger, { resetKeys: true }));
