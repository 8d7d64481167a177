import {
  formatPage,
  formatTrace,
  parseCommandLine,
  render,
  table,
  targetOf,
  UsageError,
  urlOf,
} from '../../../scripts/support.ts';

const trace = {
  messageId: 'm-1',
  flow: 'optOut',
  state: 'DEAD_LETTERED',
  attempts: 1,
  receivedAt: '2026-12-01T10:00:00.000Z',
  keys: { optOutId: 'OO-1', deviceId: 'D100' },
  lastError: 'DERMS answered 400',
  events: [
    { at: '2026-12-01T10:00:01.000Z', state: 'DEAD_LETTERED', attempt: 1, detail: 'DERMS answered 400' },
  ],
};

describe('support CLI', () => {
  it('reads find options into search parameters', () => {
    expect(parseCommandLine(['find', '--device', 'D100', '--state', 'DEAD_LETTERED', '--json'])).toEqual({
      command: { kind: 'find', query: { deviceId: 'D100', state: 'DEAD_LETTERED' } },
      json: true,
    });
    expect(
      parseCommandLine(['find', '--opt-out', 'OO-1', '--event', 'E', '--dacs-message', 'M']).command,
    ).toEqual({
      kind: 'find',
      query: { optOutId: 'OO-1', eventExternalIdentifier: 'E', dacsMessageId: 'M' },
    });
  });

  it('reads show and resubmit with one messageId, and --api', () => {
    expect(parseCommandLine(['show', 'm-1'])).toEqual({
      command: { kind: 'show', messageId: 'm-1' },
      json: false,
    });
    expect(parseCommandLine(['resubmit', 'm-1', '--api', 'https://api.example'])).toEqual({
      command: { kind: 'resubmit', messageId: 'm-1' },
      json: false,
      api: 'https://api.example',
    });
  });

  it('reads resubmit-sync with one syncRequestId, and calls the sync request route with POST', () => {
    const invocation = parseCommandLine(['resubmit-sync', 'SR-1/x', '--json']);
    expect(invocation).toEqual({ command: { kind: 'resubmit-sync', syncRequestId: 'SR-1/x' }, json: true });
    expect(urlOf(invocation.command, 'https://api.example')).toBe(
      'https://api.example/v1/sync-requests/SR-1%2Fx/resubmit',
    );
    expect(() => parseCommandLine(['resubmit-sync'])).toThrow(/exactly one syncRequestId/);
    expect(() => parseCommandLine(['resubmit-sync', 'SR', '--device', 'D'])).toThrow(/no --device/);
  });

  it('prints a sync request resubmit as a table, --json as the raw answer, an error as its problem', () => {
    const answer = {
      syncRequestId: 'SR-1',
      status: 'RESUBMITTED',
      delivery: { state: 'RETRYING', attempts: 1, lastError: 'DACS answered 422', nextAttemptAt: 'T1' },
      resubmissions: 2,
      resubmittedAt: 'T1',
      resubmittedBy: 'support-local',
    };
    const text = render(parseCommandLine(['resubmit-sync', 'SR-1']), 202, answer);
    expect(text).toMatch(/^Resubmitted the consolidated ack of SR-1/);
    expect(text).toMatch(/delivery\s+RETRYING/);
    expect(text).toMatch(/resubmissions\s+2/);
    expect(text).toMatch(/resubmittedBy\s+support-local/);
    expect(render(parseCommandLine(['resubmit-sync', 'SR-1', '--json']), 202, answer)).toBe(
      JSON.stringify(answer, null, 2),
    );
    expect(
      render(parseCommandLine(['resubmit-sync', 'SR-1']), 409, {
        title: 'Not dead-lettered',
        detail: 'DELIVERED',
      }),
    ).toBe('409 Not dead-lettered: DELIVERED');
  });

  it('refuses a bad command line with a usage error', () => {
    expect(() => parseCommandLine([])).toThrow(UsageError);
    expect(() => parseCommandLine(['find'])).toThrow(/at least one option/);
    expect(() => parseCommandLine(['show'])).toThrow(/exactly one messageId/);
    expect(() => parseCommandLine(['show', 'a', 'b'])).toThrow(/exactly one messageId/);
    expect(() => parseCommandLine(['resubmit', 'm', '--device', 'D'])).toThrow(/no --device/);
    expect(() => parseCommandLine(['delete', 'm'])).toThrow(/unknown command delete/);
    expect(() => parseCommandLine(['find', '--colour', 'red'])).toThrow();
  });

  it('uses the local stack and support-local by default, a deployed stage with credentials from the environment', () => {
    const local = targetOf(parseCommandLine(['show', 'm']), { LOCAL_API_PORT: '3800' });
    expect(local).toEqual({
      api: 'http://127.0.0.1:3800',
      tokenUrl: 'http://127.0.0.1:3800/oauth2/token',
      clientId: 'support-local',
      clientSecret: 'local-secret',
    });
    const remote = parseCommandLine(['show', 'm', '--api', 'https://api.example/']);
    expect(() => targetOf(remote, {})).toThrow(/SUPPORT_CLIENT_ID, SUPPORT_CLIENT_SECRET, SUPPORT_TOKEN_URL/);
    expect(
      targetOf(remote, {
        SUPPORT_CLIENT_ID: 'c',
        SUPPORT_CLIENT_SECRET: 's',
        SUPPORT_TOKEN_URL: 'https://t/oauth2/token',
      }),
    ).toEqual({
      api: 'https://api.example',
      tokenUrl: 'https://t/oauth2/token',
      clientId: 'c',
      clientSecret: 's',
    });
  });

  it('prints aligned tables, the next page hint, a trace with its events, and problems', () => {
    expect(table(['A', 'BB'], [['xxx', 'y']])).toBe('A    BB\n---  --\nxxx  y');
    const page = formatPage({ items: [trace], cursor: 'abc' });
    expect(page).toMatch(/^RECEIVED\s+FLOW\s+STATE\s+TRIES\s+MESSAGE ID\s+KEYS\s+LAST ERROR/);
    expect(page).toContain('optOutId=OO-1 deviceId=D100');
    expect(page).toContain('More: add --cursor abc');
    expect(formatPage({ items: [] })).toBe('No message matches.');
    const shown = formatTrace(trace);
    expect(shown).toMatch(/state\s+DEAD_LETTERED/);
    expect(shown).toMatch(/AT\s+EVENT\s+ATTEMPT\s+DETAIL/);
    const find = parseCommandLine(['find', '--device', 'D100']);
    expect(
      render(find, 400, { title: 'Bad Request', detail: 'bad', errors: [{ path: '/limit', message: 'no' }] }),
    ).toBe('400 Bad Request: bad\n  /limit: no');
    expect(render({ ...find, json: true }, 200, { items: [] })).toBe(JSON.stringify({ items: [] }, null, 2));
    expect(render(parseCommandLine(['resubmit', 'm-1']), 202, {})).toMatch(/^Resubmitted m-1/);
  });
});
