/**
 * The contract types consolidation works with. Minimal local mirrors of the JSON Schemas in
 * `shared/contracts/schemas/`, kept structurally compatible with the generated `shared/contracts/types.ts`.
 */

export const REGISTRATION_ACTIONS = ['REGISTER', 'DEREGISTER'] as const;
export type RegistrationAction = (typeof REGISTRATION_ACTIONS)[number];

export const REGISTRATION_STATUSES = ['REGISTERED', 'DEREGISTERED', 'FAILED', 'PENDING'] as const;
export type RegistrationStatus = (typeof REGISTRATION_STATUSES)[number];

export const ACK_TYPES = ['SUCCESS', 'ERROR', 'FAILURE'] as const;
export type AckType = (typeof ACK_TYPES)[number];

export interface ControllableDevice {
  deviceId: string;
  registrationAction: RegistrationAction;
  headEndSystem: string;
  nicId: string;
  networkAddress?: string;
  entityGroups: { entityGroupId: string; groupCategory: string }[];
  deviceType: string;
  make?: string;
  model?: string;
  serialNumber?: string;
  replacesDeviceId?: string;
}

export interface AssetSyncRequest {
  sendDetails: {
    syncRequestId: string;
    sentDateTime: string;
    reason: 'ENROLL' | 'UNENROLL' | 'DEVICE_REPLACEMENT' | 'ADD_DEVICE';
  };
  contactInfo: { contactId: string; cisPersonId: string };
  subscriptionInfo: Record<string, unknown>;
  locationInfo: { controllableDevices: ControllableDevice[] } & Record<string, unknown>;
}

export interface AckDevice {
  deviceId: string;
  headEndSystem: string;
  nicId: string;
  registrationStatus: RegistrationStatus;
  message?: string;
}

export interface AckError {
  code: string;
  message: string;
}

export interface AssetSyncAck {
  syncRequestId: string;
  ackType: AckType;
  ackDateTime: string;
  sequence: number;
  final: boolean;
  errors?: AckError[];
  devices: AckDevice[];
}

export const HEAD_END_FLAGS = ['D1RE', 'D1DR', 'D1NR'] as const;
export type HeadEndFlag = (typeof HEAD_END_FLAGS)[number];

export interface ExceptionInfo {
  comments: string;
  messageCategory: number;
  messageNumber: number;
  messageParameters?: string[];
}

export interface DeviceHeadendStatus {
  deviceId: string;
  headEndRegistration: HeadEndFlag;
  message?: string;
}

export interface DacsAcknowledgement {
  syncRequestId: string;
  hasError: boolean;
  exceptionInfo: ExceptionInfo[];
  deviceHeadendStatus: DeviceHeadendStatus[];
}

export const CONSOLIDATION_TRIGGERS = {
  ALL_TERMINAL: 'ALL_TERMINAL',
  FINAL_ACK: 'FINAL_ACK',
  DEADLINE: 'DEADLINE',
} as const;
export type ConsolidationTrigger = (typeof CONSOLIDATION_TRIGGERS)[keyof typeof CONSOLIDATION_TRIGGERS];

export interface SyncRequestStatus {
  syncRequestId: string;
  reason?: AssetSyncRequest['sendDetails']['reason'];
  messageId?: string;
  receivedAt?: string;
  deadline: string;
  devices: {
    deviceId: string;
    expected: RegistrationAction;
    headEndSystem?: string;
    nicId?: string;
    reportedStatus?: RegistrationStatus;
    reportedAt?: string;
    message?: string;
    headEndRegistration?: HeadEndFlag;
  }[];
  acks: {
    messageId?: string;
    sequence: number;
    ackType: AckType;
    ackDateTime: string;
    final: boolean;
    receivedAt?: string;
    deviceCount?: number;
    errors?: AckError[];
  }[];
  consolidatedAck?: { sentAt: string; trigger?: ConsolidationTrigger; acknowledgement: DacsAcknowledgement };
  followUps?: { sentAt: string; acknowledgement: DacsAcknowledgement }[];
}
