/**
 * CloudWatch custom widget "Find a message" (infra/constructs/support-widgets.ts): renders the search form
 * and the matching traces; its buttons call this function again through `<cwdb-action>`.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { logger } from '#shared/observability.ts';
import { cloudWatchActions } from '#shared/support/widgets/html.ts';
import { SUPPORT_SOURCES } from '#shared/support/widgets/sources.ts';
import { findMessageWidget, type WidgetEvent } from '#shared/support/widgets/widgets.ts';

export const handler = middy(
  (event: WidgetEvent, context: Context): Promise<string> =>
    findMessageWidget(event, cloudWatchActions(context.invokedFunctionArn), SUPPORT_SOURCES),
).use(injectLambdaContext(logger, { resetKeys: true }));
