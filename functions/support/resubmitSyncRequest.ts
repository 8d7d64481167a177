import { createResubmitSyncRequestHandler } from '#shared/handlers/support.ts';

export const handler = createResubmitSyncRequestHandler();
