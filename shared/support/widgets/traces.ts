/**
 * A list of MessageTraces as an HTML table: ids, state, attempts, last error and events, with the links a
 * trace offers (its sync request's view). Pure.
 */
import { type ActionRenderer, html, type SafeHtml } from './html.ts';

/** What a widget shows of a MessageTrace (the contract's MessageTrace fits it). */
export interface TraceView {
  readonly messageId: string;
  readonly flow: string;
  readonly businessKey: string;
  readonly keys?: Readonly<Record<string, string>>;
  readonly receivedAt: string;
  readonly state: string;
  readonly attempts: number;
  readonly lastError?: string;
  readonly deliveredAt?: string;
  readonly deadLetteredAt?: string;
  readonly nextAttemptAt?: string;
  readonly eventsOmitted?: number;
  readonly events?: readonly {
    readonly at: string;
    readonly state: string;
    readonly attempt?: number;
    readonly detail?: string;
  }[];
}

/** The payload asking the Find widget for a sync request's view. */
export const syncRequestPayload = (syncRequestId: string) => ({ action: 'syncRequest', syncRequestId });

function keysCell(trace: TraceView): SafeHtml {
  const keys = Object.entries(trace.keys ?? {});
  return html`${keys.map(([name, value]) => html`<div>${name}: <code>${value}</code></div>`)}`;
}

function eventsCell(trace: TraceView): SafeHtml {
  const events = trace.events ?? [];
  const omitted = trace.eventsOmitted
    ? html`<li class="muted">${trace.eventsOmitted} more retries not listed</li>`
    : '';
  return html`<ol class="events">${events.map(
    (e) =>
      html`<li>${e.at} ${e.state}${e.attempt !== undefined ? ` (attempt ${e.attempt})` : ''}${
        e.detail ? html`: ${e.detail}` : ''
      }</li>`,
  )}${omitted}</ol>`;
}

function when(trace: TraceView): SafeHtml {
  return html`<div>received ${trace.receivedAt}</div>${
    trace.deliveredAt ? html`<div>delivered ${trace.deliveredAt}</div>` : ''
  }${trace.deadLetteredAt ? html`<div>dead-lettered ${trace.deadLetteredAt}</div>` : ''}${
    trace.nextAttemptAt ? html`<div>next attempt ${trace.nextAttemptAt}</div>` : ''
  }`;
}

/** Extra cells a caller adds to each row (the Dead letters widget's Resubmit button). */
export type RowExtra = (trace: TraceView) => SafeHtml;

/** One row per trace; `extra` adds a last column. */
export function traceTable(
  traces: readonly TraceView[],
  actions: ActionRenderer,
  extra?: { readonly header: string; readonly cell: RowExtra },
): SafeHtml {
  if (traces.length === 0) return html`<p class="muted">No message matches.</p>`;
  const syncLink = (t: TraceView) => {
    const id = t.keys?.syncRequestId;
    return id ? actions.button('Sync request view', syncRequestPayload(id), { display: 'popup' }) : html``;
  };
  return html`<table><thead><tr><th>Message</th><th>Business ids</th><th>State</th><th>Attempts</th><th>When</th><th>Last error</th><th>Events</th>${
    extra ? html`<th>${extra.header}</th>` : ''
  }</tr></thead><tbody>${traces.map(
    (t) =>
      html`<tr data-message-id="${t.messageId}"><td><code>${t.messageId}</code><div>${t.flow}</div>${syncLink(t)}</td><td>${keysCell(t)}</td><td class="state">${t.state}</td><td>${t.attempts}</td><td>${when(t)}</td><td>${t.lastError ?? ''}</td><td>${eventsCell(t)}</td>${
        extra ? html`<td>${extra.cell(t)}</td>` : ''
      }</tr>`,
  )}</tbody></table>`;
}
