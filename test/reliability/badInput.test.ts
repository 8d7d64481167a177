/**
 * Bad input, generated (issue 8, item 5, and the injection part of item 6). Messages generated from the JSON
 * Schemas and mutated, plus bodies no schema describes (badInputCases.ts), go through the real ingest
 * handlers: most in process, with their own tables and queues (prefix `bad-input-`) on the stack's DynamoDB
 * Local and fauxqs, so that the queues hold exactly what was accepted; a sample over HTTP through the local
 * stack. Every answer must be the one the contract gives, in problem+json under 64 KiB when a refusal; never
 * a 5xx, and nothing queued for a refused body. Ids full of expression syntax and pointer tricks must be
 * taken as plain ids. The run is seeded: `RELIABILITY_SEED=<n>` replays it.
 */
import { createHash } from 'node:crypto';
import { BatchGetItemCommand, DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import fc from 'fast-check';
import { LOCAL_CREDENTIALS, LOCAL_PREFIX, LOCAL_REGION } from '#local/constants.ts';
import {
  ensureBucket,
  ensureQueues,
  ensureTables,
  functionEnvironment,
  type LocalResources,
  tableNames,
} from '#local/resources.ts';
import { loadSettings } from '#shared/config/settings.ts';
import { decodeHeaderKey } from '#shared/delivery/keys.ts';
import { FLOW_IDS, FLOWS, type FlowId } from '#shared/flows/registry.ts';
import {
  ACK_PATH,
  API,
  dacsSim,
  dermsSim,
  get,
  post,
  type SimCall,
  syncOf,
  token,
  uid,
  waitFor,
  waitForState,
} from '#test/e2e/helpers.ts';
import { apiEvent, lambdaContext } from '#test/helpers/events.ts';
import {
  assetSyncRequest,
  controllableDevice,
  legacyAck,
  optOut,
  unavailability,
} from '#test/helpers/messages.ts';
import {
  type BadCase,
  badCase,
  boundaryCases,
  CASE_KINDS,
  type CaseKind,
  contractAnswer,
  limitsNotCovered,
  schemaLimits,
  withFreshKey,
} from './badInputCases.ts';
import { recordFigures, seed } from './figures.ts';

/**
 * How long a valid message may take to be delivered after the campaign: it asserts delivery, not speed, and
 * the stack may still be working off an earlier scenario's faults and retries on a loaded machine.
 */
const WAIT_MS = 120_000;

/** The `headEndRegistration` a DACS ack call gives the device, if it names it. */
const flagOf = (call: SimCall | undefined, deviceId: string): string | undefined =>
  (call?.body.deviceHeadendStatus as { deviceId: string; headEndRegistration: string }[] | undefined)?.find(
    (d) => d.deviceId === deviceId,
  )?.headEndRegistration;
const SEED = seed();
const IN_PROCESS_BODIES = 9_000;
const HTTP_BODIES = 1_000;
const PROBLEM_LIMIT_BYTES = 64 * 1024;
const ALLOWED = new Set([202, 400, 413, 415, 422]);
const NEVER_VALID = new Set<CaseKind>([
  'wrong-type',
  'missing-field',
  'extra-field',
  'proto-key',
  'non-object',
  'oversized',
  'deep-nesting',
  'many-unknown',
]);
const PREFIX = 'bad-input-';

type Wire = 'event' | 'http';
type IngestHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;
interface Answer {
  status: number;
  contentType: string | undefined;
  body: string;
}

/** What one wire saw. */
interface Tally {
  tried: Record<CaseKind, number>;
  byStatus: Record<number, number>;
  fiveXX: number;
  largestProblemBytes: number;
  accepted: string[];
  /** Refused bodies that parsed, with the messageId they would have had if accepted. */
  refusedIds: string[];
  anomalies: string[];
  throttled: number;
  /** Sends that met a dropped connection (no answer at all) and were sent again. */
  networkRetries: number;
}
const tally = (): Tally => ({
  tried: Object.fromEntries(CASE_KINDS.map((k) => [k, 0])) as Record<CaseKind, number>,
  byStatus: {},
  fiveXX: 0,
  largestProblemBytes: 0,
  accepted: [],
  refusedIds: [],
  anomalies: [],
  throttled: 0,
  networkRetries: 0,
});
const seen: Record<Wire, Tally> = { event: tally(), http: tally() };
const figures = {
  refusedButEnqueued: { event: 0, http: 0 },
  acceptedNotDelivered: 0,
  limits: 0,
  injection: { ids: 0, unchanged: 0 },
  hugeNumbers: { sent: 0, refused: 0, consolidated: 0, followedUpAfterDeadline: 0 },
};

const endpoint = (port: string | undefined, fallback: number) => `http://127.0.0.1:${port ?? fallback}`;
const common = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
const ddb = new DynamoDBClient({ ...common, endpoint: endpoint(process.env.LOCAL_DYNAMODB_PORT, 8000) });
const sqs = new SQSClient({ ...common, endpoint: endpoint(process.env.LOCAL_SQS_PORT, 4566) });
const savedEnv = { ...process.env };
let resources: LocalResources;
let handlers: Record<FlowId, IngestHandler>;
let messageIdOf: (flow: FlowId, parsed: unknown) => string | undefined;
let maxBodyBytes: number;

/** The function environment of the in-process handlers: the stack's, on tables and queues of their own. */
async function inProcessEnvironment(): Promise<void> {
  const s3 = new S3Client({
    ...common,
    endpoint: endpoint(process.env.LOCAL_SQS_PORT, 4566),
    forcePathStyle: true,
  });
  resources = {
    tables: await ensureTables(ddb, PREFIX),
    queues: await ensureQueues(sqs, PREFIX),
    bucket: await ensureBucket(s3, `${PREFIX}claim-check`),
    endpoints: {
      dynamodb: endpoint(process.env.LOCAL_DYNAMODB_PORT, 8000),
      sqs: endpoint(process.env.LOCAL_SQS_PORT, 4566),
      s3: endpoint(process.env.LOCAL_SQS_PORT, 4566),
    },
  };
  s3.destroy();
  const env = functionEnvironment(resources, {
    source: process.env,
    overrides: { POWERTOOLS_LOG_LEVEL: 'ERROR', POWERTOOLS_METRICS_DISABLED: 'true' },
  });
  Object.assign(process.env, env);
}

beforeAll(async () => {
  console.log(`bad-input: seed ${SEED} (replay with RELIABILITY_SEED=${SEED})`);
  await inProcessEnvironment();
  maxBodyBytes = loadSettings().maxBodyBytes;
  // Imported only now: the handlers read the environment (and their logger its level) when they load.
  const ingest = await import('#shared/handlers/ingest.ts');
  messageIdOf = (flow, parsed) => {
    try {
      const key = FLOWS[flow].businessKey(parsed);
      const hash = createHash('sha256').update(ingest.canonicalJson(parsed)).digest('hex');
      return typeof key === 'string' ? ingest.messageIdFor(flow, key, hash) : undefined;
    } catch {
      return undefined; // no business key to read (or too deep to hash): nothing could have been queued under it
    }
  };
  const loaded = await Promise.all(
    FLOW_IDS.map(
      async (flow) => [flow, (await import(`../../functions/${flow}/ingest.ts`)).handler] as const,
    ),
  );
  handlers = Object.fromEntries(loaded) as Record<FlowId, IngestHandler>;
}, 60_000);

afterAll(() => {
  for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
  Object.assign(process.env, savedEnv);
  ddb.destroy();
  sqs.destroy();
  recordBadInputFigures();
});

const header = (headers: Record<string, unknown> | undefined, name: string) =>
  Object.entries(headers ?? {}).find(([k]) => k.toLowerCase() === name)?.[1] as string | undefined;
const clipped = (text: string, max = 160) => (text.length > max ? `${text.slice(0, max)}…` : text);
const shown = (body: string | Uint8Array) =>
  clipped(typeof body === 'string' ? JSON.stringify(body) : `bytes ${Buffer.from(body).toString('hex')}`);

function acceptedBody(answer: Answer): Record<string, unknown> | undefined {
  try {
    return JSON.parse(answer.body) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** The flaws of one answer, judged against the contract's answer for the case. */
function judge(answer: Answer, expected: number): string[] {
  const flaws: string[] = [];
  if (!ALLOWED.has(answer.status)) flaws.push(`status ${answer.status} is not one the contract allows`);
  if (answer.status !== expected) flaws.push(`answered ${answer.status}, the contract says ${expected}`);
  if (answer.status === 202) {
    const accepted = acceptedBody(answer);
    if (
      accepted?.status !== 'ACCEPTED' ||
      accepted.duplicate !== false ||
      typeof accepted.messageId !== 'string'
    )
      flaws.push(`202 body ${clipped(answer.body)}`);
    return flaws;
  }
  const bytes = Buffer.byteLength(answer.body);
  if (bytes > PROBLEM_LIMIT_BYTES) flaws.push(`problem body of ${bytes} bytes`);
  if (answer.contentType !== 'application/problem+json') flaws.push(`content type ${answer.contentType}`);
  try {
    const problem = JSON.parse(answer.body) as Record<string, unknown>;
    const errors = problem.errors as { path: unknown; message: unknown }[] | undefined;
    if (
      problem.status !== answer.status ||
      typeof problem.type !== 'string' ||
      typeof problem.title !== 'string'
    )
      flaws.push('problem without type, title or the status');
    if (typeof problem.detail !== 'string') flaws.push('problem without a detail');
    if (errors !== undefined && (!Array.isArray(errors) || errors.length > 100))
      flaws.push(`errors: ${Array.isArray(errors) ? errors.length : typeof errors}`);
    if (errors?.some((e) => typeof e.path !== 'string' || typeof e.message !== 'string'))
      flaws.push('an error without path or message');
  } catch {
    flaws.push(`problem body is not JSON: ${clipped(answer.body)}`);
  }
  return flaws;
}

/** Counts and judges one answer on `wire`. */
function note(wire: Wire, c: BadCase, answer: Answer, expected: number, parsed: unknown, index: number) {
  const t = seen[wire];
  t.tried[c.kind] += 1;
  t.byStatus[answer.status] = (t.byStatus[answer.status] ?? 0) + 1;
  if (answer.status >= 500) t.fiveXX += 1;
  if (answer.status === 202) t.accepted.push(String(acceptedBody(answer)?.messageId));
  else {
    t.largestProblemBytes = Math.max(t.largestProblemBytes, Buffer.byteLength(answer.body));
    // Over HTTP the stack's queues are polled, so a refused body is checked by the trace it must not have.
    const wouldBe = wire === 'http' && parsed !== undefined ? messageIdOf(c.flow, parsed) : undefined;
    if (wouldBe) t.refusedIds.push(wouldBe);
  }
  const flaws = judge(answer, expected);
  // Independent of the validator the contract's answer is computed with: these kinds are never valid.
  if (answer.status === 202 && NEVER_VALID.has(c.kind)) flaws.push(`a ${c.kind} body was accepted`);
  if (flaws.length > 0 && t.anomalies.length < 20) {
    t.anomalies.push(
      `${wire} #${index} ${c.kind} ${c.flow} ${c.at ?? ''} ${c.note ?? ''} (${clipped(String(c.contentType), 60)}): ${flaws.join('; ')}` +
        `\n  answer ${clipped(answer.body)}\n  body ${shown(c.body)}`,
    );
  }
}

/**
 * The cases as `wire` sends them, with fresh business keys, each with the contract's answer; a schema-valid one
 * whose key was taken already is dropped (the same key with another body is a 409, not what is tested here).
 */
function* casesFrom(cases: Iterable<BadCase>, usedKeys: Set<string>, wire: Wire) {
  let counter = 0;
  for (const raw of cases) {
    const fresh = withFreshKey(raw, `B${wire === 'http' ? 'h' : 'e'}${(counter++).toString(36)}`);
    const c = wire === 'http' ? asBytes(fresh) : fresh;
    const expected = contractAnswer(c, maxBodyBytes, wire);
    if (expected.status === 202) {
      const key = `${c.flow} ${FLOWS[c.flow].businessKey(expected.parsed)}`;
      if (usedKeys.has(key)) continue;
      usedKeys.add(key);
    }
    yield { c, expected };
  }
}

function* generated(seedBase: number, flowWeights?: Record<FlowId, number>): Generator<BadCase> {
  const cases = badCase(flowWeights);
  for (let chunk = 0; ; chunk++) yield* fc.sample(cases, { seed: seedBase + chunk, numRuns: 250 });
}

function* take<T>(items: Iterable<T>, count: number): Generator<T> {
  if (count <= 0) return;
  let n = 0;
  for (const item of items) {
    yield item;
    if (++n >= count) return;
  }
}

/** Runs `work` over `items` with `concurrency` at a time. */
async function pool<T>(
  items: Iterable<T>,
  concurrency: number,
  work: (item: T, index: number) => Promise<void>,
) {
  const iterator = items[Symbol.iterator]();
  let index = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let next = iterator.next(); !next.done; next = iterator.next()) await work(next.value, index++);
    }),
  );
}

async function throughHandler(c: BadCase): Promise<Answer> {
  const flow = FLOWS[c.flow];
  const event = apiEvent({
    path: flow.route.path,
    rawBody: '',
    contentType: c.contentType,
    scope: flow.scope,
    clientId: `${flow.caller}-local`,
  });
  if (typeof c.body === 'string') event.body = c.body;
  else Object.assign(event, { body: Buffer.from(c.body).toString('base64'), isBase64Encoded: true });
  const result = await handlers[c.flow](event, lambdaContext(`${c.flow}-ingest`));
  return {
    status: result.statusCode,
    contentType: header(result.headers, 'content-type'),
    body: result.body,
  };
}

/**
 * The local gateway's throttle, as local/host.ts sets it up: a stage bucket of 50 requests per second, and
 * each route its share of it (ROUTE_SHARES there, as prod's figures divide it). The HTTP sample is drawn in
 * the same proportions and each route is paced at 85 % of its share, slowing down further at every 429.
 */
const STAGE_RATE = 50;
const ROUTE_SHARE: Record<FlowId, number> = {
  optOut: 0.3,
  assetSync: 0.1,
  unavailability: 0.2,
  assetSyncAck: 0.25,
  legacyAck: 0.05,
};
const pacing = Object.fromEntries(
  FLOW_IDS.map((flow) => [flow, { rate: STAGE_RATE * ROUTE_SHARE[flow] * 0.85, next: 0 }]),
) as Record<FlowId, { rate: number; next: number }>;

/** Waits for the route's next request slot. */
async function paced(flow: FlowId): Promise<void> {
  const pace = pacing[flow];
  const now = Date.now();
  const slot = Math.max(pace.next, now);
  pace.next = slot + 1000 / pace.rate;
  if (slot > now) await new Promise((resolve) => setTimeout(resolve, slot - now));
}

async function overHttp(c: BadCase): Promise<Answer> {
  const flow = FLOWS[c.flow];
  const headers: Record<string, string> = {
    Authorization: `Bearer ${await token(flow.caller === 'derms' ? 'derms-local' : 'dacs-local')}`,
  };
  if (c.contentType !== null) headers['Content-Type'] = c.contentType;
  for (let dropped = 0; ; ) {
    await paced(c.flow);
    const response = await fetch(`${API()}${flow.route.path}`, {
      method: 'POST',
      headers,
      body: c.body as Uint8Array,
    }).catch((error: unknown) => {
      // No answer at all (a kept-alive socket closed under the client, EPIPE): what any client sends again.
      // Counted; a host that stays unreachable still fails the campaign after three tries.
      if (++dropped > 3) throw error;
      seen.http.networkRetries += 1;
      return undefined;
    });
    if (response === undefined) continue;
    const body = await response.text();
    if (response.status !== 429) {
      return {
        status: response.status,
        contentType: response.headers.get('content-type') ?? undefined,
        body,
      };
    }
    // The gateway's throttle, not an answer to the body: slow down, wait as asked and send it again.
    seen.http.throttled += 1;
    pacing[c.flow].rate = Math.max(0.5, pacing[c.flow].rate * 0.8);
    await new Promise((resolve) =>
      setTimeout(resolve, Number(response.headers.get('retry-after') ?? 1) * 1000),
    );
  }
}

/** Over HTTP a body is bytes: text as UTF-8 (a lone surrogate becomes U+FFFD, as any client would send it). */
const asBytes = (c: BadCase): BadCase =>
  typeof c.body === 'string' ? { ...c, body: new Uint8Array(Buffer.from(c.body, 'utf8')) } : c;

async function queuedOnOwnQueues(): Promise<number> {
  let total = 0;
  for (const flow of FLOW_IDS) {
    const { Attributes = {} } = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: resources.queues[flow].url,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    total +=
      Number(Attributes.ApproximateNumberOfMessages ?? 0) +
      Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0);
  }
  return total;
}

async function traceCount(table: string): Promise<number> {
  let count = 0;
  let start: Record<string, never> | undefined;
  do {
    const page = await ddb.send(
      new ScanCommand({ TableName: table, Select: 'COUNT', ExclusiveStartKey: start }),
    );
    count += page.Count ?? 0;
    start = page.LastEvaluatedKey as typeof start;
  } while (start);
  return count;
}

/** The traces among `messageIds` in `table`: messageId, state and last error. */
async function tracesAmong(
  table: string,
  messageIds: readonly string[],
): Promise<{ messageId: string; state?: string; lastError?: string }[]> {
  const found: { messageId: string; state?: string; lastError?: string }[] = [];
  const unique = [...new Set(messageIds)];
  for (let i = 0; i < unique.length; i += 100) {
    let keys = unique.slice(i, i + 100).map((id) => ({ pk: { S: id } }));
    while (keys.length > 0) {
      const page = await ddb.send(
        new BatchGetItemCommand({
          RequestItems: {
            [table]: {
              Keys: keys,
              ProjectionExpression: 'pk, #state, lastError',
              ExpressionAttributeNames: { '#state': 'state' },
            },
          },
        }),
      );
      for (const item of page.Responses?.[table] ?? []) {
        if (!item.pk?.S) continue;
        found.push({
          messageId: item.pk.S,
          ...(item.state?.S ? { state: item.state.S } : {}),
          ...(item.lastError?.S ? { lastError: item.lastError.S } : {}),
        });
      }
      keys = (page.UnprocessedKeys?.[table]?.Keys ?? []) as typeof keys;
    }
  }
  return found;
}

const FINAL = ['DELIVERED', 'SUPERSEDED'];

/** Waits until every message of `messageIds` is DELIVERED or SUPERSEDED; answers those that are not. */
async function notFinalAfter(table: string, messageIds: readonly string[], timeoutMs: number) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const open = (await tracesAmong(table, messageIds)).filter((t) => !FINAL.includes(t.state ?? ''));
    if (open.length === 0 || Date.now() > until) return open;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

/** A message's trace through the support route, sent again when the stage throttle answers 429. */
async function supportTrace(messageId: string): Promise<Record<string, unknown>> {
  for (;;) {
    const answer = await get(`/v1/messages/${messageId}`);
    if (answer.status !== 429) return answer.body;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

const polluted = () =>
  Object.keys(Object.prototype).length > 0 || ({} as Record<string, unknown>).polluted !== undefined;

describe('bad input, generated', () => {
  it(`answers ${IN_PROCESS_BODIES.toLocaleString('en')} generated bodies in process with the contract's answer, queuing only what it accepted`, async () => {
    const boundaries = boundaryCases(SEED, maxBodyBytes);
    // Every maxLength, minLength, maxItems, minItems and minimum of every schema, at its bound and one past it.
    expect(limitsNotCovered(boundaries)).toEqual([]);
    figures.limits = FLOW_IDS.reduce((n, flow) => n + schemaLimits(flow).length, 0);
    const usedKeys = new Set<string>();
    const all = casesFrom(
      (function* () {
        yield* boundaries;
        yield* generated(SEED);
      })(),
      usedKeys,
      'event',
    );
    await pool(take(all, IN_PROCESS_BODIES), 16, async ({ c, expected }, index) => {
      note('event', c, await throughHandler(c), expected.status, expected.parsed, index);
    });

    const t = seen.event;
    const tried = Object.values(t.tried).reduce((a, b) => a + b, 0);
    expect(tried).toBe(IN_PROCESS_BODIES);
    expect(t.anomalies).toEqual([]);
    expect(t.fiveXX).toBe(0);
    expect(t.largestProblemBytes).toBeLessThanOrEqual(PROBLEM_LIMIT_BYTES);
    // Nobody polls these queues: what is on them is what was queued, one message per 202.
    const queued = await queuedOnOwnQueues();
    figures.refusedButEnqueued.event = Math.max(0, queued - t.accepted.length);
    expect(queued).toBe(t.accepted.length);
    expect(await traceCount(resources.tables.TRACE_TABLE)).toBe(t.accepted.length);
    expect(polluted()).toBe(false);
  }, 170_000);

  it(`answers a sample of ${HTTP_BODIES.toLocaleString('en')} over HTTP the same way, and no refused body has a trace`, async () => {
    // The opt-out's boundaries and every eighth of the others that an HTTP server takes and the stack
    // delivers quickly, a body over the gateway's own limit, then generated bodies in the routes' proportions.
    const boundaries = boundaryCases(SEED + 1, maxBodyBytes).filter(
      (c, i) => !c.inProcessOnly && !c.heavy && (c.flow === 'optOut' || i % 8 === 0),
    );
    const overGateway: BadCase = {
      kind: 'oversized',
      flow: 'optOut',
      contentType: 'application/json',
      jsonContentType: true,
      body: ' '.repeat(10 * 1024 * 1024 + 1),
    };
    const cases = casesFrom(
      (function* () {
        yield* [...boundaries, overGateway];
        for (const c of generated(SEED + 1_000_000, ROUTE_SHARE)) if (!c.inProcessOnly) yield c;
      })(),
      new Set<string>(),
      'http',
    );
    await pool(take(cases, HTTP_BODIES), 8, async ({ c, expected }, index) => {
      note('http', c, await overHttp(c), expected.status, expected.parsed, index);
    });

    const t = seen.http;
    expect(Object.values(t.tried).reduce((a, b) => a + b, 0)).toBe(HTTP_BODIES);
    expect(t.anomalies).toEqual([]);
    expect(t.fiveXX).toBe(0);
    const traces = tableNames(LOCAL_PREFIX).TRACE_TABLE;
    const refusedButTraced = await tracesAmong(traces, t.refusedIds);
    figures.refusedButEnqueued.http = refusedButTraced.length;
    expect(refusedButTraced).toEqual([]);
    expect((await tracesAmong(traces, t.accepted)).length).toBe(new Set(t.accepted).size);
    // What was accepted is delivered (or superseded by a newer update): never accepted and then stuck.
    const stuck = await notFinalAfter(traces, t.accepted, 60_000);
    figures.acceptedNotDelivered = stuck.length;
    expect(stuck).toEqual([]);
  }, 120_000);

  it(
    'takes ids full of expression syntax and pointer tricks as plain ids: delivered unchanged, nothing else touched',
    async () => {
      const t = uid();
      const short = t.slice(0, 3);
      // An unrelated message first, delivered; its trace must not change.
      const earlier = await post(
        '/v1/dacs/event-opt-outs',
        optOut({ optOutId: `OO-${t}`, deviceId: `D-${t}` }),
      );
      expect(earlier.status).toBe(202);
      const earlierId = String(earlier.body.messageId);
      const before = await waitForState(earlierId, ['DELIVERED']);

      const optOutIds = [
        `#a:v${t}`,
        `attribute_exists(pk)${t}`,
        `#pk = :pk OR attribute_not_exists(pk) ${t}`,
        `OO-${t}#a`,
        `OO-${t}/..`,
        `/~0~1/../${t}`,
        `OO-${t}~1`,
        `:v)${t}`,
        `${t}/`,
      ];
      const unavailabilityId = `SET #a = :v REMOVE pk /~1/~0/.. ${t}`;
      const syncRequestId = `:v#a/~0~1..${short}`;
      const legacyId = `attribute_exists(pk) AND #a = :v /~0/~1/.. ${t}`;
      const deviceIds = ['#a:v/~0~1..', `~1/..#${short}`, `:v${short}/~0`];
      const sync = assetSyncRequest({
        sendDetails: { syncRequestId },
        subscriptionInfo: { subscriptionId: `#sub:v/${t}` },
        locationInfo: {
          controllableDevices: deviceIds.map((deviceId, i) =>
            controllableDevice({ deviceId, nicId: `NIC/~1/${t}${i}`, networkAddress: `10.9.${i}.1` }),
          ),
        },
      });
      const legacy = legacyAck({
        MsgAck: {
          responses: {
            response: [
              { responseCode: 'OK', dacsMessageId: legacyId, responseTimeISO: '2026-12-01T14:00:00Z' },
            ],
          },
        },
      });
      const sent: { path: string; body: unknown; client?: 'derms-local' }[] = [
        ...optOutIds.map((optOutId, i) => ({
          path: '/v1/dacs/event-opt-outs',
          body: optOut({
            optOutId,
            deviceId: deviceIds[i % deviceIds.length]!,
            eventExternalIdentifier: optOutId,
          }),
        })),
        {
          path: '/v1/dacs/unavailability',
          body: unavailability({ unavailabilityId, deviceId: deviceIds[0]!, nicId: `/${t}/..` }),
        },
        { path: '/v1/dacs/asset-sync', body: sync },
        { path: '/v1/derms/legacy-acks', body: legacy, client: 'derms-local' },
      ];
      const answers = await Promise.all(
        sent.map((s) => post(s.path, s.body, { client: s.client ?? 'dacs-local' })),
      );
      expect(answers.map((a) => a.status)).toEqual(sent.map(() => 202));
      const messageIds = answers.map((a) => String(a.body.messageId));
      await Promise.all(messageIds.map((id) => waitForState(id, ['DELIVERED'], WAIT_MS)));

      // Each reached its receiver with its ids unchanged, exactly once.
      const optOutCalls = await dermsSim.calls('/v1/event-opt-outs');
      for (const optOutId of optOutIds) {
        const calls = optOutCalls.filter((c) => c.body.optOutId === optOutId);
        expect(calls).toHaveLength(1);
        // The header carries the key percent-encoded where a header cannot hold it (shared/delivery/keys.ts).
        expect(decodeHeaderKey(calls[0]?.idempotencyKey ?? '')).toBe(optOutId);
        expect(calls[0]?.body.eventExternalIdentifier).toBe(optOutId);
      }
      const unavailabilityCalls = (await dermsSim.calls('/v1/device-unavailability')).filter(
        (c) => c.body.unavailabilityId === unavailabilityId,
      );
      expect(unavailabilityCalls).toHaveLength(1);
      expect(unavailabilityCalls[0]?.body).toMatchObject({
        device: { deviceId: deviceIds[0], nicId: `/${t}/..` },
      });
      const enrollment = (await dermsSim.calls('/v1/enrollment-sync')).filter(
        (c) => c.body.dacsMessageId === syncRequestId,
      );
      expect(enrollment).toHaveLength(1);
      // DERMS (the simulator) acknowledges through the integration; DACS gets one consolidated ack, ids intact.
      const [consolidated] = await waitFor(
        async () => {
          const calls = (await dacsSim.calls(ACK_PATH)).filter((c) => c.body.syncRequestId === syncRequestId);
          return calls.length > 0 ? calls : undefined;
        },
        WAIT_MS,
        'the consolidated ack of the tricky sync request',
      );
      expect(
        (consolidated!.body.deviceHeadendStatus as { deviceId: string }[]).map((d) => d.deviceId),
      ).toEqual(deviceIds);
      const legacyCalls = (await dacsSim.calls()).filter((c) =>
        JSON.stringify(c.body).includes(JSON.stringify(legacyId)),
      );
      expect(legacyCalls.map((c) => c.body)).toEqual([legacy]);

      // The same tricky message again is a duplicate of itself, nothing more.
      const again = await post(sent[0]!.path, sent[0]!.body);
      expect(again.body).toEqual({ messageId: messageIds[0], status: 'ACCEPTED', duplicate: true });
      // Their traces name their own ids; the earlier message's trace is as it was.
      const traces: Record<string, unknown>[] = [];
      for (const id of messageIds) traces.push(await supportTrace(id));
      expect(
        traces.map((trace) => (trace.keys as Record<string, string>).optOutId).slice(0, optOutIds.length),
      ).toEqual(optOutIds);
      expect(await supportTrace(earlierId)).toEqual(before);
      figures.injection = { ids: sent.length, unchanged: sent.length };
    },
    3 * WAIT_MS,
  );

  it(
    'answers the largest numbers JSON can write, at a sync request it holds, with a 422 or a delivery',
    async () => {
      const literals = ['1e300', '1e126', '9007199254740993', '123456789012345678901234567890', '4294967296'];
      const outcomes = await Promise.all(
        literals.map(async (literal) => {
          // DERMS is played here: the simulator records the sync and stays silent.
          const sync = syncOf(1);
          await dermsSim.fault({ match: { syncRequestId: sync.syncRequestId }, action: 'silent' });
          expect((await post('/v1/dacs/asset-sync', sync.request)).status).toBe(202);
          const [device] = sync.request.locationInfo.controllableDevices;
          const ack = {
            syncRequestId: sync.syncRequestId,
            ackType: 'SUCCESS',
            ackDateTime: '2026-12-01T22:00:00Z',
            sequence: 0,
            final: true,
            devices: [
              {
                deviceId: device!.deviceId,
                headEndSystem: device!.headEndSystem,
                nicId: device!.nicId,
                registrationStatus: 'REGISTERED',
              },
            ],
          };
          const text = JSON.stringify(ack).replace('"sequence":0', `"sequence":${literal}`);
          const answer = await post('/v1/derms/asset-sync-acks', undefined, {
            client: 'derms-local',
            rawBody: text,
          });
          if (answer.status === 422) return { literal, outcome: 'refused' };
          expect(answer.status).toBe(202);
          await waitForState(String(answer.body.messageId), ['DELIVERED'], WAIT_MS);
          // The ack's effect must reach DACS: in the consolidated ack, or, when a loaded machine let the
          // request's deadline (SYNC_DEADLINE_SECONDS) pass first, in the one follow-up that changes the
          // device's flag from D1NR to D1RE (the contract's consolidation rules).
          const acks = await waitFor(
            async () => {
              const calls = (await dacsSim.calls(ACK_PATH)).filter(
                (c) => c.body.syncRequestId === sync.syncRequestId && !c.duplicate,
              );
              return flagOf(calls.at(-1), device!.deviceId) === 'D1RE' ? calls : undefined;
            },
            WAIT_MS,
            `the consolidated ack (or its follow-up) after sequence ${literal}`,
          );
          const consolidated = acks.filter((c) => c.idempotencyKey === sync.syncRequestId);
          expect(consolidated).toHaveLength(1);
          if (acks.length === 1) return { literal, outcome: 'consolidated' };
          expect(acks).toHaveLength(2);
          expect(flagOf(consolidated[0], device!.deviceId)).toBe('D1NR');
          expect(acks[1]!.idempotencyKey).not.toBe(sync.syncRequestId);
          return { literal, outcome: 'followed-up' };
        }),
      );
      figures.hugeNumbers = {
        sent: outcomes.length,
        refused: outcomes.filter((o) => o.outcome === 'refused').length,
        consolidated: outcomes.filter((o) => o.outcome === 'consolidated').length,
        followedUpAfterDeadline: outcomes.filter((o) => o.outcome === 'followed-up').length,
      };
      await dermsSim.clearFaults();
    },
    3 * WAIT_MS,
  );

  it(
    'still takes and delivers a valid message after the campaign',
    async () => {
      const answer = await post('/v1/dacs/event-opt-outs', optOut({ optOutId: `OO-after-${uid()}` }));
      expect(answer.status).toBe(202);
      await waitForState(String(answer.body.messageId), ['DELIVERED'], WAIT_MS);
    },
    2 * WAIT_MS,
  );
});

function recordBadInputFigures(): void {
  const { event, http } = seen;
  const both = (a: number, b: number) =>
    `${a.toLocaleString('en')} in process, ${b.toLocaleString('en')} over HTTP`;
  const total = (t: Tally) => Object.values(t.tried).reduce((a, b) => a + b, 0);
  const statuses = [...new Set([...Object.keys(event.byStatus), ...Object.keys(http.byStatus)])]
    .map(Number)
    .sort();
  recordFigures('bad-input', {
    title: 'Bad input, generated',
    order: 50,
    figures: [
      { name: 'Seed', value: SEED, note: `RELIABILITY_SEED=${SEED} replays the bodies` },
      {
        name: 'Bodies tried',
        value: total(event) + total(http),
        note: `${both(total(event), total(http))}, through the real ingest handlers`,
      },
      {
        name: 'Schema limits tried at their bound and one past it',
        value: figures.limits,
        note: 'every maxLength, minLength, maxItems, minItems and minimum of the five schemas (lists grown to 10,001), plus the body size limit at MAX_BODY_BYTES and one byte over',
      },
      ...CASE_KINDS.map((kind) => ({
        name: `Bodies: ${kind}`,
        value: event.tried[kind] + http.tried[kind],
        note: both(event.tried[kind], http.tried[kind]),
      })),
      ...statuses.map((status) => ({
        name: `Answered ${status}`,
        value: (event.byStatus[status] ?? 0) + (http.byStatus[status] ?? 0),
        note: both(event.byStatus[status] ?? 0, http.byStatus[status] ?? 0),
      })),
      {
        name: 'Schema-valid bodies accepted (202)',
        value: event.accepted.length + http.accepted.length,
        note: 'bodies that happen to be valid after their mutation (leap seconds, control characters, injections, limits at their bound)',
      },
      { name: '5xx answers', value: event.fiveXX + http.fiveXX, note: 'no bad input ever gets one' },
      {
        name: 'Answers other than the contract’s',
        value: event.anomalies.length + http.anomalies.length,
        note: 'status differs from 415 → 413 → 400 → 422/202, or a refusal not in problem+json',
      },
      {
        name: 'Refused but queued',
        value: figures.refusedButEnqueued.event + figures.refusedButEnqueued.http,
        note: 'in process: messages on the queues beyond the 202s; over HTTP: traces of refused bodies',
      },
      {
        name: 'Accepted over HTTP and not delivered',
        value: figures.acceptedNotDelivered,
        note: 'every 202 of the HTTP sample ended DELIVERED (or SUPERSEDED by a newer update) within two minutes',
      },
      {
        name: 'Largest problem body (bytes)',
        value: Math.max(event.largestProblemBytes, http.largestProblemBytes),
        note: 'limit 65,536; at most 100 errors listed, the rest counted in the detail',
      },
      {
        name: 'Ids of expression syntax and pointer tricks delivered unchanged',
        value: `${figures.injection.unchanged} of ${figures.injection.ids}`,
        note: '#a, :v, attribute_exists(pk), /, ~0, ~1, .. in business keys and device ids; an earlier trace unchanged',
      },
      {
        name: 'Ack sequences beyond 2^53 − 1 at a held sync request',
        value: `${figures.hugeNumbers.refused} refused (422), ${figures.hugeNumbers.consolidated} consolidated, ${figures.hugeNumbers.followedUpAfterDeadline} in a follow-up after the deadline, of ${figures.hugeNumbers.sent}`,
        note: '1e300, 1e126, 2^53 + 1 and a 30-digit integer are refused at the door; 2^32 is taken, and its flag reaches DACS (in the consolidated ack, or in a follow-up when the request’s deadline came first)',
      },
      {
        name: 'Throttled and sent again',
        value: http.throttled,
        note: 'the local stage throttle (429), not an answer to the body',
      },
      {
        name: 'Dropped connections sent again',
        value: http.networkRetries,
        note: 'no answer at all (EPIPE or reset on a kept-alive socket); never more than 3 for one body',
      },
    ],
  });
}
