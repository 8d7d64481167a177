/**
 * Validation of every inbound message type (see `check.ts`): the precompiled validators are ajv standalone code
 * generated at build time (`npm run gen`), imported once at module initialisation and never compiled per
 * request. An ingest function does not import this module: it carries only its own flow's validator.
 */
import type { ValidateFunction } from 'ajv';
import type { MessageType } from '#shared/flows/registry.ts';
import { checkMessage, type MessageTypes, type ValidationResult } from './check.ts';
import { validate as AssetSyncAck } from './generated/AssetSyncAck.js';
import { validate as AssetSyncRequest } from './generated/AssetSyncRequest.js';
import { validate as LegacyMsgAck } from './generated/LegacyMsgAck.js';
import { validate as OptOutNotification } from './generated/OptOutNotification.js';
import { validate as UnavailabilityNotification } from './generated/UnavailabilityNotification.js';

export {
  checkMessage,
  DATE_TIME_PATTERN,
  type MessageTypes,
  schemaViolations,
  type ValidationResult,
} from './check.ts';

/** The generated validator of each inbound message type. */
export const VALIDATORS: { readonly [T in MessageType]: ValidateFunction } = {
  AssetSyncRequest,
  OptOutNotification,
  UnavailabilityNotification,
  AssetSyncAck,
  LegacyMsgAck,
};

/** Validates an inbound message of any type: {@link checkMessage} with that type's validator. */
export function validateMessage<T extends MessageType>(
  type: T,
  body: unknown,
): ValidationResult<MessageTypes[T]> {
  return checkMessage(type, VALIDATORS[type], body);
}
