import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as cw from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import {
  type CustomAlarmThreshold,
  type CustomMetricGroup,
  DefaultDashboardFactory,
  MonitoringFacade,
  SnsAlarmActionStrategy,
} from 'cdk-monitoring-constructs';
import { Construct } from 'constructs';
import { acknowledge } from '#infra/nag.ts';
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
  /**
   * A delivery attempt that failed, whether it will be retried or dead-lettered (not a deliberate wait, not
   * a FIFO skip). The process function reports it as a partial batch failure, not a Lambda error, so the
   * function's error rate never shows it.
   */
  failed: 'DeliveryFailed',
  latency: 'EndToEndLatency',
} as const;

/** Metrics only some flows emit, shown in that flow's section. */
export const FLOW_SPECIFIC_METRICS: Partial<Record<FlowId, readonly string[]>> = {
  assetSyncAck: ['ConsolidatedAckSent', 'FollowUpAckSent', 'UncorrelatedAck'],
  legacyAck: ['LegacyAckReceived'],
};

/** Counted by the deadline sweep: sync requests whose acknowledgement was overdue. */
export const OVERDUE_METRIC = 'SyncRequestsOverdue';

/** Counted from the API access log by metric filters: answers 401 and 403 (no AWS metric tells them apart). */
export const REFUSAL_METRICS = { 401: 'ApiUnauthenticated', 403: 'ApiForbidden' } as const;

/**
 * How many bad datapoints, out of how many, raise each kind of alarm. The stage sees little traffic, so a
 * rate over one quiet 5-minute period can be one request:
 *
 * - `fact`: 1 of 1, for a state that waiting does not clear (a dead letter, an overdue acknowledgement,
 *   a DLQ message close to its expiry); a second period would only delay the page.
 * - `sustained`: 2 of 3 five-minute periods, for rates and counts (errors, throttles, 5xx, refused tokens,
 *   blocks, failed deliveries, queue age): one failure in a quiet period does not page, a lasting one does
 *   within 15 minutes.
 * - `heartbeat`: 3 of 3 sweep intervals without a run.
 */
export const EVALUATION = {
  fact: { datapointsToAlarm: 1, evaluationPeriods: 1 },
  sustained: { datapointsToAlarm: 2, evaluationPeriods: 3 },
  heartbeat: { datapointsToAlarm: 3, evaluationPeriods: 3 },
} as const satisfies Record<string, Pick<CustomAlarmThreshold, 'datapointsToAlarm' | 'evaluationPeriods'>>;

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
  /** The API's JSON access log, from which 401 and 403 are counted. */
  readonly apiAccessLogs: logs.ILogGroup;
  /** The API's token authorizer. */
  readonly authorizer: lambda.IFunction;
  /** The web ACL on the API stage. */
  readonly webAcl: wafv2.CfnWebACL;
  /** The tables by display name, each with its physical name (which the system-error query filters on). */
  readonly tables: Readonly<Record<string, { readonly table: dynamodb.ITable; readonly tableName: string }>>;
  /** The deadline sweep and its schedule. */
  readonly sweep: { readonly function: lambda.IFunction; readonly rateMinutes: number };
  /** Functions outside the flows, the authorizer and the sweep (the support views), by display name. */
  readonly otherFunctions: Readonly<Record<string, lambda.IFunction>>;
  /** Address (or parameter token) that receives alarm e-mails. */
  readonly alarmEmail: string;
  /**
   * Alarm when a queue's oldest message is older than this.
   * @default Duration.minutes(30)
   */
  readonly maxMessageAge?: Duration;
  /**
   * Alarm when a DLQ's oldest message is older than this: a redrive is due before the 14-day retention
   * drops it.
   * @default Duration.days(7)
   */
  readonly maxDeadLetterAge?: Duration;
  /**
   * Alarm when this share of a function's invocations fail (0..1).
   * @default 0.05
   */
  readonly maxErrorRate?: number;
  /**
   * Alarm when this share (%) of the API's answers are 401 or 403, counted once at least
   * {@link minRefusals} were refused in a period.
   * @default 20
   */
  readonly maxRefusedPercent?: number;
  /** @default 5 */
  readonly minRefusals?: number;
  /**
   * Blocked requests per 5 minutes the WAF alarm tolerates.
   * @default 0
   */
  readonly maxWafBlocked?: number;
  /**
   * Keep the alarm topic's key when the stack is deleted or the key replaced (a failed first create still
   * removes it).
   * @default false
   */
  readonly retain?: boolean;
}

/** The thresholds the sections share. */
interface Thresholds {
  readonly maxAgeInSeconds: number;
  readonly maxDeadLetterAgeInSeconds: number;
  readonly maxErrorRate: number;
}

/**
 * The per-stage dashboard and the alarms, every alarm with its row in docs/operations.md. Sections: one per
 * flow (messages and failed deliveries, latency, queue and DLQ, ingest and process functions), the API,
 * the authorizer and refused tokens, the firewall, the tables, the consolidation deadline and the sweep,
 * the support functions. Alarms go to an encrypted, TLS-only SNS topic with an e-mail subscription, each
 * raised by M of N datapoints ({@link EVALUATION}).
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
      maxDeadLetterAgeInSeconds: (props.maxDeadLetterAge ?? Duration.days(7)).toSeconds(),
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
        ...EVALUATION.sustained,
        runbookLink: 'docs/operations.md, "Alarms and what to do"',
      },
      metricFactoryDefaults: { namespace: props.metricsNamespace, period: Duration.minutes(5) },
      dashboardFactory: dashboards,
    });

    for (const flow of props.flows) this.monitorFlow(flow, flowMetrics(props, flow.flow.id), thresholds);
    this.facade.addLargeHeader('API, authorizer and firewall');
    this.monitorApi(props, thresholds);
    this.monitorAuthorizer(props);
    this.monitorFirewall(props);
    this.facade.addLargeHeader('Tables, consolidation deadline, sweep and support');
    for (const [name, { table, tableName }] of Object.entries(props.tables))
      this.monitorTable(name, table, tableName);
    this.monitorOverdueAcknowledgements(props.metricsNamespace);
    this.monitorSweep(props, thresholds);
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
        addDeadLetterQueueMaxSizeAlarm: { Critical: { maxMessageCount: 0, ...EVALUATION.fact } },
        addDeadLetterQueueMaxMessageAgeAlarm: {
          Critical: { maxAgeInSeconds: thresholds.maxDeadLetterAgeInSeconds, ...EVALUATION.fact },
        },
      });
    this.monitorFunction(ingest, `${flow.id}-ingest`, `${flow.id} ingest function`, thresholds);
    this.monitorFunction(process, `${flow.id}-process`, `${flow.id} process function`, thresholds);
  }

  /** Error rate and throttles: a throttled ingest answers the caller 503, a throttled process waits. */
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
      addThrottlesCountAlarm: { Critical: { maxErrorCount: 0 } },
    });
  }

  private monitorApi(props: MonitoringProps, thresholds: Thresholds): void {
    this.facade.monitorApiGateway({
      api: props.api,
      apiStage: props.apiStageName,
      alarmFriendlyName: 'api',
      humanReadableName: 'Integration API',
      add5XXFaultRateAlarm: { Critical: { maxErrorRate: thresholds.maxErrorRate } },
    });
  }

  /**
   * The authorizer refuses every bad token with an invocation error (401), so its error rate is the
   * callers' tokens, not its health: that is the refused share below. Its own trouble shows as throttles
   * (its reserved concurrency is used up) and slow answers (the pool's JWKS out of reach), and as API 5xx.
   */
  private monitorAuthorizer(props: MonitoringProps): void {
    this.facade.monitorLambdaFunction({
      lambdaFunction: props.authorizer,
      alarmFriendlyName: 'authorizer',
      humanReadableName: 'Token authorizer (its errors are refused tokens)',
      addThrottlesCountAlarm: { Critical: { maxErrorCount: 0 } },
      addLatencyP99Alarm: { Critical: { maxLatency: Duration.seconds(3) } },
    });
    const refusals = this.refusalMetrics(props);
    const minRefusals = props.minRefusals ?? 5;
    const refusedShare = new cw.MathExpression({
      expression: `IF(u + f >= ${minRefusals}, 100 * (u + f) / MAX([n, u + f]), 0)`,
      usingMetrics: { u: refusals[401], f: refusals[403], n: apiRequests(props) },
      label: `refused (401/403), % of requests, counted from ${minRefusals} refusals`,
      period: Duration.minutes(5),
    });
    this.facade.monitorCustom({
      alarmFriendlyName: 'auth',
      humanReadableName: 'Refused tokens (401 missing, expired or forged; 403 another caller’s route)',
      metricGroups: [
        { title: 'Refused requests', metrics: [refusals[401], refusals[403]] },
        {
          title: 'Refused share (%)',
          metrics: [
            {
              metric: refusedShare,
              alarmFriendlyName: 'RefusedShare',
              addAlarm: {
                Critical: {
                  threshold: props.maxRefusedPercent ?? 20,
                  comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                  treatMissingDataOverride: cw.TreatMissingData.NOT_BREACHING,
                  additionalDescription:
                    'A caller keeps presenting missing, expired, forged or wrong-scope tokens. See docs/operations.md.',
                },
              },
            },
          ],
        },
      ],
    });
  }

  /** Metric filters on the JSON access log: one count per refused status. */
  private refusalMetrics(props: MonitoringProps): Record<401 | 403, cw.Metric> {
    const metric = (status: 401 | 403): cw.Metric => {
      const filter = new logs.MetricFilter(this, `Refused${status}`, {
        logGroup: props.apiAccessLogs,
        filterPattern: logs.FilterPattern.stringValue('$.status', '=', String(status)),
        metricNamespace: props.metricsNamespace,
        metricName: REFUSAL_METRICS[status],
        metricValue: '1',
      });
      return filter.metric({ statistic: cw.Stats.SUM, period: Duration.minutes(5), label: String(status) });
    };
    return { 401: metric(401), 403: metric(403) };
  }

  /** Blocked requests: rate-rule 429s, over-limit bodies, non-JSON posts, managed rules in block mode. */
  private monitorFirewall(props: MonitoringProps): void {
    this.facade.monitorWebApplicationFirewallAclV2({
      acl: props.webAcl,
      region: Stack.of(this).region,
      alarmFriendlyName: 'waf',
      humanReadableName: 'Firewall (web ACL on the API stage)',
      addBlockedRequestsCountAlarm: { Critical: { maxErrorCount: props.maxWafBlocked ?? 0 } },
    });
  }

  /**
   * On-demand tables throttle only past their scaling; system errors are DynamoDB's own. System errors are
   * counted by one query over every operation (transactions included), so that an operation without data
   * cannot leave a gap in a sum of per-operation metrics.
   */
  private monitorTable(name: string, table: dynamodb.ITable, tableName: string): void {
    this.facade.monitorDynamoTable({
      table,
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      alarmFriendlyName: `${name}-table`,
      humanReadableName: `${name} table`,
      addReadThrottledEventsCountAlarm: { Critical: { maxThrottledEventsThreshold: 0 } },
      addWriteThrottledEventsCountAlarm: { Critical: { maxThrottledEventsThreshold: 0 } },
    });
    const systemErrors = new cw.MathExpression({
      expression:
        `SELECT SUM(SystemErrors) FROM SCHEMA("AWS/DynamoDB", Operation, TableName) ` +
        `WHERE TableName = '${tableName}'`,
      label: 'system errors (every operation)',
      period: Duration.minutes(5),
      usingMetrics: {},
    });
    this.facade.monitorCustom({
      alarmFriendlyName: `${name}-table`,
      humanReadableName: `${name} table: DynamoDB system errors`,
      metricGroups: [
        {
          title: 'System errors (HTTP 500 from DynamoDB)',
          metrics: [
            {
              metric: systemErrors,
              alarmFriendlyName: 'SystemErrors',
              addAlarm: {
                Critical: {
                  threshold: 0,
                  comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                  treatMissingDataOverride: cw.TreatMissingData.NOT_BREACHING,
                  additionalDescription: `DynamoDB answers ${tableName} with internal errors. See docs/operations.md.`,
                },
              },
            },
          ],
        },
      ],
    });
  }

  /** The sweep's errors and throttles, and its heartbeat: no run for three intervals. */
  private monitorSweep(props: MonitoringProps, thresholds: Thresholds): void {
    const { function: sweep, rateMinutes } = props.sweep;
    this.monitorFunction(sweep, 'sweep', 'sweep function', thresholds);
    const runs = sweep.metricInvocations({
      statistic: cw.Stats.SUM,
      period: Duration.minutes(rateMinutes),
      label: 'sweep runs',
    });
    this.facade.monitorCustom({
      alarmFriendlyName: 'sweep',
      humanReadableName: 'Deadline sweep runs',
      metricGroups: [
        {
          title: `Sweep runs (one every ${rateMinutes} min)`,
          metrics: [
            {
              metric: runs,
              alarmFriendlyName: 'NotRunning',
              addAlarm: {
                Critical: {
                  threshold: 1,
                  comparisonOperator: cw.ComparisonOperator.LESS_THAN_THRESHOLD,
                  // No invocation publishes no datapoint: missing is exactly what this alarm is for.
                  treatMissingDataOverride: cw.TreatMissingData.BREACHING,
                  ...EVALUATION.heartbeat,
                  additionalDescription:
                    'The deadline sweep has not run for 3 intervals: overdue sync requests are not consolidated. ' +
                    'See docs/operations.md.',
                },
              },
            },
          ],
        },
      ],
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
                  ...EVALUATION.fact,
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

/** Every request the stage answered, refused ones included. */
function apiRequests(props: MonitoringProps): cw.Metric {
  return new cw.Metric({
    namespace: 'AWS/ApiGateway',
    metricName: 'Count',
    dimensionsMap: { ApiName: props.api.restApiName, Stage: props.apiStageName },
    statistic: cw.Stats.SUM,
    period: Duration.minutes(5),
  });
}

/** Messages (with the failed deliveries, alarmed), end-to-end latency, then the events only this flow emits. */
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
      title: 'Failed deliveries (batch item failures)',
      metrics: [
        {
          metric: metric(FLOW_METRICS.failed, cw.Stats.SUM, 'failed'),
          alarmFriendlyName: FLOW_METRICS.failed,
          addAlarm: {
            Critical: {
              threshold: 0,
              comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
              treatMissingDataOverride: cw.TreatMissingData.NOT_BREACHING,
              additionalDescription: `${flow} deliveries keep failing. See docs/operations.md.`,
            },
          },
        },
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
    removalPolicy: props.retain ? RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE : RemovalPolicy.DESTROY,
  });
  // CloudWatch publishes alarms to the encrypted topic: only this account's alarms may use the key.
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'CloudWatchAlarmsOfThisAccount',
      principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      resources: ['*'],
      conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(scope).account } },
    }),
  );
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
  const subscription = new subscriptions.EmailSubscription(props.alarmEmail);
  topic.addSubscription(subscription);
  acknowledge(
    topic,
    'Serverless-SNSRedrivePolicy',
    'The only subscription is the alarm e-mail. A dead-letter queue for undeliverable alarm mails would need ' +
      'an alarm of its own, sent through this same topic; an alarm that could not be mailed stays visible ' +
      'in CloudWatch (state and history) and on the dashboard.',
  );
  return topic;
}
