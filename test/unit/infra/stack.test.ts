import { App, Stack } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { IntegrationApi } from '#infra/constructs/integration-api.ts';
import { AUTHORIZER, policyFor } from '#shared/auth/policy.ts';
import { receiveLimit, retryPolicyFromEnv } from '#shared/delivery/retry.ts';
import { CALLERS, FLOWS, flowList, SUPPORT_ROUTES, SWEEP } from '#shared/flows/registry.ts';
import { CORRELATION_TABLE, IDEMPOTENCY_TABLE, TABLES, TRACE_TABLE } from '#shared/store/tables.ts';
import {
  actionsOf,
  logicalId,
  methodsByRoute,
  REPO_ROOT,
  resourcesOf,
  type Synthesized,
  statementsOfRole,
  synthStage,
} from './synth.ts';

let built: Synthesized;

beforeAll(() => {
  built = synthStage('dev');
}, 120_000);

const template = () => built.template;
const resourcesOfType = (type: string) => template().findResources(type);
const fnId = (f: { function: { node: { defaultChild?: unknown } } }) => logicalId(built, f.function);
const roleId = (f: { role: { node: { defaultChild?: unknown } } }) => logicalId(built, f.role);
const getAtt = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });
const ref = (id: string) => ({ Ref: id });

/** Whether the authorizer's policy for a token carrying `scopes` allows the route `METHOD /path`. */
const authorizerAllows = (scopes: readonly string[], route: string): boolean => {
  const [verb, path] = route.split(' ') as [string, string];
  const arn = `arn:aws:execute-api:eu-west-1:123456789012:api/dev/${verb}${path.replace(/\{[^}]+\}/g, '*')}`;
  const statement = policyFor(scopes, arn).Statement[0] as { Effect: string; Resource: string | string[] };
  return statement.Effect === 'Allow' && [statement.Resource].flat().includes(arn);
};

describe('API routes and scopes', () => {
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
    expect(env[AUTHORIZER.userPoolIdEnv]).toEqual(ref(logicalId(built, built.stack.api.userPool)));
    expect(env[AUTHORIZER.clientIdsEnv]).toEqual({
      'Fn::Join': [
        ',',
        Object.keys(CALLERS).map((caller) =>
          ref(logicalId(built, built.stack.api.clients[caller as keyof typeof CALLERS])),
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

describe('Cognito callers', () => {
  const clients = () => resourcesOfType('AWS::Cognito::UserPoolClient');
  const clientOf = (caller: string) =>
    Object.values(clients()).find((c) => c.Properties.ClientName === `dacs-derms-dev-${caller}`)!.Properties;

  it('has a resource server with the dacs, derms and support scopes', () => {
    template().hasResourceProperties('AWS::Cognito::UserPoolResourceServer', {
      Identifier: 'integration',
      Scopes: Match.arrayWith(['dacs', 'derms', 'support'].map((s) => Match.objectLike({ ScopeName: s }))),
    });
  });

  it('issues one client-credentials app client per caller, with a secret and only its own scope', () => {
    expect(Object.keys(clients())).toHaveLength(Object.keys(CALLERS).length);
    for (const [caller, scope] of Object.entries(CALLERS)) {
      const client = clientOf(caller);
      expect(client.GenerateSecret).toBe(true);
      expect(client.AllowedOAuthFlows).toEqual(['client_credentials']);
      expect(client.AllowedOAuthScopes).toEqual([scope]);
    }
  });

  it('leaves DERMS no way onto a DACS route, and DACS none onto a DERMS route', () => {
    // What each caller's token can carry (its client's scopes) against what the authorizer allows for it.
    const routes = methodsByRoute(template());
    const reachable = (caller: string) =>
      Object.keys(routes).filter((key) => authorizerAllows(clientOf(caller).AllowedOAuthScopes, key));
    expect(reachable('derms').sort()).toEqual(
      flowList()
        .filter((f) => f.caller === 'derms')
        .map((f) => `POST ${f.route.path}`)
        .sort(),
    );
    expect(reachable('derms').some((k) => k.includes('/v1/dacs/'))).toBe(false);
    expect(reachable('dacs').some((k) => k.includes('/v1/derms/'))).toBe(false);
    expect(reachable('dacs').sort()).toEqual(
      flowList()
        .filter((f) => f.caller === 'dacs')
        .map((f) => `POST ${f.route.path}`)
        .sort(),
    );
    expect(clientOf('derms').AllowedOAuthScopes).not.toContain(CALLERS.dacs);
  });

  it('publishes a Cognito domain for the token endpoint', () => {
    template().resourceCountIs('AWS::Cognito::UserPoolDomain', 1);
  });
});

describe('API stage and WAF', () => {
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

  it('has a regional web ACL with AWS managed rules and a per-IP rate rule', () => {
    template().hasResourceProperties('AWS::WAFv2::WebACL', {
      Scope: 'REGIONAL',
      DefaultAction: { Allow: {} },
      Rules: Match.arrayWith([
        Match.objectLike({
          Statement: { RateBasedStatement: { Limit: Match.anyValue(), AggregateKeyType: 'IP' } },
        }),
        Match.objectLike({
          Statement: {
            ManagedRuleGroupStatement: {
              VendorName: 'AWS',
              Name: 'AWSManagedRulesCommonRuleSet',
              RuleActionOverrides: [{ Name: 'SizeRestrictions_BODY', ActionToUse: { Count: {} } }],
            },
          },
        }),
        Match.objectLike({
          Statement: {
            ManagedRuleGroupStatement: Match.objectLike({
              VendorName: 'AWS',
              Name: 'AWSManagedRulesKnownBadInputsRuleSet',
            }),
          },
        }),
      ]),
    });
  });

  it('associates the web ACL with the API stage', () => {
    const stageId = logicalId(built, built.stack.api.api.deploymentStage);
    const aclId = logicalId(built, { node: { defaultChild: built.stack.api.webAcl } });
    const [association] = Object.values(resourcesOfType('AWS::WAFv2::WebACLAssociation'));
    expect(association!.Properties.WebACLArn).toEqual(getAtt(aclId));
    expect(JSON.stringify(association!.Properties.ResourceArn)).toContain(`{"Ref":"${stageId}"}`);
  });
});

describe('queues', () => {
  const queueProps = (construct: { node: { defaultChild?: unknown } }) =>
    template().toJSON().Resources[logicalId(built, construct)].Properties;

  it.each(flowList())('$id: DLQ with maxReceiveCount derived from the retry window, kept 14 days', (flow) => {
    const p = built.stack.processors[flow.id];
    const queue = queueProps(p.queue);
    const dlq = queueProps(p.deadLetterQueue);
    expect(queue.RedrivePolicy).toEqual({
      deadLetterTargetArn: getAtt(logicalId(built, p.deadLetterQueue)),
      maxReceiveCount: receiveLimit(retryPolicyFromEnv({})),
    });
    expect(dlq.MessageRetentionPeriod).toBe(14 * 86_400);
    expect(dlq.RedrivePolicy).toBeUndefined();
  });

  it.each(flowList())('$id: visibility timeout is 6 x the process function timeout', (flow) => {
    const p = built.stack.processors[flow.id];
    expect(queueProps(p.queue).VisibilityTimeout).toBe(6 * flow.queue.functionTimeoutSeconds);
    expect(queueProps(p.function.function).Timeout).toBe(flow.queue.functionTimeoutSeconds);
  });

  it('is FIFO exactly where the registry needs per-device order (unavailability, asset sync)', () => {
    expect(FLOWS.unavailability.queue.fifo && FLOWS.assetSync.queue.fifo).toBe(true);
    for (const flow of flowList()) {
      const p = built.stack.processors[flow.id];
      for (const q of [queueProps(p.queue), queueProps(p.deadLetterQueue)]) {
        expect(q.FifoQueue ?? false).toBe(flow.queue.fifo);
        expect((q.QueueName as string).endsWith('.fifo')).toBe(flow.queue.fifo);
      }
    }
  });

  it('gives opt-outs a queue and function of their own, never shared with asset syncs', () => {
    const optOut = built.stack.processors.optOut;
    const assetSync = built.stack.processors.assetSync;
    expect(logicalId(built, optOut.queue)).not.toBe(logicalId(built, assetSync.queue));
    const mappings = Object.values(resourcesOfType('AWS::Lambda::EventSourceMapping'));
    const forQueue = (q: string) =>
      mappings.filter((m) => JSON.stringify(m.Properties.EventSourceArn).includes(q));
    expect(forQueue(logicalId(built, optOut.queue))).toHaveLength(1);
    expect(forQueue(logicalId(built, optOut.queue))[0]!.Properties.FunctionName).toEqual(
      ref(fnId(optOut.function)),
    );
  });

  it('encrypts every queue and denies non-TLS access', () => {
    const queues = resourcesOfType('AWS::SQS::Queue');
    expect(Object.keys(queues)).toHaveLength(2 * flowList().length);
    for (const q of Object.values(queues)) expect(q.Properties.SqsManagedSseEnabled).toBe(true);
    const policies = Object.values(resourcesOfType('AWS::SQS::QueuePolicy'));
    const protectedQueues = policies
      .filter((p) =>
        (p.Properties.PolicyDocument.Statement as Record<string, unknown>[]).some(
          (s) =>
            s.Effect === 'Deny' && JSON.stringify(s.Condition) === '{"Bool":{"aws:SecureTransport":"false"}}',
        ),
      )
      .flatMap((p) => p.Properties.Queues as unknown[]);
    expect(protectedQueues).toHaveLength(Object.keys(queues).length);
  });
});

describe('event source mappings', () => {
  it.each(flowList())(
    '$id: partial batch failures, batch size and maxConcurrency from the registry',
    (flow) => {
      const p = built.stack.processors[flow.id];
      template().hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        EventSourceArn: getAtt(logicalId(built, p.queue)),
        FunctionName: ref(fnId(p.function)),
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        BatchSize: flow.queue.batchSize,
        ScalingConfig: { MaximumConcurrency: flow.queue.maxConcurrency },
      });
    },
  );
});

describe('tables', () => {
  const tableProps = (name: string) =>
    Object.values(resourcesOfType('AWS::DynamoDB::Table')).find(
      (t) => t.Properties.TableName === `dacs-derms-dev-${name}`,
    )!;

  it.each(TABLES.map((t) => ({ ...t })))('$name: on-demand, PITR, TTL on $ttlAttribute, encrypted', (def) => {
    const t = tableProps(def.name).Properties;
    expect(t.BillingMode).toBe('PAY_PER_REQUEST');
    expect(t.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    expect(t.TimeToLiveSpecification).toEqual({ AttributeName: def.ttlAttribute, Enabled: true });
    expect(t.SSESpecification).toEqual({ SSEEnabled: true });
  });

  it('gives the correlation table the sparse byDeadline index the sweep queries', () => {
    const t = tableProps(CORRELATION_TABLE.name).Properties;
    expect(t.GlobalSecondaryIndexes).toEqual([
      expect.objectContaining({
        IndexName: 'byDeadline',
        KeySchema: [
          { AttributeName: 'gsi1pk', KeyType: 'HASH' },
          { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
        ],
      }),
    ]);
    // Sparse: nothing but the index keys is declared, so only items carrying gsi1pk are indexed.
    expect(t.AttributeDefinitions).toEqual(
      expect.arrayContaining([{ AttributeName: 'gsi1pk', AttributeType: 'S' }]),
    );
  });

  it('has no deletion protection outside prod', () => {
    for (const t of Object.values(resourcesOfType('AWS::DynamoDB::Table'))) {
      expect(t.Properties.DeletionProtectionEnabled).toBe(false);
    }
  });
});

describe('claim-check bucket', () => {
  it('is encrypted, TLS only, private, logged, and expires objects after the retention', () => {
    const id = logicalId(built, built.stack.claimCheck.bucket);
    const bucket = template().toJSON().Resources[id].Properties;
    expect(
      bucket.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault,
    ).toEqual({
      SSEAlgorithm: 'AES256',
    });
    expect(bucket.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(bucket.LoggingConfiguration.DestinationBucketName).toEqual(
      ref(logicalId(built, built.stack.claimCheck.accessLogs)),
    );
    expect(bucket.LifecycleConfiguration.Rules).toEqual([
      expect.objectContaining({ ExpirationInDays: built.config.retentionDays, Status: 'Enabled' }),
    ]);
    template().hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: ref(id),
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });
});

describe('functions', () => {
  const functions = () => Object.values(resourcesOfType('AWS::Lambda::Function'));

  it('has one ingest and one process function per flow, one per support route, the sweep and the authorizer', () => {
    expect(functions()).toHaveLength(2 * flowList().length + Object.keys(SUPPORT_ROUTES).length + 2);
  });

  it('runs every function on nodejs24.x, arm64, traced, with Powertools and source maps', () => {
    for (const f of functions()) {
      expect(f.Properties.Runtime).toBe('nodejs24.x');
      expect(f.Properties.Architectures).toEqual(['arm64']);
      expect(f.Properties.TracingConfig).toEqual({ Mode: 'Active' });
      expect(f.Properties.LoggingConfig.LogGroup).toBeDefined();
      expect(f.Properties.Environment.Variables).toMatchObject({
        POWERTOOLS_SERVICE_NAME: 'dacs-derms-integration',
        POWERTOOLS_METRICS_NAMESPACE: 'DacsDermsIntegration/dev',
        POWERTOOLS_LOG_LEVEL: expect.any(String),
        NODE_OPTIONS: '--enable-source-maps',
      });
    }
  });

  it('gives every function its own log group with a retention', () => {
    const groups = Object.values(resourcesOfType('AWS::Logs::LogGroup'));
    expect(groups.filter((g) => typeof g.Properties.RetentionInDays === 'number').length).toBe(groups.length);
    expect(groups.length).toBeGreaterThanOrEqual(functions().length);
  });

  it('uses no AWS managed policy on function roles', () => {
    const fnRoles = new Set(
      functions().map((f) => (f.Properties.Role as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0]),
    );
    for (const [id, role] of Object.entries(resourcesOfType('AWS::IAM::Role'))) {
      if (fnRoles.has(id)) expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    }
  });

  it('wires ingest environments to the tables, the claim-check bucket and the flow queue', () => {
    for (const flow of flowList()) {
      const route = built.stack.ingestRoutes[flow.id];
      const env = template().toJSON().Resources[fnId(route.function)].Properties.Environment.Variables;
      expect(Object.keys(env)).toEqual(
        expect.arrayContaining([
          TRACE_TABLE.nameEnv,
          IDEMPOTENCY_TABLE.nameEnv,
          'CLAIM_CHECK_BUCKET',
          flow.queue.urlEnv,
        ]),
      );
      expect(env[flow.queue.urlEnv]).toEqual(ref(logicalId(built, built.stack.processors[flow.id].queue)));
      expect(env[CORRELATION_TABLE.nameEnv]).toBeUndefined();
      if (flow.deprecated) expect(env.LEGACY_ACK_MODE).toBe('forward');
      else expect(env.LEGACY_ACK_MODE).toBeUndefined();
    }
  });

  it('wires process environments to the receiver, its path, its credentials secret and the DLQ', () => {
    for (const flow of flowList()) {
      const p = built.stack.processors[flow.id];
      const env = template().toJSON().Resources[fnId(p.function)].Properties.Environment.Variables;
      const system = flow.target.system;
      const other = system === 'DERMS' ? 'DACS' : 'DERMS';
      expect(env[`${system}_BASE_URL`]).toBe(built.config.targets[system].baseUrl);
      expect(env[flow.target.pathEnv]).toBe(flow.target.defaultPath);
      expect(env[`${system}_CREDENTIALS_SECRET_ARN`]).toEqual(
        ref(logicalId(built, built.stack.credentials[system])),
      );
      expect(env[flow.queue.dlqUrlEnv]).toEqual(ref(logicalId(built, p.deadLetterQueue)));
      expect(env[`${other}_CREDENTIALS_SECRET_ARN`]).toBeUndefined();
      expect(JSON.stringify(env)).not.toMatch(/clientSecret/);
    }
  });
});

describe('least privilege', () => {
  const allStatements = () =>
    Object.values(resourcesOfType('AWS::IAM::Policy')).flatMap(
      (p) => p.Properties.PolicyDocument.Statement as Record<string, unknown>[],
    );

  it('uses Resource "*" only for X-Ray, which has no resource-level permissions', () => {
    for (const s of allStatements()) {
      if (resourcesOf(s).includes('*')) {
        expect(actionsOf(s).sort()).toEqual(['xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
      }
    }
  });

  it('lets a process function read only its own receiver credentials, send to its DLQ and change visibility', () => {
    for (const flow of flowList()) {
      const p = built.stack.processors[flow.id];
      const statements = statementsOfRole(template(), roleId(p.function));
      const secretReads = statements.filter((s) => actionsOf(s).includes('secretsmanager:GetSecretValue'));
      expect(secretReads.flatMap(resourcesOf)).toEqual([
        ref(logicalId(built, built.stack.credentials[flow.target.system])),
      ]);
      const sends = statements.filter((s) => actionsOf(s).includes('sqs:SendMessage'));
      expect(sends.flatMap(resourcesOf)).toEqual([getAtt(logicalId(built, p.deadLetterQueue))]);
      const visibility = statements.filter((s) => actionsOf(s).includes('sqs:ChangeMessageVisibility'));
      expect(visibility.flatMap(resourcesOf)).toEqual([getAtt(logicalId(built, p.queue))]);
    }
  });

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

  it('lets an ingest function send to its own queue only', () => {
    for (const flow of flowList()) {
      const statements = statementsOfRole(template(), roleId(built.stack.ingestRoutes[flow.id].function));
      const sends = statements.filter((s) => actionsOf(s).includes('sqs:SendMessage'));
      expect(sends.flatMap(resourcesOf)).toEqual([
        getAtt(logicalId(built, built.stack.processors[flow.id].queue)),
      ]);
      expect(statements.some((s) => actionsOf(s).some((a) => a.startsWith('secretsmanager:')))).toBe(false);
      const correlationId = logicalId(built, built.stack.tables.correlation);
      expect(JSON.stringify(statements)).not.toContain(correlationId);
    }
  });

  it('gives the support functions read-only access to the correlation and trace tables', () => {
    const tableIds = [built.stack.tables.correlation, built.stack.tables.trace].map((t) =>
      logicalId(built, t),
    );
    for (const route of Object.values(built.stack.supportRoutes)) {
      const statements = statementsOfRole(template(), roleId(route.function));
      const dynamo = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('dynamodb:')));
      for (const s of dynamo) {
        expect(actionsOf(s).filter((a) => /Put|Update|Delete|Write/.test(a))).toEqual([]);
        for (const r of resourcesOf(s))
          expect(tableIds.some((id) => JSON.stringify(r).includes(id))).toBe(true);
      }
      expect(dynamo.length).toBeGreaterThan(0);
    }
  });
});

describe('credentials secrets', () => {
  it('creates one secret per receiver with a generated placeholder and no value in the template', () => {
    const secrets = Object.values(resourcesOfType('AWS::SecretsManager::Secret'));
    expect(secrets).toHaveLength(2);
    for (const s of secrets) {
      expect(s.Properties.SecretString).toBeUndefined();
      expect(s.Properties.GenerateSecretString).toMatchObject({ GenerateStringKey: 'clientSecret' });
    }
  });
});

describe('deadline sweep', () => {
  it('runs on an EventBridge schedule at the registry rate', () => {
    template().hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: `rate(${SWEEP.rateMinutes} minute${SWEEP.rateMinutes === 1 ? '' : 's'})`,
      State: 'ENABLED',
      Targets: [Match.objectLike({ Arn: getAtt(fnId(built.stack.sweep.function)) })],
    });
  });

  it('reads the correlation table, updates items only to claim them, and sends to the consolidation queue only', () => {
    const statements = statementsOfRole(template(), roleId(built.stack.sweep.function));
    const sends = statements.filter((s) => actionsOf(s).includes('sqs:SendMessage'));
    expect(sends.flatMap(resourcesOf)).toEqual([
      getAtt(logicalId(built, built.stack.processors.assetSyncAck.queue)),
    ]);
    const writes = statements
      .flatMap(actionsOf)
      .filter((a) => /^dynamodb:(Put|Update|Delete|BatchWrite)/.test(a));
    expect(writes).toEqual(['dynamodb:UpdateItem']);
  });
});

describe('monitoring', () => {
  const alarms = () => Object.values(resourcesOfType('AWS::CloudWatch::Alarm'));
  const topicId = () => logicalId(built, built.stack.monitoring.alarmTopic);

  it('creates one dashboard for the stage showing every flow', () => {
    const dashboards = Object.values(resourcesOfType('AWS::CloudWatch::Dashboard'));
    expect(dashboards).toHaveLength(1);
    const body = JSON.stringify(dashboards[0]!.Properties.DashboardBody);
    for (const flow of flowList()) expect(body).toContain(`\\"flow\\",\\"${flow.id}\\"`);
    for (const metric of [
      'MessageReceived',
      'MessageDelivered',
      'DeliveryRetried',
      'MessageDeadLettered',
      'EndToEndLatency',
      'SyncRequestsOverdue',
      'LegacyAckReceived',
      'ApproximateAgeOfOldestMessage',
      '5XXError',
      '4XXError',
      'Throttles',
    ]) {
      expect(body).toContain(metric);
    }
  });

  /** The single metric (or expression) an alarm evaluates. */
  // biome-ignore lint/suspicious/noExplicitAny: template resources are untyped JSON
  const alarmOn = (a: any) =>
    (a.Properties.Metrics as { MetricStat?: { Metric: Record<string, unknown> }; Expression?: string }[])[0]!;
  const alarmsOn = (metricName: string, dimensionValue: unknown) =>
    alarms().filter((a) => {
      const metric = alarmOn(a).MetricStat?.Metric;
      return (
        metric?.MetricName === metricName &&
        JSON.stringify(metric.Dimensions).includes(JSON.stringify(dimensionValue))
      );
    });

  it('alarms on any message in a DLQ', () => {
    for (const flow of flowList()) {
      const dlq = built.stack.processors[flow.id].deadLetterQueue;
      const found = alarmsOn('ApproximateNumberOfMessagesVisible', {
        'Fn::GetAtt': [logicalId(built, dlq), 'QueueName'],
      });
      expect(found).toHaveLength(1);
      expect(found[0]!.Properties).toMatchObject({
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
      });
    }
  });

  it('alarms on the age of the oldest message of every queue', () => {
    for (const flow of flowList()) {
      const queue = built.stack.processors[flow.id].queue;
      const found = alarmsOn('ApproximateAgeOfOldestMessage', {
        'Fn::GetAtt': [logicalId(built, queue), 'QueueName'],
      });
      expect(found).toHaveLength(1);
      expect(found[0]!.Properties.Threshold).toBe(built.config.maxMessageAgeSeconds);
    }
  });

  it('alarms on the error rate of every function but the authorizer', () => {
    // The authorizer answers every refused token (401) with an invocation error, so its error rate is the
    // callers' bad tokens; when it fails itself, API Gateway answers 5xx and the API 5xx alarm fires.
    const authorizerId = fnId(built.stack.api.authorizerFunction);
    expect(alarmsOn('Errors', { Ref: authorizerId })).toEqual([]);
    for (const id of Object.keys(resourcesOfType('AWS::Lambda::Function'))) {
      if (id === authorizerId) continue;
      const found = alarmsOn('Errors', { Ref: id });
      expect(found).toHaveLength(1);
      expect(alarmOn(found[0]!).MetricStat).toMatchObject({ Stat: 'Average' });
      expect(found[0]!.Properties.Threshold).toBe(0.05);
    }
  });

  it('alarms on overdue acknowledgements, whatever flow dimension the sweep reports under', () => {
    const overdue = alarms().filter((a) =>
      alarmOn(a).Expression?.includes('SELECT SUM(SyncRequestsOverdue)'),
    );
    expect(overdue).toHaveLength(1);
    expect(alarmOn(overdue[0]!).Expression).toBe(
      'SELECT SUM(SyncRequestsOverdue) FROM "DacsDermsIntegration/dev"',
    );
    expect(overdue[0]!.Properties).toMatchObject({
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });

  it('alarms on the API 5xx rate', () => {
    expect(alarmsOn('5XXError', { Name: 'Stage', Value: 'dev' })).toHaveLength(1);
  });

  it('sends every alarm to the SNS topic', () => {
    for (const a of alarms()) expect(a.Properties.AlarmActions).toEqual([ref(topicId())]);
  });

  it('encrypts the topic with KMS, enforces TLS and subscribes the AlarmEmail parameter', () => {
    template().hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template().hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    template().hasParameter('AlarmEmail', { Type: 'String', Default: built.config.alarmEmail });
    template().hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: ref('AlarmEmail'),
      TopicArn: ref(topicId()),
    });
  });
});
