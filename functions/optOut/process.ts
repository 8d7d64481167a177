import { FLOWS } from '#shared/flows/registry.ts';
import { createProcessHandler } from '#shared/handlers/process.ts';
import { optOutProcessor } from '#shared/processors/dermsFlows.ts';

export const handler = createProcessHandler(FLOWS.optOut, optOutProcessor);
