import { CfnOutput, CfnParameter, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { pathFor, type StageConfig, type ThrottleFigures } from '#infra/config.ts';
import { ClaimCheckBucket } from '#infra/constructs/claim-check-bucket.ts';
import { DeadlineSweep } from '#infra/constructs/deadline-sweep.ts';
import { IngestRoute } from '#infra/constructs/ingest-route.ts';
import { IntegrationApi } from '#infra/constructs/integration-api.ts';
import { type FunctionDefaults, REPO_ROOT } from '#infra/constructs/integration-function.ts';
import { IntegrationTables } from '#infra/constructs/integration-tables.ts';
import { Monitoring } from '#infra/constructs/monitoring.ts';
import { QueueProcessor } from '#infra/constructs/queue-processor.ts';
import { SupportRoute } from '#infra/constructs/support-route.ts';
import { SupportWidgets } from '#infra/constructs/support-widgets.ts';
import { acknowledge } from '#infra/nag.ts';
import {
  FLOWS,
  type FlowDefinition,
  type FlowId,
  flowList,
  SUPPORT_ROUTES,
  type SupportRouteId,
  SWEEP,
  TARGET_SYSTEMS,
  type TargetSystem,
} from '#shared/flows/registry.ts';
import { RETENTION_DAYS_ENV, TABLES } from '#shared/store/tables.ts';

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
  /** The dashboard's Find a message and Dead letters widgets. */
  public readonly supportWidgets: SupportWidgets;

  constructor(scope: Construct, id: string, props: IntegrationStackProps) {
    super(scope, id, props);
    const config = props.config;
    this.config = config;
    const wiring = functionWiring(config, props.projectRoot ?? REPO_ROOT);
    // Tables keep RETAIN: their deletion protection would stop a rollback from deleting them anyway.
    this.tables = new IntegrationTables(this, 'Tables', { prefix: config.prefix, retain: config.retainData });
    this.claimCheck = new ClaimCheckBucket(this, 'ClaimCheck', {
      retentionDays: config.retentionDays,
      retain: config.retainData,
    });
    this.api = this.createApi(wiring);
    this.credentials = Object.fromEntries(
      TARGET_SYSTEMS.map((system) => [system, this.createReceiverCredentials(system)]),
    ) as Record<TargetSystem, secretsmanager.Secret>;
    const flows = flowList().map((flow) => this.createFlow(flow, wiring));
    this.processors = byFlow(flows, (f) => f.processor);
    this.ingestRoutes = byFlow(flows, (f) => f.ingestRoute);
    this.supportRoutes = Object.fromEntries(
      (Object.keys(SUPPORT_ROUTES) as SupportRouteId[]).map((routeId) => [
        routeId,
        this.createSupportRoute(routeId, wiring),
      ]),
    ) as Record<SupportRouteId, SupportRoute>;
    this.sweep = this.createSweep(wiring);
    this.supportWidgets = new SupportWidgets(this, 'SupportWidgets', {
      tables: this.functionTables,
      queues: byFlow(flows, (f) => f.processor.queue),
      claimCheckBucket: this.claimCheck.bucket,
      functionDefaults: wiring.functionDefaults,
    });
    this.monitoring = this.createMonitoring();
    this.supportWidgets.addTo(this.monitoring.dashboard);
    this.outputs();
  }

  /** The tables every function construct takes (each grants itself only what it needs). */
  private get functionTables() {
    return {
      correlation: this.tables.correlation,
      trace: this.tables.trace,
      idempotency: this.tables.idempotency,
    };
  }

  private createApi(wiring: FunctionWiring): IntegrationApi {
    const { config } = this;
    return new IntegrationApi(this, 'Api', {
      prefix: config.prefix,
      stageName: config.stage,
      functionDefaults: wiring.functionDefaults,
      throttleRateLimit: config.apiThrottle.rateLimit,
      throttleBurstLimit: config.apiThrottle.burstLimit,
      routeThrottles: routeThrottles(config),
      authorizerReservedConcurrency: config.authorizerReservedConcurrency,
      firewall: {
        rateLimitPer5Min: config.waf.rateLimitPer5Min,
        partnerCidrs: config.waf.partnerCidrs,
        otherRateLimitPer5Min: config.waf.otherRateLimitPer5Min,
        managedRulesAction: config.waf.managedRulesAction,
        maxBodyBytes: config.maxBodyBytes,
      },
      domain: config.apiDomain,
      tokenDomain: config.tokenDomain,
      cognitoDomainPrefix: config.cognitoDomainPrefix,
      accountCloudWatchRole: config.apiGatewayAccountRole,
      logRetention: wiring.functionDefaults.logRetention,
      logRemovalPolicy: wiring.functionDefaults.logRemovalPolicy,
      accessLogGroupName: `/${config.prefix}/api-access`,
      retain: config.retainData,
    });
  }

  /** The OAuth client credentials the integration presents to a receiver, filled in by the platform team. */
  private createReceiverCredentials(system: TargetSystem): secretsmanager.Secret {
    const secret = new secretsmanager.Secret(this, `${pascal(system)}Credentials`, {
      secretName: `${this.config.prefix}/${system.toLowerCase()}-credentials`,
      description:
        `OAuth client credentials the integration presents to ${system}: ` +
        '{"clientId","clientSecret","tokenUrl","scope"?}. Created with a generated placeholder; ' +
        'the platform team writes the real value (docs/deploy.md).',
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ clientId: 'UNSET', tokenUrl: 'UNSET' }),
        generateStringKey: 'clientSecret',
        excludePunctuation: true,
      },
      removalPolicy: retainedRemoval(this.config),
    });
    acknowledge(
      secret,
      'AwsSolutions-SMG4',
      `The ${system} client secret is issued by ${system}'s identity provider; a Lambda here cannot ` +
        'rotate it there. It is rotated by the procedure in docs/deploy.md (new secret from the ' +
        'receiver, then put-secret-value).',
    );
    return secret;
  }

  /** A flow's queue, DLQ and process function, and its route into the queue. */
  private createFlow(flow: FlowDefinition, wiring: FunctionWiring) {
    const { config } = this;
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
      tables: this.functionTables,
      claimCheckBucket: this.claimCheck.bucket,
      ...wiring,
    });
    const ingestRoute = new IngestRoute(this, `${pascal(flow.id)}Route`, {
      flow,
      api: this.api,
      queue: processor.queue,
      tables: this.functionTables,
      claimCheckBucket: this.claimCheck.bucket,
      functionDefaults: wiring.functionDefaults,
      legacyAckMode: config.legacyAckMode,
      environment: wiring.environment,
    });
    return { id: flow.id, processor, ingestRoute };
  }

  private createSupportRoute(routeId: SupportRouteId, wiring: FunctionWiring): SupportRoute {
    return new SupportRoute(this, `${pascal(routeId)}SupportRoute`, {
      routeId,
      route: SUPPORT_ROUTES[routeId],
      api: this.api,
      tables: this.functionTables,
      // The resubmit queues a kept copy on its flow's queue, reading a claim check for a FIFO group.
      queues: Object.fromEntries(Object.entries(this.processors).map(([flowId, p]) => [flowId, p.queue])),
      claimCheckBucket: this.claimCheck.bucket,
      functionDefaults: wiring.functionDefaults,
    });
  }

  private createSweep(wiring: FunctionWiring): DeadlineSweep {
    return new DeadlineSweep(this, 'DeadlineSweep', {
      entry: SWEEP.handler,
      rateMinutes: SWEEP.rateMinutes,
      correlationTable: this.tables.correlation,
      consolidationQueue: this.processors[CONSOLIDATION_FLOW].queue,
      consolidationQueueUrlEnv: FLOWS[CONSOLIDATION_FLOW].queue.urlEnv,
      ...wiring,
    });
  }

  /** The dashboard and alarms, and the `AlarmEmail` parameter their subscription goes to. */
  private createMonitoring(): Monitoring {
    const { config } = this;
    const alarmEmail = new CfnParameter(this, 'AlarmEmail', {
      type: 'String',
      description:
        'E-mail address that receives the alarms of the integration (confirm the subscription mail).',
      default: config.alarmEmail,
      allowedPattern: '^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$',
      constraintDescription: 'an e-mail address',
    });
    return new Monitoring(this, 'Monitoring', {
      prefix: config.prefix,
      metricsNamespace: metricsNamespace(config.stage),
      serviceName: SERVICE_NAME,
      flows: flowList().map((flow) => ({
        flow,
        queue: this.processors[flow.id].queue,
        deadLetterQueue: this.processors[flow.id].deadLetterQueue,
        ingest: this.ingestRoutes[flow.id].function.function,
        process: this.processors[flow.id].function.function,
      })),
      api: this.api.api,
      apiStageName: config.stage,
      apiAccessLogs: this.api.accessLogs,
      authorizer: this.api.authorizerFunction.function,
      webAcl: this.api.firewall.webAcl,
      tables: Object.fromEntries(
        TABLES.map((def) => [
          def.name,
          { table: this.tables.byName(def.name), tableName: `${config.prefix}-${def.name}` },
        ]),
      ),
      sweep: { function: this.sweep.function.function, rateMinutes: SWEEP.rateMinutes },
      otherFunctions: Object.fromEntries([
        ...Object.entries(this.supportRoutes).map(([routeId, r]) => [
          `support-${routeId}`,
          r.function.function,
        ]),
        ...Object.entries(this.supportWidgets.functions).map(([w, f]) => [`support-widget-${w}`, f.function]),
      ]),
      alarmEmail: alarmEmail.valueAsString,
      maxMessageAge: Duration.seconds(config.maxMessageAgeSeconds),
      maxWafBlocked: config.waf.blockedAlarmThreshold,
      retain: config.retainData,
    });
  }

  private outputs(): void {
    const out = (id: string, value: string, description: string) =>
      new CfnOutput(this, id, { value, description });
    out('ApiUrl', this.api.url, 'Base URL of the integration API (append v1/...)');
    out('TokenUrl', this.api.callers.tokenUrl, 'Cognito token endpoint for the client-credentials grant');
    if (this.api.domain) {
      out(
        'ApiDomainTarget',
        this.api.domain.domainNameAliasDomainName,
        `DNS: point ${this.api.domainName} here (a CNAME, or a Route 53 alias in the zone ApiDomainZone)`,
      );
      out(
        'ApiDomainZone',
        this.api.domain.domainNameAliasHostedZoneId,
        'Hosted zone id of ApiDomainTarget, for a Route 53 alias',
      );
    }
    if (this.api.callers.customDomain) {
      out(
        'TokenDomainTarget',
        this.api.callers.customDomain.cloudFrontEndpoint,
        `DNS: point ${this.config.tokenDomain?.domainName} here (CNAME, or a Route 53 alias to CloudFront)`,
      );
    }
    out(
      'UserPoolId',
      this.api.callers.userPool.userPoolId,
      'Cognito user pool holding one app client per caller',
    );
    for (const [caller, client] of Object.entries(this.api.callers.clients)) {
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

/** What every function of the stage shares: Powertools, logs, the project root and the tunable settings. */
interface FunctionWiring {
  readonly functionDefaults: FunctionDefaults;
  /** Retention days and `functionEnvironment` of the stage config, for the flow and sweep functions. */
  readonly environment: Readonly<Record<string, string>>;
}

function functionWiring(config: StageConfig, projectRoot: string): FunctionWiring {
  return {
    functionDefaults: {
      powertools: {
        serviceName: SERVICE_NAME,
        metricsNamespace: metricsNamespace(config.stage),
        logLevel: config.logLevel,
      },
      logRetention: toRetention(config.logRetentionDays),
      logRemovalPolicy: retainedRemoval(config),
      projectRoot,
      logGroupPrefix: `/${config.prefix}`,
    },
    environment: { [RETENTION_DAYS_ENV]: String(config.retentionDays), ...config.functionEnvironment },
  };
}

/**
 * What `prod` keeps when the stack is deleted or a resource replaced: RETAIN_ON_UPDATE_OR_DELETE, so that
 * a failed first create still removes what it made and a retry does not meet named leftovers. The tables
 * and the user pool keep RETAIN (their deletion protection would refuse the rollback's delete).
 */
function retainedRemoval(config: StageConfig): RemovalPolicy {
  return config.retainData ? RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE : RemovalPolicy.DESTROY;
}

/** The stage's route figures as the API takes them: `METHOD /path` → figures. */
function routeThrottles(config: StageConfig): Record<string, ThrottleFigures> {
  const { routes } = config.apiThrottle;
  return Object.fromEntries([
    ...flowList().map((f) => [`${f.route.method} ${f.route.path}`, routes[f.id]]),
    ...Object.values(SUPPORT_ROUTES).map((r) => [`${r.method} ${r.path}`, routes.support]),
  ]);
}

/** One value per flow, keyed by flow id. */
function byFlow<F extends { readonly id: FlowId }, T>(
  flows: readonly F[],
  pick: (f: F) => T,
): Record<FlowId, T> {
  return Object.fromEntries(flows.map((f) => [f.id, pick(f)])) as Record<FlowId, T>;
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
