/**
 * The contract types consolidation works with: the generated ones from `shared/contracts/types.ts`, plus
 * the value lists as `as const` arrays.
 */
export type {
  AckDevice,
  AckError,
  AssetSyncAck,
  AssetSyncRequest,
  ControllableDevice,
  DacsAcknowledgement,
  DeviceHeadendStatus,
  ExceptionInfo,
  SyncRequestStatus,
} from '#shared/contracts/types.ts';

export const REGISTRATION_ACTIONS = ['REGISTER', 'DEREGISTER'] as const;
export type RegistrationAction = (typeof REGISTRATION_ACTIONS)[number];

export const REGISTRATION_STATUSES = ['REGISTERED', 'DEREGISTERED', 'FAILED', 'PENDING'] as const;
export type RegistrationStatus = (typeof REGISTRATION_STATUSES)[number];

export const ACK_TYPES = ['SUCCESS', 'ERROR', 'FAILURE'] as const;
export type AckType = (typeof ACK_TYPES)[number];

export const HEAD_END_FLAGS = ['D1RE', 'D1DR', 'D1NR'] as const;
export type HeadEndFlag = (typeof HEAD_END_FLAGS)[number];

export const CONSOLIDATION_TRIGGERS = {
  ALL_TERMINAL: 'ALL_TERMINAL',
  FINAL_ACK: 'FINAL_ACK',
  DEADLINE: 'DEADLINE',
  /** DERMS refused the enrollment sync for good, or it could not be delivered within the retry window. */
  DERMS_REFUSED: 'DERMS_REFUSED',
} as const;
export type ConsolidationTrigger = (typeof CONSOLIDATION_TRIGGERS)[keyof typeof CONSOLIDATION_TRIGGERS];

/** Where the consolidated acknowledgement stands with DACS (the support view's `consolidatedAck.delivery`). */
export const DELIVERY_STATES = {
  DELIVERED: 'DELIVERED',
  /** Frozen and not delivered yet: its owner tries again at `nextAttemptAt` (or is about to send it). */
  RETRYING: 'RETRYING',
  /**
   * Refused for good, or not delivered within the retry window: support's resubmit
   * (`POST /v1/sync-requests/{id}/resubmit`) or a redrive of its owner re-sends it.
   */
  DEAD_LETTERED: 'DEAD_LETTERED',
} as const;
export type DeliveryState = (typeof DELIVERY_STATES)[keyof typeof DELIVERY_STATES];

/**
 * What the process handler will do with a failure (see `shared/handlers/failure.ts`): consolidation asks
 * it before rethrowing, to record what happens to what it was sending.
 */
export type { FailureDecision } from '#shared/handlers/failure.ts';
