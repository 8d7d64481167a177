/**
 * The OpenAPI 3.1 document of the integration, built from the flow registry and the contract's JSON Schemas, so
 * that a route, a scope or a field cannot drift from what the code enforces. `npm run gen` writes it to
 * `docs/openapi.json`; a unit test fails when that file is stale.
 */
import { type DocumentType, SCHEMA_NAMES, SCHEMAS, schemaNameForId } from '#shared/contracts/schemas.ts';
import {
  CALLERS,
  type Caller,
  type FlowDefinition,
  flowList,
  SUPPORT_ROUTES,
  type SupportRouteId,
  type SupportViewId,
} from '#shared/flows/registry.ts';
import { LOOKUP_KEY_NAMES, TRACE_STATES } from '#shared/trace/store.ts';

/** The security scheme every route uses: OAuth 2.0 client credentials, one scope per caller. */
export const SECURITY_SCHEME = 'oauth2';
export const TOKEN_URL = '/oauth2/token';

/** The 200 body of each support view of one item. */
export const SUPPORT_VIEWS: Readonly<Record<SupportViewId, DocumentType>> = {
  syncRequest: 'SyncRequestStatus',
  message: 'MessageTrace',
};

const SCOPE_DESCRIPTIONS: Readonly<Record<Caller, string>> = {
  dacs: 'DACS: post asset syncs, opt-outs and unavailability',
  derms: 'DERMS: post head-end registration acknowledgements',
  support: 'Support: read sync request status and message traces, search them, resubmit a dead letter',
};

/** The problem answers, with the meaning the contract gives each status. */
const PROBLEMS = {
  400: ['BadRequest', 'Malformed JSON, or (support search) a malformed query; errors lists every problem.'],
  401: ['Unauthorized', 'Missing, expired or forged token.'],
  403: ['Forbidden', "The token lacks the route's scope."],
  404: ['NotFound', 'Unknown id.'],
  409: [
    'Conflict',
    'Same business key, different body; or (support resubmit) the message, or the consolidated ack, is not DEAD_LETTERED.',
  ],
  410: [
    'Gone',
    'The legacy acknowledgement is switched off (LEGACY_ACK_MODE=reject); use /v1/derms/asset-sync-acks.',
  ],
  413: [
    'PayloadTooLarge',
    'Body over the limit (MAX_BODY_BYTES, default 3,000,000 bytes): the largest body whose API Gateway event, escaped, still fits the 6 MB Lambda invoke limit.',
  ],
  415: ['UnsupportedMediaType', 'Not JSON.'],
  422: ['UnprocessableContent', 'Schema or business-rule violation; errors lists every violation.'],
  429: ['TooManyRequests', 'Throttled.'],
  503: ['ServiceUnavailable', 'Nothing was accepted; retry.'],
} as const satisfies Record<number, readonly [string, string]>;
type ProblemStatus = keyof typeof PROBLEMS;

const INGEST_PROBLEMS: readonly ProblemStatus[] = [400, 401, 403, 409, 413, 415, 422, 429, 503];
const SUPPORT_PROBLEMS: readonly ProblemStatus[] = [401, 403, 404, 429, 503];

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** A contract schema as an OpenAPI component: no `$id`/`$schema`, cross-schema refs pointing at components. */
function toComponent(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toComponent);
  if (node === null || typeof node !== 'object') return node;
  const entries = Object.entries(node as Record<string, unknown>)
    .filter(([key]) => key !== '$id' && key !== '$schema')
    .map(([key, value]) => {
      if (key === '$ref' && typeof value === 'string') {
        const name = schemaNameForId(value);
        if (name) return [key, ref(name).$ref];
      }
      return [key, toComponent(value)];
    });
  return Object.fromEntries(entries);
}

function problemResponses(statuses: readonly ProblemStatus[]): Record<string, { $ref: string }> {
  return Object.fromEntries(
    statuses.map((status) => [String(status), { $ref: `#/components/responses/${PROBLEMS[status][0]}` }]),
  );
}

function ingestOperation(flow: FlowDefinition): Record<string, unknown> {
  const problems: ProblemStatus[] = flow.deprecated ? [...INGEST_PROBLEMS, 410] : [...INGEST_PROBLEMS];
  problems.sort((a, b) => a - b);
  const accepted: Record<string, unknown> = {
    description: 'Durably queued. Delivered or dead-lettered with a recorded reason, never silently lost.',
    content: { 'application/json': { schema: ref('Accepted') } },
  };
  if (flow.deprecated) {
    accepted.headers = {
      Deprecation: { description: 'This route is deprecated.', schema: { type: 'string', const: 'true' } },
      Link: {
        description: 'The successor route.',
        schema: { type: 'string', examples: ['</v1/derms/asset-sync-acks>; rel="successor-version"'] },
      },
    };
  }
  return {
    operationId: flow.id,
    summary: flow.summary,
    description: flow.description,
    tags: [flow.caller],
    ...(flow.deprecated ? { deprecated: true } : {}),
    security: [{ [SECURITY_SCHEME]: [flow.scope] }],
    requestBody: { required: true, content: { 'application/json': { schema: ref(flow.messageType) } } },
    responses: { '202': accepted, ...problemResponses(problems) },
  };
}

function supportOperation(id: SupportViewId): Record<string, unknown> {
  const route = SUPPORT_ROUTES[id];
  const view = SUPPORT_VIEWS[id];
  return {
    operationId: id,
    summary: `Support view: ${view}`,
    tags: ['support'],
    security: [{ [SECURITY_SCHEME]: [route.scope] }],
    parameters: [
      { name: route.pathParameter, in: 'path', required: true, schema: { type: 'string', minLength: 1 } },
    ],
    responses: {
      '200': { description: view, content: { 'application/json': { schema: ref(view) } } },
      ...problemResponses(SUPPORT_PROBLEMS),
    },
  };
}

/** The query parameters of the search, each described for the reader. */
function searchParameters(): Record<string, unknown>[] {
  const text = (name: string, description: string) => ({
    name,
    in: 'query',
    required: false,
    description,
    schema: { type: 'string', minLength: 1, maxLength: 200 },
  });
  return [
    ...LOOKUP_KEY_NAMES.map((key) =>
      text(
        key,
        key === 'deviceId'
          ? "The device's opt-outs and unavailability notifications, and the sync requests that hold it (and their acks)."
          : `Traces whose ${key} is this.`,
      ),
    ),
    {
      name: 'state',
      in: 'query',
      description: 'Only traces in this state. DEAD_LETTERED alone (no lookup key) lists the dead letters.',
      schema: { type: 'string', enum: Object.values(TRACE_STATES) },
    },
    {
      name: 'flow',
      in: 'query',
      description: 'Only traces of this flow.',
      schema: { type: 'string', enum: flowList().map((f) => f.id) },
    },
    ...(['from', 'to'] as const).map((name) => ({
      name,
      in: 'query',
      description: `${name === 'from' ? 'Earliest' : 'Latest'} receivedAt (deadLetteredAt when listing dead letters), inclusive; RFC 3339 with an offset.`,
      schema: { type: 'string', format: 'date-time' },
    })),
    {
      name: 'limit',
      in: 'query',
      description: 'Page size.',
      schema: { type: 'integer', minimum: 1, maximum: 100, default: 25 },
    },
    text('cursor', "The previous page's cursor, unchanged, with the same query."),
  ];
}

function searchOperation(): Record<string, unknown> {
  return {
    operationId: 'search',
    summary: 'Support search: message traces by business id, newest first',
    description:
      'Give at least one lookup key, or state=DEAD_LETTERED. Several keys must all match. Answers a page of ' +
      'MessageTraces, newest first, with a cursor while more match. Read through indexes, never a scan.',
    tags: ['support'],
    security: [{ [SECURITY_SCHEME]: [SUPPORT_ROUTES.search.scope] }],
    parameters: searchParameters(),
    responses: {
      '200': {
        description: 'A page of traces',
        content: { 'application/json': { schema: ref('MessageTracePage') } },
      },
      ...problemResponses([400, 401, 403, 429, 503]),
    },
  };
}

function resubmitOperation(): Record<string, unknown> {
  return {
    operationId: 'resubmit',
    summary: 'Support: queue one DEAD_LETTERED message again, as it was accepted',
    description:
      'Queues the copy kept when the message was dead-lettered (a large one keeps its claim check); the trace ' +
      "records RESUBMITTED with the caller's client id and the time. Delivered at most once in effect: the same " +
      'Idempotency-Key, and the DLQ copy of the message is skipped if it is redriven later. An ack message ' +
      'that owns a consolidated ack DACS refused answers 409: resubmit that with ' +
      'POST /v1/sync-requests/{syncRequestId}/resubmit.',
    tags: ['support'],
    security: [{ [SECURITY_SCHEME]: [SUPPORT_ROUTES.resubmit.scope] }],
    parameters: [{ name: 'messageId', in: 'path', required: true, schema: { type: 'string', minLength: 1 } }],
    responses: {
      '202': {
        description: 'Queued again',
        content: { 'application/json': { schema: ref('Resubmitted') } },
      },
      ...problemResponses([401, 403, 404, 409, 429, 503]),
    },
  };
}

function resubmitSyncRequestOperation(): Record<string, unknown> {
  const route = SUPPORT_ROUTES.resubmitSyncRequest;
  return {
    operationId: 'resubmitSyncRequest',
    summary: "Support: send a sync request's DEAD_LETTERED consolidated ack again, as it was frozen",
    description:
      'Sends the frozen consolidated acknowledgement DACS refused again, unchanged (nothing is consolidated ' +
      'anew), with the same Idempotency-Key (the syncRequestId), through the normal retrying path: its delivery ' +
      'is RETRYING again, with a retry window from now, and the follow-ups held back go out once it is delivered. ' +
      "The correlation record keeps resubmissions, resubmittedAt and resubmittedBy (the caller's client id), " +
      'shown in the SyncRequestStatus. 409 unless consolidatedAck.delivery.state is DEAD_LETTERED; of two ' +
      'resubmits at once, one gets the 202.',
    tags: ['support'],
    security: [{ [SECURITY_SCHEME]: [route.scope] }],
    parameters: [
      { name: route.pathParameter, in: 'path', required: true, schema: { type: 'string', minLength: 1 } },
    ],
    responses: {
      '202': {
        description: 'Its delivery is RETRYING again, due now',
        content: { 'application/json': { schema: ref('SyncRequestResubmitted') } },
      },
      ...problemResponses([401, 403, 404, 409, 429, 503]),
    },
  };
}

const OPERATIONS: Readonly<Record<SupportRouteId, () => Record<string, unknown>>> = {
  syncRequest: () => supportOperation('syncRequest'),
  message: () => supportOperation('message'),
  search: searchOperation,
  resubmit: resubmitOperation,
  resubmitSyncRequest: resubmitSyncRequestOperation,
};

const RETRY_AFTER = {
  description: 'Seconds to wait before retrying.',
  schema: { type: 'integer', minimum: 0 },
};

/** The OpenAPI 3.1 document: every registry route with its scope, bodies from the contract's schemas. */
export function buildOpenApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: INFO,
    servers: [{ url: 'http://127.0.0.1:3000', description: 'Local stack (npm start)' }],
    tags: TAGS,
    paths: pathItems(),
    components: {
      securitySchemes: { [SECURITY_SCHEME]: securityScheme() },
      schemas: componentSchemas(),
      responses: problemResponseComponents(),
    },
  };
}

const INFO = {
  title: 'DACS ⇄ Edge DERMS integration',
  version: '1.0.0',
  description:
    'Serverless integration between Oracle Utilities DACS and Edge DERMS. JSON over HTTPS; timestamps are ' +
    'RFC 3339 with an offset; unknown fields are rejected. Each message has a business key: the same key ' +
    'with the same body answers 202 with duplicate: true, with another body 409.',
};

const TAGS = [
  { name: 'dacs', description: 'Called by DACS' },
  { name: 'derms', description: 'Called by DERMS' },
  { name: 'support', description: 'Support views, search and resubmit' },
];

/** One operation per registry route: the flows' ingest routes and the support views. */
function pathItems(): Record<string, Record<string, unknown>> {
  const paths: Record<string, Record<string, unknown>> = {};
  const add = (path: string, method: string, operation: Record<string, unknown>) => {
    paths[path] = { ...paths[path], [method.toLowerCase()]: operation };
  };
  for (const flow of flowList()) add(flow.route.path, flow.route.method, ingestOperation(flow));
  for (const id of Object.keys(SUPPORT_ROUTES) as SupportRouteId[]) {
    add(SUPPORT_ROUTES[id].path, SUPPORT_ROUTES[id].method, OPERATIONS[id]());
  }
  return paths;
}

function securityScheme(): Record<string, unknown> {
  return {
    type: 'oauth2',
    description: 'OAuth 2.0 client credentials; present Authorization: Bearer <JWT>.',
    flows: {
      clientCredentials: {
        tokenUrl: TOKEN_URL,
        scopes: Object.fromEntries(
          (Object.keys(CALLERS) as Caller[]).map((caller) => [CALLERS[caller], SCOPE_DESCRIPTIONS[caller]]),
        ),
      },
    },
  };
}

/** The contract's schemas, plus the 202 answer and the problem body. */
function componentSchemas(): Record<string, unknown> {
  return {
    ...Object.fromEntries(SCHEMA_NAMES.map((name) => [name, toComponent(SCHEMAS[name])])),
    Accepted: ACCEPTED_SCHEMA,
    MessageTracePage: PAGE_SCHEMA,
    Resubmitted: RESUBMITTED_SCHEMA,
    SyncRequestResubmitted: SYNC_REQUEST_RESUBMITTED_SCHEMA,
    Problem: PROBLEM_SCHEMA,
  };
}

const PAGE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['items'],
  properties: {
    items: { type: 'array', items: ref('MessageTrace') },
    cursor: { type: 'string', description: 'Present while more traces match: pass it to get the next page.' },
  },
};

const RESUBMITTED_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['messageId', 'status'],
  properties: {
    messageId: { type: 'string' },
    status: { type: 'string', const: 'RESUBMITTED' },
  },
};

const SYNC_REQUEST_RESUBMITTED_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['syncRequestId', 'status', 'delivery', 'resubmissions', 'resubmittedAt', 'resubmittedBy'],
  properties: {
    syncRequestId: { type: 'string' },
    status: { type: 'string', const: 'RESUBMITTED' },
    delivery: {
      description:
        "The consolidated ack's delivery after the resubmit (as consolidatedAck.delivery): RETRYING.",
      type: 'object',
    },
    resubmissions: {
      type: 'integer',
      minimum: 1,
      description: 'Times it has been resubmitted, this one included.',
    },
    resubmittedAt: { type: 'string', format: 'date-time' },
    resubmittedBy: { type: 'string', description: "The caller's OAuth client id." },
  },
};

const ACCEPTED_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['messageId', 'status', 'duplicate'],
  properties: {
    messageId: { type: 'string', description: "The integration's id of the message (X-Correlation-Id)." },
    status: { type: 'string', const: 'ACCEPTED' },
    duplicate: {
      type: 'boolean',
      description: 'True when the same business key and body were accepted before.',
    },
  },
};

const PROBLEM_SCHEMA = {
  type: 'object',
  description: 'RFC 9457 problem details.',
  required: ['type', 'title', 'status', 'detail'],
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    instance: { type: 'string' },
    errors: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['path', 'message'],
        properties: {
          path: {
            type: 'string',
            description: 'JSON Pointer into the request body (into the query parameters for a search).',
          },
          message: { type: 'string' },
        },
      },
    },
  },
};

/** One reusable response per problem status; 429 and 503 carry `Retry-After`. */
function problemResponseComponents(): Record<string, unknown> {
  return Object.fromEntries(
    (Object.keys(PROBLEMS) as unknown as ProblemStatus[]).map((status) => {
      const [name, description] = PROBLEMS[status];
      const response: Record<string, unknown> = {
        description,
        content: { 'application/problem+json': { schema: ref('Problem') } },
      };
      if (Number(status) === 429 || Number(status) === 503) response.headers = { 'Retry-After': RETRY_AFTER };
      return [name, response];
    }),
  );
}
