import { pathFor, readStageConfig } from '#infra/config.ts';
import { isPlaceholderHost } from '#infra/stage-checks.ts';
import { CDK_JSON_CONTEXT, DEPLOYABLE_CONTEXT } from './synth.ts';

const reader =
  (overrides: Record<string, unknown> = {}) =>
  (key: string): unknown =>
    key in overrides ? overrides[key] : CDK_JSON_CONTEXT[key];

const stageBlock = (stage: string) =>
  (CDK_JSON_CONTEXT.stages as Record<string, Record<string, unknown>>)[stage]!;

/** A stage whose block is cdk.json's with `changes` on top. */
const withBlock = (
  stage: string,
  changes: Record<string, unknown>,
  overrides: Record<string, unknown> = {},
) =>
  readStageConfig(reader({ stage, stages: { [stage]: { ...stageBlock(stage), ...changes } }, ...overrides }));

describe('readStageConfig', () => {
  it('reads the dev block of cdk.json as it is', () => {
    const config = readStageConfig(reader({ stage: 'dev' }));
    expect(config).toMatchObject({
      stage: 'dev',
      prefix: 'dacs-derms-dev',
      region: 'us-west-2',
      retainData: false,
    });
    expect(config.account).toBeUndefined();
  });

  it.each(['test', 'prod'])('reads the %s block with the real values given as context', (stage) => {
    const config = readStageConfig(reader({ stage, ...DEPLOYABLE_CONTEXT }));
    expect(config).toMatchObject({ stage, prefix: `dacs-derms-${stage}`, account: '111122223333' });
    expect(config.targets.DERMS.baseUrl).toBe('https://derms.utility.corp');
    expect(pathFor(config, 'legacyAck')).toBe('/rest/apis/cross/digitalAssets/legacyMsgAck');
    expect(config.retainData).toBe(stage === 'prod');
  });

  it('lets a command-line value win over the stage block, objects as JSON', () => {
    const config = readStageConfig(
      reader({ stage: 'dev', alarmEmail: 'ops@utility.corp', paths: '{"DERMS_OPT_OUT_PATH":"/o"}' }),
    );
    expect(config.alarmEmail).toBe('ops@utility.corp');
    expect(pathFor(config, 'optOut')).toBe('/o');
  });

  it('refuses an unknown stage', () => {
    expect(() => readStageConfig(reader({ stage: 'staging' }))).toThrow(/stage.*dev, test, prod/);
  });

  it('refuses a path override that no flow has', () => {
    expect(() => withBlock('dev', { paths: { NOPE_PATH: '/x' } })).toThrow(/stages\.dev\.paths\.NOPE_PATH/);
  });

  it('refuses a base URL that is not http(s)', () => {
    expect(() => readStageConfig(reader({ stage: 'dev', dermsBaseUrl: 'derms.local' }))).toThrow(
      /stages\.dev\.dermsBaseUrl/,
    );
  });

  it('refuses an account id that is not 12 digits', () => {
    expect(() => readStageConfig(reader({ stage: 'dev', account: '1234' }))).toThrow(/stages\.dev\.account/);
  });

  describe('functionEnvironment', () => {
    const withFunctionEnvironment = (functionEnvironment: Record<string, unknown>) =>
      withBlock('dev', { functionEnvironment });

    it('takes tunables, as strings', () => {
      const config = withFunctionEnvironment({ SYNC_DEADLINE_SECONDS: 3600, SWEEP_BATCH_LIMIT: '100' });
      expect(config.functionEnvironment).toEqual({ SYNC_DEADLINE_SECONDS: '3600', SWEEP_BATCH_LIMIT: '100' });
    });

    it('refuses a key that is not a tunable', () => {
      expect(() => withFunctionEnvironment({ LEGACY_ACK_MODE: 'reject' })).toThrow(
        /stages\.dev\.functionEnvironment\.LEGACY_ACK_MODE is not one of SYNC_DEADLINE_SECONDS/,
      );
    });

    it.each([
      ['RETRY_WINDOW_SECONDS', 'a day', /must be a non-negative number, got "a day"/],
      ['HTTP_TIMEOUT_MS', -5, /must be a non-negative number, got "-5"/],
      ['SWEEP_BATCH_LIMIT', 0, /must be a positive integer, got "0"/],
    ])('refuses %s = %p with the parser the function uses', (key, value, message) => {
      expect(() => withFunctionEnvironment({ [key]: value })).toThrow(
        new RegExp(`stages\\.dev\\.functionEnvironment\\.${key}: .*${message.source}`),
      );
    });

    it('takes a MAX_BODY_BYTES that fits Lambda, and refuses one that does not', () => {
      expect(withFunctionEnvironment({ MAX_BODY_BYTES: 2_600_000 }).maxBodyBytes).toBe(2_600_000);
      expect(() => withFunctionEnvironment({ MAX_BODY_BYTES: 5_242_880 })).toThrow(
        /stages\.dev\.functionEnvironment\.MAX_BODY_BYTES: 5242880 bytes could not reach Lambda.*at most 3080192/,
      );
    });
  });

  it('uses a path override, else the contract default', () => {
    const config = withBlock('dev', { paths: { DACS_LEGACY_ACK_PATH: '/legacy' } });
    expect(pathFor(config, 'legacyAck')).toBe('/legacy');
    expect(pathFor(config, 'optOut')).toBe('/v1/event-opt-outs');
  });
});

describe('a deployable stage (test, prod) refuses what would deploy but not work', () => {
  const deployable = (stage: string, overrides: Record<string, unknown>) => () =>
    readStageConfig(reader({ stage, ...DEPLOYABLE_CONTEXT, ...overrides }));

  it.each(['test', 'prod'])('%s: refuses cdk.json as it is, naming every placeholder key', (stage) => {
    const read = () => readStageConfig(reader({ stage }));
    expect(read).toThrow(
      new RegExp(`stages\\.${stage}\\.dermsBaseUrl: "derms.*example\\.invalid" is a placeholder`),
    );
    expect(read).toThrow(new RegExp(`stages\\.${stage}\\.dacsBaseUrl: `));
    expect(read).toThrow(
      new RegExp(`stages\\.${stage}\\.alarmEmail: ".*@example\\.com" is an example address`),
    );
    expect(read).toThrow(new RegExp(`stages\\.${stage}\\.account: `));
    expect(read).toThrow(new RegExp(`stages\\.${stage}\\.paths\\.DACS_LEGACY_ACK_PATH: `));
  });

  it.each([
    [
      'dermsBaseUrl',
      'https://derms.example.invalid',
      /stages\.prod\.dermsBaseUrl: "derms\.example\.invalid" is a placeholder/,
    ],
    [
      'dacsBaseUrl',
      'https://dacs.example.com',
      /stages\.prod\.dacsBaseUrl: "dacs\.example\.com" is a placeholder/,
    ],
    ['dacsBaseUrl', 'https://localhost:8443', /stages\.prod\.dacsBaseUrl: "localhost" is a placeholder/],
    [
      'dermsBaseUrl',
      'http://derms.utility.corp',
      /stages\.prod\.dermsBaseUrl: DERMS must be reached over https, not http:/,
    ],
    [
      'alarmEmail',
      'alarms@example.com',
      /stages\.prod\.alarmEmail: "alarms@example\.com" is an example address/,
    ],
    ['alarmEmail', 'alarms@ops.example.org', /stages\.prod\.alarmEmail: /],
  ])('prod: refuses %s = %s', (key, value, message) => {
    expect(deployable('prod', { [key]: value })).toThrow(message);
  });

  it('refuses a missing legacy-ack path while legacy acks are forwarded, and takes none when they are refused', () => {
    expect(deployable('test', { paths: '{}' })).toThrow(
      /stages\.test\.paths\.DACS_LEGACY_ACK_PATH: the contract gives no/,
    );
    expect(deployable('test', { paths: '{}', legacyAckMode: 'reject' })).not.toThrow();
  });

  it('refuses a missing account', () => {
    expect(deployable('prod', { account: undefined })).toThrow(
      /stages\.prod\.account: set the stage's AWS account id/,
    );
  });

  it('refuses a placeholder custom domain', () => {
    const apiDomain = {
      domainName: 'api.example.com',
      certificateArn: 'arn:aws:acm:us-west-2:111122223333:certificate/0123abcd-0123-4567-89ab-0123456789ab',
    };
    expect(deployable('prod', { apiDomain })).toThrow(
      /stages\.prod\.apiDomain\.domainName: "api\.example\.com"/,
    );
  });

  it('lets dev keep its placeholders (nothing real depends on it)', () => {
    expect(() => readStageConfig(reader({ stage: 'dev' }))).not.toThrow();
  });

  it.each([
    ['derms.example.invalid', true],
    ['example.com', true],
    ['api.example.net', true],
    ['utility.example', true],
    ['host.test', true],
    ['localhost', true],
    ['derms.utility.corp', false],
    ['example.com.utility.corp', false],
    ['myexample.com', false],
  ])('isPlaceholderHost(%s) is %p', (host, expected) => {
    expect(isPlaceholderHost(host)).toBe(expected);
  });
});

describe('throttles and firewall', () => {
  const throttle = (routes: Record<string, unknown>) => ({
    apiThrottle: { ...(stageBlock('dev').apiThrottle as object), routes },
  });
  const devRoutes = (stageBlock('dev').apiThrottle as { routes: Record<string, unknown> }).routes;

  it('reads a figure for every route, the opt-outs’ share included', () => {
    const config = readStageConfig(reader({ stage: 'prod', ...DEPLOYABLE_CONTEXT }));
    expect(config.apiThrottle.routes.optOut).toEqual({ rateLimit: 30, burstLimit: 60 });
    expect(config.apiThrottle).toMatchObject({ rateLimit: 100, burstLimit: 200 });
  });

  it('refuses route figures that add up to more than the stage total', () => {
    expect(() =>
      withBlock('dev', throttle({ ...devRoutes, assetSync: { rateLimit: 10, burstLimit: 4 } })),
    ).toThrow(/stages\.dev\.apiThrottle\.routes: the routes' rateLimit add up to 28, over the stage's 20/);
  });

  it('refuses a route without a figure, and an unknown route', () => {
    const { optOut: _, ...withoutOptOut } = devRoutes;
    expect(() => withBlock('dev', throttle(withoutOptOut))).toThrow(
      /stages\.dev\.apiThrottle\.routes\.optOut is required/,
    );
    expect(() => withBlock('dev', throttle({ ...devRoutes, bulk: { rateLimit: 1, burstLimit: 1 } }))).toThrow(
      /stages\.dev\.apiThrottle\.routes\.bulk is not one of/,
    );
  });

  it('refuses a firewall rate limit that the stage throttle could reach', () => {
    expect(() => withBlock('dev', { wafRateLimitPer5Min: 6000 })).toThrow(
      /stages\.dev\.wafRateLimitPer5Min: 6000 is not above what the stage throttle admits in 5 minutes \(6000\)/,
    );
  });

  it('reads partner ranges and the managed rules switch, and refuses a malformed range', () => {
    const config = withBlock('dev', {
      wafPartnerCidrs: { dacs: ['203.0.113.10/32', '2001:db8::/64'] },
      wafManagedRulesAction: 'block',
    });
    expect(config.waf).toMatchObject({
      partnerCidrs: { dacs: ['203.0.113.10/32', '2001:db8::/64'] },
      managedRulesAction: 'block',
      otherRateLimitPer5Min: 300,
    });
    expect(() => withBlock('dev', { wafPartnerCidrs: { dacs: ['203.0.113.300/32'] } })).toThrow(
      /stages\.dev\.wafPartnerCidrs\.dacs\[0\] must be an IPv4 or IPv6 CIDR range/,
    );
    expect(() => withBlock('dev', { wafManagedRulesAction: 'allow' })).toThrow(
      /wafManagedRulesAction must be one of/,
    );
  });
});
