/** Constants of the local stack, kept apart so the functions process loads no emulator code. */

/** Credentials DynamoDB Local and fauxqs accept (they never check them). */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;
export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT_ID = '000000000000';

/** Default ports; each can be changed through the environment variable named beside it. */
export const DEFAULT_PORTS = {
  /** `LOCAL_API_PORT` */
  api: 3000,
  /** `DERMS_SIM_PORT` */
  derms: 3001,
  /** `DACS_SIM_PORT` */
  dacs: 3002,
  /** `LOCAL_SQS_PORT` (fauxqs: SQS and S3) */
  sqs: 4566,
  /** `LOCAL_DYNAMODB_PORT` */
  dynamodb: 8000,
} as const;

/** Resource name prefix of `npm start`. */
export const LOCAL_PREFIX = 'local-';
