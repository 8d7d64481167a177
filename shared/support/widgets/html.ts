/**
 * HTML for the support widgets, where every value is escaped by construction: {@link html} escapes each
 * interpolated value unless it is already {@link SafeHtml} (made by `html` itself), so a template cannot
 * forget to escape an id, an error text or a form value. Pure: no I/O.
 *
 * How a button acts differs by where the HTML is shown: in a CloudWatch custom widget it is a
 * `<cwdb-action action="call">` on the widget's own Lambda (JavaScript is stripped there); on the local
 * support page it is a small form posted to the page. {@link ActionRenderer} hides the difference, so the
 * widgets render the same markup for both.
 */
import escapeHtml from 'escape-html';

/** Markup that is already safe to insert; only {@link html} and {@link raw} make it. */
export class SafeHtml {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

type Interpolation = SafeHtml | string | number | boolean | undefined | null | readonly Interpolation[];

function render(value: Interpolation): string {
  if (value === undefined || value === null || value === false) return '';
  if (value instanceof SafeHtml) return value.text;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

/** A template whose interpolations are escaped (arrays are joined; `undefined`, `null`, `false` are empty). */
export function html(strings: TemplateStringsArray, ...values: readonly Interpolation[]): SafeHtml {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    out += render(value) + (strings[i + 1] ?? '');
  });
  return new SafeHtml(out);
}

/** Trusted constant markup (style sheets): never pass data through it. */
export const raw = (text: string): SafeHtml => new SafeHtml(text);

/** A widget's request for a call of itself, with the JSON payload the call carries. */
export interface ActionOptions {
  /** Asked before the call; the call happens only when confirmed. */
  readonly confirmation?: string;
  /** Where the answer goes: the widget itself, or a pop-up (CloudWatch only; locally the widget). */
  readonly display?: 'widget' | 'popup';
  /** A primary (highlighted) button. */
  readonly primary?: boolean;
}

/** A form field: its name, label and current value. */
export interface FormField {
  readonly name: string;
  readonly label: string;
  readonly value?: string;
  /** Offered values, shown as a drop-down with an empty first choice. */
  readonly choices?: readonly string[];
}

export interface ActionRenderer {
  /** A button that calls the widget with `payload`. */
  button(label: string, payload: Record<string, unknown>, options?: ActionOptions): SafeHtml;
  /** A form of `fields` and a submit button that calls the widget with `payload` and the fields' values. */
  form(fields: readonly FormField[], submitLabel: string, payload: Record<string, unknown>): SafeHtml;
}

/** The `<cwdb-action>` content: the payload as JSON text, HTML-escaped (the dashboard reads the text). */
const payloadText = (payload: Record<string, unknown>): string => JSON.stringify(payload);

function fieldInputs(fields: readonly FormField[]): SafeHtml {
  return html`${fields.map(
    (f) =>
      html`<label>${f.label} ${
        f.choices
          ? html`<select name="${f.name}"><option value=""></option>${f.choices.map(
              (c) => html`<option value="${c}"${c === f.value ? raw(' selected') : ''}>${c}</option>`,
            )}</select>`
          : html`<input name="${f.name}" value="${f.value ?? ''}" size="18">`
      }</label> `,
  )}`;
}

/**
 * In a CloudWatch dashboard: buttons are links followed by a `<cwdb-action>` calling `endpoint` (the
 * widget's own function ARN); form values reach the call as `widgetContext.forms.all`.
 */
export function cloudWatchActions(endpoint: string): ActionRenderer {
  const action = (payload: Record<string, unknown>, options: ActionOptions = {}) =>
    html`<cwdb-action action="call" endpoint="${endpoint}" display="${options.display ?? 'widget'}"${
      options.confirmation ? html` confirmation="${options.confirmation}"` : ''
    }>${payloadText(payload)}</cwdb-action>`;
  return {
    button: (label, payload, options = {}) =>
      html`<a class="btn${options.primary ? ' btn-primary' : ''}">${label}</a>${action(payload, options)}`,
    form: (fields, submitLabel, payload) =>
      html`<form>${fieldInputs(fields)}</form><a class="btn btn-primary">${submitLabel}</a>${action(payload)}`,
  };
}

/** The form field carrying a local action's payload, and the one naming the widget. */
export const LOCAL_PAYLOAD_FIELD = '_payload';
export const LOCAL_WIDGET_FIELD = '_widget';

/**
 * On the local support page: each action is a form posted to `path`, naming the widget and carrying the
 * payload as JSON in a hidden field; a confirmation is a `data-confirm` attribute the page's one script
 * asks with `confirm()` before submitting.
 */
export function localActions(path: string, widget: string): ActionRenderer {
  const hidden = (payload: Record<string, unknown>) =>
    html`<input type="hidden" name="${LOCAL_WIDGET_FIELD}" value="${widget}"><input type="hidden" name="${LOCAL_PAYLOAD_FIELD}" value="${payloadText(payload)}">`;
  return {
    button: (label, payload, options = {}) =>
      html`<form class="inline" method="post" action="${path}"${
        options.confirmation ? html` data-confirm="${options.confirmation}"` : ''
      }>${hidden(payload)}<button type="submit" class="btn${options.primary ? ' btn-primary' : ''}">${label}</button></form>`,
    form: (fields, submitLabel, payload) =>
      html`<form method="post" action="${path}">${hidden(payload)}${fieldInputs(fields)}<button type="submit" class="btn btn-primary">${submitLabel}</button></form>`,
  };
}

/** A notice above a widget's content: what an action did, or why it was refused. */
export interface Notice {
  readonly kind: 'ok' | 'error';
  readonly text: string;
}

export const noticeHtml = (notice: Notice | undefined): SafeHtml =>
  notice ? html`<p class="notice ${notice.kind}" role="status">${notice.text}</p>` : html``;

/** The widgets' own styles, scoped to their class names. */
export const WIDGET_STYLE = raw(
  '<style>' +
    '.sw table{border-collapse:collapse;width:100%}.sw th,.sw td{border-bottom:1px solid #ddd;padding:2px 6px;' +
    'text-align:left;vertical-align:top;font-size:12px}.sw .notice{padding:4px 8px}.sw .ok{background:#e6f4ea}' +
    '.sw .error{background:#fce8e6}.sw .state{font-weight:bold}.sw .events{margin:0;padding-left:14px}' +
    '.sw form.inline{display:inline}.sw label{margin-right:6px;white-space:nowrap}.sw .muted{color:#666}' +
    '</style>',
);
