/**
 * Validation of one inbound message type: its precompiled JSON Schema validator plus the business rules, every
 * violation listed together (a 422 names them all, not only the first). This module imports no validator: an
 * ingest entry point passes its own flow's (`generated/<MessageType>.js`), so its bundle carries only that
 * one. `validate.ts` holds all five, for code that validates every type.
 */
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { Violation } from '#shared/errors.ts';
import type { MessageType } from '#shared/flows/registry.ts';
import { checkBusinessRules, pointerToken } from './rules.ts';
import type * as Types from './types.ts';

/** The TypeScript type of each inbound message type. */
export interface MessageTypes {
  AssetSyncRequest: Types.AssetSyncRequest;
  OptOutNotification: Types.OptOutNotification;
  UnavailabilityNotification: Types.UnavailabilityNotification;
  AssetSyncAck: Types.AssetSyncAck;
  LegacyMsgAck: Types.LegacyMsgAck;
}

export type ValidationResult<T> = { ok: true; value: T } | { ok: false; violations: Violation[] };

const DATE_TIME_MESSAGE = 'must be an RFC 3339 date-time with an offset, e.g. 2026-12-01T14:00:00-08:00';

/**
 * The `pattern` every inbound timestamp carries next to `format: date-time`: ajv-formats also accepts an offset
 * without a colon (`+0800`), which RFC 3339 does not.
 */
export const DATE_TIME_PATTERN = String.raw`^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$`;

/** One ajv error as a violation with a JSON Pointer to the offending value, or undefined when redundant. */
function toViolation(error: ErrorObject): Violation | undefined {
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'if':
      // Always accompanied by the failing `then` keyword's own error, which names the path.
      return undefined;
    case 'required':
      return {
        path: `${error.instancePath}/${pointerToken(String(params.missingProperty))}`,
        message: 'is required',
      };
    case 'additionalProperties': {
      const property = String(params.additionalProperty);
      return {
        path: `${error.instancePath}/${pointerToken(property)}`,
        message: `unknown property '${property}' is not allowed`,
      };
    }
    case 'enum':
      return {
        path: error.instancePath,
        message: `must be one of ${(params.allowedValues as unknown[]).map(String).join(', ')}`,
      };
    case 'format':
    case 'pattern':
      if (params.format === 'date-time' || params.pattern === DATE_TIME_PATTERN) {
        return { path: error.instancePath, message: DATE_TIME_MESSAGE };
      }
      return { path: error.instancePath, message: error.message ?? `must match ${error.keyword}` };
    default:
      return { path: error.instancePath, message: error.message ?? `breaks ${error.keyword}` };
  }
}

/** Ajv's errors as violations, without duplicates (a bad timestamp fails both `format` and `pattern`). */
export function schemaViolations(validate: ValidateFunction): Violation[] {
  const seen = new Set<string>();
  const violations: Violation[] = [];
  for (const error of validate.errors ?? []) {
    const violation = toViolation(error);
    if (!violation) continue;
    const key = `${violation.path}\u0000${violation.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    violations.push(violation);
  }
  return violations;
}

/**
 * Validates an inbound message of `type` against its JSON Schema validator `schema` (the generated one of that
 * type) and its business rules. The rules run even when the schema fails (each guards what it reads), so the
 * result lists every violation at once. `path` is a JSON Pointer into the body: for a missing property it
 * points at where the property belongs, for an unknown property at the property itself.
 */
export function checkMessage<T extends MessageType>(
  type: T,
  schema: ValidateFunction,
  body: unknown,
): ValidationResult<MessageTypes[T]> {
  const valid = schema(body);
  const violations = [...(valid ? [] : schemaViolations(schema)), ...checkBusinessRules(type, body)];
  return violations.length === 0 ? { ok: true, value: body as MessageTypes[T] } : { ok: false, violations };
}
