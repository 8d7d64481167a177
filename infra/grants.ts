/**
 * The AWS actions each function calls, and on what: the one table every function role is built from.
 * A construct applies its row with {@link applyGrants}; nothing else grants a function anything (beyond
 * writing its own log group and X-Ray, which `IntegrationFunction` adds, and invoking, which API Gateway
 * and EventBridge get through resource policies).
 *
 * Each row lists what the handler code calls, found by reading it:
 *
 * | Function | Calls |
 * |---|---|
 * | authorizer | nothing: it verifies tokens against the pool's public JWKS |
 * | ingest | Powertools idempotency (`GetItem`, `PutItem`, `UpdateItem`, `DeleteItem`); the trace (`createTrace` `PutItem`, `getTrace` `GetItem`, `deleteTrace` `DeleteItem`); `SendMessage` to its flow's queue; `PutObject` of a claim check under `<flowId>/` |
 * | process | `ReceiveMessage`, `DeleteMessage`, `GetQueueAttributes` (the event source mapping, with this role); `ChangeMessageVisibility` (back-off); `SendMessage` to its DLQ; `GetObject` of its claim checks; `GetSecretValue` of its receiver's credentials; the trace (`getTrace` `GetItem`, `mark…` `UpdateItem`); the correlation table as its flow needs (below) |
 * | sweep | `Query` on the `byDeadline` index (`findOverdue`); `UpdateItem` (`claimOverdue`); `SendMessage` to the consolidation queue |
 * | support | `syncRequest`: `Query` of one partition; `message`: `GetItem` of one trace |
 *
 * Correlation table per process flow: `assetSync` records the request (`GetItem` header, `BatchWriteItem`
 * devices, `PutItem` header, `UpdateItem` when DERMS refuses); `assetSyncAck` consolidates (partition
 * `Query`, `GetItem`, `BatchGetItem`, `PutItem`, `BatchWriteItem`, `UpdateItem`, and `UpdateItem` inside
 * `TransactWriteItems`); `unavailability` orders updates (`GetItem`, `UpdateItem`); `optOut` and
 * `legacyAck` never touch it. Only the sweep reads an index.
 */
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { FlowId, SupportRouteId } from '#shared/flows/registry.ts';
import { CORRELATION_TABLE } from '#shared/store/tables.ts';

/** What a function may do, by the resource it does it on. */
export interface FunctionGrants {
  readonly trace?: readonly string[];
  readonly idempotency?: readonly string[];
  /** The correlation table itself (never its indexes). */
  readonly correlation?: readonly string[];
  /** The correlation table's `byDeadline` index only. */
  readonly deadlineIndex?: readonly string[];
  /** The flow's own prefix of the claim-check bucket, `<flowId>/*`. */
  readonly claimCheck?: readonly string[];
  /** The flow's queue. */
  readonly queue?: readonly string[];
  /** The flow's dead-letter queue. */
  readonly deadLetterQueue?: readonly string[];
  /** The receiver's credentials secret. */
  readonly credentials?: readonly string[];
}

const PROCESS_CORRELATION: Readonly<Record<FlowId, readonly string[]>> = {
  assetSync: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:BatchWriteItem'],
  optOut: [],
  unavailability: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
  assetSyncAck: [
    'dynamodb:Query',
    'dynamodb:GetItem',
    'dynamodb:BatchGetItem',
    'dynamodb:PutItem',
    'dynamodb:UpdateItem',
    'dynamodb:BatchWriteItem',
  ],
  legacyAck: [],
};

const SUPPORT: Readonly<Record<SupportRouteId, FunctionGrants>> = {
  syncRequest: { correlation: ['dynamodb:Query'] },
  message: { trace: ['dynamodb:GetItem'] },
};

export const FUNCTION_GRANTS = {
  authorizer: {} satisfies FunctionGrants,
  ingest: {
    idempotency: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
    trace: ['dynamodb:PutItem', 'dynamodb:GetItem', 'dynamodb:DeleteItem'],
    queue: ['sqs:SendMessage'],
    claimCheck: ['s3:PutObject'],
  } satisfies FunctionGrants,
  process: (flow: FlowId): FunctionGrants => ({
    queue: [
      'sqs:ReceiveMessage',
      'sqs:DeleteMessage',
      'sqs:GetQueueAttributes',
      'sqs:ChangeMessageVisibility',
    ],
    deadLetterQueue: ['sqs:SendMessage'],
    claimCheck: ['s3:GetObject'],
    credentials: ['secretsmanager:GetSecretValue'],
    trace: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
    ...(PROCESS_CORRELATION[flow].length > 0 ? { correlation: PROCESS_CORRELATION[flow] } : {}),
  }),
  /** `queue` is the consolidation queue the sweep sends deadline commands to. */
  sweep: {
    deadlineIndex: ['dynamodb:Query'],
    correlation: ['dynamodb:UpdateItem'],
    queue: ['sqs:SendMessage'],
  } satisfies FunctionGrants,
  support: (route: SupportRouteId): FunctionGrants => SUPPORT[route],
} as const;

/** The resources a function's row refers to; each must be there when its row names it. */
export interface GrantTargets {
  readonly trace?: dynamodb.ITable;
  readonly idempotency?: dynamodb.ITable;
  readonly correlation?: dynamodb.ITable;
  readonly claimCheck?: { readonly bucket: s3.IBucket; readonly prefix: string };
  readonly queue?: sqs.IQueue;
  readonly deadLetterQueue?: sqs.IQueue;
  readonly credentials?: secretsmanager.ISecret;
}

/** The ARNs each row key covers. */
function resourcesFor(key: keyof FunctionGrants, targets: GrantTargets): string[] {
  const need = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error(`A function's grants name ${key}, but no ${key} was given`);
    return value;
  };
  switch (key) {
    case 'trace':
    case 'idempotency':
    case 'correlation':
      return [need(targets[key]).tableArn];
    case 'deadlineIndex':
      return [`${need(targets.correlation).tableArn}/index/${CORRELATION_TABLE.indexes[0].name}`];
    case 'claimCheck': {
      const { bucket, prefix } = need(targets.claimCheck);
      return [bucket.arnForObjects(`${prefix}/*`)];
    }
    case 'queue':
    case 'deadLetterQueue':
      return [need(targets[key]).queueArn];
    case 'credentials':
      return [need(targets.credentials).secretArn];
  }
}

/** Adds one statement per resource of `grants` to the principal's policy. */
export function applyGrants(grantee: iam.IGrantable, grants: FunctionGrants, targets: GrantTargets): void {
  for (const [key, actions] of Object.entries(grants) as [keyof FunctionGrants, readonly string[]][]) {
    if (actions.length === 0) continue;
    iam.Grant.addToPrincipal({
      grantee,
      actions: [...actions],
      resourceArns: resourcesFor(key, targets),
    });
  }
}
