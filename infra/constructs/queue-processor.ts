import { Duration, Names } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { type FunctionDefaults, IntegrationFunction } from '#infra/constructs/integration-function.ts';
import { applyGrants, FUNCTION_GRANTS } from '#infra/grants.ts';
import { acknowledge, arnToken, REASONS } from '#infra/nag.ts';
import { receiveLimit, retryPolicyFromEnv } from '#shared/delivery/retry.ts';
import type { FlowDefinition, TargetSystem } from '#shared/flows/registry.ts';
import { CLAIM_CHECK_BUCKET_ENV, CORRELATION_TABLE, TRACE_TABLE } from '#shared/store/tables.ts';

/** Where a flow delivers: the receiver's base URL, the path and its credentials. */
export interface DeliveryTargetProps {
  readonly system: TargetSystem;
  readonly baseUrl: string;
  /** The path for the registry's `target.pathEnv`. */
  readonly path: string;
  /** Secret with `{clientId, clientSecret, tokenUrl, scope?}` for the receiver's OAuth token. */
  readonly credentials: secretsmanager.ISecret;
}

export interface QueueProcessorProps {
  readonly flow: FlowDefinition;
  /** Physical name prefix, e.g. `dacs-derms-dev`. */
  readonly prefix: string;
  readonly target: DeliveryTargetProps;
  /** Process functions update traces and correlation records (consolidation, unavailability order). */
  readonly tables: {
    readonly correlation: dynamodb.ITable;
    readonly trace: dynamodb.ITable;
  };
  readonly claimCheckBucket: s3.IBucket;
  readonly functionDefaults: FunctionDefaults;
  /**
   * Queue encryption: SQS-managed keys, or this customer-managed KMS key.
   * @default SQS-managed (SSE-SQS)
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * How long the main queue keeps a message. The DLQ keeps its messages 14 days.
   * @default Duration.days(4)
   */
  readonly retentionPeriod?: Duration;
  /**
   * Extra settings: tunables of `TUNABLES` (shared/config/tunables.ts), checked by infra/config.ts.
   * @default none
   */
  readonly environment?: Readonly<Record<string, string>>;
}

/** SQS can hold a message at most 14 days; a dead letter keeps all of them for inspection and redrive. */
export const DLQ_RETENTION = Duration.days(14);

/**
 * A flow's queue and dead-letter queue, and the process function that drains the queue.
 *
 * - FIFO when the registry asks for per-device order (content-based deduplication, per-group throughput).
 * - Encrypted (SQS-managed or KMS), TLS enforced by queue policy.
 * - Visibility timeout six times the function timeout, `maxReceiveCount` derived from the retry settings
 *   (`receiveLimit`: only a crash-loop backstop), DLQ kept 14 days.
 * - Event source mapping with `ReportBatchItemFailures` and the registry's `maxConcurrency`.
 * - The function may do what its row of `FUNCTION_GRANTS.process` says (infra/grants.ts): consume its
 *   queue and change visibility (back-off), send to its own DLQ (permanent failures are dead-lettered at
 *   once), read its flow's claim checks, read its receiver's credentials, read and update its traces, and
 *   use the correlation table as far as its flow needs.
 */
export class QueueProcessor extends Construct {
  public readonly flow: FlowDefinition;
  public readonly queue: sqs.Queue;
  public readonly deadLetterQueue: sqs.Queue;
  public readonly function: IntegrationFunction;
  public readonly eventSourceMapping: lambda.EventSourceMapping;

  constructor(scope: Construct, id: string, props: QueueProcessorProps) {
    super(scope, id);
    this.flow = props.flow;
    const q = props.flow.queue;
    const common = queueSettings(props);
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      queueName: `${props.prefix}-${q.name}-dlq${common.suffix}`,
      ...common.props,
      retentionPeriod: DLQ_RETENTION,
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      queueName: `${props.prefix}-${q.name}${common.suffix}`,
      ...common.props,
      visibilityTimeout: Duration.seconds(6 * q.functionTimeoutSeconds),
      retentionPeriod: props.retentionPeriod ?? Duration.days(4),
      // Only the crash-loop backstop: retries are bounded by RETRY_WINDOW_SECONDS (see receiveLimit).
      deadLetterQueue: {
        queue: this.deadLetterQueue,
        maxReceiveCount: receiveLimit(retryPolicyFromEnv(props.environment ?? {})),
      },
    });
    this.function = this.createFunction(props);
    // The construct id SqsEventSource gives it, so the mapping keeps its logical id; unlike
    // SqsEventSource it grants nothing: the role's queue actions come from FUNCTION_GRANTS like the rest.
    this.eventSourceMapping = this.function.function.addEventSourceMapping(
      `SqsEventSource:${Names.nodeUniqueId(this.queue.node)}`,
      {
        eventSourceArn: this.queue.queueArn,
        batchSize: q.batchSize,
        maxConcurrency: q.maxConcurrency,
        reportBatchItemFailures: true,
      },
    );
    this.grantProcessing(props);
    this.acknowledgeDeadLetterDesign();
  }

  /** The DLQ is the end of the line; the function and its mapping are not invoked asynchronously. */
  private acknowledgeDeadLetterDesign(): void {
    acknowledge(
      this.deadLetterQueue,
      'Serverless-SQSRedrivePolicy',
      "This is the flow's dead-letter queue, the end of the line: messages leave it only when an operator " +
        'redrives them to the main queue (StartMessageMoveTask, docs/operations.md), never by a redrive policy.',
    );
    acknowledge(this.function.function, 'Serverless-LambdaDLQ', REASONS.queueInvocation);
    acknowledge(
      this.eventSourceMapping,
      'Serverless-LambdaEventSourceMappingDestination',
      REASONS.sqsMappingDestination,
    );
  }

  private createFunction(props: QueueProcessorProps): IntegrationFunction {
    const { flow, tables, target } = props;
    const q = flow.queue;
    return new IntegrationFunction(this, 'Process', {
      ...props.functionDefaults,
      logName: `${flow.id}/process`,
      entry: flow.handlers.process,
      description: `${flow.id} process: ${q.name} queue to ${target.system}`,
      timeout: Duration.seconds(q.functionTimeoutSeconds),
      environment: {
        [CORRELATION_TABLE.nameEnv]: tables.correlation.tableName,
        [TRACE_TABLE.nameEnv]: tables.trace.tableName,
        [CLAIM_CHECK_BUCKET_ENV]: props.claimCheckBucket.bucketName,
        [q.urlEnv]: this.queue.queueUrl,
        [q.dlqUrlEnv]: this.deadLetterQueue.queueUrl,
        [`${target.system}_BASE_URL`]: target.baseUrl,
        [flow.target.pathEnv]: target.path,
        [`${target.system}_CREDENTIALS_SECRET_ARN`]: target.credentials.secretArn,
        ...props.environment,
      },
    });
  }

  /** The flow's row of `FUNCTION_GRANTS.process`, on its queues, prefix, secret and tables. */
  private grantProcessing(props: QueueProcessorProps): void {
    const { tables, flow } = props;
    applyGrants(this.function.function, FUNCTION_GRANTS.process(flow.id), {
      queue: this.queue,
      deadLetterQueue: this.deadLetterQueue,
      claimCheck: { bucket: props.claimCheckBucket, prefix: flow.id },
      credentials: props.target.credentials,
      trace: tables.trace,
      correlation: tables.correlation,
    });
    acknowledge(
      this.function.role.node.findChild('DefaultPolicy'),
      `AwsSolutions-IAM5[Resource::${arnToken(props.claimCheckBucket)}/${flow.id}/*]`,
      REASONS.claimCheckObjects(flow.id),
    );
  }
}

/** What the queue and its DLQ share: FIFO settings where the registry asks for order, encryption, TLS. */
function queueSettings(props: QueueProcessorProps): { suffix: string; props: sqs.QueueProps } {
  const q = props.flow.queue;
  const encryption = props.encryptionKey
    ? { encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: props.encryptionKey }
    : { encryption: sqs.QueueEncryption.SQS_MANAGED };
  const fifo = q.fifo
    ? {
        fifo: true,
        contentBasedDeduplication: true,
        deduplicationScope: sqs.DeduplicationScope.MESSAGE_GROUP,
        fifoThroughputLimit: sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
      }
    : {};
  return { suffix: q.fifo ? '.fifo' : '', props: { ...fifo, ...encryption, enforceSSL: true } };
}
