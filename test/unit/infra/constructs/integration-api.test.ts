import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import {
  AUTHORIZATION_PATTERN,
  IntegrationApi,
  type IntegrationApiProps,
} from '#infra/constructs/integration-api.ts';
import { AUTHORIZER } from '#shared/auth/policy.ts';
import { bearerToken } from '#shared/auth/verifier.ts';
import { CALLERS, flowList, SUPPORT_ROUTES } from '#shared/flows/registry.ts';
import { PROBLEMS } from '#shared/handlers/problems.ts';
import {
  authorizerAllows,
  devStage,
  fnId,
  getAtt,
  ref,
  resourcesOfType,
  roleId,
  SYNTH_TIMEOUT,
  template,
} from '../fixtures.ts';
import {
  actionsOf,
  logicalId,
  methodsByRoute,
  REPO_ROOT,
  resourcesOf,
  type Synthesized,
  statementsOfRole,
} from '../synth.ts';

let built: Synthesized;

beforeAll(() => {
  built = devStage();
}, SYNTH_TIMEOUT);

const CERTIFICATE = 'arn:aws:acm:us-west-2:111122223333:certificate/0123abcd-0123-4567-89ab-0123456789ab';

/** An API on a bare stack, for the options the stages do not use. */
function bareApi(props: Partial<IntegrationApiProps> = {}): { api: IntegrationApi; stack: Stack } {
  const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }));
  const api = new IntegrationApi(stack, 'Api', {
    prefix: 'p',
    stageName: 's',
    functionDefaults: {
      powertools: { serviceName: 's', metricsNamespace: 'n', logLevel: 'INFO' },
      projectRoot: REPO_ROOT,
    },
    firewall: { maxBodyBytes: 3_000_000 },
    ...props,
  });
  return { api, stack };
}

/** A bare API with one route, so that it synthesizes. */
function bareApiWithRoute(props: Partial<IntegrationApiProps>): { api: IntegrationApi; stack: Stack } {
  const bare = bareApi(props);
  bare.api.addRoute({
    method: 'GET',
    path: SUPPORT_ROUTES.message.path,
    scope: CALLERS.support,
    handler: bare.api.authorizerFunction.function,
  });
  return bare;
}

describe('IntegrationApi', () => {
  describe('routes and scopes', () => {
    const allRoutes = [
      ...flowList().map((f) => ({ key: `${f.route.method} ${f.route.path}`, scope: f.scope })),
      ...Object.values(SUPPORT_ROUTES).map((r) => ({ key: `${r.method} ${r.path}`, scope: r.scope })),
    ];

    it('serves every contract route and nothing else', () => {
      expect(Object.keys(methodsByRoute(template())).sort()).toEqual(allRoutes.map((r) => r.key).sort());
    });

    it.each(allRoutes)(
      'puts $key behind the Lambda authorizer, which grants it to $scope',
      ({ key, scope }) => {
        const method = methodsByRoute(template())[key]!;
        expect(method.AuthorizationType).toBe('CUSTOM');
        expect(method.AuthorizerId).toEqual(ref(logicalId(built, built.stack.api.authorizer)));
        // Scopes are the authorizer's policy now; on the method they would be ignored (CUSTOM) or 401 (COGNITO).
        expect(method.AuthorizationScopes).toBeUndefined();
        expect(Object.values(CALLERS).filter((s) => authorizerAllows([s], key))).toEqual([scope]);
      },
    );

    it('refuses at synth a route whose scope is not the one the authorizer grants it', () => {
      const { api } = bareApi();
      const handler = built.stack.supportRoutes.message.function.function;
      const route = { method: 'GET' as const, path: SUPPORT_ROUTES.message.path, handler };
      expect(() => api.addRoute({ ...route, scope: CALLERS.dacs })).toThrow(/grants it integration\/support/);
      expect(() => api.addRoute({ ...route, path: '/v1/other', scope: CALLERS.support })).toThrow(/no scope/);
    });

    it('has one Lambda TOKEN authorizer on the Authorization header, its answers cached at most 60 s', () => {
      // An expired token is refused within a minute: the cache holds an answer no longer than that.
      const authorizers = Object.values(resourcesOfType('AWS::ApiGateway::Authorizer'));
      expect(authorizers).toHaveLength(1);
      expect(authorizers[0]!.Properties).toMatchObject({
        Type: 'TOKEN',
        IdentitySource: 'method.request.header.Authorization',
        IdentityValidationExpression: AUTHORIZATION_PATTERN,
      });
      expect(authorizers[0]!.Properties.AuthorizerResultTtlInSeconds).toBeLessThanOrEqual(60);
      const fnLogicalId = fnId(built.stack.api.authorizerFunction);
      expect(JSON.stringify(authorizers[0]!.Properties.AuthorizerUri)).toContain(fnLogicalId);
      template().hasResourceProperties('AWS::Lambda::Permission', {
        Action: 'lambda:InvokeFunction',
        FunctionName: getAtt(fnLogicalId),
        Principal: 'apigateway.amazonaws.com',
      });
    });

    it.each([
      ['Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln', true],
      ['bearer abc.def.ghi', true],
      ['BEARER\tabc==', true],
      ['Basic ZGFjczpzZWNyZXQ=', false],
      ['Bearer', false],
      ['Bearer a b', false],
      ['eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln', false],
    ])(
      'lets API Gateway refuse a malformed Authorization (401) without invoking the authorizer: %s → %p',
      (header, valid) => {
        expect(new RegExp(AUTHORIZATION_PATTERN).test(header)).toBe(valid);
        // Never stricter than the authorizer itself: what it would take, the gateway passes on.
        expect(bearerToken(header) !== undefined).toBe(valid);
      },
    );

    it('reserves the authorizer concurrency of its own', () => {
      const fn = template().toJSON().Resources[fnId(built.stack.api.authorizerFunction)].Properties;
      expect(fn.ReservedConcurrentExecutions).toBe(built.config.authorizerReservedConcurrency);
      expect(fn.ReservedConcurrentExecutions).toBeGreaterThan(0);
    });

    it('tells the authorizer the user pool and the three callers’ app clients', () => {
      const env =
        template().toJSON().Resources[fnId(built.stack.api.authorizerFunction)].Properties.Environment
          .Variables;
      expect(env[AUTHORIZER.userPoolIdEnv]).toEqual(ref(logicalId(built, built.stack.api.callers.userPool)));
      expect(env[AUTHORIZER.clientIdsEnv]).toEqual({
        'Fn::Join': [
          ',',
          Object.keys(CALLERS).map((caller) =>
            ref(logicalId(built, built.stack.api.callers.clients[caller as keyof typeof CALLERS])),
          ),
        ],
      });
    });

    it('validates the request parameters (Authorization, path parameters) and the JSON body', () => {
      const validatorId = logicalId(built, built.stack.api.requestValidator);
      template().hasResourceProperties('AWS::ApiGateway::RequestValidator', {
        ValidateRequestParameters: true,
        ValidateRequestBody: true,
      });
      for (const [key, method] of Object.entries(methodsByRoute(template()))) {
        expect(method.RequestValidatorId).toEqual(ref(validatorId));
        const params = method.RequestParameters as Record<string, boolean>;
        expect(params['method.request.header.Authorization']).toBe(true);
        for (const [, name] of key.matchAll(/\{([^}]+)\}/g))
          expect(params[`method.request.path.${name}`]).toBe(true);
        // The support resubmits take no body, so they have no JSON body model.
        if (key.endsWith('/resubmit')) expect(method.RequestModels).toBeUndefined();
        else if (key.startsWith('POST ')) expect(method.RequestModels).toHaveProperty(['application/json']);
      }
    });

    it('sends each route to its own function', () => {
      for (const flow of flowList()) {
        const method = methodsByRoute(template())[`POST ${flow.route.path}`]!;
        const uri = JSON.stringify((method.Integration as Record<string, unknown>).Uri);
        expect(uri).toContain(fnId(built.stack.ingestRoutes[flow.id].function));
      }
    });
  });

  describe('stage', () => {
    const stageProps = () => Object.values(resourcesOfType('AWS::ApiGateway::Stage'))[0]!.Properties;
    /** The method setting of `METHOD /path`, as API Gateway encodes the path (`/` → `~1`). */
    const settingOf = (route: string) => {
      const [method, path] = route.split(' ') as [string, string];
      return (stageProps().MethodSettings as Record<string, unknown>[]).find(
        (m) => m.HttpMethod === method && m.ResourcePath === `/${path.replaceAll('/', '~1')}`,
      );
    };

    it('gives every route a throttle bucket of its own, at its cdk.json figures', () => {
      const routes = Object.keys(methodsByRoute(template()));
      for (const route of routes) {
        const setting = settingOf(route);
        expect(setting).toMatchObject({
          LoggingLevel: 'ERROR',
          MetricsEnabled: true,
          DataTraceEnabled: false,
        });
        expect(setting!.ThrottlingRateLimit).toEqual(expect.any(Number));
      }
      for (const flow of flowList()) {
        expect(settingOf(`POST ${flow.route.path}`)).toMatchObject({
          ThrottlingRateLimit: built.config.apiThrottle.routes[flow.id].rateLimit,
          ThrottlingBurstLimit: built.config.apiThrottle.routes[flow.id].burstLimit,
        });
      }
    });

    it('keeps the opt-outs a share that bulk asset syncs cannot take: the route buckets add up to the stage’s', () => {
      const routes = Object.keys(methodsByRoute(template()));
      const sum = (figure: string) => routes.reduce((n, r) => n + (settingOf(r)![figure] as number), 0);
      const stageDefault = (stageProps().MethodSettings as Record<string, unknown>[]).find(
        (m) => m.ResourcePath === '/*',
      )!;
      expect(sum('ThrottlingRateLimit')).toBeLessThanOrEqual(stageDefault.ThrottlingRateLimit as number);
      expect(sum('ThrottlingBurstLimit')).toBeLessThanOrEqual(stageDefault.ThrottlingBurstLimit as number);
      const optOut = settingOf('POST /v1/dacs/event-opt-outs')!;
      const assetSync = settingOf('POST /v1/dacs/asset-sync')!;
      expect(optOut.ThrottlingRateLimit).toBeGreaterThan(0);
      // Asset syncs exhaust their own bucket (429) while the opt-outs' stays full.
      expect(assetSync.ThrottlingRateLimit as number).toBeLessThan(
        stageDefault.ThrottlingRateLimit as number,
      );
    });

    it('writes execution logs to a group it creates with a retention, before the stage', () => {
      const groupId = logicalId(built, built.stack.api.executionLogs);
      const group = template().toJSON().Resources[groupId];
      expect(group.Properties.RetentionInDays).toBe(built.config.logRetentionDays);
      expect(JSON.stringify(group.Properties.LogGroupName)).toContain('API-Gateway-Execution-Logs_');
      const stage = Object.values(template().findResources('AWS::ApiGateway::Stage'))[0]!;
      expect(stage.DependsOn).toContain(groupId);
    });

    it('throttles, traces and access-logs the stage, and logs execution errors', () => {
      template().hasResourceProperties('AWS::ApiGateway::Stage', {
        StageName: 'dev',
        TracingEnabled: true,
        AccessLogSetting: Match.objectLike({ DestinationArn: Match.anyValue(), Format: Match.anyValue() }),
        MethodSettings: Match.arrayWith([
          Match.objectLike({
            HttpMethod: '*',
            ResourcePath: '/*',
            LoggingLevel: 'ERROR',
            ThrottlingRateLimit: Match.anyValue(),
            ThrottlingBurstLimit: Match.anyValue(),
          }),
        ]),
      });
    });

    it('answers gateway errors as problem+json', () => {
      template().hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
        ResponseType: 'BAD_REQUEST_BODY',
        StatusCode: '400',
        ResponseParameters: { 'gatewayresponse.header.Content-Type': "'application/problem+json'" },
      });
    });

    it.each([
      ['THROTTLED', '1'],
      ['DEFAULT_5XX', '5'],
    ])('answers %s with Retry-After, as the contract’s 429 and 503 always carry', (responseType, seconds) => {
      template().hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
        ResponseType: responseType,
        ResponseParameters: Match.objectLike({ 'gatewayresponse.header.Retry-After': `'${seconds}'` }),
      });
    });

    it.each([
      ['REQUEST_TOO_LARGE', PROBLEMS.contentTooLarge],
      ['UNAUTHORIZED', PROBLEMS.unauthenticated],
      ['THROTTLED', PROBLEMS.throttled],
      ['DEFAULT_5XX', PROBLEMS.unavailable],
    ])('answers %s with the type and title of the one problem table', (responseType, problem) => {
      const responses = template().findResources('AWS::ApiGateway::GatewayResponse', {
        Properties: { ResponseType: responseType },
      });
      const [body] = Object.values(responses).map((r) => r.Properties.ResponseTemplates['application/json']);
      expect(body).toContain(
        `"type":"${problem.type}","title":"${problem.title}","status":${problem.status}`,
      );
    });

    it('answers the authorizer’s refusals as the contract says: 401 for the token, 403 for the route', () => {
      template().hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
        ResponseType: 'UNAUTHORIZED',
        StatusCode: '401',
        ResponseParameters: {
          'gatewayresponse.header.Content-Type': "'application/problem+json'",
          'gatewayresponse.header.WWW-Authenticate': "'Bearer'",
        },
        ResponseTemplates: { 'application/json': Match.stringLikeRegexp('"status":401') },
      });
      template().hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
        ResponseType: 'ACCESS_DENIED',
        StatusCode: '403',
        ResponseParameters: {
          'gatewayresponse.header.Content-Type': "'application/problem+json'",
          'gatewayresponse.header.WWW-Authenticate': `'Bearer error="insufficient_scope"'`,
        },
        ResponseTemplates: { 'application/json': Match.stringLikeRegexp('"status":403') },
      });
    });
  });

  describe('custom domains', () => {
    it('keeps the execute-api endpoint when there is no custom domain', () => {
      expect(
        Object.values(resourcesOfType('AWS::ApiGateway::RestApi'))[0]!.Properties.DisableExecuteApiEndpoint,
      ).toBe(false);
      template().resourceCountIs('AWS::ApiGateway::DomainName', 0);
    });

    it('serves a custom domain with TLS 1.2 and switches the execute-api endpoint (TLS 1.0) off', () => {
      const { api, stack } = bareApiWithRoute({
        domain: { domainName: 'api.utility.corp', certificateArn: CERTIFICATE },
      });
      const t = Template.fromStack(stack);
      t.hasResourceProperties('AWS::ApiGateway::DomainName', {
        DomainName: 'api.utility.corp',
        SecurityPolicy: 'TLS_1_2',
        RegionalCertificateArn: CERTIFICATE,
        EndpointConfiguration: { Types: ['REGIONAL'] },
      });
      t.hasResourceProperties('AWS::ApiGateway::RestApi', { DisableExecuteApiEndpoint: true });
      t.resourceCountIs('AWS::ApiGateway::BasePathMapping', 1);
      expect(api.url).toBe('https://api.utility.corp/');
    });

    it('adds a custom token domain beside the prefix domain, and the token URL uses it', () => {
      const { api, stack } = bareApiWithRoute({
        tokenDomain: {
          domainName: 'auth.utility.corp',
          certificateArn: CERTIFICATE.replace('us-west-2', 'us-east-1'),
        },
      });
      const t = Template.fromStack(stack);
      t.resourceCountIs('AWS::Cognito::UserPoolDomain', 2);
      t.hasResourceProperties('AWS::Cognito::UserPoolDomain', {
        Domain: 'auth.utility.corp',
        CustomDomainConfig: { CertificateArn: CERTIFICATE.replace('us-west-2', 'us-east-1') },
      });
      const customDomainId = stack.getLogicalId(api.callers.customDomain!.node.defaultChild as never);
      expect(stack.resolve(api.callers.tokenUrl)).toEqual({
        'Fn::Join': ['', ['https://', { Ref: customDomainId }, '/oauth2/token']],
      });
    });
  });

  describe('least privilege', () => {
    it('gives the authorizer nothing beyond its log group and X-Ray', () => {
      const statements = statementsOfRole(template(), roleId(built.stack.api.authorizerFunction));
      const actions = statements.flatMap(actionsOf);
      expect(actions.length).toBeGreaterThan(0);
      for (const action of actions) expect(action).toMatch(/^(logs|xray):/);
      const logGroupId = logicalId(built, built.stack.api.authorizerFunction.logGroup);
      for (const s of statements.filter((st) => actionsOf(st).some((a) => a.startsWith('logs:')))) {
        for (const r of resourcesOf(s)) expect(JSON.stringify(r)).toContain(logGroupId);
      }
    });
  });
});
