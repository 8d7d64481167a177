/**
 * Schema checks of what the integration produces: the consolidated DACS acknowledgement and the support views.
 * Kept apart from `validate.ts` so that ingest functions do not bundle these validators.
 */
import type { ValidateFunction } from 'ajv';
import { validate as DacsAcknowledgement } from './generated/DacsAcknowledgement.js';
import { validate as MessageTrace } from './generated/MessageTrace.js';
import { validate as SyncRequestStatus } from './generated/SyncRequestStatus.js';
import type { DocumentType } from './schemas.ts';
import type * as Types from './types.ts';
import { schemaViolations, type ValidationResult } from './validate.ts';

/** The TypeScript type of each document the integration produces. */
export interface DocumentTypes {
  DacsAcknowledgement: Types.DacsAcknowledgement;
  SyncRequestStatus: Types.SyncRequestStatus;
  MessageTrace: Types.MessageTrace;
}

const VALIDATORS: { readonly [T in DocumentType]: ValidateFunction } = {
  DacsAcknowledgement,
  SyncRequestStatus,
  MessageTrace,
};

/** Validates a produced document against its schema (no business rules). For tests and defensive checks. */
export function validateDocument<T extends DocumentType>(
  type: T,
  document: unknown,
): ValidationResult<DocumentTypes[T]> {
  const validate = VALIDATORS[type];
  return validate(document)
    ? { ok: true, value: document as DocumentTypes[T] }
    : { ok: false, violations: schemaViolations(validate) };
}
