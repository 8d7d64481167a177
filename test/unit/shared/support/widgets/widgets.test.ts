import { jest } from '@jest/globals';
import { HttpError } from '#shared/errors.ts';
import { FLOW_IDS } from '#shared/flows/registry.ts';
import { PROBLEMS } from '#shared/handlers/problems.ts';
import type { SearchQuery } from '#shared/support/search.ts';
import { cloudWatchActions } from '#shared/support/widgets/html.ts';
import type { TraceView } from '#shared/support/widgets/traces.ts';
import {
  DEAD_LETTERS_DOCS,
  DEAD_LETTERS_PER_FLOW,
  dashboardRequester,
  deadLettersWidget,
  FIND_MESSAGE_DOCS,
  FIND_PAGE_SIZE,
  findMessageWidget,
  type WidgetSources,
} from '#shared/support/widgets/widgets.ts';

const actions = cloudWatchActions('arn:aws:lambda:us-west-2:111122223333:function:w');
const NOW = new Date('2026-12-01T12:00:00.000Z');

const trace = (id: string, flow = 'optOut'): TraceView => ({
  messageId: id,
  flow,
  businessKey: id,
  keys: { deviceId: 'D100' },
  receivedAt: '2026-12-01T10:00:00.000Z',
  state: 'DEAD_LETTERED',
  attempts: 1,
  lastError: 'DERMS answered 400',
});

function sources(items: Record<string, TraceView[]> = {}, cursor?: string) {
  const parseSearchQuery = jest.fn((params: Record<string, string | undefined>) => {
    if (params.deviceId === 'bad') {
      throw new HttpError(PROBLEMS.badRequest, 'The search is malformed.', {
        violations: [{ path: 'deviceId', message: 'is bad' }],
      });
    }
    return { ...params, limit: Number(params.limit) } as SearchQuery;
  });
  const searchMessages = jest.fn(async (query: SearchQuery) => ({
    items: items[query.flow ?? 'any'] ?? [],
    ...(cursor ? { cursor } : {}),
  }));
  const resubmitMessage = jest.fn(async (messageId: string, _by: string) => {
    if (messageId === 'M-409') throw new HttpError(PROBLEMS.conflictingDuplicate, 'M-409 is DELIVERED.');
    if (messageId === 'M-boom') throw new Error('DynamoDB is down');
    return { messageId, status: 'RESUBMITTED' as const };
  });
  const getSyncRequestStatus = jest.fn(async (id: string) =>
    id === 'SR-1'
      ? { syncRequestId: id, deadline: '2026-12-02T00:00:00Z', devices: [], acks: [] }
      : undefined,
  );
  // Typed as the widgets take them: a compile-time check that the fakes fit the support library's shape.
  const fakes = { parseSearchQuery, searchMessages, resubmitMessage, getSyncRequestStatus, now: () => NOW };
  return fakes satisfies WidgetSources;
}

const form = (all: Record<string, string>) => ({ widgetContext: { forms: { all } } });

describe('findMessageWidget', () => {
  it('answers describe with its documentation', async () => {
    expect(await findMessageWidget({ describe: true }, actions, sources())).toBe(FIND_MESSAGE_DOCS);
  });

  it('shows the empty form without searching when no id is given', async () => {
    const s = sources();
    const out = await findMessageWidget(form({ deviceId: '  ' }), actions, s);
    expect(out).toContain('Give one or more business ids');
    expect(s.searchMessages).not.toHaveBeenCalled();
  });

  it('searches the form values, a page at a time, and lists what matches', async () => {
    const s = sources({ optOut: [trace('M-1')] }, 'next-cursor');
    const out = await findMessageWidget(
      { action: 'search', ...form({ deviceId: ' D100 ', flow: 'optOut', other: 'x' }) },
      actions,
      s,
    );
    expect(s.parseSearchQuery).toHaveBeenCalledWith({
      deviceId: 'D100',
      flow: 'optOut',
      limit: String(FIND_PAGE_SIZE),
    });
    expect(out).toContain('<code>M-1</code>');
    expect(out).toContain('1 message, newest first.');
    expect(out).toContain('next-cursor');
  });

  it('pages with the cursor and the query of the page before', async () => {
    const s = sources();
    await findMessageWidget({ action: 'nextPage', cursor: 'c2', query: { deviceId: 'D100' } }, actions, s);
    expect(s.parseSearchQuery).toHaveBeenCalledWith({ deviceId: 'D100', limit: '20', cursor: 'c2' });
  });

  it('shows a refused search as a notice listing every violation', async () => {
    const out = await findMessageWidget(
      { action: 'search', ...form({ deviceId: 'bad' }) },
      actions,
      sources(),
    );
    expect(out).toContain('Bad Request: The search is malformed. deviceId: is bad.');
    expect(out).toContain('value="bad"');
  });

  it('shows a sync request view, or says it is unknown', async () => {
    const s = sources();
    expect(await findMessageWidget({ action: 'syncRequest', syncRequestId: 'SR-1' }, actions, s)).toContain(
      'Sync request <code>SR-1</code>',
    );
    expect(await findMessageWidget({ action: 'syncRequest', syncRequestId: 'SR-2' }, actions, s)).toContain(
      'No sync request SR-2 is known',
    );
  });
});

describe('deadLettersWidget', () => {
  it('answers describe with its documentation', async () => {
    expect(await deadLettersWidget({ describe: true }, actions, 'x', sources())).toBe(DEAD_LETTERS_DOCS);
  });

  it("lists each flow's dead letters of the last 24 h", async () => {
    const s = sources({ optOut: [trace('M-1')], assetSyncAck: [trace('M-2', 'assetSyncAck')] }, 'more');
    const out = await deadLettersWidget({}, actions, 'x', s);
    expect(s.parseSearchQuery.mock.calls.map(([q]) => q)).toEqual(
      FLOW_IDS.map((flow) => ({
        state: 'DEAD_LETTERED',
        flow,
        from: '2026-11-30T12:00:00.000Z',
        to: '2026-12-01T12:00:00.000Z',
        limit: String(DEAD_LETTERS_PER_FLOW),
      })),
    );
    expect(out).toContain('<h4>optOut: 1+ dead-lettered</h4>');
    expect(out).toContain('<h4>assetSyncAck: 1+ dead-lettered</h4>');
    expect(out).toContain('Dead-lettered from 2026-11-30T12:00:00.000Z to 2026-12-01T12:00:00.000Z: 2.');
    expect(s.resubmitMessage).not.toHaveBeenCalled();
  });

  it('resubmits the message of a Resubmit call, as the requester, then lists again', async () => {
    const s = sources();
    const out = await deadLettersWidget(
      { action: 'resubmit', messageId: 'M-1' },
      actions,
      'support-local',
      s,
    );
    expect(s.resubmitMessage).toHaveBeenCalledWith('M-1', 'support-local');
    expect(out).toContain('Resubmitted M-1: it is queued again as it was accepted.');
    expect(s.searchMessages).toHaveBeenCalledTimes(FLOW_IDS.length);
  });

  it('shows a refused resubmit (409, 404) as a notice', async () => {
    const out = await deadLettersWidget({ action: 'resubmit', messageId: 'M-409' }, actions, 'x', sources());
    expect(out).toContain(
      '<p class="notice error" role="status">Conflicting duplicate: M-409 is DELIVERED.</p>',
    );
  });

  it('fails the call when resubmitting fails for another reason, rather than claim it', async () => {
    await expect(
      deadLettersWidget({ action: 'resubmit', messageId: 'M-boom' }, actions, 'x', sources()),
    ).rejects.toThrow('DynamoDB is down');
  });

  describe('refused consolidated acks', () => {
    const refusedSources = () => {
      const base = sources();
      const findRefusedAcks = jest.fn(async (query: { from: Date; to: Date; limit: number }) =>
        query.limit > 0
          ? [
              {
                syncRequestId: 'SR-9',
                deadLetteredAt: '2026-12-01T11:00:00.000Z',
                attempts: 2,
                lastError: 'DACS answered 422',
                resubmissions: 1,
              },
            ]
          : [],
      );
      const resubmitSyncRequest = jest.fn(async (id: string, _by: string) => {
        if (id === 'SR-409') throw new HttpError(PROBLEMS.notDeadLettered, 'SR-409 is DELIVERED.');
        return { syncRequestId: id };
      });
      return { ...base, findRefusedAcks, resubmitSyncRequest } satisfies WidgetSources;
    };

    it('lists those of the window with a confirmed Resubmit button each', async () => {
      const s = refusedSources();
      const out = await deadLettersWidget({}, actions, 'x', s);
      expect(s.findRefusedAcks).toHaveBeenCalledWith({
        from: new Date('2026-11-30T12:00:00.000Z'),
        to: NOW,
        limit: DEAD_LETTERS_PER_FLOW + 1,
      });
      expect(out).toContain('<h4>Consolidated acks refused by DACS: 1</h4>');
      const row = out.slice(out.indexOf('data-sync-request-id="SR-9"'));
      expect(row).toContain('DACS answered 422');
      expect(row).toContain(
        '{&quot;action&quot;:&quot;resubmitSync&quot;,&quot;syncRequestId&quot;:&quot;SR-9&quot;}',
      );
      expect(row).toContain('Resubmit the consolidated ack of sync request SR-9?');
      expect(s.resubmitSyncRequest).not.toHaveBeenCalled();
    });

    it('resubmits the sync request of a Resubmit call as the requester; a 409 is a notice', async () => {
      const s = refusedSources();
      const out = await deadLettersWidget(
        { action: 'resubmitSync', syncRequestId: 'SR-9' },
        actions,
        'me',
        s,
      );
      expect(s.resubmitSyncRequest).toHaveBeenCalledWith('SR-9', 'me');
      expect(s.resubmitMessage).not.toHaveBeenCalled();
      expect(out).toContain('Resubmitted the consolidated ack of SR-9');
      const refused = await deadLettersWidget(
        { action: 'resubmitSync', syncRequestId: 'SR-409' },
        actions,
        'me',
        s,
      );
      expect(refused).toContain('Not dead-lettered: SR-409 is DELIVERED.');
    });
  });

  it('names the dashboard and account as the requester of a dashboard resubmit', () => {
    expect(dashboardRequester({ widgetContext: { dashboardName: 'dacs-derms-dev', accountId: '1' } })).toBe(
      'cloudwatch-dashboard:dacs-derms-dev@1',
    );
  });
});
