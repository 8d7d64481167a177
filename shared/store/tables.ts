/**
 * Table layouts, shared by the handlers, the local stack (which creates the tables) and the CDK stack.
 *
 * Correlation table (`CORRELATION_TABLE`), one partition per sync request, one item per device so that
 * 10,000 devices never make one growing item:
 *   pk = SYNC#<syncRequestId>  sk = HEADER                 the request, counters, deadline, consolidated ack
 *   pk = SYNC#<syncRequestId>  sk = DEVICE#<deviceId>      expected outcome, reported status, flag sent to DACS
 *   pk = SYNC#<syncRequestId>  sk = ACK#<ackDateTime>#<seq>  each ack received
 *   pk = SYNC#<syncRequestId>  sk = SENT#<deviceId>        the device's line of the consolidated ack
 *   pk = SYNC#<syncRequestId>  sk = FOLLOWUP#<deviceId>#<n>  each follow-up sent
 *   pk = UNAV#<unavailabilityId> sk = VERSION              the last applied unavailability update
 * The sparse index `byDeadline` holds only headers still waiting for consolidation
 * (gsi1pk = PENDING, gsi1sk = deadline as UTC ISO), so the deadline sweep queries instead of scanning,
 * and headers whose consolidated ack DACS refused for good (gsi1pk = DEAD_LETTERED, gsi1sk = when, UTC
 * ISO), so support lists the refused consolidated acks without a scan.
 * The sparse index `byDevice` holds the DEVICE# items (gsi2pk = deviceId, gsi2sk = the request's
 * receivedAt#syncRequestId), so support finds the sync requests that hold a device without a scan.
 *
 * Trace table (`TRACE_TABLE`): pk = messageId, one MessageTrace per accepted message. Four sparse
 * indexes serve the support search (shared/support/search.ts), each sorted by
 * receivedKey = `<receivedAt as UTC ISO>#<messageId>`:
 *   byBusinessId  idKey = `<name>#<value>` of the flow's own id: optOutId, unavailabilityId,
 *                 syncRequestId (asset syncs and their acks) or dacsMessageId (legacy acks)
 *   byDevice      deviceKey = deviceId (opt-outs, unavailability)
 *   byEvent       eventKey = eventExternalIdentifier (opt-outs)
 *   byDeadLetter  deadLetterFlow = flow, deadLetterKey = `<deadLetteredAt>#<messageId>`, only while
 *                 the trace is DEAD_LETTERED
 * Idempotency table (`IDEMPOTENCY_TABLE`): Powertools idempotency layout, pk = id.
 * Every table expires items through TTL.
 */

import { TUNABLES } from '#shared/config/tunables.ts';

export interface TableDefinition {
  /** Stem of the table name; the stage prefix is added by the deployer. */
  readonly name: string;
  /** Environment variable that carries the table name to functions. */
  readonly nameEnv: string;
  readonly partitionKey: string;
  readonly sortKey?: string;
  readonly ttlAttribute: string;
  readonly indexes?: readonly {
    readonly name: string;
    readonly partitionKey: string;
    readonly sortKey: string;
  }[];
}

export const CORRELATION_TABLE = {
  name: 'correlation',
  nameEnv: 'CORRELATION_TABLE',
  partitionKey: 'pk',
  sortKey: 'sk',
  ttlAttribute: 'expiresAt',
  indexes: [
    { name: 'byDeadline', partitionKey: 'gsi1pk', sortKey: 'gsi1sk' },
    { name: 'byDevice', partitionKey: 'gsi2pk', sortKey: 'gsi2sk' },
  ],
} as const satisfies TableDefinition;

export const TRACE_TABLE = {
  name: 'trace',
  nameEnv: 'TRACE_TABLE',
  partitionKey: 'pk',
  ttlAttribute: 'expiresAt',
  indexes: [
    { name: 'byBusinessId', partitionKey: 'idKey', sortKey: 'receivedKey' },
    { name: 'byDevice', partitionKey: 'deviceKey', sortKey: 'receivedKey' },
    { name: 'byEvent', partitionKey: 'eventKey', sortKey: 'receivedKey' },
    { name: 'byDeadLetter', partitionKey: 'deadLetterFlow', sortKey: 'deadLetterKey' },
  ],
} as const satisfies TableDefinition;

export const IDEMPOTENCY_TABLE = {
  name: 'idempotency',
  nameEnv: 'IDEMPOTENCY_TABLE',
  partitionKey: 'id',
  ttlAttribute: 'expiration',
} as const satisfies TableDefinition;

export const TABLES = [CORRELATION_TABLE, TRACE_TABLE, IDEMPOTENCY_TABLE] as const;

/** The value of gsi1pk on a header that still waits for its consolidated ack. */
export const PENDING_CONSOLIDATION = 'PENDING';

/** The value of gsi1pk on a header whose consolidated ack is DEAD_LETTERED (until resubmitted or delivered). */
export const REFUSED_CONSOLIDATION = 'DEAD_LETTERED';

/** Claim-check bucket for messages over the SQS size limit. */
export const CLAIM_CHECK_BUCKET_ENV = 'CLAIM_CHECK_BUCKET';

/** How long traces, correlation records, idempotency records and claim-check objects live (a tunable). */
export const RETENTION_DAYS_ENV = TUNABLES.retentionDays.env;
export const DEFAULT_RETENTION_DAYS = TUNABLES.retentionDays.default;
