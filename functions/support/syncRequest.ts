import { getSyncRequestStatus } from '#shared/consolidation/index.ts';
import { createSupportHandler } from '#shared/handlers/support.ts';

export const handler = createSupportHandler('syncRequest', getSyncRequestStatus, 'sync request');
