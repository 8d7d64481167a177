import { createSearchHandler } from '#shared/handlers/support.ts';

export const handler = createSearchHandler();
