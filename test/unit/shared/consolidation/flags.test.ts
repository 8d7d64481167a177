import { describe, expect, it } from '@jest/globals';
import { assessDevice, flagFor, isTerminal, LIMITS, truncate } from '#shared/consolidation/flags.ts';
import type { RegistrationAction, RegistrationStatus } from '#shared/consolidation/types.ts';

const DEADLINE = '2026-12-02T22:00:00.000Z';

describe('flagFor', () => {
  const table: [RegistrationAction, RegistrationStatus | undefined, string, boolean][] = [
    ['REGISTER', 'REGISTERED', 'D1RE', false],
    ['REGISTER', 'FAILED', 'D1NR', true],
    ['REGISTER', undefined, 'D1NR', true],
    ['REGISTER', 'PENDING', 'D1NR', true],
    ['REGISTER', 'DEREGISTERED', 'D1DR', true],
    ['DEREGISTER', 'DEREGISTERED', 'D1DR', false],
    ['DEREGISTER', 'FAILED', 'D1RE', true],
    ['DEREGISTER', undefined, 'D1NR', true],
    ['DEREGISTER', 'PENDING', 'D1NR', true],
    ['DEREGISTER', 'REGISTERED', 'D1RE', true],
  ];
  it.each(table)('maps %s reported %s to %s (error %s)', (expected, reported, flag, isError) => {
    expect(flagFor(expected, reported)).toEqual({ flag, isError });
  });
});

describe('assessDevice', () => {
  it('says a failed deregistration leaves the device still registered', () => {
    const a = assessDevice('DEREGISTER', 'FAILED', { deadline: DEADLINE });
    expect(a.flag).toBe('D1RE');
    expect(a.message).toMatch(/still registered/);
  });

  it('names the deadline for a registration without status', () => {
    const a = assessDevice('REGISTER', undefined, { deadline: DEADLINE });
    expect(a).toEqual({ flag: 'D1NR', isError: true, message: expect.stringContaining(DEADLINE) });
  });

  it('says the state is unknown for a deregistration without status, naming the deadline', () => {
    const a = assessDevice('DEREGISTER', undefined, { deadline: DEADLINE });
    expect(a.message).toMatch(/unknown/);
    expect(a.message).toContain(DEADLINE);
  });

  it('treats a PENDING at consolidation like no status', () => {
    const a = assessDevice('DEREGISTER', 'PENDING', { deadline: DEADLINE });
    expect(a.flag).toBe('D1NR');
    expect(a.message).toMatch(/unknown.*pending/);
    expect(a.message).toContain(DEADLINE);
  });

  it('mentions the final ack when that triggered consolidation', () => {
    expect(assessDevice('REGISTER', undefined, { deadline: DEADLINE, finalAck: true }).message).toMatch(
      /final acknowledgement.*deadline/,
    );
  });

  it('appends what DERMS said and truncates to the DACS limit', () => {
    const a = assessDevice('REGISTER', 'FAILED', { deadline: DEADLINE, reportedMessage: 'x'.repeat(5000) });
    expect(a.message).toHaveLength(LIMITS.DEVICE_MESSAGE);
    expect(a.message.startsWith('Registration failed')).toBe(true);
    expect(a.message.endsWith('…')).toBe(true);
  });
});

describe('isTerminal', () => {
  it('counts every status but PENDING as terminal', () => {
    expect(
      [undefined, 'PENDING', 'REGISTERED', 'DEREGISTERED', 'FAILED'].map((s) => isTerminal(s as never)),
    ).toEqual([false, false, true, true, true]);
  });
});

describe('truncate', () => {
  it('leaves short text alone', () => {
    expect(truncate('abc', 3)).toBe('abc');
  });
  it('cuts to the limit with an ellipsis', () => {
    expect(truncate('abcdef', 4)).toBe('abc…');
  });
  it('never splits a surrogate pair', () => {
    const out = truncate('ab😀cdef', 4);
    expect(out).toBe('ab…');
    expect(out.length).toBeLessThanOrEqual(4);
  });
});
