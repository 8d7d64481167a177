/**
 * What the DERMS and DACS simulators share: the control API of the contract (`/sim/calls`,
 * `/sim/faults`), call recording with a delivery count per `Idempotency-Key`, and fault rules.
 *
 * Fault rules apply in the order they were added. `delay` rules add up; the first `status` or `reset`
 * rule ends the call, which is then not recorded. `silent` (DERMS) and `headEndFail` (DERMS, a local
 * extension) only mark the call for the simulator's asynchronous behaviour.
 *
 * Repeats are dropped, as the contract asks of every receiver: a call whose `Idempotency-Key` was
 * already applied on the same route (its route answered 2xx) is answered with that first answer (same
 * status and body) and applies nothing: its route and `afterAnswer` do not run (no DACS flag change, no
 * second DERMS acknowledgement). The repeat is still recorded, with `duplicate: true`, so tests can
 * count redundant deliveries. "Already applied" is decided when the call would apply, after any
 * `delay`: of two overlapping deliveries, the one that applies first wins and the other is the repeat.
 * A call answered by a `status` or `reset` rule applies nothing and is not remembered, so the next
 * delivery of its key applies. Calls without an `Idempotency-Key` always apply. `DELETE /sim/calls`
 * forgets the recorded calls, the delivery counts and the applied keys, so a test starts clean.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { send } from '#local/http.ts';
import { sleep } from '#shared/time.ts';

export const FAULT_ACTIONS = ['status', 'delay', 'reset', 'silent', 'headEndFail'] as const;
export type FaultAction = (typeof FAULT_ACTIONS)[number];

export interface FaultMatch {
  /** Suffix of the request path. */
  readonly path?: string;
  readonly syncRequestId?: string;
  /** Any `deviceId` in the body. */
  readonly deviceId?: string;
  /** The `Idempotency-Key` header. */
  readonly businessKey?: string;
}

export interface FaultRule {
  readonly id: string;
  readonly match: FaultMatch;
  readonly action: FaultAction;
  readonly status?: number;
  readonly retryAfterSeconds?: number;
  readonly delayMs?: number;
  /** Firings left; absent means always. */
  remaining?: number;
  /** `headEndFail` only: the message DERMS reports with FAILED. */
  readonly message?: string;
}

/** What fault matching looks at in a call. */
export interface CallFacts {
  readonly path: string;
  readonly syncRequestId?: string;
  readonly deviceIds: readonly string[];
  readonly businessKey?: string;
}

export interface RecordedCall {
  readonly path: string;
  readonly method: string;
  readonly receivedAt: string;
  readonly body: unknown;
  readonly idempotencyKey: string | null;
  readonly correlationId: string | null;
  /** 1 for the first call with this `Idempotency-Key`, 2 for the next, … (null without a key). */
  readonly delivery: number | null;
  /** True when the call repeated an `Idempotency-Key` already applied on its route: answered, not applied. */
  duplicate: boolean;
}

/** The sync request id of a body, wherever the mapping put it. */
export function syncRequestIdOf(body: unknown): string | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const b = body as Record<string, unknown> & { sendDetails?: { syncRequestId?: unknown } };
  const id = b.syncRequestId ?? b.dacsMessageId ?? b.sendDetails?.syncRequestId;
  return typeof id === 'string' ? id : undefined;
}

/** Every string `deviceId` anywhere in the body. */
export function deviceIdsOf(body: unknown): string[] {
  const found: string[] = [];
  const walk = (value: unknown, depth: number) => {
    if (depth > 8 || !value || typeof value !== 'object') return;
    if (Array.isArray(value)) {
      for (const item of value) walk(item, depth + 1);
      return;
    }
    for (const [key, inner] of Object.entries(value)) {
      if (key === 'deviceId' && typeof inner === 'string') found.push(inner);
      else walk(inner, depth + 1);
    }
  };
  walk(body, 0);
  return found;
}

export function callFacts(path: string, body: unknown, idempotencyKey: string | null): CallFacts {
  const syncRequestId = syncRequestIdOf(body);
  return {
    path,
    deviceIds: deviceIdsOf(body),
    ...(syncRequestId !== undefined ? { syncRequestId } : {}),
    ...(idempotencyKey !== null ? { businessKey: idempotencyKey } : {}),
  };
}

/** Whether every field the rule's `match` names agrees with the call. */
export function ruleMatches(match: FaultMatch, facts: CallFacts): boolean {
  if (match.path !== undefined && !facts.path.endsWith(match.path)) return false;
  if (match.syncRequestId !== undefined && facts.syncRequestId !== match.syncRequestId) return false;
  if (match.deviceId !== undefined && !facts.deviceIds.includes(match.deviceId)) return false;
  if (match.businessKey !== undefined && facts.businessKey !== match.businessKey) return false;
  return true;
}

export interface FaultDecision {
  delayMs: number;
  /** Set when a `status` rule answers the call. */
  status?: { status: number; retryAfterSeconds?: number };
  reset: boolean;
  silent: boolean;
  /** Devices a `headEndFail` rule fails, with the message to report. */
  failedDevices: Map<string, string>;
}

/** Applies the rules to a call, counting down `remaining` on each rule that fires. */
export function decideFaults(rules: FaultRule[], facts: CallFacts): FaultDecision {
  const decision: FaultDecision = { delayMs: 0, reset: false, silent: false, failedDevices: new Map() };
  for (const rule of rules) {
    if (rule.remaining !== undefined && rule.remaining <= 0) continue;
    if (!ruleMatches(rule.match, facts)) continue;
    if (rule.remaining !== undefined) rule.remaining -= 1;
    switch (rule.action) {
      case 'delay':
        decision.delayMs += rule.delayMs ?? 0;
        break;
      case 'silent':
        decision.silent = true;
        break;
      case 'headEndFail':
        if (rule.match.deviceId !== undefined) {
          decision.failedDevices.set(
            rule.match.deviceId,
            rule.message ?? 'Head-end registration failed (simulated)',
          );
        }
        break;
      case 'reset':
        decision.reset = true;
        return decision;
      case 'status':
        decision.status = {
          status: rule.status ?? 500,
          ...(rule.retryAfterSeconds !== undefined ? { retryAfterSeconds: rule.retryAfterSeconds } : {}),
        };
        return decision;
    }
  }
  return decision;
}

/** Checks a `POST /sim/faults` body; returns the rule or the reasons it is refused. */
export function parseFaultRule(
  body: unknown,
  allowed: readonly FaultAction[],
  id: string = randomUUID(),
): { rule: FaultRule } | { errors: string[] } {
  const errors: string[] = [];
  if (!body || typeof body !== 'object' || Array.isArray(body))
    return { errors: ['the body must be an object'] };
  const b = body as Record<string, unknown>;
  const match = (b.match ?? {}) as Record<string, unknown>;
  if (typeof match !== 'object' || Array.isArray(match)) errors.push('match must be an object');
  for (const key of Object.keys(match)) {
    if (!['path', 'syncRequestId', 'deviceId', 'businessKey'].includes(key))
      errors.push(`unknown match.${key}`);
    else if (typeof match[key] !== 'string') errors.push(`match.${key} must be a string`);
  }
  const action = b.action as FaultAction;
  if (!allowed.includes(action)) errors.push(`action must be one of ${allowed.join(', ')}`);
  const int = (key: string, min: number, max: number) => {
    const v = b[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      errors.push(`${key} must be an integer from ${min} to ${max}`);
      return undefined;
    }
    return v;
  };
  const status = int('status', 400, 599);
  const retryAfterSeconds = int('retryAfterSeconds', 0, 86_400);
  const delayMs = int('delayMs', 0, 600_000);
  const times = int('times', 1, 1_000_000);
  if (action === 'status' && status === undefined) errors.push('a status rule needs status (4xx or 5xx)');
  if (action === 'delay' && delayMs === undefined) errors.push('a delay rule needs delayMs');
  if (action === 'headEndFail' && typeof match.deviceId !== 'string')
    errors.push('a headEndFail rule needs match.deviceId');
  if (b.message !== undefined && typeof b.message !== 'string') errors.push('message must be a string');
  if (errors.length > 0) return { errors };
  return {
    rule: {
      id,
      match: match as FaultMatch,
      action,
      ...(status !== undefined ? { status } : {}),
      ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
      ...(delayMs !== undefined ? { delayMs } : {}),
      ...(times !== undefined ? { remaining: times } : {}),
      ...(typeof b.message === 'string' ? { message: b.message } : {}),
    },
  };
}

export interface SimCall {
  readonly path: string;
  readonly method: string;
  readonly body: unknown;
  readonly headers: IncomingMessage['headers'];
  readonly decision: FaultDecision;
  /** Which delivery of its `Idempotency-Key` this is (null when not recorded or without a key). */
  readonly delivery: number | null;
}

export interface SimAnswer {
  readonly status: number;
  readonly body?: unknown;
}

export interface SimulatorOptions {
  readonly name: string;
  /**
   * Routes by exact path (POST): they apply the call and answer it. The answer is written after any
   * `delay`. A repeat of an applied `Idempotency-Key` never reaches its route.
   */
  readonly routes: Readonly<Record<string, (call: SimCall) => SimAnswer>>;
  readonly actions: readonly FaultAction[];
  /** Extra GET routes under `/sim/` (e.g. devices), before the shared control API. */
  readonly control?: (method: string, url: URL) => SimAnswer | undefined;
  /** Runs after a call is recorded, applied and answered (e.g. the DERMS asynchronous ack); not for a repeat. */
  readonly afterAnswer?: (call: SimCall) => void;
  readonly log?: (line: string) => void;
}

export interface Simulator {
  readonly server: Server;
  readonly calls: RecordedCall[];
  readonly rules: FaultRule[];
  listen(port: number, host?: string): Promise<string>;
  close(): Promise<void>;
}

const header = (req: IncomingMessage, name: string): string | null => {
  const value = req.headers[name];
  return (Array.isArray(value) ? value[0] : value) ?? null;
};

/** What a simulator keeps between calls. */
interface SimState {
  readonly options: SimulatorOptions;
  readonly calls: RecordedCall[];
  readonly rules: FaultRule[];
  /** Calls so far per `Idempotency-Key`. */
  readonly deliveries: Map<string, number>;
  /** The first 2xx answer per route and `Idempotency-Key`: what a repeat is answered with. */
  readonly applied: Map<string, SimAnswer>;
}

type Route = SimulatorOptions['routes'][string];

export function createSimulator(options: SimulatorOptions): Simulator {
  const state: SimState = { options, calls: [], rules: [], deliveries: new Map(), applied: new Map() };
  const server = createServer((req, res) => {
    handle(state, req, res).catch((error: unknown) => {
      options.log?.(`[${options.name}] ${(error as Error).stack ?? error}`);
      if (!res.headersSent) send(res, 500, { error: 'simulator failure' });
    });
  });
  return {
    server,
    calls: state.calls,
    rules: state.rules,
    listen: (port, host = '127.0.0.1') => listen(server, port, host),
    close: () => close(server),
  };
}

function listen(server: Server, port: number, host: string): Promise<string> {
  return new Promise((done, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      done(`http://${host}:${port}`);
    });
  });
}

function close(server: Server): Promise<void> {
  return new Promise((done) => {
    server.closeAllConnections();
    server.close(() => done());
  });
}

/** A control call goes to the control API; a POST to a route is a call to take. */
async function handle(state: SimState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://sim');
  const raw = await readText(req);
  if (url.pathname.startsWith('/sim/')) return control(state, req.method ?? 'GET', res, url, raw);
  const route = state.options.routes[url.pathname];
  if (!route || req.method !== 'POST')
    return send(res, 404, { error: `no route ${req.method} ${url.pathname}` });
  return takeCall(state, req, res, route, url.pathname, raw);
}

async function readText(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** The body as JSON, null when empty, or the raw text when it is not JSON: the route decides what to answer. */
function parseBody(raw: string): unknown {
  try {
    return raw.length > 0 ? JSON.parse(raw) : null;
  } catch {
    return raw;
  }
}

/**
 * Decides the faults first: a `status` or `reset` rule answers the call unrecorded. Any other call is
 * recorded on arrival, then waits its `delay` and is answered once per `Idempotency-Key`.
 */
async function takeCall(
  state: SimState,
  req: IncomingMessage,
  res: ServerResponse,
  route: Route,
  path: string,
  raw: string,
): Promise<void> {
  const body = parseBody(raw);
  const idempotencyKey = header(req, 'idempotency-key');
  const correlationId = header(req, 'x-correlation-id');
  const decision = decideFaults(state.rules, callFacts(path, body, idempotencyKey));
  if (decision.status || decision.reset) return answerFault(state.options.name, req, res, decision);
  const recorded = recordCall(state, { path, body, idempotencyKey, correlationId });
  const call: SimCall = {
    path,
    method: 'POST',
    body,
    headers: req.headers,
    decision,
    delivery: recorded.delivery,
  };
  if (decision.delayMs > 0) await sleep(decision.delayMs);
  answerOnce(state, res, route, call, recorded);
}

/** Records a call, counting its delivery when it has an `Idempotency-Key`. */
function recordCall(
  state: SimState,
  call: Pick<RecordedCall, 'path' | 'body' | 'idempotencyKey' | 'correlationId'>,
): RecordedCall {
  let delivery: number | null = null;
  if (call.idempotencyKey !== null) {
    delivery = (state.deliveries.get(call.idempotencyKey) ?? 0) + 1;
    state.deliveries.set(call.idempotencyKey, delivery);
  }
  const recorded: RecordedCall = {
    path: call.path,
    method: 'POST',
    receivedAt: new Date().toISOString(),
    body: call.body,
    idempotencyKey: call.idempotencyKey,
    correlationId: call.correlationId,
    delivery,
    duplicate: false,
  };
  state.calls.push(recorded);
  return recorded;
}

/** After any `delay`: drops the connection (`reset`) or answers the rule's status, as a problem. */
async function answerFault(
  name: string,
  req: IncomingMessage,
  res: ServerResponse,
  decision: FaultDecision,
): Promise<void> {
  if (decision.delayMs > 0) await sleep(decision.delayMs);
  if (decision.reset || !decision.status) {
    req.socket.resetAndDestroy();
    return;
  }
  const { status, retryAfterSeconds } = decision.status;
  send(
    res,
    status,
    { type: 'about:blank', title: 'Simulated fault', status, detail: `${name} simulator fault rule` },
    retryAfterSeconds !== undefined ? { 'Retry-After': String(retryAfterSeconds) } : {},
  );
}

/**
 * Answers a repeat of an applied `Idempotency-Key` as the first was; otherwise applies the call through
 * its route, remembers a 2xx answer for its key, answers, and runs `afterAnswer`.
 */
function answerOnce(
  state: SimState,
  res: ServerResponse,
  route: Route,
  call: SimCall,
  recorded: RecordedCall,
) {
  const { options, applied } = state;
  const { idempotencyKey } = recorded;
  const key = idempotencyKey === null ? undefined : `${call.path} ${idempotencyKey}`;
  const first = key === undefined ? undefined : applied.get(key);
  if (first) {
    recorded.duplicate = true;
    options.log?.(`[${options.name}] repeat of Idempotency-Key ${idempotencyKey} on ${call.path}: dropped`);
    return send(res, first.status, first.body);
  }
  const answer = route(call);
  if (key !== undefined && answer.status >= 200 && answer.status < 300) applied.set(key, answer);
  send(res, answer.status, answer.body);
  options.afterAnswer?.(call);
}

/** The control API: the simulator's own routes first, then the shared ones. */
function control(state: SimState, method: string, res: ServerResponse, url: URL, raw: string) {
  const { options, calls, rules } = state;
  const extra = options.control?.(method, url);
  if (extra) return send(res, extra.status, extra.body);
  const route = `${method} ${url.pathname}`;
  switch (route) {
    case 'GET /sim/calls': {
      const suffix = url.searchParams.get('path');
      return send(res, 200, suffix ? calls.filter((c) => c.path.endsWith(suffix)) : calls);
    }
    case 'DELETE /sim/calls':
      calls.length = 0;
      state.deliveries.clear();
      state.applied.clear();
      return send(res, 204);
    case 'GET /sim/deliveries':
      return send(res, 200, Object.fromEntries(state.deliveries));
    case 'POST /sim/faults':
      return addFault(state, res, raw);
    case 'GET /sim/faults':
      return send(res, 200, rules);
    case 'DELETE /sim/faults':
      rules.length = 0;
      return send(res, 204);
    default:
      return send(res, 404, { error: `no control route ${route}` });
  }
}

function addFault(state: SimState, res: ServerResponse, raw: string) {
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    return send(res, 400, { errors: ['the body is not JSON'] });
  }
  const parsed = parseFaultRule(body, state.options.actions);
  if ('errors' in parsed) return send(res, 400, { errors: parsed.errors });
  state.rules.push(parsed.rule);
  send(res, 201, { id: parsed.rule.id });
}
