/**
 * The flow registry: the single source of truth for every flow. The local host, the CDK stack and the
 * OpenAPI generator all read it, so adding a flow is one entry here plus one mapping module.
 *
 * This module is pure data and small pure functions. It must stay importable from CDK code, so it
 * imports no AWS SDK client and no handler module; handlers are named by their entry file.
 */

/** Who calls the integration, and the OAuth scope each caller is issued. */
export const CALLERS = {
  dacs: 'integration/dacs',
  derms: 'integration/derms',
  support: 'integration/support',
} as const;
export type Caller = keyof typeof CALLERS;
export type Scope = (typeof CALLERS)[Caller];

/** The systems the integration delivers to. Each has a base URL and credentials of its own. */
export const TARGET_SYSTEMS = ['DERMS', 'DACS'] as const;
export type TargetSystem = (typeof TARGET_SYSTEMS)[number];

/** The inbound message types; each has one JSON Schema in `shared/contracts/schemas/`. */
export const MESSAGE_TYPES = [
  'AssetSyncRequest',
  'OptOutNotification',
  'UnavailabilityNotification',
  'AssetSyncAck',
  'LegacyMsgAck',
] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

export const FLOW_IDS = ['assetSync', 'optOut', 'unavailability', 'assetSyncAck', 'legacyAck'] as const;
export type FlowId = (typeof FLOW_IDS)[number];

/** The envelope body is untyped here; each flow's mapping module narrows it after validation. */
// biome-ignore lint/suspicious/noExplicitAny: registry functions run only on schema-validated messages
type ValidatedMessage = any;

export interface QueueDefinition {
  /** Queue name stem; the stage prefix and `.fifo` suffix are added by the deployer. */
  readonly name: string;
  /** FIFO where the contract needs per-device order. */
  readonly fifo: boolean;
  /** The FIFO message group, for per-device (or per-subscription) order. Only for FIFO queues. */
  readonly messageGroupId?: (message: ValidatedMessage) => string;
  /** Event source mapping batch size. */
  readonly batchSize: number;
  /** Event source mapping `maxConcurrency`, protecting the receiver from bursts (minimum 2 on AWS). */
  readonly maxConcurrency: number;
  /** Process function timeout; the queue's visibility timeout is six times this. */
  readonly functionTimeoutSeconds: number;
  /** Environment variable that carries this queue's URL to the ingest and process functions. */
  readonly urlEnv: string;
  /** Environment variable that carries the dead-letter queue's URL to the process function. */
  readonly dlqUrlEnv: string;
}

export interface DeliveryTarget {
  readonly system: TargetSystem;
  /** Environment variable that overrides the path, and its default from the contract. */
  readonly pathEnv: string;
  readonly defaultPath: string;
}

export interface FlowDefinition {
  readonly id: FlowId;
  readonly summary: string;
  readonly description: string;
  readonly route: { readonly method: 'POST'; readonly path: string };
  readonly caller: Caller;
  readonly scope: Scope;
  readonly messageType: MessageType;
  /** The contract's business key: same key and same body is a duplicate, same key and other body a 409. */
  readonly businessKey: (message: ValidatedMessage) => string;
  /** Identifiers safe to log and trace (no customer contact data). */
  readonly traceKeys: (message: ValidatedMessage) => Record<string, string>;
  readonly queue: QueueDefinition;
  /** Lambda entry points, relative to the repository root. */
  readonly handlers: { readonly ingest: string; readonly process: string };
  readonly target: DeliveryTarget;
  /** Deprecated flows answer with `Deprecation` and `Link` headers. */
  readonly deprecated?: boolean;
}

export const FLOWS: Readonly<Record<FlowId, FlowDefinition>> = {
  assetSync: {
    id: 'assetSync',
    summary: 'Customer asset sync (DACS → DERMS)',
    description:
      'Customer, subscription and device data on enrollment, unenrollment, device replacement or a device added. ' +
      'Recorded as a correlation record, then delivered to DERMS as an EnrollmentSync.',
    route: { method: 'POST', path: '/v1/dacs/asset-sync' },
    caller: 'dacs',
    scope: CALLERS.dacs,
    messageType: 'AssetSyncRequest',
    businessKey: (m) => m.sendDetails.syncRequestId,
    traceKeys: (m) => ({ syncRequestId: m.sendDetails.syncRequestId, reason: m.sendDetails.reason }),
    queue: {
      name: 'asset-sync',
      fifo: true,
      // Syncs of one subscription apply in order (enroll before unenroll, replacement after enroll).
      messageGroupId: (m) => m.subscriptionInfo.subscriptionId,
      batchSize: 1,
      maxConcurrency: 5,
      functionTimeoutSeconds: 120,
      urlEnv: 'ASSET_SYNC_QUEUE_URL',
      dlqUrlEnv: 'ASSET_SYNC_DLQ_URL',
    },
    handlers: { ingest: 'functions/assetSync/ingest.ts', process: 'functions/assetSync/process.ts' },
    target: { system: 'DERMS', pathEnv: 'DERMS_ENROLLMENT_SYNC_PATH', defaultPath: '/v1/enrollment-sync' },
  },
  optOut: {
    id: 'optOut',
    summary: 'Customer event opt-out (DACS → DERMS)',
    description:
      'A customer opts a reserved device out of an upcoming event. Time-critical: its own queue and function, ' +
      'never behind bulk asset syncs. Delivered to DERMS as a reservation cancellation.',
    route: { method: 'POST', path: '/v1/dacs/event-opt-outs' },
    caller: 'dacs',
    scope: CALLERS.dacs,
    messageType: 'OptOutNotification',
    businessKey: (m) => m.optOutId,
    traceKeys: (m) => ({
      optOutId: m.optOutId,
      eventExternalIdentifier: m.eventExternalIdentifier,
      deviceId: m.deviceId,
    }),
    queue: {
      name: 'opt-out',
      fifo: false,
      batchSize: 10,
      maxConcurrency: 10,
      functionTimeoutSeconds: 30,
      urlEnv: 'OPT_OUT_QUEUE_URL',
      dlqUrlEnv: 'OPT_OUT_DLQ_URL',
    },
    handlers: { ingest: 'functions/optOut/ingest.ts', process: 'functions/optOut/process.ts' },
    target: { system: 'DERMS', pathEnv: 'DERMS_OPT_OUT_PATH', defaultPath: '/v1/event-opt-outs' },
  },
  unavailability: {
    id: 'unavailability',
    summary: 'Customer unavailability (DACS → DERMS)',
    description:
      'A device is exempt from reservation for a period. ADD, UPDATE and CANCEL apply in updatedDateTime order; ' +
      'a stale update is recorded as SUPERSEDED and not delivered.',
    route: { method: 'POST', path: '/v1/dacs/unavailability' },
    caller: 'dacs',
    scope: CALLERS.dacs,
    messageType: 'UnavailabilityNotification',
    businessKey: (m) => `${m.unavailabilityId}#${m.updatedDateTime}`,
    traceKeys: (m) => ({
      unavailabilityId: m.unavailabilityId,
      action: m.action,
      updatedDateTime: m.updatedDateTime,
      deviceId: m.deviceId,
    }),
    queue: {
      name: 'unavailability',
      fifo: true,
      messageGroupId: (m) => m.deviceId,
      batchSize: 10,
      maxConcurrency: 5,
      functionTimeoutSeconds: 30,
      urlEnv: 'UNAVAILABILITY_QUEUE_URL',
      dlqUrlEnv: 'UNAVAILABILITY_DLQ_URL',
    },
    handlers: {
      ingest: 'functions/unavailability/ingest.ts',
      process: 'functions/unavailability/process.ts',
    },
    target: {
      system: 'DERMS',
      pathEnv: 'DERMS_UNAVAILABILITY_PATH',
      defaultPath: '/v1/device-unavailability',
    },
  },
  assetSyncAck: {
    id: 'assetSyncAck',
    summary: 'Head-end registration acknowledgement (DERMS → DACS)',
    description:
      'Device-level head-end registration results. Gathered per device against the correlation record and sent ' +
      'to DACS as exactly one consolidated acknowledgement per sync request, with follow-ups for late changes.',
    route: { method: 'POST', path: '/v1/derms/asset-sync-acks' },
    caller: 'derms',
    scope: CALLERS.derms,
    messageType: 'AssetSyncAck',
    businessKey: (m) => `${m.syncRequestId}#${m.ackDateTime}#${m.sequence}`,
    traceKeys: (m) => ({
      syncRequestId: m.syncRequestId,
      sequence: String(m.sequence),
      final: String(m.final),
    }),
    queue: {
      name: 'asset-sync-ack',
      fifo: false,
      batchSize: 10,
      maxConcurrency: 5,
      functionTimeoutSeconds: 120,
      urlEnv: 'ASSET_SYNC_ACK_QUEUE_URL',
      dlqUrlEnv: 'ASSET_SYNC_ACK_DLQ_URL',
    },
    handlers: { ingest: 'functions/assetSyncAck/ingest.ts', process: 'functions/assetSyncAck/process.ts' },
    target: {
      system: 'DACS',
      pathEnv: 'DACS_ACK_PATH',
      defaultPath: '/rest/apis/cross/digitalAssets/programEnrollments/postAcknowledgement',
    },
  },
  legacyAck: {
    id: 'legacyAck',
    summary: 'Legacy message-level acknowledgement (DERMS → DACS), deprecated',
    description:
      'The old acknowledgement without device statuses. Forwarded unchanged (LEGACY_ACK_MODE=forward) with a ' +
      'Deprecation header and the LegacyAckReceived metric, or refused with 410 (LEGACY_ACK_MODE=reject).',
    route: { method: 'POST', path: '/v1/derms/legacy-acks' },
    caller: 'derms',
    scope: CALLERS.derms,
    messageType: 'LegacyMsgAck',
    businessKey: (m) =>
      `${m.MsgAck.responses.response.map((r: { dacsMessageId: string }) => r.dacsMessageId).join(',')}#${m.MsgAck.whenISO}`,
    // dacsMessageId: the first response's, which the support search finds it by.
    traceKeys: (m) => ({
      ackType: m.MsgAck.ackType,
      whenISO: m.MsgAck.whenISO,
      dacsMessageId: m.MsgAck.responses.response[0]?.dacsMessageId ?? '',
    }),
    queue: {
      name: 'legacy-ack',
      fifo: false,
      batchSize: 10,
      maxConcurrency: 2,
      functionTimeoutSeconds: 30,
      urlEnv: 'LEGACY_ACK_QUEUE_URL',
      dlqUrlEnv: 'LEGACY_ACK_DLQ_URL',
    },
    handlers: { ingest: 'functions/legacyAck/ingest.ts', process: 'functions/legacyAck/process.ts' },
    target: {
      system: 'DACS',
      pathEnv: 'DACS_LEGACY_ACK_PATH',
      defaultPath: '/rest/apis/cross/digitalAssets/legacyAcknowledgement',
    },
    deprecated: true,
  },
};

/** Support routes: views over the correlation and trace tables, the search, and the resubmit. */
export const SUPPORT_ROUTES = {
  syncRequest: {
    method: 'GET',
    path: '/v1/sync-requests/{syncRequestId}',
    pathParameter: 'syncRequestId',
    scope: CALLERS.support,
    handler: 'functions/support/syncRequest.ts',
  },
  message: {
    method: 'GET',
    path: '/v1/messages/{messageId}',
    pathParameter: 'messageId',
    scope: CALLERS.support,
    handler: 'functions/support/message.ts',
  },
  /** Search by business id (shared/support/search.ts): a page of MessageTraces, newest first. */
  search: {
    method: 'GET',
    path: '/v1/messages',
    scope: CALLERS.support,
    handler: 'functions/support/search.ts',
  },
  /** Queue one DEAD_LETTERED message again (shared/support/resubmit.ts). */
  resubmit: {
    method: 'POST',
    path: '/v1/messages/{messageId}/resubmit',
    pathParameter: 'messageId',
    scope: CALLERS.support,
    handler: 'functions/support/resubmit.ts',
  },
  /**
   * Send a sync request's DEAD_LETTERED consolidated ack again, its frozen body unchanged
   * (shared/support/resubmitSyncRequest.ts).
   */
  resubmitSyncRequest: {
    method: 'POST',
    path: '/v1/sync-requests/{syncRequestId}/resubmit',
    pathParameter: 'syncRequestId',
    scope: CALLERS.support,
    handler: 'functions/support/resubmitSyncRequest.ts',
  },
} as const;
export type SupportRouteId = keyof typeof SUPPORT_ROUTES;
/** The support views that read one item by the id in their path. */
export type SupportViewId = 'syncRequest' | 'message';

/** The scheduled deadline sweep: finds sync requests past their deadline and queues their consolidation. */
export const SWEEP = {
  handler: 'functions/sweep/handler.ts',
  /** How often the sweep runs on AWS (EventBridge) and locally (timer). */
  rateMinutes: 1,
} as const;

export const flowList = (): FlowDefinition[] => FLOW_IDS.map((id) => FLOWS[id]);

/** Finds the flow behind an inbound route, or undefined. */
export function flowForRoute(method: string, path: string): FlowDefinition | undefined {
  return flowList().find((f) => f.route.method === method && f.route.path === path);
}
