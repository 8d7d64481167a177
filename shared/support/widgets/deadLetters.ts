/**
 * The Dead letters widget: the messages dead-lettered in the last 24 h, per flow, with their reasons and a
 * Resubmit button on each that asks for confirmation first, then the consolidated acks DACS refused in
 * that window, each with its own Resubmit button. Pure: data in, HTML out.
 */
import { type ActionRenderer, html, type Notice, noticeHtml, type SafeHtml, WIDGET_STYLE } from './html.ts';
import { type TraceView, traceTable } from './traces.ts';

/** The payload of a Resubmit button. */
export const RESUBMIT_ACTION = 'resubmit';
export const resubmitPayload = (messageId: string) => ({ action: RESUBMIT_ACTION, messageId });

export interface DeadLetterGroup {
  readonly flow: string;
  readonly items: readonly TraceView[];
  /** Set when the flow has more dead letters in the window than are listed. */
  readonly more?: boolean;
}

/** The payload of a refused consolidated ack's Resubmit button. */
export const RESUBMIT_SYNC_ACTION = 'resubmitSync';
export const resubmitSyncPayload = (syncRequestId: string) => ({
  action: RESUBMIT_SYNC_ACTION,
  syncRequestId,
});

/** A sync request whose consolidated ack DACS refused (DEAD_LETTERED now). */
export interface RefusedAckView {
  readonly syncRequestId: string;
  /** When it was dead-lettered (ISO). */
  readonly deadLetteredAt: string;
  readonly attempts: number;
  readonly lastError?: string;
  readonly resubmissions?: number;
}

export interface DeadLettersView {
  /** The window's start and end (ISO). */
  readonly from: string;
  readonly to: string;
  readonly groups: readonly DeadLetterGroup[];
  /** The refused consolidated acks of the window; absent when the sources cannot list them. */
  readonly refused?: { readonly items: readonly RefusedAckView[]; readonly more: boolean };
  readonly notice?: Notice;
}

const confirmation = (t: TraceView) =>
  `Resubmit ${t.flow} message ${t.messageId} (${t.businessKey})? It is queued again exactly as it was accepted.`;

function groupHtml(group: DeadLetterGroup, actions: ActionRenderer): SafeHtml {
  const resubmit = {
    header: 'Resubmit',
    cell: (t: TraceView) =>
      actions.button('Resubmit', resubmitPayload(t.messageId), {
        confirmation: confirmation(t),
        primary: true,
      }),
  };
  const more = group.more
    ? html`<p class="muted">More dead letters than listed: use Find a message with flow ${group.flow} and state DEAD_LETTERED, or <code>npm run support -- find</code>.</p>`
    : '';
  return html`<section data-flow="${group.flow}"><h4>${group.flow}: ${group.items.length}${group.more ? '+' : ''} dead-lettered</h4>${
    group.items.length ? traceTable(group.items, actions, resubmit) : ''
  }${more}</section>`;
}

const syncConfirmation = (r: RefusedAckView) =>
  `Resubmit the consolidated ack of sync request ${r.syncRequestId}? DACS gets the same frozen body again, with the same Idempotency-Key.`;

function refusedHtml(refused: NonNullable<DeadLettersView['refused']>, actions: ActionRenderer): SafeHtml {
  const rows = refused.items.map(
    (r) =>
      html`<tr data-sync-request-id="${r.syncRequestId}"><td><code>${r.syncRequestId}</code></td><td>${r.deadLetteredAt}</td><td>${r.attempts}</td><td>${r.resubmissions ?? 0}</td><td>${r.lastError ?? ''}</td><td>${actions.button(
        'Resubmit',
        resubmitSyncPayload(r.syncRequestId),
        { confirmation: syncConfirmation(r), primary: true },
      )}</td></tr>`,
  );
  const table = refused.items.length
    ? html`<table><thead><tr><th>Sync request</th><th>Dead-lettered</th><th>Attempts</th><th>Resubmitted</th><th>Last error</th><th>Resubmit</th></tr></thead><tbody>${rows}</tbody></table>`
    : '';
  return html`<section data-refused-acks><h4>Consolidated acks refused by DACS: ${refused.items.length}${refused.more ? '+' : ''}</h4>${table}</section>`;
}

export function renderDeadLetters(view: DeadLettersView, actions: ActionRenderer): SafeHtml {
  const total = view.groups.reduce((n, g) => n + g.items.length, 0);
  return html`${WIDGET_STYLE}<div class="sw dead-letters">${noticeHtml(view.notice)}<p class="muted">Dead-lettered from ${view.from} to ${view.to}: ${total}. ${actions.button('Refresh', {})}</p>${view.groups.map(
    (g) => groupHtml(g, actions),
  )}${view.refused ? refusedHtml(view.refused, actions) : ''}</div>`;
}
