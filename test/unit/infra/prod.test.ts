import { type Synthesized, synthStage } from './synth.ts';

let built: Synthesized;

beforeAll(() => {
  built = synthStage('prod');
}, 120_000);

describe('prod stage', () => {
  it('protects and retains every table', () => {
    const tables = Object.values(built.template.findResources('AWS::DynamoDB::Table'));
    expect(tables).toHaveLength(3);
    for (const t of tables) {
      expect(t.Properties.DeletionProtectionEnabled).toBe(true);
      expect(t.DeletionPolicy).toBe('Retain');
      expect(t.UpdateReplacePolicy).toBe('Retain');
    }
  });

  it('retains the user pool (and so the issued client ids), the secrets and the claim-check bucket', () => {
    for (const type of ['AWS::Cognito::UserPool', 'AWS::SecretsManager::Secret', 'AWS::S3::Bucket']) {
      for (const r of Object.values(built.template.findResources(type)))
        expect(r.DeletionPolicy).toBe('Retain');
    }
    built.template.hasResourceProperties('AWS::Cognito::UserPool', { DeletionProtection: 'ACTIVE' });
  });

  it('names its resources and stage after prod', () => {
    built.template.hasResourceProperties('AWS::ApiGateway::Stage', { StageName: 'prod' });
    expect(built.stack.terminationProtection).toBe(true);
    for (const q of Object.values(built.template.findResources('AWS::SQS::Queue'))) {
      expect(q.Properties.QueueName).toMatch(/^dacs-derms-prod-/);
    }
  });
});
