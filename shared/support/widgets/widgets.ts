/**
 * What the two support widgets do when called: read the call (a CloudWatch custom widget event, or the
 * local page's post turned into one), search, resubmit, and render. The Lambdas in
 * `functions/supportWidgets/` and the local page (`local/supportPage.ts`) both call these, each with its
 * own {@link ActionRenderer}; the data sources are passed in, so tests can give their own.
 *
 * A widget event (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/add_custom_widget_dashboard_about.html):
 * `describe: true` asks for the widget's documentation; a `<cwdb-action>` call carries its JSON payload at
 * the top level of the event and the widget's form values in `widgetContext.forms.all`.
 */
import type { SyncRequestStatus } from '#shared/contracts/types.ts';
import { HttpError } from '#shared/errors.ts';
import { FLOW_IDS } from '#shared/flows/registry.ts';
import type { SearchQuery } from '#shared/support/search.ts';
import { TRACE_STATES } from '#shared/trace/store.ts';
import {
  type DeadLettersView,
  RESUBMIT_ACTION,
  RESUBMIT_SYNC_ACTION,
  type RefusedAckView,
  renderDeadLetters,
} from './deadLetters.ts';
import {
  FIND_FIELDS,
  type FindValues,
  NEXT_PAGE_ACTION,
  renderFindMessage,
  renderSyncRequest,
} from './findMessage.ts';
import type { ActionRenderer, Notice } from './html.ts';
import type { TraceView } from './traces.ts';

export interface WidgetEvent {
  readonly describe?: boolean;
  readonly widgetContext?: {
    readonly dashboardName?: string;
    readonly accountId?: string;
    readonly forms?: { readonly all?: Readonly<Record<string, unknown>> };
  };
  /** The payload of the `<cwdb-action>` that made the call. */
  readonly [payloadField: string]: unknown;
}

/** What the widgets read and do; the Lambdas pass the support library's functions. */
export interface WidgetSources {
  /** Checks raw query parameters (throws a 400 HttpError) and returns the query `search` takes. */
  readonly parseSearchQuery: (params: Record<string, string | undefined>) => SearchQuery;
  readonly searchMessages: (
    query: SearchQuery,
  ) => Promise<{ readonly items: readonly TraceView[]; readonly cursor?: string }>;
  readonly resubmitMessage: (messageId: string, requestedBy: string) => Promise<unknown>;
  readonly getSyncRequestStatus: (syncRequestId: string) => Promise<SyncRequestStatus | undefined>;
  /** The consolidated acks DACS refused in a window, newest first (Dead letters lists them when given). */
  readonly findRefusedAcks?: (query: {
    from: Date;
    to: Date;
    limit: number;
  }) => Promise<readonly RefusedAckView[]>;
  readonly resubmitSyncRequest?: (syncRequestId: string, requestedBy: string) => Promise<unknown>;
  readonly now?: () => Date;
}

/** Traces the Find widget lists per page. */
export const FIND_PAGE_SIZE = 20;
/** Dead letters the Dead letters widget lists per flow. */
export const DEAD_LETTERS_PER_FLOW = 25;
/** The Dead letters widget's window. */
export const DEAD_LETTERS_WINDOW_MS = 24 * 3600 * 1000;

export const FIND_MESSAGE_DOCS = `## Find a message
Finds the messages of a business id: device, opt-out, unavailability, sync request, event or DACS message id,
optionally narrowed by flow and state. Shows each message's state, attempts, last error and events, newest
first, with a link to the view of its sync request. No parameters.`;

export const DEAD_LETTERS_DOCS = `## Dead letters
The messages dead-lettered in the last 24 hours, per flow, with the reason of each, and a Resubmit button that
queues one again exactly as it was accepted (after a confirmation). Then the consolidated acknowledgements DACS
refused in that window, each with a Resubmit button that sends its frozen body again (after a confirmation).
No parameters.`;

const text = (value: unknown): string | undefined =>
  typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;

/** The Find form's values, from the form (a search) or from a Next page payload. */
function findValues(source: Readonly<Record<string, unknown>> | undefined): FindValues {
  const values: FindValues = {};
  for (const { name } of FIND_FIELDS) {
    const value = text(source?.[name]);
    if (value !== undefined) values[name] = value;
  }
  return values;
}

/** A refusal the support engineer can act on, as a notice; anything else is the widget's own failure. */
function refusal(error: unknown): Notice {
  if (error instanceof HttpError && error.expose) {
    const listed = (error.violations ?? []).map((v) => ` ${v.path}: ${v.message}.`).join('');
    return { kind: 'error', text: `${error.title}: ${error.message}${listed}` };
  }
  throw error;
}

export async function findMessageWidget(
  event: WidgetEvent,
  actions: ActionRenderer,
  sources: WidgetSources,
): Promise<string> {
  if (event.describe) return FIND_MESSAGE_DOCS;
  if (event.action === 'syncRequest') return syncRequestView(text(event.syncRequestId), actions, sources);
  const paging = event.action === NEXT_PAGE_ACTION;
  const values = findValues(
    paging ? (event.query as Record<string, unknown> | undefined) : event.widgetContext?.forms?.all,
  );
  if (Object.keys(values).length === 0) return renderFindMessage({ values }, actions).text;
  try {
    const query = sources.parseSearchQuery({
      ...values,
      limit: String(FIND_PAGE_SIZE),
      ...(paging ? { cursor: text(event.cursor) } : {}),
    });
    const result = await sources.searchMessages(query);
    return renderFindMessage({ values, result }, actions).text;
  } catch (error) {
    return renderFindMessage({ values, notice: refusal(error) }, actions).text;
  }
}

async function syncRequestView(
  syncRequestId: string | undefined,
  actions: ActionRenderer,
  sources: WidgetSources,
): Promise<string> {
  const status = syncRequestId ? await sources.getSyncRequestStatus(syncRequestId) : undefined;
  if (status) return renderSyncRequest(status, actions).text;
  const notice: Notice = {
    kind: 'error',
    text: `No sync request ${syncRequestId ?? ''} is known (or it has expired).`,
  };
  return renderFindMessage({ values: {}, notice }, actions).text;
}

/** Who asked for a resubmit from a dashboard: the Lambda sees the dashboard, not the console user. */
export const dashboardRequester = (event: WidgetEvent): string =>
  `cloudwatch-dashboard:${event.widgetContext?.dashboardName ?? 'unknown'}@${event.widgetContext?.accountId ?? 'unknown'}`;

export async function deadLettersWidget(
  event: WidgetEvent,
  actions: ActionRenderer,
  requestedBy: string,
  sources: WidgetSources,
): Promise<string> {
  if (event.describe) return DEAD_LETTERS_DOCS;
  const notice = await deadLettersAction(event, requestedBy, sources);
  const to = (sources.now ?? (() => new Date()))();
  const from = new Date(to.getTime() - DEAD_LETTERS_WINDOW_MS);
  const groups = await Promise.all(
    FLOW_IDS.map(async (flow) => {
      const query = sources.parseSearchQuery({
        state: TRACE_STATES.DEAD_LETTERED,
        flow,
        from: from.toISOString(),
        to: to.toISOString(),
        limit: String(DEAD_LETTERS_PER_FLOW),
      });
      const page = await sources.searchMessages(query);
      return { flow, items: page.items, more: page.cursor !== undefined };
    }),
  );
  const refused = await refusedAcks(sources, from, to);
  const view: DeadLettersView = {
    from: from.toISOString(),
    to: to.toISOString(),
    groups,
    ...(refused ? { refused } : {}),
    ...(notice ? { notice } : {}),
  };
  return renderDeadLetters(view, actions).text;
}

/** The Resubmit a Dead letters call carries, if any, done: its notice. */
async function deadLettersAction(
  event: WidgetEvent,
  requestedBy: string,
  sources: WidgetSources,
): Promise<Notice | undefined> {
  const messageId = text(event.messageId);
  const syncRequestId = text(event.syncRequestId);
  try {
    if (event.action === RESUBMIT_ACTION && messageId) {
      await sources.resubmitMessage(messageId, requestedBy);
      return { kind: 'ok', text: `Resubmitted ${messageId}: it is queued again as it was accepted.` };
    }
    if (event.action === RESUBMIT_SYNC_ACTION && syncRequestId && sources.resubmitSyncRequest) {
      await sources.resubmitSyncRequest(syncRequestId, requestedBy);
      return {
        kind: 'ok',
        text: `Resubmitted the consolidated ack of ${syncRequestId}: it is being sent again, unchanged.`,
      };
    }
  } catch (error) {
    return refusal(error);
  }
  return undefined;
}

async function refusedAcks(
  sources: WidgetSources,
  from: Date,
  to: Date,
): Promise<DeadLettersView['refused']> {
  if (!sources.findRefusedAcks) return undefined;
  const items = await sources.findRefusedAcks({ from, to, limit: DEAD_LETTERS_PER_FLOW + 1 });
  return { items: items.slice(0, DEAD_LETTERS_PER_FLOW), more: items.length > DEAD_LETTERS_PER_FLOW };
}
