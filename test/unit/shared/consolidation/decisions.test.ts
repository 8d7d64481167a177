/**
 * The decisions of the consolidation, without DynamoDB: when a deadline command may adopt a frozen ack,
 * when a request is due, what a failed send records, what a device's follow-up step is, and the view of
 * the consolidated ack's delivery.
 */
import { describe, expect, it } from '@jest/globals';
import { DEFAULT_SETTINGS } from '#shared/config/settings.ts';
import { configureConsolidation } from '#shared/consolidation/context.ts';
import { nextFollowUp, reportVersion } from '#shared/consolidation/followUps.ts';
import { adoptable, deliveryFailure, dueTrigger } from '#shared/consolidation/freeze.ts';
import type { DeviceItem, HeaderItem } from '#shared/consolidation/items.ts';
import { deliveryView } from '#shared/consolidation/status.ts';

const T0 = new Date('2026-12-01T22:00:00.000Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);
const header = (extra: Partial<HeaderItem> = {}): HeaderItem => ({
  pk: 'SYNC#SR1',
  sk: 'HEADER',
  expiresAt: 0,
  syncRequestId: 'SR1',
  reason: 'ENROLL',
  sentDateTime: T0.toISOString(),
  messageId: 'req',
  receivedAt: T0.toISOString(),
  deadline: at(86_400).toISOString(),
  deviceCount: 1,
  terminalCount: 0,
  ...extra,
});
const frozen = (extra: Partial<HeaderItem> = {}) =>
  header({ consolidatedAt: T0.toISOString(), consolidatedBy: 'owner', deliveryState: 'RETRYING', ...extra });

describe('adoptable', () => {
  it('is true once a requeue interval has passed since the freeze, when the owner recorded nothing', () => {
    expect(adoptable(frozen(), at(299), 300)).toBe(false);
    expect(adoptable(frozen(), at(300), 300)).toBe(true);
  });

  it("counts from the owner's next attempt, so a Retry-After binds adopters too", () => {
    const retrying = frozen({ deliveryNextAttemptAt: at(3600).toISOString(), deliveryAttempts: 1 });
    expect(adoptable(retrying, at(3600), 300)).toBe(false);
    expect(adoptable(retrying, at(3899), 300)).toBe(false);
    expect(adoptable(retrying, at(3900), 300)).toBe(true);
  });

  it('is never true for a dead-lettered, delivered or unfrozen ack', () => {
    expect(adoptable(frozen({ deliveryState: 'DEAD_LETTERED' }), at(99_999), 300)).toBe(false);
    expect(adoptable(frozen({ consolidatedDeliveredAt: T0.toISOString() }), at(99_999), 300)).toBe(false);
    expect(adoptable(header(), at(99_999), 300)).toBe(false);
  });
});

describe('dueTrigger', () => {
  it('is DERMS_REFUSED at once when DERMS refused the sync, DEADLINE once it passed, else nothing', () => {
    expect(dueTrigger(header(), at(10))).toBeUndefined();
    expect(dueTrigger(header(), at(86_400))).toBe('DEADLINE');
    expect(dueTrigger(header({ refusedAt: T0.toISOString(), refusedReason: 'no' }), at(10))).toBe(
      'DERMS_REFUSED',
    );
  });
});

describe('deliveryFailure', () => {
  it('records RETRYING with the next attempt, and keeps adopters away until a requeue interval after it', () => {
    configureConsolidation({ ...DEFAULT_SETTINGS, deadlineRequeueSeconds: 300 });
    const failure = deliveryFailure(
      {
        action: 'retry',
        reason: 'DACS answered 503',
        attempts: 2,
        permanent: false,
        nextAttemptAt: at(3600),
      },
      T0,
    );
    expect(failure).toEqual({
      state: 'RETRYING',
      lastError: 'DACS answered 503',
      nextAttemptAt: at(3600),
      recheckAt: at(3900),
    });
    configureConsolidation(DEFAULT_SETTINGS);
  });

  it('records DEAD_LETTERED for a permanent refusal and for an exhausted window, the reason trimmed', () => {
    const refused = deliveryFailure(
      { action: 'dead-letter', reason: 'x'.repeat(5000), attempts: 1, permanent: true },
      T0,
    );
    expect(refused.state).toBe('DEAD_LETTERED');
    expect(refused.lastError).toHaveLength(1000);
    const exhausted = deliveryFailure(
      {
        action: 'dead-letter',
        reason: 'retry window exhausted: DACS answered 503',
        attempts: 9,
        permanent: false,
      },
      T0,
    );
    expect(exhausted).toEqual({
      state: 'DEAD_LETTERED',
      lastError: 'retry window exhausted: DACS answered 503',
      at: T0,
    });
  });
});

describe('deliveryView', () => {
  it('shows the delivery state, attempts, last error and next attempt', () => {
    expect(deliveryView(frozen())).toEqual({ state: 'RETRYING', attempts: 0 });
    expect(
      deliveryView(
        frozen({
          deliveryAttempts: 2,
          deliveryLastError: 'DACS answered 503',
          deliveryNextAttemptAt: at(60).toISOString(),
        }),
      ),
    ).toEqual({
      state: 'RETRYING',
      attempts: 2,
      lastError: 'DACS answered 503',
      nextAttemptAt: at(60).toISOString(),
    });
    expect(
      deliveryView(frozen({ deliveryState: 'DEAD_LETTERED', deliveryAttempts: 1, deliveryLastError: '422' })),
    ).toEqual({
      state: 'DEAD_LETTERED',
      attempts: 1,
      lastError: '422',
    });
    expect(
      deliveryView(
        frozen({
          consolidatedDeliveredAt: at(5).toISOString(),
          deliveryState: 'DELIVERED',
          deliveryAttempts: 3,
        }),
      ),
    ).toEqual({ state: 'DELIVERED', attempts: 3 });
  });
});

describe('nextFollowUp', () => {
  const device = (extra: Partial<DeviceItem> = {}): DeviceItem => ({
    pk: 'SYNC#SR1',
    sk: 'DEVICE#A',
    expiresAt: 0,
    deviceId: 'A',
    index: 0,
    expected: 'REGISTER',
    headEndSystem: 'H',
    nicId: 'N',
    reportedStatus: 'REGISTERED',
    reportedAtMs: 1000,
    ackSequence: 2,
    ...extra,
  });
  const h = header();

  it('claims a flag DACS has not accepted, and nothing for what it has or for a PENDING', () => {
    expect(nextFollowUp(h, device(), 'D1NR', 'me', T0)).toMatchObject({ kind: 'claim', flag: 'D1RE' });
    expect(nextFollowUp(h, device(), 'D1RE', 'me', T0)).toEqual({ kind: 'none' });
    expect(nextFollowUp(h, device({ toldFlag: 'D1RE' }), 'D1NR', 'me', T0)).toEqual({ kind: 'none' });
    expect(nextFollowUp(h, device({ reportedStatus: 'PENDING' }), 'D1NR', 'me', T0)).toEqual({
      kind: 'none',
    });
  });

  it('leaves a live lease of another message alone, and takes an expired one', () => {
    const leased = { leaseBy: 'other', leaseFlag: 'D1RE' as const, followUpSeq: 1 };
    expect(
      nextFollowUp(h, device({ ...leased, leaseUntil: at(300).toISOString() }), 'D1NR', 'me', at(299)),
    ).toEqual({
      kind: 'none',
    });
    expect(
      nextFollowUp(h, device({ ...leased, leaseUntil: at(300).toISOString() }), 'D1NR', 'me', at(300)),
    ).toMatchObject({
      kind: 'claim',
      flag: 'D1RE',
    });
  });

  it('resumes the follow-up this message holds, with its sequence and flag', () => {
    const mine = device({
      leaseBy: 'me',
      leaseFlag: 'D1RE',
      leaseMessage: 'm',
      followUpSeq: 3,
      leaseUntil: T0.toISOString(),
    });
    expect(nextFollowUp(h, mine, 'D1NR', 'me', at(9999))).toEqual({
      kind: 'resume',
      seq: 3,
      flag: 'D1RE',
      message: 'm',
    });
  });

  it('does not resend a refused follow-up for the same report, unless its own message is redriven or a new report comes', () => {
    const refused = device({ refusedFlag: 'D1RE', refusedBy: 'x', refusedReport: '1000#2' });
    expect(reportVersion(refused)).toBe('1000#2');
    expect(nextFollowUp(h, refused, 'D1NR', 'me', T0)).toEqual({ kind: 'none' });
    expect(nextFollowUp(h, refused, 'D1NR', 'x', T0)).toMatchObject({ kind: 'claim', flag: 'D1RE' });
    expect(nextFollowUp(h, { ...refused, reportedAtMs: 2000 }, 'D1NR', 'me', T0)).toMatchObject({
      kind: 'claim',
    });
  });
});
