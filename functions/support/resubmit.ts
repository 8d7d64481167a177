import { createResubmitHandler } from '#shared/handlers/support.ts';

export const handler = createResubmitHandler();
