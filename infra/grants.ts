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
 * | process | `ReceiveMessage`, `DeleteMessage`, `GetQueueAttributes` (the event source mapping, with this role); `ChangeMessageVisibility` (back-off); `SendMessage` to its DLQ; `GetObject` of its claim checks, `PutObject` of one for a large dead letter's kept copy; `GetSecretValue` of its receiver's credentials; the trace (`getTrace` `GetItem`, `mark…` `UpdateItem`); the correlation table as its flow needs (below) |
 * | sweep | `Query` on the `byDeadline` index (`findOverdue`); `UpdateItem` (`claimOverdue`); `SendMessage` to the consolidation queue |
 * | supportWidget | the union of the rows of the support routes it does the work of (`SUPPORT_WIDGETS[…].routes`): Find a message = search + syncRequest, Dead letters = search + resubmit + resubmitSyncRequest, plus `Query` on the `byDeadline` index (the refused consolidated acks) |
 * | support | `syncRequest`: `Query` of one partition; `message`: `GetItem` of one trace; `search`: `Query` on the trace table's indexes and the correlation table's `byDevice` index (never `Scan`); `resubmit`: the trace (`GetItem`, `UpdateItem`), the correlation header of an ack's sync request (`GetItem`), `SendMessage` to every flow's queue, `GetObject` of a claim check (a FIFO copy's message group); `resubmitSyncRequest`: the correlation header (`GetItem`, `UpdateItem`), `SendMessage` to the consolidation queue (its deadline command) |
 *
 * Correlation table per process flow: `assetSync` records the request (`GetItem` header, `BatchWriteItem`
 * devices, `PutItem` header, `UpdateItem` when DERMS refuses); `assetSyncAck` consolidates (partition
 * `Query`, `GetItem`, `BatchGetItem`, `PutItem`, `BatchWriteItem`, `UpdateItem`, and `UpdateItem` inside
 * `TransactWriteItems`); `unavailability` orders updates (`GetItem`, `UpdateItem`); `optOut` and
 * `legacyAck` never touch it. Only the sweep and the Dead letters widget read the `byDeadline` index.
 */
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { FlowId, SupportRouteId } from '#shared/flows/registry.ts';
import { CORRELATION_TABLE, TRACE_TABLE } from '#shared/store/tables.ts';
import { SUPPORT_WIDGETS, type SupportWidgetId } from '#shared/support/widgets/catalog.ts';

/** What a function may do, by the resource it does it on. */
export interface FunctionGrants {
  readonly trace?: readonly string[];
  readonly idempotency?: readonly string[];
  /** The correlation table itself (never its indexes). */
  readonly correlation?: readonly string[];
  /** The correlation table's `byDeadline` index only. */
  readonly deadlineIndex?: readonly string[];
  /** The correlation table's `byDevice` index only. */
  readonly deviceIndex?: readonly string[];
  /** The trace table's indexes (the support search), never the table itself. */
  readonly traceIndexes?: readonly string[];
  /** Every flow's queue (support's resubmit). */
  readonly queues?: readonly string[];
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
  search: { traceIndexes: ['dynamodb:Query'], deviceIndex: ['dynamodb:Query'] },
  resubmit: {
    trace: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
    // The header of an ack's sync request: a refused consolidated ack is resubmitted by its own route.
    correlation: ['dynamodb:GetItem'],
    queues: ['sqs:SendMessage'],
    claimCheck: ['s3:GetObject'],
  },
  resubmitSyncRequest: {
    correlation: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
    queue: ['sqs:SendMessage'],
  },
};

/**
 * What a widget does beyond the routes it shares code with: Dead letters lists the refused consolidated
 * acks from the `byDeadline` index's refused partition (`findRefusedConsolidated`).
 */
const WIDGET_EXTRA: Readonly<Partial<Record<SupportWidgetId, FunctionGrants>>> = {
  deadLetters: { deadlineIndex: ['dynamodb:Query'] },
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
    // PutObject: a dead-lettered body too large to keep in its trace keeps its payload here (keepableCopy).
    claimCheck: ['s3:GetObject', 's3:PutObject'],
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
  /** A dashboard support widget: the union of the rows of the support routes it does the work of. */
  supportWidget: (widget: SupportWidgetId): FunctionGrants =>
    unionOfGrants([
      ...SUPPORT_WIDGETS[widget].routes.map((route) => SUPPORT[route]),
      ...(WIDGET_EXTRA[widget] ? [WIDGET_EXTRA[widget]] : []),
    ]),
} as const;

/** Every action of every row, by resource, each once. */
function unionOfGrants(rows: readonly FunctionGrants[]): FunctionGrants {
  const union: Partial<Record<keyof FunctionGrants, string[]>> = {};
  for (const row of rows) {
    for (const [key, actions] of Object.entries(row) as [keyof FunctionGrants, readonly string[]][]) {
      union[key] = [...new Set([...(union[key] ?? []), ...actions])];
    }
  }
  return union;
}

/** The resources a function's row refers to; each must be there when its row names it. */
export interface GrantTargets {
  readonly trace?: dynamodb.ITable;
  readonly idempotency?: dynamodb.ITable;
  readonly correlation?: dynamodb.ITable;
  readonly claimCheck?: { readonly bucket: s3.IBucket; readonly prefix: string };
  readonly queue?: sqs.IQueue;
  readonly queues?: readonly sqs.IQueue[];
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
    case 'deviceIndex':
      return [`${need(targets.correlation).tableArn}/index/${CORRELATION_TABLE.indexes[1].name}`];
    case 'traceIndexes':
      return TRACE_TABLE.indexes.map((index) => `${need(targets.trace).tableArn}/index/${index.name}`);
    case 'queues':
      return need(targets.queues).map((queue) => queue.queueArn);
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
