import { createSupportHandler } from '#shared/handlers/support.ts';
import { getTrace } from '#shared/trace/store.ts';

export const handler = createSupportHandler('message', getTrace, 'message');
