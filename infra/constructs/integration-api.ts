import { Aws, Duration, Fn, RemovalPolicy } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { type FunctionDefaults, IntegrationFunction } from '#infra/constructs/integration-function.ts';
import { acknowledge } from '#infra/nag.ts';
import { AUTHORIZER, ROUTE_GRANTS } from '#shared/auth/policy.ts';
import { CALLERS, type Caller, type Scope } from '#shared/flows/registry.ts';

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
   * @default Duration.minutes(5)
   */
  readonly authorizerCacheTtl?: Duration;
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
   * WAF rate-based rule: requests per source IP per 5 minutes before blocking.
   * @default 3000
   */
  readonly wafRateLimitPer5Min?: number;
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
   * Access log retention.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
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
}

/** The resource server identifier: the part before `/` of every caller scope (`integration`). */
const RESOURCE_SERVER_ID = (() => {
  const ids = new Set(Object.values(CALLERS).map((scope) => scope.split('/')[0]));
  if (ids.size !== 1) throw new Error('Every caller scope must share one resource server identifier');
  return [...ids][0] as string;
})();

/**
 * The REST API the callers reach: a Cognito user pool whose resource server holds one scope per caller
 * and one client-credentials app client per caller (granted its own scope only); every method behind a
 * Lambda TOKEN authorizer that verifies the pool's access tokens and answers as the contract says (401
 * for a missing, expired or forged token, 403 for a valid token without the route's scope; the Cognito
 * user-pool authorizer answers both with 401); request validation; stage throttling; JSON access logs;
 * X-Ray; a WAFv2 web ACL (AWS managed rule groups and a per-IP rate rule) on the stage; gateway errors
 * answered as `application/problem+json` like the handlers' own errors.
 */
export class IntegrationApi extends Construct {
  public readonly api: apigw.RestApi;
  public readonly userPool: cognito.UserPool;
  public readonly resourceServer: cognito.UserPoolResourceServer;
  public readonly domain: cognito.UserPoolDomain;
  /** One app client per caller, keyed like `CALLERS`. */
  public readonly clients: Readonly<Record<Caller, cognito.UserPoolClient>>;
  /** The Lambda TOKEN authorizer every route uses, and its function. */
  public readonly authorizer: apigw.TokenAuthorizer;
  public readonly authorizerFunction: IntegrationFunction;
  public readonly requestValidator: apigw.RequestValidator;
  public readonly jsonBodyModel: apigw.Model;
  public readonly accessLogs: logs.LogGroup;
  public readonly webAcl: wafv2.CfnWebACL;
  public readonly webAclAssociation: wafv2.CfnWebACLAssociation;

  private readonly oauthScopes: Record<string, cognito.OAuthScope>;

  constructor(scope: Construct, id: string, props: IntegrationApiProps) {
    super(scope, id);
    const removalPolicy = props.retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    // --- Cognito: machine-to-machine only, no users sign in.
    this.userPool = new cognito.UserPool(this, 'UserPool', {
      userPoolName: `${props.prefix}-callers`,
      selfSignUpEnabled: false,
      signInAliases: { username: true },
      passwordPolicy: {
        minLength: 14,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(1),
      },
      mfa: cognito.Mfa.REQUIRED,
      mfaSecondFactor: { sms: false, otp: true },
      accountRecovery: cognito.AccountRecovery.NONE,
      deletionProtection: props.retain ?? false,
      removalPolicy,
    });
    acknowledge(
      this.userPool,
      'AwsSolutions-COG8',
      'The pool has no users: callers are machine clients using the client-credentials grant, which the ' +
        'threat protection of the Plus plan does not evaluate. Plus would add cost without protecting anything.',
    );

    const scopeNames = Object.values(CALLERS).map((s) => s.split('/')[1] as string);
    const resourceScopes = Object.fromEntries(
      scopeNames.map((name) => [
        name,
        new cognito.ResourceServerScope({ scopeName: name, scopeDescription: `${name} caller` }),
      ]),
    );
    this.resourceServer = this.userPool.addResourceServer('ResourceServer', {
      identifier: RESOURCE_SERVER_ID,
      userPoolResourceServerName: `${props.prefix}-integration`,
      scopes: Object.values(resourceScopes),
    });
    // Literal scope strings (not resource-server tokens) so the template states exactly what each client
    // may ask for; the explicit dependency keeps the scopes created before the clients that use them.
    this.oauthScopes = Object.fromEntries(
      Object.values(CALLERS).map((scope) => [scope, cognito.OAuthScope.custom(scope)]),
    );
    this.clients = Object.fromEntries(
      (Object.keys(CALLERS) as Caller[]).map((caller) => [
        caller,
        this.userPool.addClient(`${caller}Client`, {
          userPoolClientName: `${props.prefix}-${caller}`,
          generateSecret: true,
          authFlows: {},
          oAuth: {
            flows: { clientCredentials: true },
            scopes: [this.oauthScopes[CALLERS[caller]]!],
          },
          accessTokenValidity: Duration.hours(1),
          enableTokenRevocation: true,
          preventUserExistenceErrors: true,
        }),
      ]),
    ) as Record<Caller, cognito.UserPoolClient>;
    for (const client of Object.values(this.clients)) client.node.addDependency(this.resourceServer);
    this.domain = this.userPool.addDomain('Domain', {
      cognitoDomain: { domainPrefix: props.cognitoDomainPrefix ?? `${props.prefix}-${Aws.ACCOUNT_ID}` },
    });

    // --- REST API.
    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      logGroupName: props.accessLogGroupName,
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy,
    });
    this.api = new apigw.RestApi(this, 'Api', {
      restApiName: `${props.prefix}-api`,
      description: 'DACS <-> Edge DERMS integration',
      endpointTypes: [apigw.EndpointType.REGIONAL],
      cloudWatchRole: props.accountCloudWatchRole ?? true,
      cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN,
      deployOptions: {
        stageName: props.stageName,
        throttlingRateLimit: props.throttleRateLimit ?? 50,
        throttlingBurstLimit: props.throttleBurstLimit ?? 100,
        tracingEnabled: true,
        metricsEnabled: true,
        loggingLevel: apigw.MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        accessLogDestination: new apigw.LogGroupLogDestination(this.accessLogs),
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
    if (props.accountCloudWatchRole ?? true) {
      const role = this.api.node.findChild('CloudWatchRole');
      acknowledge(
        role,
        'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        'The account-wide role API Gateway uses to write execution logs. AWS maintains this managed policy ' +
          'for exactly that purpose, and the role is assumable by apigateway.amazonaws.com only.',
      );
    }

    // The authorizer verifies the pool's access tokens itself (aws-jwt-verify); it needs no AWS
    // permission beyond its log group and X-Ray, which IntegrationFunction grants.
    this.authorizerFunction = new IntegrationFunction(this, 'AuthorizerFunction', {
      ...props.functionDefaults,
      logName: 'authorizer',
      entry: AUTHORIZER.handler,
      description: 'API authorizer: verifies Cognito access tokens, allows the routes of their scopes',
      timeout: Duration.seconds(10),
      memorySize: 512,
      environment: {
        [AUTHORIZER.userPoolIdEnv]: this.userPool.userPoolId,
        [AUTHORIZER.clientIdsEnv]: Fn.join(
          ',',
          (Object.keys(CALLERS) as Caller[]).map((caller) => this.clients[caller].userPoolClientId),
        ),
      },
    });
    this.authorizer = new apigw.TokenAuthorizer(this, 'Authorizer', {
      authorizerName: `${props.prefix}-token`,
      handler: this.authorizerFunction.function,
      identitySource: apigw.IdentitySource.header('Authorization'),
      resultsCacheTtl: props.authorizerCacheTtl ?? Duration.minutes(5),
    });
    this.requestValidator = this.api.addRequestValidator('Validator', {
      requestValidatorName: 'parameters-and-json-body',
      validateRequestParameters: true,
      validateRequestBody: true,
    });
    // Well-formed JSON only: the handler validates the schema and lists every violation as a 422, which
    // API Gateway's draft-04 validation cannot do.
    this.jsonBodyModel = this.api.addModel('JsonBody', {
      contentType: 'application/json',
      modelName: 'JsonBody',
      description: 'Any well-formed JSON; the contract schema is applied by the ingest function.',
      schema: { schema: apigw.JsonSchemaVersion.DRAFT4, title: 'JsonBody' },
    });
    this.addProblemResponses();

    // --- WAF.
    this.webAcl = new wafv2.CfnWebACL(this, 'WebAcl', {
      name: `${props.prefix}-api`,
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      visibilityConfig: visibility(`${props.prefix}-api`),
      rules: [
        {
          name: 'RatePerSourceIp',
          priority: 0,
          action: { block: {} },
          statement: {
            rateBasedStatement: { limit: props.wafRateLimitPer5Min ?? 3000, aggregateKeyType: 'IP' },
          },
          visibilityConfig: visibility('RatePerSourceIp'),
        },
        managedRuleGroup('AWSManagedRulesAmazonIpReputationList', 1),
        managedRuleGroup('AWSManagedRulesCommonRuleSet', 2, [
          // Asset syncs and acks of 10,000 devices run to megabytes; the contract allows 5 MiB bodies,
          // which the function checks (413). This rule would block anything over 8 KB.
          { name: 'SizeRestrictions_BODY', actionToUse: { count: {} } },
        ]),
        managedRuleGroup('AWSManagedRulesKnownBadInputsRuleSet', 3),
      ],
    });
    this.webAclAssociation = new wafv2.CfnWebACLAssociation(this, 'WebAclAssociation', {
      resourceArn: this.api.deploymentStage.stageArn,
      webAclArn: this.webAcl.attrArn,
    });
  }

  /** The OAuth scope object for a caller's scope, e.g. for extra clients. */
  public oauthScope(scope: Scope): cognito.OAuthScope {
    return this.oauthScopes[scope]!;
  }

  /** The Cognito token endpoint callers post `grant_type=client_credentials` to. */
  public get tokenUrl(): string {
    return `${this.domain.baseUrl()}/oauth2/token`;
  }

  /**
   * Adds one contract route behind the Lambda authorizer, which allows it to tokens carrying the route's
   * scope in the flow registry. Throws when the registry grants the route no scope, or another one.
   */
  public addRoute(route: ApiRouteOptions): apigw.Method {
    const grant = ROUTE_GRANTS.find((g) => g.method === route.method && g.path === route.path);
    if (grant?.scope !== route.scope) {
      throw new Error(
        `Route ${route.method} ${route.path} needs ${route.scope}, but the authorizer grants it ` +
          `${grant ? grant.scope : 'to no scope'} (ROUTE_GRANTS in shared/auth/policy.ts)`,
      );
    }
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
      requestModels: route.method === 'POST' ? { 'application/json': this.jsonBodyModel } : undefined,
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

  private addProblemResponses(): void {
    const problem = (status: number, title: string, detail: string) =>
      `{"type":"about:blank","title":"${title}","status":${status},"detail":${detail}}`;
    const responses: [string, apigw.ResponseType, number, string, string][] = [
      [
        'BadRequestBody',
        apigw.ResponseType.BAD_REQUEST_BODY,
        400,
        'Bad Request',
        '"$context.error.validationErrorString"',
      ],
      [
        'BadRequestParameters',
        apigw.ResponseType.BAD_REQUEST_PARAMETERS,
        400,
        'Bad Request',
        '"$context.error.validationErrorString"',
      ],
      ['Unauthorized', apigw.ResponseType.UNAUTHORIZED, 401, 'Unauthorized', '$context.error.messageString'],
      [
        'MissingToken',
        apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN,
        401,
        'Unauthorized',
        '$context.error.messageString',
      ],
      ['AccessDenied', apigw.ResponseType.ACCESS_DENIED, 403, 'Forbidden', '$context.error.messageString'],
      [
        'TooLarge',
        apigw.ResponseType.REQUEST_TOO_LARGE,
        413,
        'Content Too Large',
        '$context.error.messageString',
      ],
      ['Throttled', apigw.ResponseType.THROTTLED, 429, 'Too Many Requests', '$context.error.messageString'],
      ['WafBlocked', apigw.ResponseType.WAF_FILTERED, 403, 'Forbidden', '$context.error.messageString'],
      [
        'Default5xx',
        apigw.ResponseType.DEFAULT_5XX,
        503,
        'Service Unavailable',
        '"The request may not have been accepted; retrying with the same body is safe."',
      ],
    ];
    // The authorizer's two answers carry the challenge the handlers' own 401/403 carry (RFC 6750).
    const challenges: Record<string, string> = {
      Unauthorized: "'Bearer'",
      AccessDenied: '\'Bearer error="insufficient_scope"\'',
    };
    for (const [id, type, status, title, detail] of responses) {
      this.api.addGatewayResponse(id, {
        type,
        statusCode: String(status),
        responseHeaders: {
          'Content-Type': "'application/problem+json'",
          ...(challenges[id] ? { 'WWW-Authenticate': challenges[id] } : {}),
        },
        templates: { 'application/json': problem(status, title, detail) },
      });
    }
  }
}

function visibility(metricName: string): wafv2.CfnWebACL.VisibilityConfigProperty {
  return { cloudWatchMetricsEnabled: true, metricName, sampledRequestsEnabled: true };
}

function managedRuleGroup(
  name: string,
  priority: number,
  ruleActionOverrides?: wafv2.CfnWebACL.RuleActionOverrideProperty[],
): wafv2.CfnWebACL.RuleProperty {
  return {
    name,
    priority,
    overrideAction: { none: {} },
    statement: { managedRuleGroupStatement: { vendorName: 'AWS', name, ruleActionOverrides } },
    visibilityConfig: visibility(name),
  };
}
