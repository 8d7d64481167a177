import { FLOWS } from '#shared/flows/registry.ts';
import { createIngestHandler } from '#shared/handlers/ingest.ts';

export const handler = createIngestHandler(FLOWS.unavailability);
