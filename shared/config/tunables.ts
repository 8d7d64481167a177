/**
 * The function settings an operator may tune per stage (`functionEnvironment` in cdk.json) or per run
 * (`npm start`'s environment): one table of name, default, parser and meaning. Everything else reads it:
 * `loadSettings` (settings.ts) once per handler, the CDK config to check stage values, the local stack
 * to pass the names through, and docs/architecture.md, whose tunables table is generated from it
 * (`npx tsx scripts/tunables-doc.ts`; a unit test fails when the doc is stale).
 */
import { type Env, optionalNumber, optionalPositiveInteger } from '#shared/config/env.ts';

/**
 * Reads one tunable from `env`: `fallback` when absent or empty, else the parsed value. Throws a
 * ConfigurationError naming `key` when the value is malformed.
 */
export type TunableParser = (key: string, fallback: number, env?: Env) => number;

export interface Tunable {
  /** The environment variable. */
  readonly env: string;
  readonly default: number;
  readonly parse: TunableParser;
  /** One line for the docs. */
  readonly meaning: string;
}

/** Number ≥ 0. */
const nonNegative: TunableParser = optionalNumber;
/** Integer ≥ 1. */
const positiveInteger: TunableParser = optionalPositiveInteger;

/** Every tunable, keyed by its name in {@link Settings}, in the order the docs list them. */
export const TUNABLES = {
  syncDeadlineSeconds: {
    env: 'SYNC_DEADLINE_SECONDS',
    default: 86_400,
    parse: nonNegative,
    meaning: 'consolidation deadline after a sync request',
  },
  uncorrelatedAckWindowSeconds: {
    env: 'UNCORRELATED_ACK_WINDOW_SECONDS',
    default: 300,
    parse: nonNegative,
    meaning: 'how long an ack without its request is retried',
  },
  retryBaseSeconds: {
    env: 'RETRY_BASE_SECONDS',
    default: 2,
    parse: nonNegative,
    meaning:
      "back-off: the first retry's ceiling, doubling with every attempt up to `RETRY_MAX_SECONDS`; each delay is drawn from the upper half of its ceiling",
  },
  retryMaxSeconds: {
    env: 'RETRY_MAX_SECONDS',
    default: 900,
    parse: nonNegative,
    meaning: 'back-off: the largest ceiling (a `Retry-After` may ask for longer)',
  },
  retryWindowSeconds: {
    env: 'RETRY_WINDOW_SECONDS',
    default: 86_400,
    parse: nonNegative,
    meaning:
      'a retryable failure is retried until this long after acceptance, then dead-lettered; also sets `maxReceiveCount` (`receiveLimit`)',
  },
  followUpLeaseSeconds: {
    env: 'FOLLOW_UP_LEASE_SECONDS',
    default: 300,
    parse: nonNegative,
    meaning:
      "how long a follow-up ack's claim on its device lasts when its holder neither delivers nor releases it",
  },
  httpTimeoutMs: {
    env: 'HTTP_TIMEOUT_MS',
    default: 10_000,
    parse: nonNegative,
    meaning: 'outbound call timeout',
  },
  maxBodyBytes: {
    env: 'MAX_BODY_BYTES',
    // The largest round figure whose worst-case API Gateway event fits Lambda's 6 MB (infra/body-limit.ts).
    default: 3_000_000,
    parse: nonNegative,
    meaning: 'inbound body limit',
  },
  retentionDays: {
    env: 'RETENTION_DAYS',
    default: 30,
    parse: nonNegative,
    meaning:
      "TTL of traces, correlation and idempotency records, claim-check objects (on AWS: the stage's `retentionDays`)",
  },
  deadlineRequeueSeconds: {
    env: 'DEADLINE_REQUEUE_SECONDS',
    default: 300,
    parse: nonNegative,
    meaning:
      'sweep: how long a queued deadline command has before another is queued for the same request; also how long an undelivered frozen ack waits before it is adopted',
  },
  claimCheckThresholdBytes: {
    env: 'CLAIM_CHECK_THRESHOLD_BYTES',
    default: 1_000_000,
    parse: nonNegative,
    meaning: 'envelope size above which the payload goes to S3',
  },
  finalAckGraceSeconds: {
    env: 'FINAL_ACK_GRACE_SECONDS',
    default: 30,
    parse: nonNegative,
    meaning:
      'how long a final ack waits for the acks before it (sequences 1..n-1) before consolidating without them',
  },
  sweepBatchLimit: {
    env: 'SWEEP_BATCH_LIMIT',
    default: 500,
    parse: positiveInteger,
    meaning: 'overdue sync requests one sweep run queues at most (an integer ≥ 1)',
  },
} as const satisfies Record<string, Tunable>;

/** A setting's name in {@link Settings}, e.g. `finalAckGraceSeconds`. */
export type SettingName = keyof typeof TUNABLES;
/** A tunable's environment variable, e.g. `FINAL_ACK_GRACE_SECONDS`. */
export type TunableEnv = (typeof TUNABLES)[SettingName]['env'];

/** The names of the table, in its order (read by the CDK config and the local stack). */
export const SETTING_NAMES = Object.keys(TUNABLES) as readonly SettingName[];

/** The tunables' environment variables, in the table's order. */
export const TUNABLE_ENV: readonly TunableEnv[] = SETTING_NAMES.map((name) => TUNABLES[name].env);

/** The tunable read from environment variable `env`, or `undefined` when it is not one. */
export function tunableOf(env: string): Tunable | undefined {
  return Object.values(TUNABLES).find((tunable) => tunable.env === env);
}
