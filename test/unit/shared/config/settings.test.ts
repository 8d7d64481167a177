import { optionalPositiveInteger } from '#shared/config/env.ts';
import { DEFAULT_SETTINGS, loadSettings, readSetting } from '#shared/config/settings.ts';
import { SETTING_NAMES, TUNABLE_ENV, TUNABLES, tunableOf } from '#shared/config/tunables.ts';
import {
  DEFAULT_DEADLINE_REQUEUE_SECONDS,
  DEFAULT_FINAL_ACK_GRACE_SECONDS,
  DEFAULT_FOLLOW_UP_LEASE_SECONDS,
} from '#shared/consolidation/context.ts';
import { DEFAULT_RETRY_POLICY, retryPolicyFromEnv } from '#shared/delivery/retry.ts';
import { DEFAULT_HTTP_TIMEOUT_MS } from '#shared/delivery/transport.ts';
import { ConfigurationError } from '#shared/errors.ts';
import { DEFAULT_CLAIM_CHECK_THRESHOLD_BYTES } from '#shared/queue/envelope.ts';
import { DEFAULT_RETENTION_DAYS, RETENTION_DAYS_ENV } from '#shared/store/tables.ts';

describe('TUNABLES', () => {
  it('lists every tunable once, by setting name and by variable', () => {
    expect(TUNABLE_ENV).toEqual([
      'SYNC_DEADLINE_SECONDS',
      'UNCORRELATED_ACK_WINDOW_SECONDS',
      'RETRY_BASE_SECONDS',
      'RETRY_MAX_SECONDS',
      'RETRY_WINDOW_SECONDS',
      'FOLLOW_UP_LEASE_SECONDS',
      'HTTP_TIMEOUT_MS',
      'MAX_BODY_BYTES',
      'RETENTION_DAYS',
      'DEADLINE_REQUEUE_SECONDS',
      'CLAIM_CHECK_THRESHOLD_BYTES',
      'FINAL_ACK_GRACE_SECONDS',
      'SWEEP_BATCH_LIMIT',
    ]);
    expect(new Set(TUNABLE_ENV).size).toBe(SETTING_NAMES.length);
    for (const name of SETTING_NAMES) expect(tunableOf(TUNABLES[name].env)).toBe(TUNABLES[name]);
    expect(tunableOf('LEGACY_ACK_MODE')).toBeUndefined();
  });

  it('gives each tunable a default its own parser accepts, and one line of meaning', () => {
    for (const tunable of Object.values(TUNABLES)) {
      expect(tunable.parse(tunable.env, -1, { [tunable.env]: String(tunable.default) })).toBe(
        tunable.default,
      );
      expect(tunable.meaning).toMatch(/^[^\n|]+$/);
    }
  });

  it('holds the defaults that modules reading a tunable on their own still name', () => {
    expect(TUNABLES.httpTimeoutMs.default).toBe(DEFAULT_HTTP_TIMEOUT_MS);
    expect(TUNABLES.claimCheckThresholdBytes.default).toBe(DEFAULT_CLAIM_CHECK_THRESHOLD_BYTES);
    expect(TUNABLES.retentionDays).toMatchObject({
      env: RETENTION_DAYS_ENV,
      default: DEFAULT_RETENTION_DAYS,
    });
    expect(DEFAULT_RETRY_POLICY).toEqual({
      baseSeconds: TUNABLES.retryBaseSeconds.default,
      maxSeconds: TUNABLES.retryMaxSeconds.default,
      windowSeconds: TUNABLES.retryWindowSeconds.default,
    });
    expect([
      DEFAULT_FINAL_ACK_GRACE_SECONDS,
      DEFAULT_DEADLINE_REQUEUE_SECONDS,
      DEFAULT_FOLLOW_UP_LEASE_SECONDS,
    ]).toEqual([
      TUNABLES.finalAckGraceSeconds.default,
      TUNABLES.deadlineRequeueSeconds.default,
      TUNABLES.followUpLeaseSeconds.default,
    ]);
  });
});

describe('loadSettings', () => {
  it('answers every default for an environment without tunables', () => {
    expect(loadSettings({})).toEqual({
      syncDeadlineSeconds: 86_400,
      uncorrelatedAckWindowSeconds: 300,
      retryBaseSeconds: 2,
      retryMaxSeconds: 900,
      retryWindowSeconds: 86_400,
      followUpLeaseSeconds: 300,
      httpTimeoutMs: 10_000,
      maxBodyBytes: 3_000_000,
      retentionDays: 30,
      deadlineRequeueSeconds: 300,
      claimCheckThresholdBytes: 1_000_000,
      finalAckGraceSeconds: 30,
      sweepBatchLimit: 500,
    });
    expect(DEFAULT_SETTINGS).toEqual(loadSettings({}));
  });

  it('reads each value from its variable, an empty one as absent', () => {
    const settings = loadSettings({
      SYNC_DEADLINE_SECONDS: '15',
      FINAL_ACK_GRACE_SECONDS: '0',
      HTTP_TIMEOUT_MS: '2500.5',
      SWEEP_BATCH_LIMIT: '7',
      RETENTION_DAYS: '',
    });
    expect(settings).toMatchObject({
      syncDeadlineSeconds: 15,
      finalAckGraceSeconds: 0,
      httpTimeoutMs: 2500.5,
      sweepBatchLimit: 7,
      retentionDays: 30,
    });
  });

  it('answers a frozen object', () => {
    const settings = loadSettings({});
    expect(Object.isFrozen(settings)).toBe(true);
    expect(() => {
      (settings as { retentionDays: number }).retentionDays = 1;
    }).toThrow(TypeError);
  });

  it('reads process.env when given no environment', () => {
    process.env.FOLLOW_UP_LEASE_SECONDS = '5';
    try {
      expect(loadSettings().followUpLeaseSeconds).toBe(5);
      expect(readSetting('followUpLeaseSeconds')).toBe(5);
    } finally {
      delete process.env.FOLLOW_UP_LEASE_SECONDS;
    }
  });

  it.each([
    ['SYNC_DEADLINE_SECONDS', 'soon'],
    ['RETRY_BASE_SECONDS', '-1'],
    ['MAX_BODY_BYTES', 'Infinity'],
    ['SWEEP_BATCH_LIMIT', '0'],
    ['SWEEP_BATCH_LIMIT', '2.5'],
  ])('fails with a ConfigurationError naming %s for "%s"', (key, value) => {
    let thrown: unknown;
    try {
      loadSettings({ [key]: value });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigurationError);
    expect(thrown).toMatchObject({ key, message: expect.stringContaining(`"${value}"`) });
  });
});

describe('optionalPositiveInteger', () => {
  it('takes an integer of at least 1, the fallback when absent, and refuses anything else', () => {
    expect(optionalPositiveInteger('N', 3, {})).toBe(3);
    expect(optionalPositiveInteger('N', 3, { N: '1' })).toBe(1);
    expect(() => optionalPositiveInteger('N', 3, { N: '-2' })).toThrow(/N must be a positive integer/);
  });
});

describe('retryPolicyFromEnv', () => {
  it('reads the three retry tunables through the table', () => {
    expect(retryPolicyFromEnv({ RETRY_BASE_SECONDS: '1', RETRY_WINDOW_SECONDS: '60' })).toEqual({
      baseSeconds: 1,
      maxSeconds: 900,
      windowSeconds: 60,
    });
    expect(() => retryPolicyFromEnv({ RETRY_MAX_SECONDS: 'x' })).toThrow(ConfigurationError);
  });
});
