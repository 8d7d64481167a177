import { describe, expect, it } from '@jest/globals';
import { followUpKey, followUpKeySeq } from '#shared/consolidation/followUps.ts';
import type { DeviceItem } from '#shared/consolidation/items.ts';

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
  ...extra,
});
const claim = { kind: 'claim', flag: 'D1RE', message: '' } as const;

describe('followUpKeySeq', () => {
  it('numbers a fresh claim after every lease taken so far', () => {
    expect(followUpKeySeq(device(), claim)).toBe(1);
    expect(followUpKeySeq(device({ followUpSeq: 3 }), claim)).toBe(4);
  });

  it('keeps the key of a holder that died with the lease for the same flag, so DACS applies its send once', () => {
    const dead = { leaseBy: 'holder', leaseFlag: 'D1RE' as const, followUpSeq: 3 };
    expect(followUpKeySeq(device({ ...dead, leaseKey: 2 }), claim)).toBe(2);
    // A lease written before leaseKey existed was keyed by its seq.
    expect(followUpKeySeq(device(dead), claim)).toBe(3);
    // Another flag is another follow-up.
    expect(followUpKeySeq(device({ ...dead, leaseFlag: 'D1NR', leaseKey: 2 }), claim)).toBe(4);
  });

  it('keeps its own key when the holder resumes', () => {
    const step = { kind: 'resume', seq: 5, flag: 'D1RE', message: '' } as const;
    expect(followUpKeySeq(device({ leaseBy: 'me', followUpSeq: 5, leaseKey: 4 }), step)).toBe(4);
    expect(followUpKeySeq(device({ leaseBy: 'me', followUpSeq: 5 }), step)).toBe(5);
  });
});

describe('followUpKey', () => {
  it('is the device, the flag and, after the first, the number', () => {
    expect(followUpKey('SR1', 'A', 'D1RE', 1)).toBe('SR1#A#D1RE#followup');
    expect(followUpKey('SR1', 'A', 'D1RE', 2)).toBe('SR1#A#D1RE#followup#2');
  });
});
