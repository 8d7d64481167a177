import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as cw from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import {
  type CustomMetricGroup,
  DefaultDashboardFactory,
  MonitoringFacade,
  SnsAlarmActionStrategy,
} from 'cdk-monitoring-constructs';
import { Construct } from 'constructs';
import type { FlowDefinition, FlowId } from '#shared/flows/registry.ts';

/**
 * The custom metrics the handlers emit through Powertools Metrics, in `POWERTOOLS_METRICS_NAMESPACE`,
 * with the dimensions `service` (Powertools adds it from `POWERTOOLS_SERVICE_NAME`) and `flow` (the flow id).
 */
export const FLOW_METRICS = {
  received: 'MessageReceived',
  delivered: 'MessageDelivered',
  retried: 'DeliveryRetried',
  deadLettered: 'MessageDeadLettered',
  latency: 'EndToEndLatency',
} as const;

/** Metrics only some flows emit, shown in that flow's section. */
export const FLOW_SPECIFIC_METRICS: Partial<Record<FlowId, readonly string[]>> = {
  assetSyncAck: ['ConsolidatedAckSent', 'FollowUpAckSent', 'UncorrelatedAck'],
  legacyAck: ['LegacyAckReceived'],
};

/** Counted by the deadline sweep: sync requests whose acknowledgement was overdue. */
export const OVERDUE_METRIC = 'SyncRequestsOverdue';

export interface MonitoredFlow {
  readonly flow: FlowDefinition;
  readonly queue: sqs.IQueue;
  readonly deadLetterQueue: sqs.IQueue;
  readonly ingest: lambda.IFunction;
  readonly process: lambda.IFunction;
}

export interface MonitoringProps {
  /** Physical name prefix, e.g. `dacs-derms-dev`; names the dashboard, alarms and topic. */
  readonly prefix: string;
  readonly metricsNamespace: string;
  readonly serviceName: string;
  readonly flows: readonly MonitoredFlow[];
  readonly api: apigw.RestApi;
  readonly apiStageName: string;
  /** Functions outside the flows (support views, sweep), by display name. */
  readonly otherFunctions: Readonly<Record<string, lambda.IFunction>>;
  /** Address (or parameter token) that receives alarm e-mails. */
  readonly alarmEmail: string;
  /**
   * Alarm when a queue's oldest message is older than this.
   * @default Duration.minutes(30)
   */
  readonly maxMessageAge?: Duration;
  /**
   * Alarm when this share of a function's invocations fail (0..1).
   * @default 0.05
   */
  readonly maxErrorRate?: number;
  /**
   * Keep the alarm topic's key on stack deletion.
   * @default false
   */
  readonly retain?: boolean;
}

/**
 * The per-stage dashboard and the alarms. Per flow: received, delivered, retried, dead-lettered,
 * end-to-end latency, queue and DLQ depth, oldest message age, and the ingest and process functions'
 * errors, throttles and duration; then the API's 4xx/5xx, the consolidation metrics and the support
 * functions. Alarms (DLQ depth > 0, oldest message age, function error rate, API 5xx rate, overdue
 * acknowledgements) go to an encrypted, TLS-only SNS topic with an e-mail subscription.
 */
export class Monitoring extends Construct {
  public readonly facade: MonitoringFacade;
  public readonly dashboard: cw.Dashboard;
  public readonly alarmTopic: sns.Topic;
  public readonly alarmKey: kms.Key;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const thresholds: Thresholds = {
      maxAgeInSeconds: (props.maxMessageAge ?? Duration.minutes(30)).toSeconds(),
      maxErrorRate: props.maxErrorRate ?? 0.05,
    };
    this.alarmKey = createAlarmKey(this, props);
    this.alarmTopic = createAlarmTopic(this, props, this.alarmKey);
    const dashboards = new DefaultDashboardFactory(this, 'Dashboards', {
      dashboardNamePrefix: props.prefix,
      createDashboard: true,
      createSummaryDashboard: false,
      createAlarmDashboard: false,
      detailDashboardRange: Duration.hours(24),
    });
    this.facade = new MonitoringFacade(this, 'Facade', {
      alarmFactoryDefaults: {
        alarmNamePrefix: props.prefix,
        actionsEnabled: true,
        action: new SnsAlarmActionStrategy({ onAlarmTopic: this.alarmTopic, onOkTopic: this.alarmTopic }),
        datapointsToAlarm: 1,
      },
      metricFactoryDefaults: { namespace: props.metricsNamespace, period: Duration.minutes(5) },
      dashboardFactory: dashboards,
    });

    for (const flow of props.flows) this.monitorFlow(flow, flowMetrics(props, flow.flow.id), thresholds);
    this.facade.addLargeHeader('API, consolidation deadline and support');
    this.facade.monitorApiGateway({
      api: props.api,
      apiStage: props.apiStageName,
      alarmFriendlyName: 'api',
      humanReadableName: 'Integration API',
      add5XXFaultRateAlarm: { Critical: { maxErrorRate: thresholds.maxErrorRate } },
    });
    this.monitorOverdueAcknowledgements(props.metricsNamespace);
    for (const [name, fn] of Object.entries(props.otherFunctions)) {
      this.monitorFunction(fn, name, `${name} function`, thresholds);
    }

    const dashboard = dashboards.dashboard;
    if (!dashboard) throw new Error('Monitoring: the dashboard factory created no dashboard');
    this.dashboard = dashboard;
  }

  /** A flow's section: its custom metrics, its queue and DLQ, its ingest and process functions. */
  private monitorFlow(monitored: MonitoredFlow, metric: FlowMetric, thresholds: Thresholds): void {
    const { flow, queue, deadLetterQueue, ingest, process } = monitored;
    this.facade.addLargeHeader(`${flow.id}: ${flow.summary}`);
    this.facade
      .monitorCustom({
        alarmFriendlyName: `${flow.id}-messages`,
        humanReadableName: `${flow.id} messages`,
        metricGroups: flowMetricGroups(flow.id, metric),
      })
      .monitorSqsQueueWithDlq({
        queue,
        deadLetterQueue,
        alarmFriendlyName: `${flow.id}-queue`,
        humanReadableName: `${flow.id} queue`,
        addQueueMaxMessageAgeAlarm: { Critical: { maxAgeInSeconds: thresholds.maxAgeInSeconds } },
        addDeadLetterQueueMaxSizeAlarm: { Critical: { maxMessageCount: 0 } },
      });
    this.monitorFunction(ingest, `${flow.id}-ingest`, `${flow.id} ingest function`, thresholds);
    this.monitorFunction(process, `${flow.id}-process`, `${flow.id} process function`, thresholds);
  }

  private monitorFunction(
    lambdaFunction: lambda.IFunction,
    alarmFriendlyName: string,
    humanReadableName: string,
    thresholds: Thresholds,
  ): void {
    this.facade.monitorLambdaFunction({
      lambdaFunction,
      alarmFriendlyName,
      humanReadableName,
      addFaultRateAlarm: { Critical: { maxErrorRate: thresholds.maxErrorRate } },
    });
  }

  /**
   * Counted across every dimension set, so the alarm does not depend on which flow the sweep reports under.
   */
  private monitorOverdueAcknowledgements(metricsNamespace: string): void {
    const overdue = new cw.MathExpression({
      expression: `SELECT SUM(${OVERDUE_METRIC}) FROM "${metricsNamespace}"`,
      label: 'sync requests past their deadline',
      period: Duration.minutes(5),
      usingMetrics: {},
    });
    this.facade.monitorCustom({
      alarmFriendlyName: 'overdue-acks',
      humanReadableName: 'Sync requests past their acknowledgement deadline',
      metricGroups: [
        {
          title: 'Sync requests past their deadline',
          metrics: [
            {
              metric: overdue,
              alarmFriendlyName: 'SyncRequestsOverdue',
              addAlarm: {
                Critical: {
                  threshold: 0,
                  comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                  additionalDescription:
                    'DERMS did not acknowledge every device of a sync request before its deadline; DACS was ' +
                    'told D1NR for the missing devices. See docs/operations.md.',
                },
              },
            },
          ],
        },
      ],
    });
  }
}

/** The alarm thresholds every flow shares. */
interface Thresholds {
  readonly maxAgeInSeconds: number;
  readonly maxErrorRate: number;
}

/** A custom metric of one flow, in the handlers' namespace with their `service` and `flow` dimensions. */
type FlowMetric = (metricName: string, statistic?: string, label?: string) => cw.Metric;

function flowMetrics(props: MonitoringProps, flow: FlowId): FlowMetric {
  return (metricName, statistic = cw.Stats.SUM, label = metricName) =>
    new cw.Metric({
      namespace: props.metricsNamespace,
      metricName,
      dimensionsMap: { service: props.serviceName, flow },
      statistic,
      period: Duration.minutes(5),
      label,
    });
}

/** Messages and end-to-end latency of every flow, then the events only this flow emits. */
function flowMetricGroups(flow: FlowId, metric: FlowMetric): CustomMetricGroup[] {
  const groups: CustomMetricGroup[] = [
    {
      title: 'Messages',
      metrics: [
        metric(FLOW_METRICS.received, cw.Stats.SUM, 'received'),
        metric(FLOW_METRICS.delivered, cw.Stats.SUM, 'delivered'),
        metric(FLOW_METRICS.retried, cw.Stats.SUM, 'retried'),
        metric(FLOW_METRICS.deadLettered, cw.Stats.SUM, 'dead-lettered'),
      ],
    },
    {
      title: 'End-to-end latency (ms)',
      metrics: [
        metric(FLOW_METRICS.latency, cw.Stats.p(50), 'p50'),
        metric(FLOW_METRICS.latency, cw.Stats.p(99), 'p99'),
        metric(FLOW_METRICS.latency, cw.Stats.MAXIMUM, 'max'),
      ],
    },
  ];
  const specific = FLOW_SPECIFIC_METRICS[flow];
  if (specific) {
    groups.push({ title: 'Flow events', metrics: specific.map((name) => metric(name)) });
  }
  return groups;
}

function createAlarmKey(scope: Construct, props: MonitoringProps): kms.Key {
  const key = new kms.Key(scope, 'AlarmTopicKey', {
    description: `${props.prefix} alarm topic`,
    enableKeyRotation: true,
    removalPolicy: props.retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
  });
  // CloudWatch publishes alarms to the encrypted topic.
  key.grant(new iam.ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
  return key;
}

/** Encrypted with `key`, TLS only, with the alarm e-mail subscribed. */
function createAlarmTopic(scope: Construct, props: MonitoringProps, key: kms.IKey): sns.Topic {
  const topic = new sns.Topic(scope, 'AlarmTopic', {
    topicName: `${props.prefix}-alarms`,
    displayName: `${props.prefix} alarms`,
    masterKey: key,
    enforceSSL: true,
  });
  topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
  return topic;
}
