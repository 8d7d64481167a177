import { flowList, SUPPORT_ROUTES } from '#shared/flows/registry.ts';
import { devStage, resourcesOfType, roleId, SYNTH_TIMEOUT } from './fixtures.ts';
import { actionsOf, resourcesOf } from './synth.ts';

beforeAll(() => {
  devStage();
}, SYNTH_TIMEOUT);

describe('IntegrationStack', () => {
  describe('functions', () => {
    const functions = () => Object.values(resourcesOfType('AWS::Lambda::Function'));

    it('has one ingest and one process function per flow, one per support route, the sweep and the authorizer', () => {
      expect(functions()).toHaveLength(2 * flowList().length + Object.keys(SUPPORT_ROUTES).length + 2);
    });
  });

  describe('least privilege', () => {
    const allStatements = () =>
      Object.values(resourcesOfType('AWS::IAM::Policy')).flatMap(
        (p) => p.Properties.PolicyDocument.Statement as Record<string, unknown>[],
      );

    it('gives a table index to the sweep only, and never a whole bucket', () => {
      const sweepRole = roleId(devStage().stack.sweep.function);
      for (const [id, p] of Object.entries(resourcesOfType('AWS::IAM::Policy'))) {
        const text = JSON.stringify(p.Properties.PolicyDocument);
        const isSweep = (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === sweepRole);
        expect([id, text.includes('/index/')]).toEqual([id, isSweep]);
        expect(text).not.toContain('/index/*');
        expect(text).not.toMatch(/"\/\*"\]/);
      }
    });

    it('uses Resource "*" only for X-Ray, which has no resource-level permissions', () => {
      for (const s of allStatements()) {
        if (resourcesOf(s).includes('*')) {
          expect(actionsOf(s).sort()).toEqual(['xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
        }
      }
    });
  });

  it('deploys dev to the region of cdk.json, in the account of the CLI', () => {
    expect(devStage().stack.region).toBe('us-west-2');
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
});
