import { readFileSync } from 'node:fs';
import {
  PROBLEM_BY_STATUS,
  PROBLEM_TYPE_BASE,
  PROBLEMS,
  problemForStatus,
} from '#shared/handlers/problems.ts';

describe('PROBLEMS', () => {
  it('gives every problem a type URI of its own and a title', () => {
    const rows = Object.values(PROBLEMS);
    for (const row of rows) {
      expect(row.type.startsWith(PROBLEM_TYPE_BASE)).toBe(true);
      expect(row.title).not.toBe('');
    }
    expect(new Set(rows.map((row) => row.type)).size).toBe(rows.length);
  });

  it('titles 413 as RFC 9110 does', () => {
    expect(PROBLEMS.contentTooLarge).toEqual({
      status: 413,
      type: `${PROBLEM_TYPE_BASE}payload-too-large`,
      title: 'Content Too Large',
    });
  });

  it('names the legacy ack switched off as a 410', () => {
    expect(PROBLEMS.legacyAckSwitchedOff).toMatchObject({ status: 410, title: 'Gone' });
  });

  it('finds each status’s problem, and about:blank for a status it does not name', () => {
    expect(PROBLEM_BY_STATUS[409]).toBe(PROBLEMS.conflictingDuplicate);
    expect(problemForStatus(503)).toBe(PROBLEMS.unavailable);
    expect(problemForStatus(418)).toEqual({ status: 418, type: 'about:blank', title: 'Error' });
  });

  it('imports nothing, so CDK code and the local host can read it', () => {
    const source = readFileSync(new URL('../../../../shared/handlers/problems.ts', import.meta.url), 'utf8');
    expect(source).not.toMatch(/^\s*import\b/m);
  });
});
