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
} as const;
export type ConsolidationTrigger = (typeof CONSOLIDATION_TRIGGERS)[keyof typeof CONSOLIDATION_TRIGGERS];
