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
import { FLOWS, type FlowId, type Scope, type SupportRouteId } from '#shared/flows/registry.ts';
import { CLAIM_CHECK_BUCKET_ENV, CORRELATION_TABLE, TRACE_TABLE } from '#shared/store/tables.ts';

export interface SupportRouteProps {
  /** Route id in `SUPPORT_ROUTES`, e.g. `message`; picks its row of `FUNCTION_GRANTS.support`. */
  readonly routeId: SupportRouteId;
  readonly route: {
    readonly method: 'GET' | 'POST';
    readonly path: string;
    readonly scope: Scope;
    readonly handler: string;
  };
  readonly api: IntegrationApi;
  readonly tables: { readonly correlation: dynamodb.ITable; readonly trace: dynamodb.ITable };
  /**
   * Every flow's queue, by flow: a route whose grants name `queues` (the resubmit) gets them all, one
   * whose grants name `queue` (the sync request's resubmit) the consolidation queue only.
   */
  readonly queues?: Readonly<Record<string, sqs.IQueue>>;
  /** The claim-check bucket: given to a route whose grants name `claimCheck` (the resubmit). */
  readonly claimCheckBucket?: s3.IBucket;
  readonly functionDefaults: FunctionDefaults;
  /**
   * Function timeout.
   * @default Duration.seconds(10)
   */
  readonly timeout?: Duration;
}

/**
 * A support route: `<method> <route>` (scope `integration/support`) → function reading the tables (and,
 * for the resubmit, queueing on a flow's queue), as far as its row of `FUNCTION_GRANTS.support`
 * (infra/grants.ts) allows.
 */
export class SupportRoute extends Construct {
  public readonly function: IntegrationFunction;
  public readonly method: apigw.Method;

  constructor(scope: Construct, id: string, props: SupportRouteProps) {
    super(scope, id);
    const { tables } = props;
    const grants = FUNCTION_GRANTS.support(props.routeId);
    this.function = new IntegrationFunction(this, 'Handler', {
      ...props.functionDefaults,
      logName: `support/${props.routeId}`,
      entry: props.route.handler,
      description: `support ${props.routeId}: ${props.route.method} ${props.route.path}`,
      timeout: props.timeout ?? Duration.seconds(10),
      memorySize: 512,
      environment: {
        [CORRELATION_TABLE.nameEnv]: tables.correlation.tableName,
        [TRACE_TABLE.nameEnv]: tables.trace.tableName,
        ...(grants.queues ? queueEnvironment(props.queues) : {}),
        ...(grants.queue ? consolidationQueueEnvironment(props.queues) : {}),
        ...(grants.claimCheck && props.claimCheckBucket
          ? { [CLAIM_CHECK_BUCKET_ENV]: props.claimCheckBucket.bucketName }
          : {}),
      },
    });
    applyGrants(this.function.function, grants, {
      correlation: tables.correlation,
      trace: tables.trace,
      ...(grants.queues ? { queues: Object.values(props.queues ?? {}) } : {}),
      ...(grants.queue ? { queue: consolidationQueue(props.queues) } : {}),
      ...(grants.claimCheck && props.claimCheckBucket
        ? { claimCheck: { bucket: props.claimCheckBucket, prefix: '*' } }
        : {}),
    });
    if (grants.claimCheck && props.claimCheckBucket) {
      acknowledge(
        this.function.role.node.findChild('DefaultPolicy'),
        `AwsSolutions-IAM5[Resource::${arnToken(props.claimCheckBucket)}/*/*]`,
        REASONS.resubmitClaimChecks,
      );
    }
    acknowledge(this.function.function, 'Serverless-LambdaDLQ', REASONS.synchronousInvocation);
    this.method = props.api.addRoute({
      method: props.route.method,
      path: props.route.path,
      scope: props.route.scope,
      handler: this.function.function,
      // The resubmits take no body.
      jsonBody: false,
    });
  }
}

/** Each flow's queue URL under the variable its flow names. */
function queueEnvironment(queues: Readonly<Record<string, sqs.IQueue>> | undefined): Record<string, string> {
  if (!queues) throw new Error('A support route that queues needs the queues');
  return Object.fromEntries(
    Object.entries(queues).map(([flowId, queue]) => [FLOWS[flowId as FlowId].queue.urlEnv, queue.queueUrl]),
  );
}

/** The consolidation queue (the ack flow's), where the sync request's resubmit queues a deadline command. */
function consolidationQueue(queues: Readonly<Record<string, sqs.IQueue>> | undefined): sqs.IQueue {
  const queue = queues?.[FLOWS.assetSyncAck.id];
  if (!queue) throw new Error('A support route that queues a deadline command needs the consolidation queue');
  return queue;
}

function consolidationQueueEnvironment(
  queues: Readonly<Record<string, sqs.IQueue>> | undefined,
): Record<string, string> {
  return { [FLOWS.assetSyncAck.queue.urlEnv]: consolidationQueue(queues).queueUrl };
}
