import { Duration } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { IntegrationApi } from '#infra/constructs/integration-api.ts';
import { type FunctionDefaults, IntegrationFunction } from '#infra/constructs/integration-function.ts';
import { applyGrants, FUNCTION_GRANTS } from '#infra/grants.ts';
import { acknowledge, arnToken, REASONS } from '#infra/nag.ts';
import type { FlowDefinition } from '#shared/flows/registry.ts';
import { CLAIM_CHECK_BUCKET_ENV, IDEMPOTENCY_TABLE, TRACE_TABLE } from '#shared/store/tables.ts';

export interface IngestRouteProps {
  readonly flow: FlowDefinition;
  readonly api: IntegrationApi;
  /** The flow's queue (from its {@link QueueProcessor}). */
  readonly queue: sqs.IQueue;
  /** Ingest records idempotency and traces; the correlation records are written by the process functions. */
  readonly tables: {
    readonly trace: dynamodb.ITable;
    readonly idempotency: dynamodb.ITable;
  };
  readonly claimCheckBucket: s3.IBucket;
  /** Shared function settings (Powertools, log retention). */
  readonly functionDefaults: FunctionDefaults;
  /**
   * `LEGACY_ACK_MODE` for a deprecated flow.
   * @default 'forward'
   */
  readonly legacyAckMode?: 'forward' | 'reject';
  /**
   * Extra settings: tunables of `TUNABLES` (shared/config/tunables.ts), checked by infra/config.ts.
   * @default none
   */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * Ingest function timeout; it answers API Gateway, which waits at most 29 seconds.
   * @default Duration.seconds(25)
   */
  readonly timeout?: Duration;
}

/**
 * One contract route: `POST <route>` (Cognito scope of the flow's caller) → ingest function → the flow's
 * queue. The function may do what `FUNCTION_GRANTS.ingest` says (infra/grants.ts): keep idempotency
 * records, create, read and delete traces, send to its own queue and put claim checks under its flow's
 * prefix; nothing else.
 */
export class IngestRoute extends Construct {
  public readonly function: IntegrationFunction;
  public readonly method: apigw.Method;

  constructor(scope: Construct, id: string, props: IngestRouteProps) {
    super(scope, id);
    const { flow, tables } = props;
    this.function = new IntegrationFunction(this, 'Ingest', {
      ...props.functionDefaults,
      logName: `${flow.id}/ingest`,
      entry: flow.handlers.ingest,
      description: `${flow.id} ingest: ${flow.route.method} ${flow.route.path}`,
      timeout: props.timeout ?? Duration.seconds(25),
      environment: {
        [TRACE_TABLE.nameEnv]: tables.trace.tableName,
        [IDEMPOTENCY_TABLE.nameEnv]: tables.idempotency.tableName,
        [CLAIM_CHECK_BUCKET_ENV]: props.claimCheckBucket.bucketName,
        [flow.queue.urlEnv]: props.queue.queueUrl,
        ...(flow.deprecated ? { LEGACY_ACK_MODE: props.legacyAckMode ?? 'forward' } : {}),
        ...props.environment,
      },
    });
    const fn = this.function.function;
    applyGrants(fn, FUNCTION_GRANTS.ingest, {
      idempotency: tables.idempotency,
      trace: tables.trace,
      queue: props.queue,
      claimCheck: { bucket: props.claimCheckBucket, prefix: flow.id },
    });
    acknowledge(
      this.function.role.node.findChild('DefaultPolicy'),
      `AwsSolutions-IAM5[Resource::${arnToken(props.claimCheckBucket)}/${flow.id}/*]`,
      REASONS.claimCheckObjects(flow.id),
    );
    acknowledge(fn, 'Serverless-LambdaDLQ', REASONS.synchronousInvocation);

    this.method = props.api.addRoute({
      method: flow.route.method,
      path: flow.route.path,
      scope: flow.scope,
      handler: fn,
    });
  }
}
