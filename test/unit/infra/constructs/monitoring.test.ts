import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import { EVALUATION, REFUSAL_METRICS } from '#infra/constructs/monitoring.ts';
import { flowList, SUPPORT_ROUTES, SWEEP } from '#shared/flows/registry.ts';
import { METRIC } from '#shared/observability.ts';
import { TABLES } from '#shared/store/tables.ts';
import { alarmNames, devStage, fnId, ref, resourcesOfType, SYNTH_TIMEOUT, template } from '../fixtures.ts';
import { logicalId, REPO_ROOT, type Synthesized } from '../synth.ts';

let built: Synthesized;

beforeAll(() => {
  built = devStage();
}, SYNTH_TIMEOUT);

describe('Monitoring', () => {
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
      'DeliveryFailed',
      'BlockedRequests',
      'ReadThrottleEvents',
      'SystemErrors',
      REFUSAL_METRICS[401],
      REFUSAL_METRICS[403],
    ]) {
      expect(body).toContain(metric);
    }
  });

  it('gives the authorizer a section of its own', () => {
    const body = JSON.stringify(Object.values(resourcesOfType('AWS::CloudWatch::Dashboard'))[0]!.Properties);
    expect(body).toContain('Token authorizer');
    expect(body).toContain(fnId(built.stack.api.authorizerFunction));
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

  it('alarms on the error rate of every function but the authorizer, whose errors are refused tokens', () => {
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

  it('alarms on throttles of every function, the authorizer included', () => {
    for (const id of Object.keys(resourcesOfType('AWS::Lambda::Function'))) {
      expect(alarmsOn('Throttles', { Ref: id })).toHaveLength(1);
    }
  });

  it('alarms on the authorizer’s latency (the pool’s JWKS out of reach)', () => {
    const found = alarmsOn('Duration', { Ref: fnId(built.stack.api.authorizerFunction) });
    expect(found).toHaveLength(1);
    expect(alarmOn(found[0]!).MetricStat).toMatchObject({ Stat: 'p99' });
  });

  it('alarms on the age of the oldest dead letter, before the 14-day retention drops it', () => {
    for (const flow of flowList()) {
      const dlq = built.stack.processors[flow.id].deadLetterQueue;
      const found = alarmsOn('ApproximateAgeOfOldestMessage', {
        'Fn::GetAtt': [logicalId(built, dlq), 'QueueName'],
      });
      expect(found).toHaveLength(1);
      expect(found[0]!.Properties.Threshold).toBe(7 * 86_400);
    }
  });

  it('alarms per flow on failed deliveries, which partial batch failures hide from the error rate', () => {
    expect(METRIC.DeliveryFailed).toBe('DeliveryFailed');
    for (const flow of flowList()) {
      const found = alarmsOn('DeliveryFailed', { Name: 'flow', Value: flow.id });
      expect(found).toHaveLength(1);
      expect(found[0]!.Properties).toMatchObject({ Threshold: 0, TreatMissingData: 'notBreaching' });
    }
  });

  it.each(TABLES.map((t) => t.name))('alarms on throttles and system errors of the %s table', (name) => {
    const table = built.stack.tables.byName(name);
    const onTable = (metricName: string) =>
      alarms().filter((a) =>
        (a.Properties.Metrics as { MetricStat?: { Metric: Record<string, unknown> } }[]).some(
          (m) =>
            m.MetricStat?.Metric.MetricName === metricName &&
            JSON.stringify(m.MetricStat.Metric.Dimensions).includes(
              JSON.stringify(ref(logicalId(built, table))),
            ),
        ),
      );
    expect(onTable('ReadThrottleEvents')).toHaveLength(1);
    expect(onTable('WriteThrottleEvents')).toHaveLength(1);
    const systemErrors = alarms().filter((a) =>
      (a.Properties.Metrics as { Expression?: string }[]).some(
        (m) =>
          m.Expression?.includes('SUM(SystemErrors)') && m.Expression.includes(`'dacs-derms-dev-${name}'`),
      ),
    );
    expect(systemErrors).toHaveLength(1);
  });

  it('alarms on blocked requests at the firewall', () => {
    const found = alarmsOn('BlockedRequests', 'ALL');
    expect(found).toHaveLength(1);
    expect(found[0]!.Properties.Threshold).toBe(built.config.waf.blockedAlarmThreshold);
  });

  it('alarms on the share of refused tokens (401/403), counted from the access log, once there are a few', () => {
    for (const [status, metricName] of Object.entries(REFUSAL_METRICS)) {
      template().hasResourceProperties('AWS::Logs::MetricFilter', {
        LogGroupName: ref(logicalId(built, built.stack.api.accessLogs)),
        FilterPattern: `{ $.status = "${status}" }`,
        MetricTransformations: [Match.objectLike({ MetricName: metricName, MetricValue: '1' })],
      });
    }
    const refused = alarms().filter((a) =>
      (a.Properties.Metrics as { Expression?: string }[]).some((m) => m.Expression?.includes('u + f')),
    );
    expect(refused).toHaveLength(1);
    expect(refused[0]!.Properties).toMatchObject({
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 20,
    });
  });

  it('alarms when the sweep has not run for 3 intervals, a missing datapoint counting as no run', () => {
    const found = alarmsOn('Invocations', { Ref: fnId(built.stack.sweep.function) });
    expect(found).toHaveLength(1);
    expect(found[0]!.Properties).toMatchObject({
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
    });
    expect(alarmOn(found[0]!).MetricStat).toMatchObject({ Period: SWEEP.rateMinutes * 60 });
  });

  it('raises every alarm on M of N datapoints: facts at once, rates and counts on 2 of 3, the heartbeat on 3 of 3', () => {
    const allowed = Object.values(EVALUATION).map((e) => `${e.datapointsToAlarm}/${e.evaluationPeriods}`);
    const facts = ['DLQ-Queue-Message-Count', 'DLQ-Queue-Message-Age', 'SyncRequestsOverdue'];
    for (const a of alarms()) {
      const { AlarmName, DatapointsToAlarm, EvaluationPeriods } = a.Properties;
      expect(allowed).toContain(`${DatapointsToAlarm}/${EvaluationPeriods}`);
      const expected = facts.some((f) => AlarmName.includes(f))
        ? EVALUATION.fact
        : AlarmName.endsWith('NotRunning-Critical')
          ? EVALUATION.heartbeat
          : EVALUATION.sustained;
      expect([AlarmName, DatapointsToAlarm, EvaluationPeriods]).toEqual([
        AlarmName,
        expected.datapointsToAlarm,
        expected.evaluationPeriods,
      ]);
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

  it('lets CloudWatch use the alarm topic’s key only for alarms of this account', () => {
    const key = template().toJSON().Resources[logicalId(built, built.stack.monitoring.alarmKey)];
    const statements = key.Properties.KeyPolicy.Statement as Record<string, unknown>[];
    const forCloudWatch = statements.filter(
      (s) => JSON.stringify(s.Principal) === '{"Service":"cloudwatch.amazonaws.com"}',
    );
    expect(forCloudWatch).toEqual([
      expect.objectContaining({
        Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
      }),
    ]);
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

  describe('runbook', () => {
    const OPERATIONS = readFileSync(path.join(REPO_ROOT, 'docs', 'operations.md'), 'utf8');

    /** The alarm names in the first column of the runbook table, placeholders and all. */
    const runbookNames = (): string[] => {
      const section = OPERATIONS.split('## Alarms and what to do')[1]!.split('\n## ')[0]!;
      return section
        .split('\n')
        .filter((line) => line.startsWith('| `'))
        .flatMap((line) => [...line.split('|')[1]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!));
    };

    /** A runbook name as a pattern: `<flow>`, `<route>` and `<table>` stand for the registry's ids. */
    const asPattern = (name: string): RegExp => {
      const choices: Record<string, string[]> = {
        flow: flowList().map((f) => f.id),
        route: Object.keys(SUPPORT_ROUTES),
        table: TABLES.map((t) => t.name),
      };
      const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      return new RegExp(`^${escaped.replace(/<(\w+)>/g, (_, p: string) => `(${choices[p]!.join('|')})`)}$`);
    };

    it('has a row for every alarm of the template', () => {
      const patterns = runbookNames().map(asPattern);
      const missing = alarmNames(template()).filter((name) => !patterns.some((p) => p.test(name)));
      expect(missing).toEqual([]);
    });

    it('has no row for an alarm the template does not have', () => {
      const names = alarmNames(template());
      const stale = runbookNames().filter((n) => !names.some((name) => asPattern(n).test(name)));
      expect(stale).toEqual([]);
    });
  });
});
