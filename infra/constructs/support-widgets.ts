import { Duration } from 'aws-cdk-lib';
import * as cw from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { type FunctionDefaults, IntegrationFunction } from '#infra/constructs/integration-function.ts';
import { applyGrants, FUNCTION_GRANTS, type FunctionGrants } from '#infra/grants.ts';
import { acknowledge, arnToken } from '#infra/nag.ts';
import { FLOWS, type FlowId } from '#shared/flows/registry.ts';
import { CLAIM_CHECK_BUCKET_ENV, CORRELATION_TABLE, TRACE_TABLE } from '#shared/store/tables.ts';
import { SUPPORT_WIDGETS, type SupportWidgetId } from '#shared/support/widgets/catalog.ts';

export interface SupportWidgetsProps {
  readonly tables: { readonly correlation: dynamodb.ITable; readonly trace: dynamodb.ITable };
  /** Every flow's queue, by flow id: the Dead letters widget's Resubmit queues on them. */
  readonly queues: Readonly<Record<FlowId, sqs.IQueue>>;
  /** The claim-check bucket a resubmit of a large message reads its payload from. */
  readonly claimCheckBucket: s3.IBucket;
  readonly functionDefaults: FunctionDefaults;
  /**
   * Widget function timeout (the dashboard waits for it).
   * @default Duration.seconds(20)
   */
  readonly timeout?: Duration;
}

/**
 * The support engineer's two CloudWatch custom widgets, Find a message and Dead letters: one function each
 * (`functions/supportWidgets/*`), rendering HTML and calling itself back through `<cwdb-action>`, with the
 * union of the grants of the support routes whose work it does (`FUNCTION_GRANTS.supportWidget`). The
 * dashboard invokes them with the console user's own credentials, so only users allowed
 * `lambda:InvokeFunction` on them see and use them.
 */
export class SupportWidgets extends Construct {
  public readonly functions: Readonly<Record<SupportWidgetId, IntegrationFunction>>;
  public readonly widgets: Readonly<Record<SupportWidgetId, cw.CustomWidget>>;

  constructor(scope: Construct, id: string, props: SupportWidgetsProps) {
    super(scope, id);
    const ids = Object.keys(SUPPORT_WIDGETS) as SupportWidgetId[];
    this.functions = Object.fromEntries(ids.map((w) => [w, this.widgetFunction(w, props)])) as Record<
      SupportWidgetId,
      IntegrationFunction
    >;
    this.widgets = Object.fromEntries(
      ids.map((w) => [
        w,
        new cw.CustomWidget({
          functionArn: this.functions[w].function.functionArn,
          title: SUPPORT_WIDGETS[w].title,
          width: 24,
          height: w === 'findMessage' ? 10 : 12,
          // A search or a resubmit must not be re-run by a zoom or a resize.
          updateOnResize: false,
          updateOnTimeRangeChange: false,
        }),
      ]),
    ) as Record<SupportWidgetId, cw.CustomWidget>;
  }

  /** Adds the widgets to `dashboard`, below what it holds, under a header of their own. */
  public addTo(dashboard: cw.Dashboard): void {
    dashboard.addWidgets(
      new cw.TextWidget({
        markdown: `# Support: find a message, dead letters\nSee docs/operations.md, "Did device X's opt-out reach DERMS?".`,
        width: 24,
        height: 2,
      }),
    );
    for (const widget of Object.values(this.widgets)) dashboard.addWidgets(widget);
  }

  private widgetFunction(widget: SupportWidgetId, props: SupportWidgetsProps): IntegrationFunction {
    const grants = FUNCTION_GRANTS.supportWidget(widget);
    const fn = new IntegrationFunction(this, `${widget.charAt(0).toUpperCase()}${widget.slice(1)}`, {
      ...props.functionDefaults,
      logName: `supportWidgets/${widget}`,
      entry: SUPPORT_WIDGETS[widget].handler,
      description: `dashboard widget: ${SUPPORT_WIDGETS[widget].title}`,
      timeout: props.timeout ?? Duration.seconds(20),
      memorySize: 512,
      environment: widgetEnvironment(grants, props),
    });
    applyGrants(fn.function, grants, {
      correlation: props.tables.correlation,
      trace: props.tables.trace,
      ...(grants.queues ? { queues: Object.values(props.queues) } : {}),
      // A refused consolidated ack's resubmit queues a deadline command on the consolidation queue.
      ...(grants.queue ? { queue: props.queues.assetSyncAck } : {}),
      ...(grants.claimCheck ? { claimCheck: { bucket: props.claimCheckBucket, prefix: '*' } } : {}),
    });
    if (grants.claimCheck) {
      acknowledge(
        fn.role.node.findChild('DefaultPolicy'),
        `AwsSolutions-IAM5[Resource::${arnToken(props.claimCheckBucket)}/*/*]`,
        'A resubmit reads the claim check of a dead letter of any flow, keyed <flowId>/<messageId>.json: both ' +
          'are known only at run time. The wildcard covers the claim-check objects of this one bucket, read only.',
      );
    }
    acknowledge(
      fn.function,
      'Serverless-LambdaDLQ',
      'Invoked synchronously by the CloudWatch dashboard, which shows the answer or the failure at once: a ' +
        'dead-letter target only applies to asynchronous invocations.',
    );
    return fn;
  }
}

/** The tables, and for a widget that resubmits the queue URLs and the claim-check bucket. */
function widgetEnvironment(grants: FunctionGrants, props: SupportWidgetsProps): Record<string, string> {
  return {
    [CORRELATION_TABLE.nameEnv]: props.tables.correlation.tableName,
    [TRACE_TABLE.nameEnv]: props.tables.trace.tableName,
    ...(grants.queues
      ? Object.fromEntries(
          (Object.entries(props.queues) as [FlowId, sqs.IQueue][]).map(([flow, q]) => [
            FLOWS[flow].queue.urlEnv,
            q.queueUrl,
          ]),
        )
      : {}),
    ...(grants.claimCheck ? { [CLAIM_CHECK_BUCKET_ENV]: props.claimCheckBucket.bucketName } : {}),
  };
}
