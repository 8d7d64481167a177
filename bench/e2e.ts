/**
 * End to end on the local stack (issue 10, item 3), over real HTTP with real tokens. The bench starts its
 * own stack (bench/stack.ts: throttles raised, fresh database) and the baseline pipeline
 * (bench/baseline.ts) on the same DynamoDB Local, fauxqs and DERMS simulator, then measures:
 *
 *   1. opt-out latency, from the request's send to the DERMS simulator's receipt, p50 and p99, with 1,
 *      10 and 50 closed-loop callers, the integration and the baseline one after the other; the run with
 *      50 callers gives the throughput (opt-outs delivered per second, first send to last receipt);
 *   2. a 10,000-device sync acknowledged by the simulator's partial acks, while one caller keeps sending
 *      opt-outs (the priority lane: their p99 against the idle p99 with one caller);
 *   3. a 10,000-device sync acknowledged by one final ack for every device, posted by the bench;
 *   and the peak RSS of each function process (the local stack runs one per role: the API, each flow,
 *   the sweep) and of their sum during 2 and 3.
 *
 * Environment: the stack's ports (bench/stack.ts), BENCH_BASELINE_PORT (default: the stack's API port + 10, so 3610), BENCH_E2E_SCALE (1: a
 * multiplier of the opt-out counts, for a quick try) and BENCH_E2E_DEVICES (10000).
 */

import { readFileSync } from 'node:fs';
import { FUNCTION_ROLES, type FunctionRole } from '#local/constants.ts';
import { FLOWS } from '#shared/flows/registry.ts';
import { type RunningBaseline, startBaseline } from './baseline.ts';
import {
  accessToken,
  clearCalls,
  closedLoop,
  type OptOutRun,
  optOutRun,
  optOutSender,
  receipts,
  type Sender,
  summarise,
  uid,
} from './load.ts';
import type { BenchBudget, BenchRow, BenchSection } from './section.ts';
import { type BenchStack, type RssPeaks, rssOf, sampleRss, startBenchStack } from './stack.ts';
import { type SyncContext, type SyncTimings, syncWithOneFinalAck, syncWithPartialAcks } from './sync.ts';
import { writeDeviceItems } from './syncBaseline.ts';

const SCALE = Number(process.env.BENCH_E2E_SCALE ?? 1);
const DEVICES = Number(process.env.BENCH_E2E_DEVICES ?? 10_000);
/** Callers, and how long they send opt-outs (each pipeline in turn). */
const LEVELS = [
  { concurrency: 1, durationMs: 6000 },
  { concurrency: 10, durationMs: 6000 },
  { concurrency: 50, durationMs: 8000 },
].map((l) => ({ ...l, durationMs: Math.round(l.durationMs * SCALE) }));
/**
 * How long a 10,000-device sync may take to reach DERMS, and its consolidated ack after that, before the
 * run reports the budget missed without a figure: a few times each budget, so the section stays within
 * its share of `npm run bench`'s ten minutes on a slow machine.
 */
const SYNC_TIMEOUTS = { toDermsMs: 60_000, consolidatedMs: 90_000 } as const;
const BUDGETS = {
  priorityLaneRatio: 2,
  throughputRatio: 0.5,
  acceptanceToDermsMs: 10_000,
  lastAckToConsolidatedMs: 20_000,
} as const;

interface LevelResult {
  readonly ours: OptOutRun;
  readonly baseline: OptOutRun;
}

interface SyncResult {
  readonly timings: SyncTimings;
  /** The function processes' peak RSS, each and summed; undefined when no sample was taken. */
  readonly rss: RssPeaks<FunctionRole> | undefined;
}

interface Figures {
  readonly levels: readonly LevelResult[];
  /** Milliseconds to write the sync's device items with BatchWriteItem: the sync figures' baseline. */
  readonly deviceItemsMs: number;
  readonly lane: OptOutRun;
  /** Each function process's RSS before the 10,000-device runs, in MiB. */
  readonly idleRss: Partial<Record<FunctionRole, number>>;
  readonly partial: SyncResult;
  readonly single: SyncResult;
  /** What the stack logged as failed while the bench ran (distinct lines). */
  readonly stackProblems: readonly string[];
}

export async function measureEndToEnd(): Promise<BenchSection> {
  const stack = await startBenchStack();
  let baseline: RunningBaseline | undefined;
  try {
    baseline = await startBaseline({
      port: Number(process.env.BENCH_BASELINE_PORT ?? Number(new URL(stack.api).port) + 10),
      dynamodb: stack.dynamodb,
      sqs: stack.sqs,
      derms: stack.derms,
    });
    const ctx = await syncContext(stack);
    const ours = optOutSender(`${stack.api}${FLOWS.optOut.route.path}`, ctx.tokens.dacs);
    const base = optOutSender(baseline.url);
    const warmUp = { concurrency: 10, durationMs: 2000, count: 100 }; // JIT, connections, authorizer cache
    await optOutRun(stack.derms, ours, warmUp);
    await optOutRun(stack.derms, base, warmUp);
    const levels: LevelResult[] = [];
    for (const level of LEVELS) {
      step(`opt-out latency, ${level.concurrency} caller(s), the integration then the baseline`);
      levels.push({
        ours: await optOutRun(stack.derms, ours, level),
        baseline: await optOutRun(stack.derms, base, level),
      });
    }
    step('warm-up sync of 100 devices, then the sync floor');
    await syncWithOneFinalAck(ctx, 100); // warm-up of the sync and consolidation paths
    const deviceItemsMs = await writeDeviceItems(stack.dynamodb, DEVICES);
    const idleRss = rssOf(stack.functionPids());
    step(`priority lane during a ${DEVICES}-device sync with the simulator's partial acks`);
    const { lane, partial } = await partialSyncWithOptOuts(ctx, stack, ours);
    step(`${DEVICES}-device sync with one final ack`);
    const single = await measured(stack, () => clearThen(ctx, () => syncWithOneFinalAck(ctx, DEVICES)));
    step('done');
    const stackProblems = problemsLogged(stack.logFile);
    return section({ levels, deviceItemsMs, lane, idleRss, partial, single, stackProblems });
  } finally {
    await baseline?.stop();
    await stack.stop();
  }
}

/** Where the run is, with the time, so that what else was sampled meanwhile can be matched to a step. */
const step = (what: string) => console.log(`[bench] e2e ${new Date().toISOString().slice(11, 19)} ${what}`);

/** The distinct lines the stack logged about a failure (a function's, a poller's), at most ten. */
function problemsLogged(logFile: string): string[] {
  const lines = readFileSync(logFile, 'utf8').split('\n');
  const problems = lines
    .filter((line) => /^\[[^\]]+\] .*(failed|error)/i.test(line))
    .map((l) => l.slice(0, 300));
  return [...new Set(problems)].slice(0, 10);
}

async function syncContext(stack: BenchStack): Promise<SyncContext> {
  const [dacs, derms, support] = await Promise.all(
    ['dacs-local', 'derms-local', 'support-local'].map((client) => accessToken(stack.api, client)),
  );
  return {
    api: stack.api,
    derms: stack.derms,
    dacs: stack.dacs,
    tokens: { dacs: dacs!, derms: derms!, support: support! },
    timeouts: SYNC_TIMEOUTS,
  };
}

async function clearThen<T>(ctx: SyncContext, run: () => Promise<T>): Promise<T> {
  await Promise.all([clearCalls(ctx.derms), clearCalls(ctx.dacs)]);
  return run();
}

/** Runs a sync while sampling the RSS of each function process. */
async function measured(stack: BenchStack, run: () => Promise<SyncTimings>): Promise<SyncResult> {
  const rss = sampleRss(stack.functionPids);
  try {
    const timings = await run();
    const peaks = rss.stop();
    return { timings, rss: peaks.samples > 0 ? peaks : undefined };
  } finally {
    rss.stop();
  }
}

/** The simulator-acknowledged sync, with one caller sending opt-outs until its consolidated ack is in. */
async function partialSyncWithOptOuts(ctx: SyncContext, stack: BenchStack, ours: Sender) {
  let finished: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    finished = resolve;
  });
  await Promise.all([clearCalls(ctx.derms), clearCalls(ctx.dacs)]);
  const [partial, shots] = await Promise.all([
    measured(stack, () => syncWithPartialAcks(ctx, DEVICES)).finally(finished),
    closedLoop(ours, { count: 1_000_000, concurrency: 1, prefix: `OOL${uid()}-`, until: done }),
  ]);
  const received = await receipts(
    ctx.derms,
    shots.map((s) => s.key),
    60_000,
  );
  return { partial, lane: summarise(shots, received, 1) };
}

const BASELINE = 'baseline pipeline';
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function latencyRows(levels: readonly LevelResult[]): BenchRow[] {
  return levels.flatMap(({ ours, baseline }) => {
    const callers = `${ours.concurrency} caller${ours.concurrency > 1 ? 's' : ''}`;
    const at = `${callers} (${ours.count} opt-outs; baseline ${baseline.count})`;
    const row = (name: string, value: number, base: number): BenchRow => ({
      name: `opt-out ${name}, ${at}`,
      value,
      unit: 'ms',
      baseline: base,
      baselineName: BASELINE,
    });
    return [
      row('send → DERMS p50', ours.p50Ms, baseline.p50Ms),
      row('send → DERMS p99', ours.p99Ms, baseline.p99Ms),
      row('send → 202 p50', ours.acceptP50Ms, baseline.acceptP50Ms),
    ];
  });
}

function syncRows(name: string, result: SyncResult, figures: Figures): BenchRow[] {
  const t = result.timings;
  const idleSum = sumOf(figures.idleRss);
  const floor = {
    baseline: figures.deviceItemsMs / 1000,
    baselineName: `${DEVICES.toLocaleString('en-US')} device items written with BatchWriteItem`,
  };
  const rows: BenchRow[] = [
    {
      name: `${name}: POST → 202 (${(t.bodyBytes / 1e6).toFixed(2)} MB body)`,
      value: t.acceptMs / 1000,
      unit: 's',
    },
  ];
  const add = (label: string, ms: number | undefined, base = {}) => {
    if (ms !== undefined) rows.push({ name: `${name}: ${label}`, value: ms / 1000, unit: 's', ...base });
  };
  add('acceptance (202) → DERMS', t.toDermsMs, floor);
  add(`last ack (${t.lastAck}) → consolidated ack at DACS`, t.lastAckMs, floor);
  add('POST → consolidated ack at DACS', t.totalMs);
  if (result.rss !== undefined) {
    rows.push({
      name: `${name}: peak RSS of the ${FUNCTION_ROLES.length} function processes summed (each: table below)`,
      value: result.rss.sum,
      unit: 'MiB',
      ...(idleSum !== undefined
        ? { baseline: idleSum, baselineName: 'their summed RSS before the 10,000-device runs' }
        : {}),
    });
  }
  return rows;
}

const sumOf = (rss: Partial<Record<FunctionRole, number>>): number | undefined => {
  const values = Object.values(rss) as number[];
  return values.length === 0 ? undefined : values.reduce((a, b) => a + b, 0);
};

/** Each function process's RSS: before the 10,000-device runs, and its peak during each of them. */
function rssMarkdown(figures: Figures, partialName: string, singleName: string): string {
  const cell = (mib: number | undefined) => (mib === undefined ? '–' : `${mib.toFixed(0)} MiB`);
  const rows = FUNCTION_ROLES.map(
    (role) =>
      `| ${role} | ${cell(figures.idleRss[role])} | ${cell(figures.partial.rss?.byProcess[role])} | ${cell(figures.single.rss?.byProcess[role])} |`,
  );
  return [
    'RSS of each function process (the local stack runs one per role, as AWS runs one Lambda function per',
    "function; each peak is that process's own, so the peaks need not fall in the same sample and do not add",
    "up to the summed peak above; a sum of RSS counts the pages the processes share, such as Node's own, once",
    'per process):',
    '',
    `| Function process | Before the ${DEVICES.toLocaleString('en-US')}-device runs | Peak: ${partialName} | Peak: ${singleName} |`,
    '|---|---:|---:|---:|',
    ...rows,
  ].join('\n');
}

/** A budget on one sync step: met, missed, or missed without a figure because the step timed out. */
function stepBudget(
  name: string,
  ms: number | undefined,
  limitMs: number,
  why: string,
  t: SyncTimings,
): BenchBudget {
  const limit = `≤ ${seconds(limitMs)}`;
  if (ms === undefined) {
    return { name, measured: 'no figure', limit, ok: false, note: t.timedOut ?? 'an earlier step timed out' };
  }
  return { name, measured: seconds(ms), limit, ok: ms <= limitMs, ...(ms <= limitMs ? {} : { note: why }) };
}

function syncBudgets(name: string, t: SyncTimings): BenchBudget[] {
  return [
    stepBudget(
      `${name}: acceptance → DERMS`,
      t.toDermsMs,
      BUDGETS.acceptanceToDermsMs,
      'the asset-sync processor writes every device item before it delivers',
      t,
    ),
    stepBudget(
      `${name}: final ack → consolidated ack`,
      t.lastAckMs,
      BUDGETS.lastAckToConsolidatedMs,
      'per-device report writes to DynamoDB Local (shared/consolidation)',
      t,
    ),
  ];
}

function laneAndThroughput(figures: Figures): { rows: BenchRow[]; budgets: BenchBudget[] } {
  const idle = figures.levels[0]!.ours;
  const busiest = figures.levels.at(-1)!;
  const lane = figures.lane;
  const laneRatio = lane.p99Ms / idle.p99Ms;
  const throughputRatio = busiest.ours.perSecond / busiest.baseline.perSecond;
  const rows: BenchRow[] = [
    {
      name: `opt-outs delivered per second, ${busiest.ours.concurrency} callers`,
      value: busiest.ours.perSecond,
      unit: '/s',
      baseline: busiest.baseline.perSecond,
      baselineName: BASELINE,
    },
    {
      name: `priority lane: opt-out send → DERMS p99 during a ${DEVICES.toLocaleString('en-US')}-device sync and its acks (1 caller, ${lane.count} opt-outs)`,
      value: lane.p99Ms,
      unit: 'ms',
      baseline: idle.p99Ms,
      baselineName: 'idle p99, 1 caller',
    },
    {
      name: 'priority lane: opt-out send → DERMS p50 during the sync',
      value: lane.p50Ms,
      unit: 'ms',
      baseline: idle.p50Ms,
      baselineName: 'idle p50, 1 caller',
    },
  ];
  const budgets: BenchBudget[] = [
    {
      name: 'priority lane: opt-out p99 during the sync ≤ 2 × idle p99',
      measured: `${laneRatio.toFixed(2)} × (${lane.p99Ms} ms vs ${idle.p99Ms} ms)`,
      limit: `≤ ${BUDGETS.priorityLaneRatio} ×`,
      ok: laneRatio <= BUDGETS.priorityLaneRatio,
    },
    {
      name: 'opt-out throughput ≥ 0.5 × the baseline pipeline',
      measured: `${throughputRatio.toFixed(2)} × (${busiest.ours.perSecond.toFixed(0)}/s vs ${busiest.baseline.perSecond.toFixed(0)}/s)`,
      limit: `≥ ${BUDGETS.throughputRatio} ×`,
      ok: throughputRatio >= BUDGETS.throughputRatio,
    },
  ];
  return { rows, budgets };
}

function section(figures: Figures): BenchSection {
  const laneAndRate = laneAndThroughput(figures);
  const n = DEVICES.toLocaleString('en-US');
  const partialName = `${n}-device sync, simulator's partial acks`;
  const singleName = `${n}-device sync, one final ack`;
  return {
    title: 'End to end on the local stack',
    method: METHOD,
    rows: [
      ...latencyRows(figures.levels),
      ...laneAndRate.rows,
      {
        name: `the sync floor: ${n} device items written with BatchWriteItem (25 per request, 16 in flight)`,
        value: figures.deviceItemsMs / 1000,
        unit: 's',
      },
      ...syncRows(partialName, figures.partial, figures),
      ...syncRows(singleName, figures.single, figures),
    ],
    markdown: `${rssMarkdown(figures, partialName, singleName)}\n\n${problemsMarkdown(figures.stackProblems)}`,
    budgets: [
      ...laneAndRate.budgets,
      ...syncBudgets(partialName, figures.partial.timings),
      ...syncBudgets(singleName, figures.single.timings),
    ],
  };
}

function problemsMarkdown(problems: readonly string[]): string {
  if (problems.length === 0) return 'The stack logged no failure while the bench ran.';
  return [
    'What the stack logged as failed while the bench ran (distinct lines, at most ten):',
    '',
    ...problems.map((line) => `    ${line}`),
  ].join('\n');
}

const METHOD = [
  '`bench/e2e.ts` starts the local stack as `npm start` runs it (DynamoDB Local, fauxqs, both simulators,',
  'one function process per role as AWS runs one Lambda function per function: the API host, each SQS flow, the sweep;',
  'DynamoDB Local in memory, as its SQLite writes on disk measure the disk, not the',
  'integration: see bench/stack.ts; `LOCAL_DYNAMODB_PATH=<folder>` measures on disk) with the stage throttle raised to 10,000/s so that no',
  "route's share throttles the figures, and calls it over HTTP with tokens from its token endpoint.",
  'The baseline pipeline (`bench/baseline.ts`, a process of its own) uses the same DynamoDB Local, fauxqs',
  'and DERMS simulator: a `node:http` server doing one PutItem and one SendMessage per opt-out, and a poller',
  "with the opt-out flow's batch size and concurrency doing one POST to the simulator and one DeleteMessage",
  'per message; no token, validation, idempotency or trace. Opt-out latency runs from the request leaving',
  "the caller to the DERMS simulator's receipt (its `receivedAt`; one machine, one clock), with closed-loop",
  'callers (each sends its next opt-out when its last is answered) for a fixed time (6 s with 1 and 10',
  'callers, 8 s with 50), the integration then the baseline at each level, after a warm-up of each;',
  'throughput is the opt-outs of the 50-caller run over the time from the first send to the last receipt. The priority lane is one caller sending opt-outs from the POST of a 10,000-device sync',
  'until its consolidated ack reaches DACS, against the idle run with one caller. Each 10,000-device sync',
  'is a lean ENROLL (required fields and one entity group per device, within MAX_BODY_BYTES), every device',
  'REGISTERED; its consolidated ack is checked (10,000 × D1RE, no error) before the figures are kept. With',
  'partial acks, the simulator acknowledges as Live Energy Connect would (at most 8 partial acks, then an',
  'empty final one, 300 ms apart) and "last ack" is the last it sent before the consolidated ack arrived;',
  'with one final ack, the simulator stays `silent` and the bench posts one ack of all 10,000 devices.',
  'Their baseline is the floor of any design that keeps an item per device: the same number of device',
  'items written to the same DynamoDB Local with BatchWriteItem, 25 per request, 16 in flight.',
  "RSS is sampled every 100 ms from /proc while each sync runs, per function process (each one's peak, and",
  'the peak of their sum). A 100-device sync runs first as a warm-up.',
  'A sync step that takes more than 60 s (to DERMS) or 90 s (to the consolidated ack) is reported as a',
  'missed budget without a figure, so that the section keeps to its share of the ten minutes; that sync',
  'is then still being processed while the next one runs.',
].join(' ');
