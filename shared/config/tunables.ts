/**
 * Function settings an operator may tune per stage (CDK context) or per run (`npm start`'s environment).
 * One list, read by the CDK config and the local stack; their meanings are in docs/architecture.md.
 */
export const TUNABLE_ENV = [
  'SYNC_DEADLINE_SECONDS',
  'UNCORRELATED_ACK_WINDOW_SECONDS',
  'RETRY_BASE_SECONDS',
  'RETRY_MAX_SECONDS',
  'RETRY_WINDOW_SECONDS',
  'FOLLOW_UP_LEASE_SECONDS',
  'HTTP_TIMEOUT_MS',
  'MAX_BODY_BYTES',
  'RETENTION_DAYS',
  'DEADLINE_REQUEUE_SECONDS',
  'CLAIM_CHECK_THRESHOLD_BYTES',
  'FINAL_ACK_GRACE_SECONDS',
  'SWEEP_BATCH_LIMIT',
] as const;
export type TunableEnv = (typeof TUNABLE_ENV)[number];
