import fc from 'fast-check';
import type { SyncRequestStatus } from '#shared/contracts/types.ts';
import {
  type DeadLettersView,
  renderDeadLetters,
  resubmitPayload,
} from '#shared/support/widgets/deadLetters.ts';
import {
  type FindValues,
  renderFindMessage,
  renderSyncRequest,
} from '#shared/support/widgets/findMessage.ts';
import {
  type ActionRenderer,
  cloudWatchActions,
  html,
  LOCAL_PAYLOAD_FIELD,
  localActions,
} from '#shared/support/widgets/html.ts';
import type { TraceView } from '#shared/support/widgets/traces.ts';

const ARN = 'arn:aws:lambda:us-west-2:111122223333:function:dead-letters';
const HOSTILE = [
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  "' onmouseover='alert(1)",
  '</cwdb-action><cwdb-action action="call" endpoint="arn:aws:lambda:evil">{"action":"resubmit"}',
  '&lt;already&gt; & "quoted"',
];

/**
 * The tags of a document, in order, by name and attribute names (never their values). Every attribute the
 * widgets write is double-quoted, so a value ends at the next `"`; anything else inside a tag is a defect.
 */
function tagShape(markup: string): string[] {
  return [...markup.matchAll(/<(\/?)([a-zA-Z][\w-]*)((?:\s[\w-]+(?:="[^"]*")?)*)\s*>/g)].map(
    ([, close, name, attrs]) => {
      const attrNames = [...(attrs ?? '').matchAll(/\s([\w-]+)(?:="[^"]*")?/g)].map((m) => m[1]);
      return `${close}${name} ${attrNames.join(',')}`;
    },
  );
}

/** Every `<` of the markup starts a tag {@link tagShape} read: nothing else looks like markup. */
const tagCount = (markup: string) => markup.split('<').length - 1;

const fromHtml = (s: string) =>
  s
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&amp;', '&');

/** The JSON payloads of every `<cwdb-action>`, as the dashboard reads them (the element's text). */
const cwdbPayloads = (markup: string) =>
  [...markup.matchAll(/<cwdb-action[^>]*>([^<]*)<\/cwdb-action>/g)].map((m) => JSON.parse(fromHtml(m[1]!)));

const trace = (id: string, overrides: Partial<TraceView> = {}): TraceView => ({
  messageId: id,
  flow: 'optOut',
  businessKey: id,
  keys: { optOutId: id, deviceId: id, syncRequestId: id },
  receivedAt: '2026-12-01T10:00:00.000Z',
  state: 'DEAD_LETTERED',
  attempts: 1,
  lastError: `DERMS answered 400: ${id}`,
  deadLetteredAt: '2026-12-01T10:00:01.000Z',
  events: [{ at: '2026-12-01T10:00:01.000Z', state: 'DEAD_LETTERED', attempt: 1, detail: id }],
  ...overrides,
});

const deadLetters = (id: string): DeadLettersView => ({
  from: '2026-11-30T10:00:00.000Z',
  to: '2026-12-01T10:00:00.000Z',
  groups: [
    { flow: 'optOut', items: [trace(id)] },
    { flow: 'unavailability', items: [], more: false },
  ],
  notice: { kind: 'error', text: `Conflict: ${id}` },
});

const findView = (id: string) => ({
  values: { deviceId: id, flow: 'optOut' } as FindValues,
  result: { items: [trace(id)], cursor: id },
});

const syncStatus = (id: string): SyncRequestStatus => ({
  syncRequestId: id,
  deadline: '2026-12-02T10:00:00.000Z',
  enrollmentRefused: { at: '2026-12-01T10:00:00.000Z', reason: id },
  devices: [{ deviceId: id, expected: 'REGISTER', message: id }],
  acks: [{ sequence: 1, ackType: 'ERROR', ackDateTime: '2026-12-01T10:00:00Z', final: true, messageId: id }],
  consolidatedAck: {
    acknowledgement: { syncRequestId: id, hasError: true, exceptionInfo: [], deviceHeadendStatus: [] },
    delivery: { state: 'DEAD_LETTERED', attempts: 2, lastError: id },
  },
});

const renderers: [string, (id: string) => ActionRenderer][] = [
  ['CloudWatch', () => cloudWatchActions(ARN)],
  ['local', () => localActions('/support/', 'deadLetters')],
];

const views: [string, (id: string, actions: ActionRenderer) => string][] = [
  ['Dead letters', (id, a) => renderDeadLetters(deadLetters(id), a).text],
  ['Find a message', (id, a) => renderFindMessage(findView(id), a).text],
  ['sync request view', (id, a) => renderSyncRequest(syncStatus(id), a).text],
];

describe('support widget rendering', () => {
  describe.each(renderers)('%s actions', (_name, actions) => {
    it.each(views)('%s: a hostile id changes no tag or attribute, and shows as text', (_view, render) => {
      const baseline = tagShape(render('D100', actions('D100')));
      for (const id of HOSTILE) {
        const markup = render(id, actions(id));
        expect(tagShape(markup)).toEqual(baseline);
        expect(tagCount(markup)).toBe(baseline.length);
        expect(markup).not.toContain(id);
        expect(fromHtml(markup)).toContain(id);
      }
    });

    it.each(views)('%s: any id at all leaves the markup as it was (generated)', (_view, render) => {
      const baseline = tagShape(render('D100', actions('D100')));
      fc.assert(
        fc.property(fc.string({ minLength: 1, maxLength: 40 }), (id) => {
          const markup = render(id, actions(id));
          expect(tagShape(markup)).toEqual(baseline);
          expect(tagCount(markup)).toBe(baseline.length);
        }),
        { numRuns: 200 },
      );
    });
  });

  it('gives each dead letter a Resubmit cwdb-action with its id intact, asking for confirmation', () => {
    for (const id of HOSTILE) {
      const markup = renderDeadLetters(deadLetters(id), cloudWatchActions(ARN)).text;
      expect(cwdbPayloads(markup)).toContainEqual(resubmitPayload(id));
      const resubmit = [...markup.matchAll(/<cwdb-action ([^>]*)>([^<]*)<\/cwdb-action>/g)].find(
        (m) => JSON.parse(fromHtml(m[2]!)).action === 'resubmit',
      )!;
      expect(resubmit[1]).toContain(`endpoint="${ARN}"`);
      expect(resubmit[1]).toContain('action="call"');
      expect(fromHtml(resubmit[1]!)).toMatch(/confirmation="Resubmit optOut message /);
    }
  });

  it('posts a local action with its payload and the confirmation the page asks', () => {
    const id = HOSTILE[1]!;
    const markup = renderDeadLetters(deadLetters(id), localActions('/support/', 'deadLetters')).text;
    const payloads = [
      ...markup.matchAll(new RegExp(`name="${LOCAL_PAYLOAD_FIELD}" value="([^"]*)"`, 'g')),
    ].map((m) => JSON.parse(fromHtml(m[1]!)));
    expect(payloads).toContainEqual(resubmitPayload(id));
    expect(markup).toMatch(/<form class="inline" method="post" action="\/support\/" data-confirm="Resubmit /);
  });

  it('links a trace with a sync request to its view, in a pop-up on CloudWatch', () => {
    const markup = renderFindMessage(findView('SR-1'), cloudWatchActions(ARN)).text;
    expect(cwdbPayloads(markup)).toContainEqual({ action: 'syncRequest', syncRequestId: 'SR-1' });
    expect(markup).toContain('display="popup"');
    expect(cwdbPayloads(markup)).toContainEqual({
      action: 'nextPage',
      cursor: 'SR-1',
      query: { deviceId: 'SR-1', flow: 'optOut' },
    });
  });

  it('shows state, attempts, last error and events of each trace', () => {
    const markup = renderFindMessage(findView('D7'), cloudWatchActions(ARN)).text;
    expect(markup).toContain('<td class="state">DEAD_LETTERED</td><td>1</td>');
    expect(markup).toContain('DERMS answered 400: D7');
    expect(markup).toContain('<li>2026-12-01T10:00:01.000Z DEAD_LETTERED (attempt 1): D7</li>');
  });

  it('escapes what html`` interpolates, and nothing it made itself', () => {
    const inner = html`<b>${'<i>'}</b>`;
    expect(html`<p>${inner}${['<', '>']}${undefined}${false}${0}</p>`.text).toBe(
      '<p><b>&lt;i&gt;</b>&lt;&gt;0</p>',
    );
  });
});
