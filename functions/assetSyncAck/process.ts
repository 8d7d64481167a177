import { FLOWS } from '#shared/flows/registry.ts';
import { createProcessHandler } from '#shared/handlers/process.ts';
import { assetSyncAckProcessor } from '#shared/processors/assetSyncAck.ts';

export const handler = createProcessHandler(FLOWS.assetSyncAck, assetSyncAckProcessor);
