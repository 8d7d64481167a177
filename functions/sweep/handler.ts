/**
 * The deadline sweep (EventBridge, every minute): queries the sparse deadline index for sync requests
 * past their deadline and queues one deadline consolidation each on the ack queue, where the usual
 * retries and dead-lettering apply. A request consolidated meanwhile makes the command a no-op.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { findOverdue } from '#shared/consolidation/index.ts';
import { FLOWS } from '#shared/flows/registry.ts';
import { countMetric, logger, METRIC } from '#shared/observability.ts';
import { enqueueDeadline } from '#shared/queue/envelope.ts';

export async function sweep(now = new Date()): Promise<{ queued: number }> {
  const overdue = await findOverdue(now);
  await Promise.all(overdue.map((syncRequestId) => enqueueDeadline(FLOWS.assetSyncAck, syncRequestId, now)));
  countMetric(METRIC.SyncRequestsOverdue, 'sweep', overdue.length);
  if (overdue.length > 0)
    logger.info('Deadline consolidations queued', { count: overdue.length, syncRequestIds: overdue });
  return { queued: overdue.length };
}

export const handler = middy(async () => sweep()).use(injectLambdaContext(logger, { resetKeys: true }));
