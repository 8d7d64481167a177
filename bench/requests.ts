/**
 * AWS requests and cost per message (issue 10, item 2). Runs each flow in process through its real
 * handlers against DynamoDB Local and fauxqs (started as the integration layer starts them, on
 * `IT_DYNAMODB_PORT` / `IT_FAUXQS_PORT`), counts every DynamoDB (with capacity units), SQS and S3
 * request with the request recorder, and an asset sync with its final ack at 1, 100, 1,000 and 10,000
 * devices. Writes docs/cost.md (`scripts/cost.ts`) and answers its section of BENCHMARKS.md.
 *
 * The counts are exact and the same on any machine; durations (for GB-seconds) are this machine's, in
 * process, and only feed the cost estimate.
 */
import { cpus } from 'node:os';
import type { RequestCounts } from '#shared/aws/requestRecorder.ts';
import { FLOWS, type FlowId } from '#shared/flows/registry.ts';
import { type CostRow, costOf, total, type Usage, writeCostDoc } from './cost.ts';
import {
  type FlowRunner,
  type MessageRun,
  runMessage,
  runSync,
  sampleMessage,
  startFlowRunner,
  stopFlowRunner,
} from './requestFlows.ts';
import { REVIEWED_REQUESTS, reviewTable, unreviewed } from './requestReview.ts';
import type { BenchBudget, BenchRow, BenchSection } from './section.ts';

export const SYNC_SIZES = [1, 100, 1_000, 10_000] as const;
const SIMPLE_FLOWS = ['optOut', 'unavailability', 'legacyAck'] as const;
/** Messages of each simple flow measured (after one warm-up); their mean is reported. */
const ROUNDS = Number(process.env.BENCH_REQUEST_ROUNDS ?? 5);
/** Lambda memory of the ingest and process functions (infra/constructs/integration-function.ts). */
const FUNCTION_MEMORY_GB = 1;
/** Lambda's own lines per invocation (START, END, REPORT with X-Ray), in bytes. */
const PLATFORM_LOG_BYTES = 400;
/** X-Ray's default sampling at volume: 5 % of requests (plus one a second). */
const XRAY_SAMPLING = 0.05;
/** SQS bills each 64 KB of payload as one request; above the claim-check threshold only a pointer travels. */
const SQS_CHUNK = 64 * 1024;

/** The DynamoDB write requests an N-device sync request may cost (issue 10). */
export const syncWriteBudget = (n: number): number => Math.ceil(n / 25) + 5;

export interface SyncMeasure {
  readonly devices: number;
  readonly request: MessageRun;
  readonly ack: MessageRun;
}

export interface RequestMeasures {
  readonly flows: Record<(typeof SIMPLE_FLOWS)[number], MessageRun[]>;
  readonly syncs: SyncMeasure[];
}

/** Runs every flow against the services `process.env` points at (the integration environment). */
export async function measureFlows(sizes: readonly number[] = SYNC_SIZES): Promise<RequestMeasures> {
  const runner = await startFlowRunner();
  try {
    const flows = {} as RequestMeasures['flows'];
    for (const flow of SIMPLE_FLOWS) flows[flow] = await rounds(runner, flow);
    await runSync(runner, 1); // warm-up of the asset sync functions
    const syncs: SyncMeasure[] = [];
    for (const devices of sizes) syncs.push({ devices, ...(await runSync(runner, devices)) });
    return { flows, syncs };
  } finally {
    await stopFlowRunner(runner);
  }
}

async function rounds(runner: FlowRunner, flow: (typeof SIMPLE_FLOWS)[number]): Promise<MessageRun[]> {
  await runMessage(runner, flow, sampleMessage(flow)); // warm-up: module init is not a message's cost
  const runs: MessageRun[] = [];
  for (let i = 0; i < ROUNDS; i++) runs.push(await runMessage(runner, flow, sampleMessage(flow)));
  return runs;
}

/** The mean usage of `runs` (one unit each) as AWS would bill it. */
export function usageOf(runs: readonly MessageRun[]): Usage {
  const mean = (f: (r: MessageRun) => number) => runs.reduce((a, r) => a + f(r), 0) / runs.length;
  const op = (c: RequestCounts, key: string) => c.byOperation[key] ?? 0;
  const sqsOf = (r: MessageRun) => {
    const chunks = Math.max(1, Math.ceil(Math.min(r.bodyBytes, 1_000_000) / SQS_CHUNK));
    const sends = op(r.counts, 'SQS:SendMessage') * chunks;
    // The poller's last receive found nothing: the event source mapping polls anyway, so it is not the message's.
    const receives = Math.max(0, op(r.pollerCounts, 'SQS:ReceiveMessage') - 1) * chunks;
    return (
      sends + receives + op(r.pollerCounts, 'SQS:DeleteMessage') + op(r.counts, 'SQS:ChangeMessageVisibility')
    );
  };
  const fifo = (r: MessageRun) => FLOWS[r.flow as FlowId].queue.fifo;
  return {
    apiRequests: 1,
    lambdaInvocations: mean((r) => r.invocations),
    lambdaGbSeconds: mean((r) => ((r.ingestMs + r.processMs) / 1000) * FUNCTION_MEMORY_GB),
    sqsStandard: mean((r) => (fifo(r) ? 0 : sqsOf(r))),
    sqsFifo: mean((r) => (fifo(r) ? sqsOf(r) : 0)),
    readUnits: mean((r) => r.counts.readUnits),
    writeUnits: mean((r) => r.counts.writeUnits),
    s3Puts: mean((r) => op(r.counts, 'S3:PutObject')),
    s3Gets: mean((r) => op(r.counts, 'S3:GetObject')),
    logBytes: mean((r) => r.logBytes + r.invocations * PLATFORM_LOG_BYTES),
    traces: mean((r) => r.invocations * XRAY_SAMPLING),
  };
}

const sum = (a: Usage, b: Usage): Usage =>
  Object.fromEntries(
    Object.keys(a).map((k) => [k, a[k as keyof Usage] + b[k as keyof Usage]]),
  ) as unknown as Usage;

export function costRows(m: RequestMeasures): CostRow[] {
  const flows = SIMPLE_FLOWS.map((flow) => ({
    name: flow,
    messages: 1,
    usage: usageOf(m.flows[flow]),
    inMix: true,
  }));
  const syncs = m.syncs.flatMap((s) => [
    ...(s.devices === 1
      ? [
          { name: 'assetSync (1 device)', messages: 1, usage: usageOf([s.request]), inMix: true },
          { name: 'assetSyncAck (1 device, final)', messages: 1, usage: usageOf([s.ack]), inMix: true },
        ]
      : []),
    {
      name: `asset sync + final ack, ${s.devices.toLocaleString('en-US')} device${s.devices === 1 ? '' : 's'}`,
      messages: 2,
      usage: sum(usageOf([s.request]), usageOf([s.ack])),
      inMix: false,
      devices: s.devices,
    },
  ]);
  return [...flows, ...syncs];
}

const writes = (r: MessageRun) => r.counts.writeRequests;
const reads = (r: MessageRun) => r.counts.readRequests;

function rowsOf(m: RequestMeasures): BenchRow[] {
  const rows: BenchRow[] = [];
  for (const flow of SIMPLE_FLOWS) {
    const run = m.flows[flow][0] as MessageRun;
    rows.push({
      name: `${flow}: AWS requests per message (functions)`,
      value: run.counts.requests,
      unit: 'requests',
    });
    rows.push({ name: `${flow}: DynamoDB write requests per message`, value: writes(run), unit: 'requests' });
  }
  for (const s of m.syncs) {
    const n = s.devices.toLocaleString('en-US');
    rows.push({
      name: `asset sync of ${n}: DynamoDB write requests`,
      value: writes(s.request),
      unit: 'requests',
      baseline: syncWriteBudget(s.devices),
      baselineName: '⌈N/25⌉ + 5 (budget)',
    });
    rows.push({
      name: `asset sync of ${n}: DynamoDB read requests`,
      value: reads(s.request),
      unit: 'requests',
    });
    rows.push({ name: `final ack of ${n}: DynamoDB write requests`, value: writes(s.ack), unit: 'requests' });
    rows.push({ name: `final ack of ${n}: DynamoDB read requests`, value: reads(s.ack), unit: 'requests' });
    rows.push({
      name: `asset sync + final ack of ${n}: DynamoDB WRU per device`,
      value: Number(((s.request.counts.writeUnits + s.ack.counts.writeUnits) / s.devices).toFixed(2)),
      unit: 'WRU',
    });
  }
  return rows;
}

function budgetsOf(m: RequestMeasures): BenchBudget[] {
  const budgets: BenchBudget[] = m.syncs.map((s) => ({
    name: `an N-device sync request costs ≤ ⌈N/25⌉ + 5 DynamoDB write requests (N = ${s.devices.toLocaleString('en-US')})`,
    measured: String(writes(s.request)),
    limit: String(syncWriteBudget(s.devices)),
    ok: writes(s.request) <= syncWriteBudget(s.devices),
  }));
  const all = [...Object.values(m.flows).flat(), ...m.syncs.flatMap((s) => [s.request, s.ack])];
  const scans = all.reduce((a, r) => a + (r.counts.byOperation['DynamoDB:Scan'] ?? 0), 0);
  budgets.push({ name: 'no scans', measured: String(scans), limit: '0', ok: scans === 0 });
  for (const flow of SIMPLE_FLOWS) budgets.push(reviewBudget(flow, m.flows[flow]));
  return budgets;
}

/** The flow's requests are those the review accounts for, each of whose answer or write changes the outcome. */
function reviewBudget(flow: (typeof SIMPLE_FLOWS)[number], runs: readonly MessageRun[]): BenchBudget {
  const differences = [...new Set(runs.flatMap((r) => unreviewed(flow, r.counts)))];
  const reviewed = REVIEWED_REQUESTS[flow].length;
  return {
    name: `${flow}: no request whose answer cannot change the outcome (every request reviewed, below)`,
    measured: differences.length === 0 ? `${reviewed} requests, as reviewed` : differences.join(', '),
    limit: `the ${reviewed} reviewed`,
    ok: differences.length === 0,
    ...(differences.length === 0
      ? {}
      : { note: 'requests the review does not account for (bench/requestReview.ts)' }),
  };
}

function operationsTable(m: RequestMeasures): string {
  const runs: [string, MessageRun][] = [
    ...SIMPLE_FLOWS.map((f) => [f, m.flows[f][0] as MessageRun] as [string, MessageRun]),
    ...m.syncs.flatMap((s): [string, MessageRun][] => [
      [`assetSync (${s.devices})`, s.request],
      [`assetSyncAck (${s.devices}, final)`, s.ack],
    ]),
  ];
  const lines = runs.map(([name, r]) => {
    const ops = Object.entries(r.counts.byOperation)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([op, n]) => `${op.replace('DynamoDB:', '')} ${n}`)
      .join(', ');
    const u = `${r.counts.readUnits.toFixed(1)} / ${r.counts.writeUnits.toFixed(1)}`;
    return `| ${name} | ${r.counts.requests} | ${ops} | ${u} |`;
  });
  return [
    '| Message | Requests | By operation | DynamoDB RCU / WCU |',
    '| --- | --- | --- | --- |',
    ...lines,
  ].join('\n');
}

export function machine(): string {
  const cpu = cpus();
  return `${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, Node ${process.version}`;
}

/** Section of BENCHMARKS.md from measured flows; also writes docs/cost.md. */
export async function sectionOf(m: RequestMeasures): Promise<BenchSection> {
  const rows = costRows(m);
  await writeCostDoc({
    measuredAt: new Date().toISOString().slice(0, 10),
    machine: machine(),
    assumptions: ASSUMPTIONS,
    rows,
  });
  const perMillion = rows
    .filter((r) => r.inMix)
    .map((r) => `${r.name} $${((total(costOf(r.usage)) * 1e6) / r.messages).toFixed(2)}`)
    .join(', ');
  return {
    title: 'AWS requests and cost per message',
    method:
      'Every flow runs in process through its real ingest and process handlers against DynamoDB Local and fauxqs; ' +
      'a middleware on the SDK clients counts each DynamoDB (with consumed capacity), SQS and S3 request. ' +
      `Opt-out, unavailability and legacy ack: ${ROUNDS} messages each after a warm-up; an asset sync and DERMS's ` +
      `one final ack at ${m.syncs.map((s) => s.devices).join(', ')} devices. Dollar figures in docs/cost.md ` +
      `(per million messages: ${perMillion}; OIC $129–258).`,
    rows: rowsOf(m),
    budgets: budgetsOf(m),
    markdown: `${operationsTable(m)}\n\nWhat each request of a simple flow is for (bench/requestReview.ts; delivered at the first try):\n\n${reviewTable()}`,
  };
}

const ASSUMPTIONS: readonly string[] = [
  'DynamoDB units are what DynamoDB Local returned with `ReturnConsumedCapacity: TOTAL` (on-demand bills the same units); a failed conditional write returns none and is counted at one write unit per item (two in a transaction).',
  'Each message ran alone in its Lambda invocation (batch size 1): the conservative case; batches of 10 share one invocation and its fixed time.',
  `Lambda GB-seconds are the handlers' measured in-process durations on this machine (warm, not cold starts) × ${FUNCTION_MEMORY_GB} GB, the functions' memory. Lambda bills by the millisecond.`,
  "SQS: the function's SendMessage, and the event source mapping's ReceiveMessage and DeleteMessage per message, counted by a poller that drains the queue as the mapping does; each 64 KB of a body is one request. Empty long polls are a fixed cost per queue, not per message.",
  `Logs: the bytes the functions wrote at POWERTOOLS_LOG_LEVEL=INFO (JSON lines and EMF metrics), plus ${PLATFORM_LOG_BYTES} bytes of Lambda's START/END/REPORT lines per invocation; kept one month.`,
  `X-Ray: ${XRAY_SAMPLING * 100} % of invocations sampled (the default rule at volume), each a trace.`,
  "API Gateway and WAF: one request per message; the Lambda authorizer's answer is cached per token (AUTHORIZER_CACHE_TTL), so its invocations are not per message.",
];

/** Starts DynamoDB Local and fauxqs as the integration layer does, measures, writes docs/cost.md, and stops them. */
export async function measureRequests(): Promise<BenchSection> {
  process.env.POWERTOOLS_LOG_LEVEL = 'INFO';
  const { default: globalSetup } = await import('#test/integration/globalSetup.ts');
  const { default: globalTeardown } = await import('#test/integration/globalTeardown.ts');
  await globalSetup();
  try {
    // One JSON line per log entry, as in Lambda (the local stack pretty-prints).
    process.env.POWERTOOLS_DEV = 'false';
    return await sectionOf(await measureFlows());
  } finally {
    await globalTeardown();
  }
}
