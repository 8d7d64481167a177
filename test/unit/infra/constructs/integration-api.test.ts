import { App, Stack } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { IntegrationApi } from '#infra/constructs/integration-api.ts';
import { AUTHORIZER } from '#shared/auth/policy.ts';
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
      const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }));
      const api = new IntegrationApi(stack, 'Api', {
        prefix: 'p',
        stageName: 's',
        functionDefaults: {
          powertools: { serviceName: 's', metricsNamespace: 'n', logLevel: 'INFO' },
          projectRoot: REPO_ROOT,
        },
      });
      const handler = built.stack.supportRoutes.message.function.function;
      const route = { method: 'GET' as const, path: SUPPORT_ROUTES.message.path, handler };
      expect(() => api.addRoute({ ...route, scope: CALLERS.dacs })).toThrow(/grants it integration\/support/);
      expect(() => api.addRoute({ ...route, path: '/v1/other', scope: CALLERS.support })).toThrow(/no scope/);
    });

    it('has one Lambda TOKEN authorizer on the Authorization header, its results cached 300 s', () => {
      const authorizers = Object.values(resourcesOfType('AWS::ApiGateway::Authorizer'));
      expect(authorizers).toHaveLength(1);
      expect(authorizers[0]!.Properties).toMatchObject({
        Type: 'TOKEN',
        IdentitySource: 'method.request.header.Authorization',
        AuthorizerResultTtlInSeconds: 300,
      });
      const fnLogicalId = fnId(built.stack.api.authorizerFunction);
      expect(JSON.stringify(authorizers[0]!.Properties.AuthorizerUri)).toContain(fnLogicalId);
      template().hasResourceProperties('AWS::Lambda::Permission', {
        Action: 'lambda:InvokeFunction',
        FunctionName: getAtt(fnLogicalId),
        Principal: 'apigateway.amazonaws.com',
      });
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
        if (key.startsWith('POST ')) expect(method.RequestModels).toHaveProperty(['application/json']);
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
