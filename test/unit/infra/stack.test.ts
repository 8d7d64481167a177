import { flowList, SUPPORT_ROUTES } from '#shared/flows/registry.ts';
import { SUPPORT_WIDGET_IDS } from '#shared/support/widgets/catalog.ts';
import { devStage, resourcesOfType, roleId, SYNTH_TIMEOUT } from './fixtures.ts';
import { actionsOf, resourcesOf } from './synth.ts';

beforeAll(() => {
  devStage();
}, SYNTH_TIMEOUT);

describe('IntegrationStack', () => {
  describe('functions', () => {
    const functions = () => Object.values(resourcesOfType('AWS::Lambda::Function'));

    it('has one ingest and one process function per flow, one per support route and widget, the sweep and the authorizer', () => {
      const support = Object.keys(SUPPORT_ROUTES).length + SUPPORT_WIDGET_IDS.length;
      expect(functions()).toHaveLength(2 * flowList().length + support + 2);
    });
  });

  describe('least privilege', () => {
    const allStatements = () =>
      Object.values(resourcesOfType('AWS::IAM::Policy')).flatMap(
        (p) => p.Properties.PolicyDocument.Statement as Record<string, unknown>[],
      );

    it('gives a table index to the sweep, the support search and the widgets only, and never a whole bucket', () => {
      const { stack } = devStage();
      const indexReaders = [
        stack.sweep.function,
        stack.supportRoutes.search.function,
        ...Object.values(stack.supportWidgets.functions),
      ].map(roleId);
      for (const [id, p] of Object.entries(resourcesOfType('AWS::IAM::Policy'))) {
        const text = JSON.stringify(p.Properties.PolicyDocument);
        const readsIndexes = (p.Properties.Roles as { Ref: string }[]).some((r) =>
          indexReaders.includes(r.Ref),
        );
        expect([id, text.includes('/index/')]).toEqual([id, readsIndexes]);
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
