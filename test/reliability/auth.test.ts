/**
 * Issue 8, item 6 (security), the authorizer: every route of the registry (each flow's route and the
 * support routes) × every kind of token, over HTTP through the local gateway, which runs the real
 * authorizer function (functions/authorizer/handler.ts, aws-jwt-verify against the token endpoint's
 * JWKS) and applies its policy as API Gateway does.
 *
 *   no token · malformed · expired · bad signature · alg none · wrong issuer · client not on the list
 *                                                   → 401 problem+json, the route's function never called
 *   another caller's scope (each other caller)      → 403 problem+json, the route's function never called
 *   the route's own scope                           → passed authorization, defined as: the route's
 *                                                     function answered (API Gateway's x-amzn-RequestId
 *                                                     is on function answers only) with the contract's
 *                                                     success for the route: a flow 202 (the legacy ack
 *                                                     202, or 410 when switched off); a support view 200,
 *                                                     or 404 for the unknown id it is asked for
 *
 * Every request carries a valid body with fresh business keys, so that nothing but the token decides.
 * A 429 (the stage throttle) is sent again after its Retry-After, as a caller would; nothing else is.
 */
import { type ApiRoute, apiRoutes } from '#local/host.ts';
import { CALLERS, FLOWS, type FlowId } from '#shared/flows/registry.ts';
import { PROBLEMS } from '#shared/handlers/problems.ts';
import { API, BAD_TOKENS, type BadToken, badToken, type Client, token, uid } from '#test/e2e/helpers.ts';
import {
  assetSyncAck,
  assetSyncRequest,
  controllableDevice,
  legacyAck,
  optOut,
  unavailability,
} from '#test/helpers/messages.ts';
import { recordFigures } from './figures.ts';

const CLIENTS: Record<keyof typeof CALLERS, Client> = {
  dacs: 'dacs-local',
  derms: 'derms-local',
  support: 'support-local',
};

/** The kinds of case, in the order of the report. */
const KINDS = [
  'no token',
  'malformed token',
  'expired token',
  'bad signature',
  'alg: none',
  'wrong issuer',
  'app client not on the list',
  "another caller's scope",
  'the right scope',
] as const;
type Kind = (typeof KINDS)[number];

const BAD: Record<BadToken, Kind> = {
  malformed: 'malformed token',
  expired: 'expired token',
  forged: 'bad signature',
  'alg-none': 'alg: none',
  'other-issuer': 'wrong issuer',
  'other-client': 'app client not on the list',
};

interface Case {
  readonly route: ApiRoute;
  readonly kind: Kind;
  /** Which token, for the report: the kind, or the client whose token it is. */
  readonly label: string;
  readonly authorization: () => Promise<string | undefined>;
}

interface Outcome {
  readonly status: number;
  readonly problemType: unknown;
  readonly challenge: string | null;
  /** Set on the function's answers only (the gateway's own answers carry none). */
  readonly functionAnswered: boolean;
}

interface Result {
  readonly testCase: Case;
  readonly outcome: Outcome;
  readonly failure: string | undefined;
}

/** A valid message per flow, with fresh business keys. A flow added to the registry must be added here. */
function validMessage(flow: FlowId): unknown {
  const id = uid();
  switch (flow) {
    case 'assetSync':
      return assetSyncRequest({
        sendDetails: { syncRequestId: `SRA${id}` },
        locationInfo: { controllableDevices: [controllableDevice({ deviceId: `DA${id}` })] },
      });
    case 'optOut':
      return optOut({ optOutId: `OOA-${id}`, deviceId: `DA${id}` });
    case 'unavailability':
      return unavailability({ unavailabilityId: `UAA-${id}`, deviceId: `DA${id}` });
    case 'assetSyncAck':
      return assetSyncAck({ syncRequestId: `SRA${id}`, devices: [], final: true });
    case 'legacyAck':
      return legacyAck({ MsgAck: { whenISO: new Date().toISOString() } });
  }
}

const isFlow = (id: string): id is FlowId => id in FLOWS;

/** The request for a route: a flow's valid body, or a support view of an id nobody has. */
function request(route: ApiRoute): { path: string; init: RequestInit } {
  const path = route.path.replace(/\{\w+\}/g, () => `unknown-${uid()}`);
  // The search needs a lookup key to answer 200 (an empty page for an unknown device) rather than 400.
  const query = route.method === 'GET' && route.path === '/v1/messages' ? `?deviceId=unknown-${uid()}` : '';
  if (!isFlow(route.id)) return { path: `${path}${query}`, init: { method: route.method } };
  return {
    path,
    init: {
      method: route.method,
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(validMessage(route.id)),
    },
  };
}

/** The contract's success statuses for a route called with its own scope. */
function successes(route: ApiRoute): readonly number[] {
  if (route.id === 'legacyAck') return [202, 410];
  if (isFlow(route.id)) return [202];
  return route.method === 'GET' ? [200, 404] : [202, 404, 409];
}

/** Every case: each route × each kind; "another caller's scope" once per other caller. */
function cases(): Case[] {
  return apiRoutes().flatMap((route) => {
    const own = Object.values(CLIENTS).find((c) => CALLERS[clientCaller(c)] === route.scope);
    if (!own) throw new Error(`No local client has the scope ${route.scope} of ${route.id}`);
    const others = Object.values(CLIENTS).filter((c) => c !== own);
    return [
      { route, kind: 'no token' as Kind, label: 'none', authorization: async () => undefined },
      ...BAD_TOKENS.map((bad) => ({
        route,
        kind: BAD[bad],
        label: bad,
        authorization: async () => `Bearer ${await badToken(bad, route.scope, { clientId: own })}`,
      })),
      ...others.map((client) => ({
        route,
        kind: "another caller's scope" as Kind,
        label: client,
        authorization: async () => `Bearer ${await token(client)}`,
      })),
      {
        route,
        kind: 'the right scope' as Kind,
        label: own,
        authorization: async () => `Bearer ${await token(own)}`,
      },
    ];
  });
}

const clientCaller = (client: Client) =>
  (Object.keys(CLIENTS) as (keyof typeof CALLERS)[]).find((k) => CLIENTS[k] === client)!;

/** Sends a case's request; a 429 is sent again after its Retry-After. */
async function send(testCase: Case, throttled: { count: number }): Promise<Outcome> {
  const { path, init } = request(testCase.route);
  const authorization = await testCase.authorization();
  for (let attempt = 0; ; attempt++) {
    const response = await fetch(`${API()}${path}`, {
      ...init,
      headers: {
        ...(init.headers as Record<string, string>),
        ...(authorization ? { Authorization: authorization } : {}),
      },
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    if (response.status === 429 && attempt < 10) {
      throttled.count++;
      await new Promise((done) => setTimeout(done, 1000 * Number(response.headers.get('retry-after') ?? 1)));
      continue;
    }
    let body: Record<string, unknown> = {};
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      // not JSON: judged by its status
    }
    return {
      status: response.status,
      problemType: body.type,
      challenge: response.headers.get('www-authenticate'),
      functionAnswered: response.headers.has('x-amzn-requestid'),
    };
  }
}

/** Why an outcome is not what the contract says for the case, or undefined when it is. */
function judge(testCase: Case, outcome: Outcome): string | undefined {
  const refusal = (status: 401 | 403, type: string, challenge: RegExp) => {
    if (outcome.status !== status) return `expected ${status}, got ${outcome.status}`;
    if (outcome.problemType !== type) return `expected problem ${type}, got ${String(outcome.problemType)}`;
    if (!challenge.test(outcome.challenge ?? '')) return `WWW-Authenticate "${outcome.challenge}"`;
    if (outcome.functionAnswered) return 'the route’s function was called';
    return undefined;
  };
  if (testCase.kind === 'the right scope') {
    const expected = successes(testCase.route);
    if (!outcome.functionAnswered) return `the gateway answered ${outcome.status}, not the route’s function`;
    return expected.includes(outcome.status)
      ? undefined
      : `expected ${expected.join('/')}, got ${outcome.status}`;
  }
  if (testCase.kind === "another caller's scope") {
    return refusal(403, PROBLEMS.forbidden.type, /^Bearer error="insufficient_scope"$/);
  }
  return refusal(401, PROBLEMS.unauthenticated.type, /^Bearer$/);
}

const results: Result[] = [];
const throttled = { count: 0 };

/** What a kind of case must get, and for the right scope what the functions answered (`202 ×5, 404 ×2`). */
function expectation(kind: Kind, tried: readonly Result[]): string {
  if (kind === "another caller's scope") return 'expected 403, the function not called';
  if (kind !== 'the right scope') return 'expected 401, the function not called';
  const statuses = new Map<number, number>();
  for (const r of tried) statuses.set(r.outcome.status, (statuses.get(r.outcome.status) ?? 0) + 1);
  const seen = [...statuses].sort(([a], [b]) => a - b).map(([status, n]) => `${status} ×${n}`);
  return `expected the route’s function with its success (a flow 202, a support view 200 or 404 for an unknown id); got ${seen.join(', ')}`;
}

describe('security: the authorizer, every route × every kind of token', () => {
  const all = cases();

  it.each(all.map((c) => [`${c.route.method} ${c.route.path}`, c.label, c] as const))(
    '%s with %s',
    async (_route, _label, testCase) => {
      const outcome = await send(testCase, throttled);
      const failure = judge(testCase, outcome);
      results.push({ testCase, outcome, failure });
      expect(failure).toBeUndefined();
    },
    60_000,
  );

  afterAll(() => {
    const passed = results.filter((r) => !r.failure);
    const perKind = KINDS.map((kind) => {
      const tried = results.filter((r) => r.testCase.kind === kind);
      const ok = tried.filter((r) => !r.failure).length;
      return {
        name: `${kind}: passed / tried`,
        value: `${ok} / ${tried.length}`,
        note: expectation(kind, tried),
      };
    });
    recordFigures('security-authorizer', {
      title: 'Security: the authorizer',
      order: 60,
      figures: [
        {
          name: 'Routes',
          value: apiRoutes().length,
          note: 'every route of the registry: each flow’s and the support views',
        },
        {
          name: 'Cases tried',
          value: results.length,
          note: 'routes × kinds of token (another caller: each one)',
        },
        { name: 'Cases passed', value: passed.length, note: 'exactly the contract’s 401, 403 or success' },
        ...perKind,
        {
          name: 'Route functions called on a refused token',
          value: results.filter((r) => r.testCase.kind !== 'the right scope' && r.outcome.functionAnswered)
            .length,
          note: 'must be 0: the gateway answered every refusal',
        },
        {
          name: 'Throttled and sent again',
          value: throttled.count,
          note: '429 from the stage throttle, not a verdict',
        },
      ],
    });
    for (const r of results.filter((x) => x.failure)) {
      console.error(
        `${r.testCase.route.method} ${r.testCase.route.path} with ${r.testCase.label}: ${r.failure}`,
      );
    }
  });
});
