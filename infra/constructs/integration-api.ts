import { Duration, Fn, RemovalPolicy } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ApiFirewall, type ApiFirewallProps } from '#infra/constructs/api-firewall.ts';
import { CallerPool } from '#infra/constructs/caller-pool.ts';
import { type FunctionDefaults, IntegrationFunction } from '#infra/constructs/integration-function.ts';
import { addProblemResponses } from '#infra/constructs/problem-responses.ts';
import { acknowledge, REASONS } from '#infra/nag.ts';
import { AUTHORIZER, ROUTE_GRANTS } from '#shared/auth/policy.ts';
import type { Scope } from '#shared/flows/registry.ts';

export interface IntegrationApiProps {
  /** Physical name prefix, e.g. `dacs-derms-dev`. */
  readonly prefix: string;
  /** API Gateway stage name. */
  readonly stageName: string;
  /** Shared function settings (Powertools, log retention), for the authorizer function. */
  readonly functionDefaults: FunctionDefaults;
  /**
   * How long API Gateway caches the authorizer's answer for one token. The answer lists every route
   * the token may call, so the cache is right for any route; an expired token may still be let through
   * for at most this long after its `exp` if it was used just before.
   * @default AUTHORIZER_CACHE_TTL (60 seconds)
   */
  readonly authorizerCacheTtl?: Duration;
  /**
   * Concurrency reserved for the authorizer: callers' tokens are verified even when other functions use
   * up the account's pool, and a flood of new tokens cannot take the pool from them.
   * @default 10
   */
  readonly authorizerReservedConcurrency?: number;
  /**
   * Stage-wide steady-state requests per second.
   * @default 50
   */
  readonly throttleRateLimit?: number;
  /**
   * Stage-wide burst.
   * @default 100
   */
  readonly throttleBurstLimit?: number;
  /**
   * Throttling per route, keyed `METHOD /path` as in the contract: each route gets a bucket of its own,
   * so one route's burst never takes another's share.
   * @default none: every route gets the stage figures
   */
  readonly routeThrottles?: Readonly<
    Record<string, { readonly rateLimit: number; readonly burstLimit: number }>
  >;
  /** The web ACL's settings (rate limits, partner ranges, managed rules, body limit). */
  readonly firewall: Omit<ApiFirewallProps, 'prefix' | 'stage' | 'logRetention' | 'logRemovalPolicy'>;
  /**
   * A custom domain for the API, with a regional ACM certificate: TLS 1.2 at least, and the default
   * execute-api endpoint (which API Gateway serves from TLS 1.0 up) switched off.
   * @default none: callers use the execute-api endpoint
   */
  readonly domain?: { readonly domainName: string; readonly certificateArn: string };
  /**
   * A custom domain for the Cognito token endpoint (certificate in us-east-1).
   * @default none
   */
  readonly tokenDomain?: { readonly domainName: string; readonly certificateArn: string };
  /**
   * Cognito domain prefix for the token endpoint.
   * @default `<prefix>-<account id>`
   */
  readonly cognitoDomainPrefix?: string;
  /**
   * Let this stack set the account-wide API Gateway CloudWatch role, which execution logging needs.
   * Turn off where the account's role is managed elsewhere.
   * @default true
   */
  readonly accountCloudWatchRole?: boolean;
  /**
   * Retention of the access, execution and WAF logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to those log groups when the stack is deleted or they are replaced.
   * @default RemovalPolicy.DESTROY
   */
  readonly logRemovalPolicy?: RemovalPolicy;
  /**
   * Access log group name.
   * @default a generated name
   */
  readonly accessLogGroupName?: string;
  /**
   * Keep the user pool (and so the issued client ids) when the stack is deleted; deletion protection on.
   * @default false
   */
  readonly retain?: boolean;
}

/** Route options of {@link IntegrationApi.addRoute}. */
export interface ApiRouteOptions {
  readonly method: 'GET' | 'POST';
  /** Path as in the contract, e.g. `/v1/messages/{messageId}`. */
  readonly path: string;
  /**
   * The single OAuth scope the route requires. The authorizer grants routes by the flow registry
   * (`ROUTE_GRANTS`); a route whose scope differs from the registry's is refused at synth.
   */
  readonly scope: Scope;
  readonly handler: lambda.IFunction;
  /**
   * Whether the body must be well-formed JSON (API Gateway's request validation). A POST without a body,
   * such as the support resubmit, says false. @default true for POST
   */
  readonly jsonBody?: boolean;
}

/** How long API Gateway caches an authorizer answer: an expired token is refused within a minute. */
export const AUTHORIZER_CACHE_TTL = Duration.seconds(AUTHORIZER.cacheTtlSeconds);

/**
 * The Authorization header API Gateway passes to the authorizer; anything else is answered 401 without
 * invoking it. The same shape `bearerToken` (shared/auth/verifier.ts) accepts: the scheme in any case,
 * one token68 value.
 */
export const AUTHORIZATION_PATTERN = '^[Bb][Ee][Aa][Rr][Ee][Rr][ \\t]+[A-Za-z0-9._~+/-]+=*[ \\t]*$';

/**
 * The REST API the callers reach: the callers' Cognito user pool ({@link CallerPool}); every method behind
 * a Lambda TOKEN authorizer that verifies the pool's access tokens and answers as the contract says (401
 * for a missing, expired or forged token, 403 for a valid token without the route's scope; the Cognito
 * user-pool authorizer answers both with 401); request validation; stage throttling with a bucket per
 * route; JSON access logs and execution logs (errors), both with a retention; X-Ray; a WAFv2 web ACL on the
 * stage ({@link ApiFirewall}); gateway errors answered as `application/problem+json` like the handlers'
 * own errors; optionally a custom domain (TLS 1.2).
 */
export class IntegrationApi extends Construct {
  /** The callers' user pool, its scopes, app clients and token endpoint. */
  public readonly callers: CallerPool;
  public readonly accessLogs: logs.LogGroup;
  /** `API-Gateway-Execution-Logs_<api id>/<stage>`, created here so that it has a retention. */
  public readonly executionLogs: logs.LogGroup;
  public readonly api: apigw.RestApi;
  /** The Lambda TOKEN authorizer every route uses, and its function. */
  public readonly authorizerFunction: IntegrationFunction;
  public readonly authorizer: apigw.TokenAuthorizer;
  public readonly requestValidator: apigw.RequestValidator;
  public readonly jsonBodyModel: apigw.Model;
  /** The web ACL on the stage. */
  public readonly firewall: ApiFirewall;
  /** The custom domain, when one is configured. */
  public readonly domain?: apigw.DomainName;
  /** The custom domain's name as configured (not a token). */
  public readonly domainName?: string;

  constructor(scope: Construct, id: string, props: IntegrationApiProps) {
    super(scope, id);
    this.callers = new CallerPool(this, 'Callers', {
      prefix: props.prefix,
      domainPrefix: props.cognitoDomainPrefix,
      customDomain: props.tokenDomain,
      retain: props.retain,
    });
    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      logGroupName: props.accessLogGroupName,
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.DESTROY,
    });
    this.api = createRestApi(this, props, this.accessLogs);
    this.executionLogs = createExecutionLogs(this, this.api, props);
    this.authorizerFunction = createAuthorizerFunction(this, props, this.callers);
    this.authorizer = new apigw.TokenAuthorizer(this, 'Authorizer', {
      authorizerName: `${props.prefix}-token`,
      handler: this.authorizerFunction.function,
      identitySource: apigw.IdentitySource.header('Authorization'),
      validationRegex: AUTHORIZATION_PATTERN,
      resultsCacheTtl: props.authorizerCacheTtl ?? AUTHORIZER_CACHE_TTL,
    });
    this.requestValidator = this.api.addRequestValidator('Validator', {
      requestValidatorName: 'parameters-and-json-body',
      validateRequestParameters: true,
      validateRequestBody: true,
    });
    this.jsonBodyModel = addJsonBodyModel(this.api);
    addProblemResponses(this.api);
    this.firewall = new ApiFirewall(this, 'Firewall', {
      ...props.firewall,
      prefix: props.prefix,
      stage: this.api.deploymentStage,
      logRetention: props.logRetention,
      logRemovalPolicy: props.logRemovalPolicy,
    });
    this.domain = props.domain ? addCustomDomain(this, this.api, props.domain) : undefined;
    this.domainName = props.domain?.domainName;
  }

  /** The base URL callers post to: the custom domain's, else the stage's execute-api URL. */
  public get url(): string {
    return this.domainName ? `https://${this.domainName}/` : this.api.url;
  }

  /**
   * Adds one contract route behind the Lambda authorizer, which allows it to tokens carrying the route's
   * scope in the flow registry. Throws when the registry grants the route no scope, or another one.
   */
  public addRoute(route: ApiRouteOptions): apigw.Method {
    assertRegistryGrants(route);
    const resource = this.api.root.resourceForPath(route.path);
    const pathParameters = [...route.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1] as string);
    const method = resource.addMethod(route.method, new apigw.LambdaIntegration(route.handler), {
      authorizationType: apigw.AuthorizationType.CUSTOM,
      authorizer: this.authorizer,
      requestValidator: this.requestValidator,
      requestParameters: {
        'method.request.header.Authorization': true,
        ...Object.fromEntries(pathParameters.map((p) => [`method.request.path.${p}`, true])),
      },
      requestModels:
        (route.jsonBody ?? route.method === 'POST') ? { 'application/json': this.jsonBodyModel } : undefined,
    });
    acknowledge(
      method,
      'AwsSolutions-COG4',
      'The Lambda authorizer verifies access tokens of this Cognito user pool (signature against the ' +
        "pool's JWKS, issuer, expiry, token_use access, one of the callers' app clients) and grants the " +
        "route by its scope. The Cognito user-pool authorizer would answer a valid token without the route's " +
        'scope with 401 instead of the 403 the contract requires.',
    );
    return method;
  }
}

/** A route whose scope is not the one the authorizer grants it (`ROUTE_GRANTS`) could never be called. */
function assertRegistryGrants(route: ApiRouteOptions): void {
  const grant = ROUTE_GRANTS.find((g) => g.method === route.method && g.path === route.path);
  if (grant?.scope !== route.scope) {
    throw new Error(
      `Route ${route.method} ${route.path} needs ${route.scope}, but the authorizer grants it ` +
        `${grant ? grant.scope : 'to no scope'} (ROUTE_GRANTS in shared/auth/policy.ts)`,
    );
  }
}

/**
 * Regional, throttled, traced, with JSON access logs and execution errors logged. Unless
 * `accountCloudWatchRole` is off, it also sets the account-wide role API Gateway writes execution logs with.
 */
function createRestApi(
  scope: Construct,
  props: IntegrationApiProps,
  accessLogs: logs.LogGroup,
): apigw.RestApi {
  const accountCloudWatchRole = props.accountCloudWatchRole ?? true;
  const api = new apigw.RestApi(scope, 'Api', {
    restApiName: `${props.prefix}-api`,
    description: 'DACS <-> Edge DERMS integration',
    endpointTypes: [apigw.EndpointType.REGIONAL],
    // With a custom domain (TLS 1.2), the execute-api endpoint (TLS 1.0 and up) is no way around it.
    disableExecuteApiEndpoint: props.domain !== undefined,
    cloudWatchRole: accountCloudWatchRole,
    cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN,
    deployOptions: {
      stageName: props.stageName,
      throttlingRateLimit: props.throttleRateLimit ?? 50,
      throttlingBurstLimit: props.throttleBurstLimit ?? 100,
      methodOptions: routeMethodOptions(props.routeThrottles ?? {}),
      ...STAGE_METHOD_DEFAULTS,
      tracingEnabled: true,
      accessLogDestination: new apigw.LogGroupLogDestination(accessLogs),
      accessLogFormat: apigw.AccessLogFormat.jsonWithStandardFields({
        caller: true,
        httpMethod: true,
        ip: true,
        protocol: true,
        requestTime: true,
        resourcePath: true,
        responseLength: true,
        status: true,
        user: true,
      }),
    },
  });
  if (accountCloudWatchRole) {
    acknowledge(
      api.node.findChild('CloudWatchRole'),
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      'The account-wide role API Gateway uses to write execution logs. AWS maintains this managed policy ' +
        'for exactly that purpose, and the role is assumable by apigateway.amazonaws.com only.',
    );
  }
  return api;
}

/** What every method of the stage logs and measures; a method with its own throttle repeats them. */
const STAGE_METHOD_DEFAULTS = {
  metricsEnabled: true,
  loggingLevel: apigw.MethodLoggingLevel.ERROR,
  dataTraceEnabled: false,
} as const;

/** `METHOD /path` → the stage's method settings key `/path/METHOD`, with the route's throttle. */
function routeMethodOptions(
  throttles: NonNullable<IntegrationApiProps['routeThrottles']>,
): Record<string, apigw.MethodDeploymentOptions> {
  return Object.fromEntries(
    Object.entries(throttles).map(([route, figures]) => {
      const [method, path] = route.split(' ') as [string, string];
      return [
        `${path}/${method}`,
        {
          ...STAGE_METHOD_DEFAULTS,
          throttlingRateLimit: figures.rateLimit,
          throttlingBurstLimit: figures.burstLimit,
        },
      ];
    }),
  );
}

/**
 * API Gateway writes execution logs to a group it creates on first use, without a retention. Created
 * here first, with one, and before the stage, so that API Gateway finds it.
 */
function createExecutionLogs(
  scope: Construct,
  api: apigw.RestApi,
  props: IntegrationApiProps,
): logs.LogGroup {
  const group = new logs.LogGroup(scope, 'ExecutionLogs', {
    logGroupName: Fn.join('', ['API-Gateway-Execution-Logs_', api.restApiId, '/', props.stageName]),
    retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.DESTROY,
  });
  api.deploymentStage.node.addDependency(group);
  return group;
}

/** A regional custom domain with a TLS 1.2 security policy, mapped to the stage at its root. */
function addCustomDomain(
  scope: Construct,
  api: apigw.RestApi,
  domain: NonNullable<IntegrationApiProps['domain']>,
): apigw.DomainName {
  const name = new apigw.DomainName(scope, 'Domain', {
    domainName: domain.domainName,
    certificate: acm.Certificate.fromCertificateArn(scope, 'DomainCertificate', domain.certificateArn),
    endpointType: apigw.EndpointType.REGIONAL,
    securityPolicy: apigw.SecurityPolicy.TLS_1_2,
  });
  name.addBasePathMapping(api, { stage: api.deploymentStage });
  return name;
}

/**
 * The authorizer verifies the pool's access tokens itself (aws-jwt-verify); it needs no AWS permission
 * beyond its log group and X-Ray, which IntegrationFunction grants.
 */
function createAuthorizerFunction(
  scope: Construct,
  props: IntegrationApiProps,
  callers: CallerPool,
): IntegrationFunction {
  const authorizer = new IntegrationFunction(scope, 'AuthorizerFunction', {
    ...props.functionDefaults,
    logName: 'authorizer',
    entry: AUTHORIZER.handler,
    description: 'API authorizer: verifies Cognito access tokens, allows the routes of their scopes',
    timeout: Duration.seconds(10),
    memorySize: 512,
    reservedConcurrentExecutions: props.authorizerReservedConcurrency ?? 10,
    environment: {
      [AUTHORIZER.userPoolIdEnv]: callers.userPool.userPoolId,
      [AUTHORIZER.clientIdsEnv]: Fn.join(',', callers.clientIds),
    },
  });
  acknowledge(authorizer.function, 'Serverless-LambdaDLQ', REASONS.synchronousInvocation);
  return authorizer;
}

/**
 * Well-formed JSON only: the handler validates the schema and lists every violation as a 422, which
 * API Gateway's draft-04 validation cannot do.
 */
function addJsonBodyModel(api: apigw.RestApi): apigw.Model {
  return api.addModel('JsonBody', {
    contentType: 'application/json',
    modelName: 'JsonBody',
    description: 'Any well-formed JSON; the contract schema is applied by the ingest function.',
    schema: { schema: apigw.JsonSchemaVersion.DRAFT4, title: 'JsonBody' },
  });
}
