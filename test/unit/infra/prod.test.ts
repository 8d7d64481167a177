import { DEPLOYABLE_CONTEXT, type Synthesized, synthStage } from './synth.ts';

let built: Synthesized;

beforeAll(() => {
  built = synthStage('prod', { context: { ...DEPLOYABLE_CONTEXT } });
}, 120_000);

const resources = (type: string) => Object.values(built.template.findResources(type));

describe('prod stage', () => {
  it('deploys to its own account and region', () => {
    expect(built.stack.account).toBe('111122223333');
    expect(built.stack.region).toBe('us-west-2');
  });

  it('protects and retains every table, always (deletion protection would refuse a rollback anyway)', () => {
    const tables = resources('AWS::DynamoDB::Table');
    expect(tables).toHaveLength(3);
    for (const t of tables) {
      expect(t.Properties.DeletionProtectionEnabled).toBe(true);
      expect(t.DeletionPolicy).toBe('Retain');
      expect(t.UpdateReplacePolicy).toBe('Retain');
    }
  });

  it('protects and retains the user pool (and so the issued client ids)', () => {
    for (const r of resources('AWS::Cognito::UserPool')) expect(r.DeletionPolicy).toBe('Retain');
    built.template.hasResourceProperties('AWS::Cognito::UserPool', { DeletionProtection: 'ACTIVE' });
  });

  it.each(['AWS::SecretsManager::Secret', 'AWS::S3::Bucket', 'AWS::Logs::LogGroup', 'AWS::KMS::Key'])(
    'retains every %s on delete and replace, but lets a failed first create remove it (no AlreadyExists on retry)',
    (type) => {
      const found = resources(type);
      expect(found.length).toBeGreaterThan(0);
      for (const r of found) {
        expect(r.DeletionPolicy).toBe('RetainExceptOnCreate');
        expect(r.UpdateReplacePolicy).toBe('Retain');
      }
    },
  );

  it('names its resources and stage after prod, with termination protection', () => {
    built.template.hasResourceProperties('AWS::ApiGateway::Stage', { StageName: 'prod' });
    expect(built.stack.terminationProtection).toBe(true);
    for (const q of resources('AWS::SQS::Queue')) {
      expect(q.Properties.QueueName).toMatch(/^dacs-derms-prod-/);
    }
  });

  it('delivers to the receivers and the legacy-ack path given for the stage', () => {
    const envs = resources('AWS::Lambda::Function').map((f) => f.Properties.Environment.Variables);
    expect(
      envs.filter((e) => e.DERMS_BASE_URL).every((e) => e.DERMS_BASE_URL === 'https://derms.utility.corp'),
    ).toBe(true);
    expect(envs.some((e) => e.DACS_LEGACY_ACK_PATH === '/rest/apis/cross/digitalAssets/legacyMsgAck')).toBe(
      true,
    );
    built.template.hasParameter('AlarmEmail', { Default: 'integration-oncall@utility.corp' });
  });
});
