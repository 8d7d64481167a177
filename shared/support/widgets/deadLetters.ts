/**
 * The Dead letters widget: the messages dead-lettered in the last 24 h, per flow, with their reasons and a
 * Resubmit button on each that asks for confirmation first. Pure: data in, HTML out.
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

export interface DeadLettersView {
  /** The window's start and end (ISO). */
  readonly from: string;
  readonly to: string;
  readonly groups: readonly DeadLetterGroup[];
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

export function renderDeadLetters(view: DeadLettersView, actions: ActionRenderer): SafeHtml {
  const total = view.groups.reduce((n, g) => n + g.items.length, 0);
  return html`${WIDGET_STYLE}<div class="sw dead-letters">${noticeHtml(view.notice)}<p class="muted">Dead-lettered from ${view.from} to ${view.to}: ${total}. ${actions.button('Refresh', {})}</p>${view.groups.map(
    (g) => groupHtml(g, actions),
  )}</div>`;
}
