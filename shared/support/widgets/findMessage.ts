/**
 * The Find a message widget: a form with the business ids, the matching traces (newest first, a page at a
 * time) and, on request, a sync request's view. Pure: data in, HTML out.
 */
import type { SyncRequestStatus } from '#shared/contracts/types.ts';
import { FLOW_IDS } from '#shared/flows/registry.ts';
import { TRACE_STATES } from '#shared/trace/store.ts';
import {
  type ActionRenderer,
  type FormField,
  html,
  type Notice,
  noticeHtml,
  type SafeHtml,
  WIDGET_STYLE,
} from './html.ts';
import { type TraceView, traceTable } from './traces.ts';

/** The form's fields: the business ids the search takes, then the filters. */
export const FIND_FIELDS = [
  { name: 'deviceId', label: 'Device' },
  { name: 'optOutId', label: 'Opt-out' },
  { name: 'unavailabilityId', label: 'Unavailability' },
  { name: 'syncRequestId', label: 'Sync request' },
  { name: 'eventExternalIdentifier', label: 'Event' },
  { name: 'dacsMessageId', label: 'DACS message' },
  { name: 'flow', label: 'Flow', choices: FLOW_IDS },
  { name: 'state', label: 'State', choices: Object.values(TRACE_STATES) },
] as const satisfies readonly Omit<FormField, 'value'>[];

export type FindFieldName = (typeof FIND_FIELDS)[number]['name'];
export type FindValues = Partial<Record<FindFieldName, string>>;

/** The payload of the Search button, and of a Next page button (with the cursor and the query it pages). */
export const SEARCH_ACTION = 'search';
export const NEXT_PAGE_ACTION = 'nextPage';

export interface FindMessageView {
  /** The form's values (what was searched for). */
  readonly values: FindValues;
  /** The search's answer; absent before the first search. */
  readonly result?: { readonly items: readonly TraceView[]; readonly cursor?: string };
  readonly notice?: Notice;
}

export function renderFindMessage(view: FindMessageView, actions: ActionRenderer): SafeHtml {
  const fields: FormField[] = FIND_FIELDS.map((f) => ({ ...f, value: view.values[f.name] }));
  const { result } = view;
  const next = result?.cursor
    ? actions.button('Next page', { action: NEXT_PAGE_ACTION, cursor: result.cursor, query: view.values })
    : '';
  const body = result
    ? html`<p class="muted">${result.items.length} message${result.items.length === 1 ? '' : 's'}, newest first.</p>${traceTable(result.items, actions)}${next}`
    : html`<p class="muted">Give one or more business ids, then Search.</p>`;
  return html`${WIDGET_STYLE}<div class="sw find">${actions.form(fields, 'Search', { action: SEARCH_ACTION })}${noticeHtml(view.notice)}${body}</div>`;
}

type Device = SyncRequestStatus['devices'][number];
type Ack = SyncRequestStatus['acks'][number];

const deviceRow = (d: Device) =>
  html`<tr><td><code>${d.deviceId}</code></td><td>${d.expected}</td><td>${d.reportedStatus ?? 'none yet'}</td><td>${d.reportedAt ?? ''}</td><td>${d.message ?? ''}</td><td>${d.headEndRegistration ?? ''}</td></tr>`;

const ackRow = (a: Ack) =>
  html`<tr><td>${a.sequence}</td><td>${a.ackType}</td><td>${a.ackDateTime}</td><td>${a.final ? 'final' : ''}</td><td>${a.deviceCount ?? ''}</td><td><code>${a.messageId ?? ''}</code></td></tr>`;

function consolidatedHtml(status: SyncRequestStatus): SafeHtml {
  const ack = status.consolidatedAck;
  if (!ack) return html`<p>Consolidated ack: not yet (deadline ${status.deadline}).</p>`;
  const d = ack.delivery;
  return html`<p>Consolidated ack: <span class="state">${d.state}</span>, ${d.attempts} attempt${d.attempts === 1 ? '' : 's'}${
    ack.trigger ? `, trigger ${ack.trigger}` : ''
  }${ack.sentAt ? `, sent ${ack.sentAt}` : ''}${d.nextAttemptAt ? `, next attempt ${d.nextAttemptAt}` : ''}${
    d.lastError ? html`; last error: ${d.lastError}` : ''
  }</p>`;
}

/** A sync request's support view: devices, acks received and the consolidated ack's delivery. */
export function renderSyncRequest(status: SyncRequestStatus, actions: ActionRenderer): SafeHtml {
  const back = actions.button('Back to search', { action: SEARCH_ACTION, query: {} });
  return html`${WIDGET_STYLE}<div class="sw sync-request"><h3>Sync request <code>${status.syncRequestId}</code></h3>
<p>${status.reason ?? ''} received ${status.receivedAt ?? 'unknown'}, deadline ${status.deadline}${
    status.enrollmentRefused
      ? html`; DERMS refused it ${status.enrollmentRefused.at}: ${status.enrollmentRefused.reason}`
      : ''
  }</p>${consolidatedHtml(status)}
<table><thead><tr><th>Device</th><th>Expected</th><th>Reported</th><th>At</th><th>Message</th><th>DACS flag</th></tr></thead><tbody>${status.devices.map(deviceRow)}</tbody></table>
<h4>Acks received (${status.acks.length})</h4>
<table><thead><tr><th>Seq</th><th>Type</th><th>ackDateTime</th><th></th><th>Devices</th><th>Message</th></tr></thead><tbody>${status.acks.map(ackRow)}</tbody></table>
<p class="muted">${status.followUps?.length ?? 0} follow-up ack(s) accepted by DACS.</p>${back}</div>`;
}
