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
