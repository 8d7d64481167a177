import { pathFor, readStageConfig } from '#infra/config.ts';
import { CDK_JSON_CONTEXT } from './synth.ts';

const reader =
  (overrides: Record<string, unknown> = {}) =>
  (key: string): unknown =>
    key in overrides ? overrides[key] : CDK_JSON_CONTEXT[key];

describe('readStageConfig', () => {
  it.each(['dev', 'test', 'prod'])('reads the %s block of cdk.json', (stage) => {
    const config = readStageConfig(reader({ stage }));
    expect(config.stage).toBe(stage);
    expect(config.prefix).toBe(`dacs-derms-${stage}`);
    expect(config.targets.DERMS.baseUrl).toMatch(/^https:\/\//);
    expect(config.targets.DACS.baseUrl).toMatch(/^https:\/\//);
    expect(config.retainData).toBe(stage === 'prod');
  });

  it('lets a command-line value win over the stage block', () => {
    const config = readStageConfig(reader({ stage: 'test', alarmEmail: 'ops@example.org' }));
    expect(config.alarmEmail).toBe('ops@example.org');
  });

  it('refuses an unknown stage', () => {
    expect(() => readStageConfig(reader({ stage: 'staging' }))).toThrow(/stage.*dev, test, prod/);
  });

  it('refuses a path override that no flow has', () => {
    const stages = {
      dev: { ...(CDK_JSON_CONTEXT.stages as Record<string, object>).dev, paths: { NOPE_PATH: '/x' } },
    };
    expect(() => readStageConfig(reader({ stage: 'dev', stages }))).toThrow(/NOPE_PATH/);
  });

  it('refuses a base URL that is not http(s)', () => {
    expect(() => readStageConfig(reader({ stage: 'dev', dermsBaseUrl: 'derms.local' }))).toThrow(
      /dermsBaseUrl/,
    );
  });

  const withFunctionEnvironment = (functionEnvironment: Record<string, unknown>) =>
    readStageConfig(
      reader({
        stage: 'dev',
        stages: { dev: { ...(CDK_JSON_CONTEXT.stages as Record<string, object>).dev, functionEnvironment } },
      }),
    );

  it('takes tunables in functionEnvironment, as strings', () => {
    const config = withFunctionEnvironment({ SYNC_DEADLINE_SECONDS: 3600, SWEEP_BATCH_LIMIT: '100' });
    expect(config.functionEnvironment).toEqual({ SYNC_DEADLINE_SECONDS: '3600', SWEEP_BATCH_LIMIT: '100' });
  });

  it('refuses a functionEnvironment key that is not a tunable', () => {
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

  it('uses a path override, else the contract default', () => {
    const stages = {
      dev: {
        ...(CDK_JSON_CONTEXT.stages as Record<string, object>).dev,
        paths: { DACS_LEGACY_ACK_PATH: '/legacy' },
      },
    };
    const config = readStageConfig(reader({ stage: 'dev', stages }));
    expect(pathFor(config, 'legacyAck')).toBe('/legacy');
    expect(pathFor(config, 'optOut')).toBe('/v1/event-opt-outs');
  });
});
