/**
 * The widget Lambdas wire the support library to the widgets, with `<cwdb-action>` calls of the function
 * the dashboard invoked. The library is mocked.
 */
import { beforeEach, describe, expect, it, jest } from '@jest/globals';

const search = {
  parseSearchQuery: jest.fn((params: Record<string, string | undefined>) => ({ ...params, limit: 20 })),
  searchMessages: jest.fn(async (_query: unknown) => ({ items: [] })),
};
const resubmit = {
  resubmitMessage: jest.fn(async (messageId: string, _by: string) => ({ messageId, status: 'RESUBMITTED' })),
};
const resubmitSync = {
  resubmitSyncRequest: jest.fn(async (syncRequestId: string, _by: string) => ({ syncRequestId })),
};
const refused = {
  findRefusedAcks: jest.fn(async (_query: unknown) => [
    {
      syncRequestId: 'SR-REFUSED',
      deadLetteredAt: '2026-12-01T10:00:00.000Z',
      attempts: 1,
      lastError: '422',
    },
  ]),
};
jest.unstable_mockModule('#shared/support/search.ts', () => search);
jest.unstable_mockModule('#shared/support/resubmit.ts', () => resubmit);
jest.unstable_mockModule('#shared/support/resubmitSyncRequest.ts', () => resubmitSync);
jest.unstable_mockModule('#shared/support/refusedAcks.ts', () => refused);

const { handler: findMessage } = await import('#functions/supportWidgets/findMessage.ts');
const { handler: deadLetters } = await import('#functions/supportWidgets/deadLetters.ts');
const { FLOW_IDS } = await import('#shared/flows/registry.ts');
const { lambdaContext } = await import('#test/helpers/events.ts');

const context = lambdaContext('dead-letters-widget');
const widgetContext = { dashboardName: 'dacs-derms-dev', accountId: '111122223333', forms: { all: {} } };

beforeEach(() => {
  jest.clearAllMocks();
});

describe('support widget functions', () => {
  it('Find a message: its Search button calls the function the dashboard invoked', async () => {
    const out = await findMessage({ widgetContext }, context);
    expect(out).toContain(
      `<cwdb-action action="call" endpoint="${context.invokedFunctionArn}" display="widget">`,
    );
    expect(search.searchMessages).not.toHaveBeenCalled();
  });

  it('Dead letters: resubmits as the dashboard, then lists every flow through the search', async () => {
    const out = await deadLetters({ action: 'resubmit', messageId: 'M-1', widgetContext }, context);
    expect(resubmit.resubmitMessage).toHaveBeenCalledWith(
      'M-1',
      'cloudwatch-dashboard:dacs-derms-dev@111122223333',
    );
    expect(search.searchMessages).toHaveBeenCalledTimes(FLOW_IDS.length);
    expect(out).toContain('Resubmitted M-1');
    expect(resubmitSync.resubmitSyncRequest).not.toHaveBeenCalled();
  });

  it('Dead letters: lists the refused consolidated acks, and resubmits one as the dashboard', async () => {
    const out = await deadLetters(
      { action: 'resubmitSync', syncRequestId: 'SR-REFUSED', widgetContext },
      context,
    );
    expect(resubmitSync.resubmitSyncRequest).toHaveBeenCalledWith(
      'SR-REFUSED',
      'cloudwatch-dashboard:dacs-derms-dev@111122223333',
    );
    expect(resubmit.resubmitMessage).not.toHaveBeenCalled();
    expect(refused.findRefusedAcks).toHaveBeenCalledTimes(1);
    expect(out).toContain('Resubmitted the consolidated ack of SR-REFUSED');
    expect(out).toContain('data-sync-request-id="SR-REFUSED"');
  });
});
