import { Match } from 'aws-cdk-lib/assertions';
import { flowList } from '#shared/flows/registry.ts';
import { devStage, fnId, ref, resourcesOfType, SYNTH_TIMEOUT, template } from '../fixtures.ts';
import { logicalId, type Synthesized } from '../synth.ts';

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
