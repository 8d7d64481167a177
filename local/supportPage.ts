/**
 * The local support page, `http://127.0.0.1:3000/support/`: the dashboard's two custom widgets (Find a
 * message, Dead letters) on one page, rendered by the same widget functions the Lambdas call, with the
 * local {@link localActions}: each button posts a form back to the page, which calls that widget with the
 * button's payload and the form's values, as the dashboard calls a widget's Lambda.
 *
 * It sits behind the support client's credentials: HTTP Basic with a client id and secret the token
 * endpoint would give an `integration/support` token for (`support-local` / `local-secret` by default),
 * checked by that endpoint's own code; anything else is a 401. A resubmit is requested by that client id.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseBasicAuth, type TokenService } from '#local/auth.ts';
import { CALLERS } from '#shared/flows/registry.ts';
import { PROBLEM_CONTENT_TYPE, problemForStatus } from '#shared/handlers/problems.ts';
import {
  html,
  LOCAL_PAYLOAD_FIELD,
  LOCAL_WIDGET_FIELD,
  localActions,
  raw,
} from '#shared/support/widgets/html.ts';
import { SUPPORT_SOURCES } from '#shared/support/widgets/sources.ts';
import {
  deadLettersWidget,
  findMessageWidget,
  type WidgetEvent,
  type WidgetSources,
} from '#shared/support/widgets/widgets.ts';

export const SUPPORT_PAGE_PATH = '/support/';

/** Whether the local host hands a path to this page. */
export const isSupportPagePath = (path: string): boolean =>
  path === '/support' || path.startsWith('/support/');

/** Asks the confirmation a button carries (`data-confirm`) before its form is posted. */
const CONFIRM_SCRIPT =
  "document.addEventListener('submit',function(e){var m=e.target.getAttribute('data-confirm');" +
  'if(m&&!window.confirm(m))e.preventDefault();});';
const SCRIPT_HASH = createHash('sha256').update(CONFIRM_SCRIPT).digest('base64');

/** No script but the one above, no other origin, forms posted here only. */
export const SUPPORT_PAGE_CSP = `default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-${SCRIPT_HASH}'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`;

export interface SupportPageCall {
  readonly method: string;
  readonly url: URL;
  readonly body: Buffer;
}

export interface SupportPageOptions {
  /** The token endpoint whose client check guards the page. */
  readonly tokens: TokenService;
  /** @default the support library (shared/support) */
  readonly sources?: WidgetSources;
}

export async function serveSupportPage(
  options: SupportPageOptions,
  req: IncomingMessage,
  res: ServerResponse,
  call: SupportPageCall,
): Promise<void> {
  const clientId = await supportClient(options.tokens, req.headers.authorization);
  if (!clientId) {
    return sendProblem(res, 401, 'The support page needs the support client id and secret (HTTP Basic).', {
      'WWW-Authenticate': 'Basic realm="support", charset="UTF-8"',
    });
  }
  if (call.url.pathname !== SUPPORT_PAGE_PATH) {
    if (call.url.pathname !== '/support') return sendProblem(res, 404, `No page ${call.url.pathname}`);
    res.writeHead(308, { Location: SUPPORT_PAGE_PATH, 'Content-Length': 0 });
    return void res.end();
  }
  if (call.method !== 'GET' && call.method !== 'POST') {
    return sendProblem(res, 405, `${call.method} is not served here; GET or POST.`, { Allow: 'GET, POST' });
  }
  const posted = call.method === 'POST' ? readPost(call.body) : { widget: undefined, event: {} };
  if ('error' in posted) return sendProblem(res, 400, posted.error);
  const page = await renderPage(posted.widget, posted.event, clientId, options.sources ?? SUPPORT_SOURCES);
  sendHtml(res, page);
}

/** The client id of valid support credentials, as the token endpoint checks them; else undefined. */
async function supportClient(tokens: TokenService, authorization: string | undefined) {
  const credentials = parseBasicAuth(authorization);
  if (!credentials) return undefined;
  const form = new URLSearchParams({ grant_type: 'client_credentials', scope: CALLERS.support });
  const answer = await tokens.issue(form, authorization);
  return answer.status === 200 ? credentials.clientId : undefined;
}

type Widget = 'findMessage' | 'deadLetters';
type Posted = { widget: Widget | undefined; event: WidgetEvent } | { error: string };

/** A posted action: which widget, its payload, and the other fields as the widget's form values. */
export function readPost(body: Buffer): Posted {
  const form = new URLSearchParams(body.toString('utf8'));
  const widget = form.get(LOCAL_WIDGET_FIELD);
  if (widget !== 'findMessage' && widget !== 'deadLetters') {
    return { error: `${LOCAL_WIDGET_FIELD} must be findMessage or deadLetters.` };
  }
  let payload: unknown;
  try {
    payload = JSON.parse(form.get(LOCAL_PAYLOAD_FIELD) ?? '{}');
  } catch {
    return { error: `${LOCAL_PAYLOAD_FIELD} is not JSON.` };
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    return { error: `${LOCAL_PAYLOAD_FIELD} must be a JSON object.` };
  }
  const all: Record<string, string> = {};
  for (const [name, value] of form) if (!name.startsWith('_')) all[name] = value;
  return { widget, event: { ...payload, widgetContext: { forms: { all } } } };
}

/** Both widgets: the one posted to answers its call, the other shows as it does when loaded. */
async function renderPage(
  posted: Widget | undefined,
  event: WidgetEvent,
  clientId: string,
  sources: WidgetSources,
): Promise<string> {
  const eventFor = (widget: Widget): WidgetEvent => (widget === posted ? event : {});
  const [find, deadLetters] = await Promise.all([
    findMessageWidget(eventFor('findMessage'), localActions(SUPPORT_PAGE_PATH, 'findMessage'), sources),
    deadLettersWidget(
      eventFor('deadLetters'),
      localActions(SUPPORT_PAGE_PATH, 'deadLetters'),
      clientId,
      sources,
    ),
  ]);
  return html`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Support: DACS ⇄ DERMS integration</title>
<style>body{font-family:system-ui,sans-serif;margin:16px;font-size:14px}section{margin-bottom:24px}.btn{margin:2px}</style></head>
<body><h1>Support</h1><p>Signed in as <code>${clientId}</code>. The dashboard's custom widgets, served locally.</p>
<section id="find-message"><h2>Find a message</h2>${raw(find)}</section>
<section id="dead-letters"><h2>Dead letters</h2>${raw(deadLetters)}</section>
<script>${raw(CONFIRM_SCRIPT)}</script></body></html>`.text;
}

function sendHtml(res: ServerResponse, page: string): void {
  res.writeHead(200, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': Buffer.byteLength(page),
    'Cache-Control': 'no-store',
    'Content-Security-Policy': SUPPORT_PAGE_CSP,
    'X-Content-Type-Options': 'nosniff',
  });
  res.end(page);
}

function sendProblem(
  res: ServerResponse,
  status: number,
  detail: string,
  headers: Record<string, string> = {},
): void {
  const { type, title } = problemForStatus(status);
  const body = JSON.stringify({ type, title, status, detail });
  res.writeHead(status, {
    'Content-Type': PROBLEM_CONTENT_TYPE,
    'Content-Length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}
