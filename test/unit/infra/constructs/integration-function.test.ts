import { devStage, resourcesOfType, SYNTH_TIMEOUT } from '../fixtures.ts';

beforeAll(() => {
  devStage();
}, SYNTH_TIMEOUT);

describe('IntegrationFunction', () => {
  const functions = () => Object.values(resourcesOfType('AWS::Lambda::Function'));

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
});
