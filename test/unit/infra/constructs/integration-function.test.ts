import { LOG_DATA_IDENTIFIERS } from '#infra/constructs/integration-function.ts';
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

  describe('log data protection', () => {
    const functionLogGroups = () => {
      const groups = resourcesOfType('AWS::Logs::LogGroup');
      return functions().map((f) => groups[(f.Properties.LoggingConfig.LogGroup as { Ref: string }).Ref]!);
    };
    // biome-ignore lint/suspicious/noExplicitAny: template resources are untyped JSON
    const policyOf = (group: any) =>
      group.Properties.DataProtectionPolicy as {
        Statement: { DataIdentifier: unknown[]; Operation: Record<string, unknown> }[];
        Configuration: { CustomDataIdentifier: { Name: string; Regex: string }[] };
      };
    const custom = (name: string) =>
      new RegExp(
        policyOf(functionLogGroups()[0]!).Configuration.CustomDataIdentifier.find((c) => c.Name === name)!
          .Regex,
      );

    it('masks (de-identifies) and audits tokens, secrets, keys and contact data in every function log group', () => {
      expect(functionLogGroups()).toHaveLength(functions().length);
      for (const group of functionLogGroups()) {
        const policy = policyOf(group);
        const [audit, redact] = policy.Statement;
        expect(redact!.Operation).toEqual({ Deidentify: { MaskConfig: {} } });
        expect(audit!.Operation).toHaveProperty('Audit');
        expect(redact!.DataIdentifier).toHaveLength(LOG_DATA_IDENTIFIERS.length);
        const names = JSON.stringify(redact!.DataIdentifier);
        for (const managed of ['EmailAddress', 'AwsSecretKey', 'PkcsPrivateKey', 'PhoneNumber-US']) {
          expect(names).toContain(`data-identifier/${managed}`);
        }
        expect(policy.Configuration.CustomDataIdentifier.map((c) => c.Name).sort()).toEqual([
          'BearerToken',
          'ClientSecret',
          'Jwt',
        ]);
      }
    });

    it.each([
      ['BearerToken', 'Authorization: Bearer eyJraWQiOiJhYmMiLCJhbGciOiJSUzI1NiJ9.e30.c2ln'],
      ['Jwt', 'token eyJraWQiOiJhYmMiLCJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl'],
      ['ClientSecret', '{"clientId":"x","clientSecret":"s3cr3t-Value_1"}'],
      ['ClientSecret', 'client_secret=s3cr3tValue'],
    ])('%s finds %s', (name, line) => {
      expect(custom(name).test(line)).toBe(true);
    });

    it.each([
      'messageId 7f9c2ba4-e88f-4a0b-9f54-3d1f2b1c0a9e',
      'deviceId D-1001 optOutId OPT-987 syncRequestId SR-1001',
      'Bearer',
      '"clientId":"dacs-local"',
    ])('leaves the identifiers support needs readable: %s', (line) => {
      for (const name of ['BearerToken', 'Jwt', 'ClientSecret']) expect(custom(name).test(line)).toBe(false);
    });
  });
});
