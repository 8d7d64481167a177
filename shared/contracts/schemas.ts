/**
 * The contract's JSON Schemas, one file per message in `schemas/`. They are the source of truth: the types in
 * `types.ts`, the validators in `generated/` and `docs/openapi.json` are generated from them (`npm run gen`).
 */
import type { MessageType } from '#shared/flows/registry.ts';
import AssetSyncAck from './schemas/AssetSyncAck.schema.json' with { type: 'json' };
import AssetSyncRequest from './schemas/AssetSyncRequest.schema.json' with { type: 'json' };
import DacsAcknowledgement from './schemas/DacsAcknowledgement.schema.json' with { type: 'json' };
import LegacyMsgAck from './schemas/LegacyMsgAck.schema.json' with { type: 'json' };
import MessageTrace from './schemas/MessageTrace.schema.json' with { type: 'json' };
import OptOutNotification from './schemas/OptOutNotification.schema.json' with { type: 'json' };
import SyncRequestStatus from './schemas/SyncRequestStatus.schema.json' with { type: 'json' };
import UnavailabilityNotification from './schemas/UnavailabilityNotification.schema.json' with {
  type: 'json',
};

/** Schemas of what the integration produces rather than accepts: the DACS acknowledgement and the support views. */
export const DOCUMENT_TYPES = ['DacsAcknowledgement', 'SyncRequestStatus', 'MessageTrace'] as const;
export type DocumentType = (typeof DOCUMENT_TYPES)[number];

export type SchemaName = MessageType | DocumentType;

/** A JSON Schema as stored; only the keywords the generators look at are typed. */
export interface JsonSchema {
  readonly $id: string;
  readonly title: string;
  readonly [keyword: string]: unknown;
}

export const SCHEMAS: Readonly<Record<SchemaName, JsonSchema>> = {
  AssetSyncRequest,
  OptOutNotification,
  UnavailabilityNotification,
  AssetSyncAck,
  LegacyMsgAck,
  DacsAcknowledgement,
  SyncRequestStatus,
  MessageTrace,
};

/** Every schema name, inbound messages first, in a stable order for the generators. */
export const SCHEMA_NAMES = Object.keys(SCHEMAS) as SchemaName[];

/** The name a cross-schema `$ref` (a schema `$id`) points at, or undefined for another ref. */
export function schemaNameForId(id: string): SchemaName | undefined {
  return SCHEMA_NAMES.find((name) => SCHEMAS[name].$id === id);
}
