import { CfnOutput, CfnParameter, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { pathFor, type StageConfig } from '#infra/config.ts';
import { ClaimCheckBucket } from '#infra/constructs/claim-check-bucket.ts';
import { DeadlineSweep } from '#infra/constructs/deadline-sweep.ts';
import { IngestRoute } from '#infra/constructs/ingest-route.ts';
import { IntegrationApi } from '#infra/constructs/integration-api.ts';
import { REPO_ROOT } from '#infra/constructs/integration-function.ts';
import { IntegrationTables } from '#infra/constructs/integration-tables.ts';
import { Monitoring } from '#infra/constructs/monitoring.ts';
import { QueueProcessor } from '#infra/constructs/queue-processor.ts';
import { SupportRoute } from '#infra/constructs/support-route.ts';
import { acknowledge } from '#infra/nag.ts';
import {
  FLOWS,
  type FlowId,
  flowList,
  SUPPORT_ROUTES,
  type SupportRouteId,
  SWEEP,
  TARGET_SYSTEMS,
  type TargetSystem,
} from '#shared/flows/registry.ts';
import { RETENTION_DAYS_ENV } from '#shared/store/tables.ts';

/** Powertools service name; Powertools Metrics adds it as the `service` dimension. */
export const SERVICE_NAME = 'dacs-derms-integration';

/** Custom metrics namespace of a stage. */
export const metricsNamespace = (stage: string): string => `DacsDermsIntegration/${stage}`;

/** The flow whose process function consolidates acknowledgements; the sweep queues onto its queue. */
export const CONSOLIDATION_FLOW: FlowId = 'assetSyncAck';

export interface IntegrationStackProps extends StackProps {
  readonly config: StageConfig;
  /**
   * Repository root that handler entries are resolved against.
   * @default the repository this file lives in
   */
  readonly projectRoot?: string;
}

/**
 * One stage of the integration, derived from the flow registry: for every flow an ingest route, a queue
 * with its DLQ and a process function; the support views; the deadline sweep; the tables, the claim-check
 * bucket, the receivers' credential secrets; the API with its Cognito callers, token authorizer and WAF;
 * the dashboard and alarms.
 */
export class IntegrationStack extends Stack {
  public readonly config: StageConfig;
  public readonly tables: IntegrationTables;
  public readonly claimCheck: ClaimCheckBucket;
  public readonly api: IntegrationApi;
  public readonly credentials: Readonly<Record<TargetSystem, secretsmanager.Secret>>;
  public readonly processors: Readonly<Record<FlowId, QueueProcessor>>;
  public readonly ingestRoutes: Readonly<Record<FlowId, IngestRoute>>;
  public readonly supportRoutes: Readonly<Record<SupportRouteId, SupportRoute>>;
  public readonly sweep: DeadlineSweep;
  public readonly monitoring: Monitoring;

  constructor(scope: Construct, id: string, props: IntegrationStackProps) {
    super(scope, id, props);
    const config = props.config;
    this.config = config;
    const retain = config.retainData;
    const removalPolicy = retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const logRetention = toRetention(config.logRetentionDays);
    const functionDefaults = {
      powertools: {
        serviceName: SERVICE_NAME,
        metricsNamespace: metricsNamespace(config.stage),
        logLevel: config.logLevel,
      },
      logRetention,
      logRemovalPolicy: removalPolicy,
      projectRoot: props.projectRoot ?? REPO_ROOT,
      logGroupPrefix: `/${config.prefix}`,
    };
    const environment = { [RETENTION_DAYS_ENV]: String(config.retentionDays), ...config.functionEnvironment };

    this.tables = new IntegrationTables(this, 'Tables', { prefix: config.prefix, retain });
    this.claimCheck = new ClaimCheckBucket(this, 'ClaimCheck', {
      retentionDays: config.retentionDays,
      retain,
    });
    this.api = new IntegrationApi(this, 'Api', {
      prefix: config.prefix,
      stageName: config.stage,
      functionDefaults,
      throttleRateLimit: config.apiThrottle.rateLimit,
      throttleBurstLimit: config.apiThrottle.burstLimit,
      wafRateLimitPer5Min: config.wafRateLimitPer5Min,
      cognitoDomainPrefix: config.cognitoDomainPrefix,
      accountCloudWatchRole: config.apiGatewayAccountRole,
      logRetention,
      accessLogGroupName: `/${config.prefix}/api-access`,
      retain,
    });

    this.credentials = Object.fromEntries(
      TARGET_SYSTEMS.map((system) => {
        const secret = new secretsmanager.Secret(this, `${pascal(system)}Credentials`, {
          secretName: `${config.prefix}/${system.toLowerCase()}-credentials`,
          description:
            `OAuth client credentials the integration presents to ${system}: ` +
            '{"clientId","clientSecret","tokenUrl","scope"?}. Created with a generated placeholder; ' +
            'the platform team writes the real value (docs/deploy.md).',
          generateSecretString: {
            secretStringTemplate: JSON.stringify({ clientId: 'UNSET', tokenUrl: 'UNSET' }),
            generateStringKey: 'clientSecret',
            excludePunctuation: true,
          },
          removalPolicy,
        });
        acknowledge(
          secret,
          'AwsSolutions-SMG4',
          `The ${system} client secret is issued by ${system}'s identity provider; a Lambda here cannot ` +
            'rotate it there. It is rotated by the procedure in docs/deploy.md (new secret from the ' +
            'receiver, then put-secret-value).',
        );
        return [system, secret];
      }),
    ) as Record<TargetSystem, secretsmanager.Secret>;

    const tables = {
      correlation: this.tables.correlation,
      trace: this.tables.trace,
      idempotency: this.tables.idempotency,
    };
    const processors = {} as Record<FlowId, QueueProcessor>;
    const ingestRoutes = {} as Record<FlowId, IngestRoute>;
    for (const flow of flowList()) {
      const system = flow.target.system;
      const processor = new QueueProcessor(this, `${pascal(flow.id)}Processor`, {
        flow,
        prefix: config.prefix,
        target: {
          system,
          baseUrl: config.targets[system].baseUrl,
          path: pathFor(config, flow.id),
          credentials: this.credentials[system],
        },
        tables,
        claimCheckBucket: this.claimCheck.bucket,
        functionDefaults,
        environment,
      });
      processors[flow.id] = processor;
      ingestRoutes[flow.id] = new IngestRoute(this, `${pascal(flow.id)}Route`, {
        flow,
        api: this.api,
        queue: processor.queue,
        tables,
        claimCheckBucket: this.claimCheck.bucket,
        functionDefaults,
        legacyAckMode: config.legacyAckMode,
        environment,
      });
    }
    this.processors = processors;
    this.ingestRoutes = ingestRoutes;

    this.supportRoutes = Object.fromEntries(
      (Object.keys(SUPPORT_ROUTES) as SupportRouteId[]).map((routeId) => [
        routeId,
        new SupportRoute(this, `${pascal(routeId)}SupportRoute`, {
          routeId,
          route: SUPPORT_ROUTES[routeId],
          api: this.api,
          tables,
          functionDefaults,
        }),
      ]),
    ) as Record<SupportRouteId, SupportRoute>;

    const consolidation = processors[CONSOLIDATION_FLOW];
    this.sweep = new DeadlineSweep(this, 'DeadlineSweep', {
      entry: SWEEP.handler,
      rateMinutes: SWEEP.rateMinutes,
      correlationTable: this.tables.correlation,
      consolidationQueue: consolidation.queue,
      consolidationQueueUrlEnv: FLOWS[CONSOLIDATION_FLOW].queue.urlEnv,
      functionDefaults,
      environment,
    });

    const alarmEmail = new CfnParameter(this, 'AlarmEmail', {
      type: 'String',
      description:
        'E-mail address that receives the alarms of the integration (confirm the subscription mail).',
      default: config.alarmEmail,
      allowedPattern: '^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$',
      constraintDescription: 'an e-mail address',
    });
    this.monitoring = new Monitoring(this, 'Monitoring', {
      prefix: config.prefix,
      metricsNamespace: metricsNamespace(config.stage),
      serviceName: SERVICE_NAME,
      flows: flowList().map((flow) => ({
        flow,
        queue: processors[flow.id].queue,
        deadLetterQueue: processors[flow.id].deadLetterQueue,
        ingest: ingestRoutes[flow.id].function.function,
        process: processors[flow.id].function.function,
      })),
      api: this.api.api,
      apiStageName: config.stage,
      otherFunctions: {
        ...Object.fromEntries(
          Object.entries(this.supportRoutes).map(([routeId, r]) => [
            `support-${routeId}`,
            r.function.function,
          ]),
        ),
        sweep: this.sweep.function.function,
      },
      alarmEmail: alarmEmail.valueAsString,
      maxMessageAge: Duration.seconds(config.maxMessageAgeSeconds),
      retain,
    });

    this.outputs();
  }

  private outputs(): void {
    const out = (id: string, value: string, description: string) =>
      new CfnOutput(this, id, { value, description });
    out('ApiUrl', this.api.api.url, 'Base URL of the integration API (append /v1/...)');
    out('TokenUrl', this.api.tokenUrl, 'Cognito token endpoint for the client-credentials grant');
    out('UserPoolId', this.api.userPool.userPoolId, 'Cognito user pool holding one app client per caller');
    for (const [caller, client] of Object.entries(this.api.clients)) {
      out(`${pascal(caller)}ClientId`, client.userPoolClientId, `App client id of the ${caller} caller`);
    }
    for (const [system, secret] of Object.entries(this.credentials)) {
      out(`${pascal(system)}CredentialsSecretArn`, secret.secretArn, `Fill with the ${system} OAuth client`);
    }
    for (const [flowId, p] of Object.entries(this.processors)) {
      const { urlEnv, dlqUrlEnv } = p.flow.queue;
      out(`${pascal(flowId)}QueueUrl`, p.queue.queueUrl, `${flowId} queue (${urlEnv} for npm run redrive)`);
      out(`${pascal(flowId)}DeadLetterQueueUrl`, p.deadLetterQueue.queueUrl, `${flowId} DLQ (${dlqUrlEnv})`);
    }
    out('DashboardName', this.monitoring.dashboard.dashboardName, 'CloudWatch dashboard of this stage');
    out('AlarmTopicArn', this.monitoring.alarmTopic.topicArn, 'SNS topic the alarms publish to');
  }
}

/** `assetSync` → `AssetSync`, `DERMS` → `Derms`: construct ids and output names. */
function pascal(s: string): string {
  const word = s === s.toUpperCase() ? s.toLowerCase() : s;
  return word.charAt(0).toUpperCase() + word.slice(1);
}

function toRetention(days: number): logs.RetentionDays {
  const allowed = Object.values(logs.RetentionDays).filter((v): v is number => typeof v === 'number');
  if (!allowed.includes(days))
    throw new Error(`logRetentionDays must be one of ${allowed.join(', ')}, got ${days}`);
  return days as logs.RetentionDays;
}
