import { validate } from '#shared/contracts/generated/UnavailabilityNotification.js';
import { FLOWS } from '#shared/flows/registry.ts';
import { createIngestHandler } from '#shared/handlers/ingest.ts';

// Only this flow's validator: the bundle carries no other flow's.
export const handler = createIngestHandler(FLOWS.unavailability, validate);
