/**
 * `npm run support -- <command>`: the support API from a terminal.
 *
 *   find --device D100 [--opt-out ID] [--unavailability ID] [--sync-request ID] [--event ID]
 *        [--dacs-message ID] [--state S] [--flow F] [--from T] [--to T] [--limit N] [--cursor C]
 *   show <messageId>
 *   resubmit <messageId>
 *   resubmit-sync <syncRequestId>   (a consolidated ack DACS refused: its frozen body, sent again)
 *
 * Local stack by default: `http://127.0.0.1:$LOCAL_API_PORT` (3000), with a token from its token endpoint
 * for `support-local` (secret `SUPPORT_LOCAL_CLIENT_SECRET`, `LOCAL_CLIENT_SECRET` or `local-secret`).
 * A deployed stage with `--api <url>` and the client credentials from the environment:
 * `SUPPORT_CLIENT_ID`, `SUPPORT_CLIENT_SECRET` and `SUPPORT_TOKEN_URL` (the Cognito token endpoint).
 * Output is a readable table; `--json` prints the raw answer. Exit code 1 on an error answer, 2 on usage.
 */
import { parseArgs } from 'node:util';

export const USAGE = `Usage: npm run support -- <command> [options]
  find      --device D | --opt-out ID | --unavailability ID | --sync-request ID | --event ID | --dacs-message ID
            [--state S] [--flow F] [--from T] [--to T] [--limit N] [--cursor C]
  show      <messageId>
  resubmit  <messageId>
  resubmit-sync <syncRequestId>   (the consolidated ack DACS refused, sent again unchanged)
Options: --json (raw answer)  --api <url> (a deployed stage; SUPPORT_CLIENT_ID, SUPPORT_CLIENT_SECRET,
         SUPPORT_TOKEN_URL from the environment; default: the local stack)`;

/** The `find` options and the search parameter each one sets. */
export const FIND_OPTIONS = {
  device: 'deviceId',
  'opt-out': 'optOutId',
  unavailability: 'unavailabilityId',
  'sync-request': 'syncRequestId',
  event: 'eventExternalIdentifier',
  'dacs-message': 'dacsMessageId',
  state: 'state',
  flow: 'flow',
  from: 'from',
  to: 'to',
  limit: 'limit',
  cursor: 'cursor',
} as const;

export type Command =
  | { kind: 'find'; query: Record<string, string> }
  | { kind: 'show' | 'resubmit'; messageId: string }
  | { kind: 'resubmit-sync'; syncRequestId: string };

export interface Invocation {
  command: Command;
  json: boolean;
  api?: string;
}

export class UsageError extends Error {}

/** Reads the command line; throws a UsageError naming what is wrong. */
export function parseCommandLine(argv: string[]): Invocation {
  const options = Object.fromEntries(
    Object.keys(FIND_OPTIONS).map((name) => [name, { type: 'string' as const }]),
  );
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: { ...options, json: { type: 'boolean' }, api: { type: 'string' } },
  });
  const given = values as Record<string, string | boolean | undefined>;
  const [name, id, ...rest] = positionals;
  const base = { json: values.json === true, ...(typeof values.api === 'string' ? { api: values.api } : {}) };
  if (name === 'find') {
    if (id !== undefined) throw new UsageError(`find takes options, not ${id}`);
    const query: Record<string, string> = {};
    for (const [option, parameter] of Object.entries(FIND_OPTIONS)) {
      const value = given[option];
      if (typeof value === 'string') query[parameter] = value;
    }
    if (Object.keys(query).length === 0)
      throw new UsageError('find needs at least one option, e.g. --device D100');
    return { ...base, command: { kind: 'find', query } };
  }
  if (name === 'show' || name === 'resubmit' || name === 'resubmit-sync') {
    const what = name === 'resubmit-sync' ? 'syncRequestId' : 'messageId';
    if (!id || rest.length > 0) throw new UsageError(`${name} takes exactly one ${what}`);
    const extra = Object.keys(FIND_OPTIONS).filter((o) => given[o] !== undefined);
    if (extra.length > 0) throw new UsageError(`${name} takes no --${extra[0]}`);
    const command: Command =
      name === 'resubmit-sync' ? { kind: name, syncRequestId: id } : { kind: name, messageId: id };
    return { ...base, command };
  }
  throw new UsageError(name ? `unknown command ${name}` : 'no command given');
}

interface Trace {
  messageId: string;
  flow: string;
  state: string;
  attempts: number;
  receivedAt: string;
  keys?: Record<string, string>;
  lastError?: string;
  events?: { at: string; state: string; attempt?: number; detail?: string }[];
  [field: string]: unknown;
}

const clip = (text: string, max: number): string => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** Rows as an aligned text table under a header row. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

const keysOf = (trace: Trace): string =>
  Object.entries(trace.keys ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');

/** A search page as a table, and how to get the next page. */
export function formatPage(page: { items: Trace[]; cursor?: string }): string {
  if (page.items.length === 0) return 'No message matches.';
  const rows = page.items.map((t) => [
    t.receivedAt,
    t.flow,
    t.state,
    String(t.attempts),
    t.messageId,
    clip(keysOf(t), 60),
    clip(t.lastError ?? '', 60),
  ]);
  const text = table(['RECEIVED', 'FLOW', 'STATE', 'TRIES', 'MESSAGE ID', 'KEYS', 'LAST ERROR'], rows);
  return page.cursor ? `${text}\n\nMore: add --cursor ${page.cursor}` : text;
}

/** One trace: its fields, then its events. */
export function formatTrace(trace: Trace): string {
  const fields = Object.entries(trace)
    .filter(([name]) => name !== 'events' && name !== 'keys')
    .map(([name, value]) => [name, String(value)]);
  fields.push(['keys', keysOf(trace)]);
  const head = table(['FIELD', 'VALUE'], fields);
  const events = (trace.events ?? []).map((e) => [
    e.at,
    e.state,
    e.attempt === undefined ? '' : String(e.attempt),
    clip(e.detail ?? '', 100),
  ]);
  return `${head}\n\n${table(['AT', 'EVENT', 'ATTEMPT', 'DETAIL'], events)}`;
}

interface SyncResubmitted {
  syncRequestId: string;
  delivery?: { state?: string; attempts?: number; lastError?: string; nextAttemptAt?: string };
  resubmissions?: number;
  resubmittedAt?: string;
  resubmittedBy?: string;
}

/** A sync request's resubmit answer as a table, and how to follow it. */
export function formatSyncResubmitted(body: SyncResubmitted): string {
  const rows = [
    ['syncRequestId', body.syncRequestId],
    ['delivery', body.delivery?.state ?? ''],
    ['attempts', String(body.delivery?.attempts ?? '')],
    ['nextAttemptAt', body.delivery?.nextAttemptAt ?? ''],
    ['lastError', clip(body.delivery?.lastError ?? '', 100)],
    ['resubmissions', String(body.resubmissions ?? '')],
    ['resubmittedAt', body.resubmittedAt ?? ''],
    ['resubmittedBy', body.resubmittedBy ?? ''],
  ];
  return (
    `Resubmitted the consolidated ack of ${body.syncRequestId}: it is sent again, unchanged.\n\n` +
    `${table(['FIELD', 'VALUE'], rows)}\n\n` +
    `Follow it: GET /v1/sync-requests/${body.syncRequestId}, its consolidatedAck.delivery`
  );
}

interface Target {
  api: string;
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
}

/** Where to call and with which client: the local stack, or `--api` with credentials from the environment. */
export function targetOf(invocation: Invocation, env: NodeJS.ProcessEnv = process.env): Target {
  if (invocation.api) {
    const missing = ['SUPPORT_CLIENT_ID', 'SUPPORT_CLIENT_SECRET', 'SUPPORT_TOKEN_URL'].filter(
      (k) => !env[k],
    );
    if (missing.length > 0) throw new UsageError(`--api needs ${missing.join(', ')} in the environment`);
    return {
      api: invocation.api.replace(/\/$/, ''),
      tokenUrl: env.SUPPORT_TOKEN_URL!,
      clientId: env.SUPPORT_CLIENT_ID!,
      clientSecret: env.SUPPORT_CLIENT_SECRET!,
    };
  }
  const api = `http://127.0.0.1:${env.LOCAL_API_PORT || 3000}`;
  return {
    api,
    tokenUrl: `${api}/oauth2/token`,
    clientId: 'support-local',
    clientSecret: env.SUPPORT_LOCAL_CLIENT_SECRET || env.LOCAL_CLIENT_SECRET || 'local-secret',
  };
}

async function tokenFor(target: Target): Promise<string> {
  const basic = Buffer.from(`${target.clientId}:${target.clientSecret}`).toString('base64');
  const answer = await fetch(target.tokenUrl, {
    method: 'POST',
    headers: { Authorization: `Basic ${basic}`, 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'integration/support' }),
  });
  const body = (await answer.json().catch(() => ({}))) as { access_token?: string };
  if (!answer.ok || !body.access_token) throw new Error(`The token endpoint answered ${answer.status}`);
  return body.access_token;
}

/** The route a command calls. */
export function urlOf(command: Command, api: string): string {
  switch (command.kind) {
    case 'find':
      return `${api}/v1/messages?${new URLSearchParams(command.query)}`;
    case 'resubmit-sync':
      return `${api}/v1/sync-requests/${encodeURIComponent(command.syncRequestId)}/resubmit`;
    default:
      return `${api}/v1/messages/${encodeURIComponent(command.messageId)}${command.kind === 'resubmit' ? '/resubmit' : ''}`;
  }
}

/** Calls the route of the command; answers the status and the parsed body. */
export async function call(
  invocation: Invocation,
  target: Target,
): Promise<{ status: number; body: unknown }> {
  const token = await tokenFor(target);
  const { command } = invocation;
  const answer = await fetch(urlOf(command, target.api), {
    method: command.kind === 'find' || command.kind === 'show' ? 'GET' : 'POST',
    headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
  });
  const text = await answer.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON: shown as it came.
  }
  return { status: answer.status, body };
}

/** What to print for an answer. */
export function render(invocation: Invocation, status: number, body: unknown): string {
  if (invocation.json) return JSON.stringify(body, null, 2);
  if (status >= 400) {
    const problem = body as { title?: string; detail?: string; errors?: { path: string; message: string }[] };
    const errors = (problem.errors ?? []).map((e) => `  ${e.path}: ${e.message}`);
    return [`${status} ${problem.title ?? ''}: ${problem.detail ?? String(body)}`, ...errors].join('\n');
  }
  const { command } = invocation;
  if (command.kind === 'find') return formatPage(body as { items: Trace[]; cursor?: string });
  if (command.kind === 'show') return formatTrace(body as Trace);
  if (command.kind === 'resubmit-sync') return formatSyncResubmitted(body as SyncResubmitted);
  return `Resubmitted ${command.messageId}: it is queued again (follow it with: npm run support -- show ${command.messageId})`;
}

async function main(): Promise<void> {
  let invocation: Invocation;
  let target: Target;
  try {
    invocation = parseCommandLine(process.argv.slice(2));
    target = targetOf(invocation);
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  const { status, body } = await call(invocation, target);
  console.log(render(invocation, status, body));
  if (status >= 400) process.exit(1);
}

if (process.argv[1]?.endsWith('support.ts')) {
  main().catch((error: unknown) => {
    console.error(`support: ${(error as Error).message}`);
    process.exit(1);
  });
}
