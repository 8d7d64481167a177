/** Constants of the local stack, kept apart so the function processes load no emulator code. */
import { FLOW_IDS } from '#shared/flows/registry.ts';

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

/**
 * The function processes the local stack runs, one per role, as AWS runs each function as a Lambda
 * function of its own: `api` (the API host: ingest handlers, authorizer, token endpoint, support routes
 * and page), one per SQS-driven flow (its poller and process handler), and `sweep` (the deadline sweep).
 */
export const FUNCTION_ROLES = ['api', ...FLOW_IDS, 'sweep'] as const;
export type FunctionRole = (typeof FUNCTION_ROLES)[number];
/** The variable that tells a function process its role (`local/functions.ts`). */
export const ROLE_ENV = 'LOCAL_FUNCTIONS_ROLE';

/** The roles `LOCAL_FUNCTIONS_ROLE` names: one role, or every role (unset or `all`); anything else is refused. */
export function rolesFrom(value: string | undefined): readonly FunctionRole[] {
  if (value === undefined || value === '' || value === 'all') return FUNCTION_ROLES;
  if ((FUNCTION_ROLES as readonly string[]).includes(value)) return [value as FunctionRole];
  throw new Error(`${ROLE_ENV}=${value}: expected all or one of ${FUNCTION_ROLES.join(', ')}`);
}
