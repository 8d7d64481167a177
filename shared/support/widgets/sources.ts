/** The support library's functions, as the widgets take them: what the Lambdas and the local page pass. */
import { getSyncRequestStatus } from '#shared/consolidation/index.ts';
import { findRefusedAcks } from '#shared/support/refusedAcks.ts';
import { resubmitMessage } from '#shared/support/resubmit.ts';
import { resubmitSyncRequest } from '#shared/support/resubmitSyncRequest.ts';
import { parseSearchQuery, searchMessages } from '#shared/support/search.ts';
import type { WidgetSources } from './widgets.ts';

export const SUPPORT_SOURCES: WidgetSources = {
  parseSearchQuery,
  searchMessages,
  resubmitMessage,
  getSyncRequestStatus,
  findRefusedAcks,
  resubmitSyncRequest,
};
