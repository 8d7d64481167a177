/**
 * CloudWatch custom widget "Dead letters" (infra/constructs/support-widgets.ts): the last 24 h of dead
 * letters per flow, each with a Resubmit button (a confirmed `<cwdb-action>` call of this function).
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { logger } from '#shared/observability.ts';
import { cloudWatchActions } from '#shared/support/widgets/html.ts';
import { SUPPORT_SOURCES } from '#shared/support/widgets/sources.ts';
import { dashboardRequester, deadLettersWidget, type WidgetEvent } from '#shared/support/widgets/widgets.ts';

export const handler = middy(async (event: WidgetEvent, context: Context): Promise<string> => {
  if (event.action === 'resubmit') {
    logger.info('Resubmit requested from the dashboard', { messageId: String(event.messageId) });
  }
  if (event.action === 'resubmitSync') {
    logger.info('Consolidated ack resubmit requested from the dashboard', {
      syncRequestId: String(event.syncRequestId),
    });
  }
  return deadLettersWidget(
    event,
    cloudWatchActions(context.invokedFunctionArn),
    dashboardRequester(event),
    SUPPORT_SOURCES,
  );
}).use(injectLambdaContext(logger, { resetKeys: true }));
