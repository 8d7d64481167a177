/**
 * Cold start and size of every function, bundled exactly as `cdk synth` bundles it: the bench synthesizes
 * the stack itself (stage `dev`, cdk.json's context, bundling on) into a temporary cloud assembly and
 * reads each function's asset, so the esbuild options are CDK's own, taken from the same
 * `IntegrationFunction` construct. The baseline, an SDK-only function holding the same clients
 * (bench/baseline/sdkOnly.ts), is bundled by that construct too, so with the same options.
 *
 * Initialisation is the time of `import()` of the bundle in a fresh Node 24 process, with the environment
 * the function has on Lambda: its template's variables (references stood in for by placeholders of the
 * right shape, e.g. a queue URL) plus what the Lambda runtime sets (region, `AWS_EXECUTION_ENV`,
 * `LAMBDA_TASK_ROOT`, placeholder credentials). Function and baseline runs are interleaved, so machine
 * load weighs on both alike. `npx tsx bench/coldstart.ts` prints the section (`--json` as JSON);
 * `BENCH_COLD_RUNS` sets the runs per function (at least 20).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { App, type CfnElement, Stack } from 'aws-cdk-lib';
import { IntegrationFunction, REPO_ROOT } from '#infra/constructs/integration-function.ts';
import { createApp } from '#infra/integration-app.ts';
import { flowList } from '#shared/flows/registry.ts';
import type { BenchBudget, BenchRow, BenchSection } from './section.ts';

/** Runs per function; the medians need at least 20. */
export const RUNS = Math.max(20, Number(process.env.BENCH_COLD_RUNS ?? 20));
/**
 * One baseline run before every this many function runs, and one after the last: each function run sits
 * between two baseline runs at most this many runs apart (about two seconds), and the baseline series
 * (more than 20 runs) is shared by every function, as every function is compared with the same bundle.
 */
const BASELINE_EVERY = 6;
/** Budgets of issue 10: init at most 1.2 × the baseline's; an ingest bundle under 500 KB (500,000 B). */
export const INIT_RATIO_LIMIT = 1.2;
export const INGEST_BYTES_LIMIT = 500_000;
export const BASELINE_ENTRY = 'bench/baseline/sdkOnly.ts';
const BASELINE_NAME = 'SDK-only bundle (DynamoDB + lib-dynamodb, SQS, S3)';

export type FunctionKind = 'ingest' | 'process' | 'other';

/** One synthesized function: its bundle and the environment it starts with on Lambda. */
export interface BundledFunction {
  readonly name: string;
  readonly entry: string;
  readonly kind: FunctionKind;
  /** The bundle Lambda loads (`index.mjs` of the asset). */
  readonly file: string;
  readonly bytes: number;
  readonly env: Readonly<Record<string, string>>;
}

interface CfnResource {
  readonly Type: string;
  // biome-ignore lint/suspicious/noExplicitAny: CloudFormation properties are untyped JSON
  readonly Properties?: Record<string, any>;
}
type Resources = Readonly<Record<string, CfnResource>>;

/** `functions/optOut/ingest.ts` → `optOut ingest`; `functions/sweep/handler.ts` → `sweep`. */
export function functionName(entry: string): string {
  return entry
    .replace(/^functions\//, '')
    .replace(/\.ts$/, '')
    .replace(/\/handler$/, '')
    .replace('/', ' ');
}

export function functionKind(entry: string): FunctionKind {
  if (flowList().some((f) => f.handlers.ingest === entry)) return 'ingest';
  if (flowList().some((f) => f.handlers.process === entry)) return 'process';
  return 'other';
}

const ACCOUNT = '111122223333';

/** Placeholders of the right shape for what a `Ref` to each resource type answers. */
const REF_PLACEHOLDERS: Readonly<Record<string, (id: string, region: string) => string>> = {
  'AWS::SQS::Queue': (id, region) => `https://sqs.${region}.amazonaws.com/${ACCOUNT}/${id}`,
  'AWS::DynamoDB::Table': (id) => id,
  'AWS::S3::Bucket': (id) => id.toLowerCase(),
  'AWS::Cognito::UserPool': (_id, region) => `${region}_BenchPool0`,
  'AWS::Cognito::UserPoolClient': (id) => id.toLowerCase(),
  'AWS::SecretsManager::Secret': (id, region) =>
    `arn:aws:secretsmanager:${region}:${ACCOUNT}:secret:${id}-AbCdEf`,
};

/** A template value as a string: literals as they are, references by a placeholder of their shape. */
export function resolveValue(value: unknown, resources: Resources, region: string): string {
  if (typeof value === 'string') return value;
  const object = (value ?? {}) as Record<string, unknown>;
  if (typeof object.Ref === 'string') {
    const placeholder = REF_PLACEHOLDERS[resources[object.Ref]?.Type ?? ''];
    if (placeholder) return placeholder(object.Ref, region);
  }
  if (Array.isArray(object['Fn::Join'])) {
    const [separator, parts] = object['Fn::Join'] as [string, unknown[]];
    return parts.map((part) => resolveValue(part, resources, region)).join(separator);
  }
  throw new Error(`The cold-start bench has no placeholder for ${JSON.stringify(value)}`);
}

/** What the Lambda runtime sets for a function, then the function's own variables. */
export function lambdaEnvironment(
  name: string,
  properties: Record<string, unknown>,
  resources: Resources,
  region: string,
  taskRoot: string,
): Record<string, string> {
  const variables = ((properties.Environment as { Variables?: object } | undefined)?.Variables ??
    {}) as Record<string, unknown>;
  const own = Object.fromEntries(
    Object.entries(variables).map(([key, value]) => [key, resolveValue(value, resources, region)]),
  );
  return {
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_EXECUTION_ENV: `AWS_Lambda_${String(properties.Runtime)}`,
    AWS_LAMBDA_FUNCTION_NAME: name,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(properties.MemorySize ?? 128),
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${name}`,
    AWS_LAMBDA_LOG_STREAM_NAME: 'coldstart-bench',
    AWS_ACCESS_KEY_ID: 'ASIABENCHPLACEHOLDER',
    AWS_SECRET_ACCESS_KEY: 'bench-placeholder',
    AWS_SESSION_TOKEN: 'bench-placeholder',
    AWS_XRAY_DAEMON_ADDRESS: '127.0.0.1:2000',
    AWS_XRAY_CONTEXT_MISSING: 'LOG_ERROR',
    LAMBDA_TASK_ROOT: taskRoot,
    _HANDLER: String(properties.Handler),
    TZ: ':UTC',
    ...own,
  };
}

/** Every `IntegrationFunction` of a synthesized stack, with its asset and its environment. */
function bundlesOf(app: App, stack: Stack): BundledFunction[] {
  const assembly = app.synth();
  const resources = (assembly.getStackArtifact(stack.artifactId).template as { Resources: Resources })
    .Resources;
  const functions = stack.node
    .findAll()
    .filter((c): c is IntegrationFunction => c instanceof IntegrationFunction);
  return functions.map((fn) => {
    const logicalId = stack.getLogicalId(fn.function.node.defaultChild as CfnElement);
    const properties = resources[logicalId]?.Properties ?? {};
    const key = String(properties.Code?.S3Key ?? '');
    const dir = path.join(assembly.directory, `asset.${key.replace(/\.zip$/, '')}`);
    const file = path.join(dir, 'index.mjs');
    if (!existsSync(file)) throw new Error(`No bundle for ${fn.entry} at ${file}`);
    return {
      name: functionName(fn.entry),
      entry: fn.entry,
      kind: functionKind(fn.entry),
      file,
      bytes: statSync(file).size,
      env: lambdaEnvironment(logicalId, properties, resources, stack.region, dir),
    };
  });
}

/** The stack as `cdk synth` builds it (stage `dev`), bundled into `outdir`. */
export function synthesizeFunctions(outdir: string): BundledFunction[] {
  const cdkJson = JSON.parse(readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8'));
  const { app, stack } = createApp({ context: { ...cdkJson.context, stage: 'dev' }, outdir });
  return bundlesOf(app, stack);
}

/** The baseline, bundled by the same construct as the functions, in the same region. */
export function synthesizeBaseline(outdir: string, like: BundledFunction, region: string): BundledFunction {
  const app = new App({ outdir });
  const stack = new Stack(app, 'ColdStartBaseline', { env: { region } });
  new IntegrationFunction(stack, 'SdkOnly', {
    entry: BASELINE_ENTRY,
    description: BASELINE_NAME,
    powertools: {
      serviceName: like.env.POWERTOOLS_SERVICE_NAME ?? 'bench',
      metricsNamespace: like.env.POWERTOOLS_METRICS_NAMESPACE ?? 'bench',
      logLevel: like.env.POWERTOOLS_LOG_LEVEL ?? 'INFO',
    },
  });
  const [baseline] = bundlesOf(app, stack);
  return { ...baseline!, name: 'SDK-only baseline' };
}

/** Imports the bundle in the child, timing nothing but the import (the module's initialisation). */
const RUNNER = `
const { pathToFileURL } = await import('node:url');
const start = performance.now();
const module = await import(pathToFileURL(process.env.COLDSTART_BENCH_FILE).href);
const ms = performance.now() - start;
if (typeof module.handler !== 'function') throw new Error('the bundle exports no handler');
process.stdout.write('\\n@@coldstart ' + ms + '\\n');
`;

/** The Node 24 binary the functions run on (the project's `node` devDependency). */
export function node24(): string {
  if (process.versions.node.startsWith('24.')) return process.execPath;
  const local = path.join(REPO_ROOT, 'node_modules', 'node', 'bin', 'node');
  if (existsSync(local)) return local;
  throw new Error('The cold-start bench needs Node 24: run it through npm or npx (devDependency `node`)');
}

const run = promisify(execFile);

/** Module initialisation of one bundle in a fresh process, in milliseconds. */
export async function initOnce(fn: BundledFunction, nodeBinary = node24()): Promise<number> {
  const { stdout } = await run(nodeBinary, ['--input-type=module', '-e', RUNNER], {
    cwd: path.dirname(fn.file),
    env: { PATH: process.env.PATH ?? '', ...fn.env, COLDSTART_BENCH_FILE: fn.file },
    maxBuffer: 16 * 1024 * 1024,
  });
  const ms = /@@coldstart ([\d.]+)/.exec(stdout)?.[1];
  if (ms === undefined) throw new Error(`${fn.name}: the runner reported no time`);
  return Number(ms);
}

export interface InitSamples {
  readonly functions: ReadonlyMap<string, number[]>;
  readonly baseline: number[];
  /**
   * Per function, each run's time over the mean of the two baseline runs around it (the same moment's
   * machine load, drift on either side weighing alike).
   */
  readonly ratios: ReadonlyMap<string, number[]>;
}

/** One timed run, in the order they ran; `fn` is undefined for a baseline run. */
interface TimedRun {
  readonly fn?: string;
  readonly ms: number;
}

/**
 * `runs` runs of every function, interleaved with the baseline's (one before every `every` function
 * runs and one after the last), the order rotated each round. One untimed baseline run first: the first
 * process of a series also pays for loading the Node binary from disk. A function bundle needs no such
 * run: its file was written by the synthesis just before, so it is read from the page cache.
 */
export async function sampleInit(
  functions: readonly BundledFunction[],
  baseline: BundledFunction,
  runs: number,
  measure: (fn: BundledFunction) => Promise<number> = (fn) => initOnce(fn),
  every = BASELINE_EVERY,
): Promise<InitSamples> {
  await measure(baseline);
  const timeline: TimedRun[] = [];
  for (let round = 0; round < runs; round++) {
    const order = [
      ...functions.slice(round % functions.length),
      ...functions.slice(0, round % functions.length),
    ];
    for (const [i, fn] of order.entries()) {
      if (i % every === 0) timeline.push({ ms: await measure(baseline) });
      timeline.push({ fn: fn.name, ms: await measure(fn) });
    }
  }
  timeline.push({ ms: await measure(baseline) });
  return samplesOf(functions, timeline);
}

/** The series of a timeline, each function run over the mean of the baseline runs either side of it. */
function samplesOf(functions: readonly BundledFunction[], timeline: readonly TimedRun[]): InitSamples {
  const samples = new Map(functions.map((fn) => [fn.name, [] as number[]]));
  const ratios = new Map(functions.map((fn) => [fn.name, [] as number[]]));
  const baseline: number[] = [];
  let waiting: TimedRun[] = [];
  for (const run of timeline) {
    if (run.fn !== undefined) {
      samples.get(run.fn)!.push(run.ms);
      waiting.push(run);
      continue;
    }
    const before = baseline.at(-1);
    for (const fnRun of waiting) ratios.get(fnRun.fn!)!.push(fnRun.ms / ((before! + run.ms) / 2));
    waiting = [];
    baseline.push(run.ms);
  }
  return { functions: samples, baseline, ratios };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const kb = (bytes: number): number => Math.round(bytes / 100) / 10;
const ms1 = (ms: number): number => Math.round(ms * 10) / 10;

/** One function's figures. */
export interface ColdStartFigures {
  readonly fn: BundledFunction;
  readonly initMs: number;
  readonly ratio: number;
}

/** The section's rows, budgets and table from the figures and the baseline's. */
export function coldStartSection(
  figures: readonly ColdStartFigures[],
  baseline: { readonly bytes: number; readonly initMs: number; readonly samples: number },
  runs: number,
  phases?: ColdStartPhases,
): BenchSection {
  const rows: BenchRow[] = figures.flatMap(({ fn, initMs }) => [
    {
      name: `${fn.name} bundle`,
      value: kb(fn.bytes),
      unit: 'KB',
      baseline: kb(baseline.bytes),
      baselineName: BASELINE_NAME,
    },
    {
      name: `${fn.name} init (median of ${runs})`,
      value: ms1(initMs),
      unit: 'ms',
      baseline: ms1(baseline.initMs),
      baselineName: BASELINE_NAME,
    },
  ]);
  return {
    title: 'Cold start and bundle size',
    method: METHOD(runs, baseline.samples) + (phases ? phasesLine(phases) : ''),
    rows,
    budgets: [...figures.map(initBudget), ...figures.filter((f) => f.fn.kind === 'ingest').map(sizeBudget)],
    markdown: table(figures, baseline),
  };
}

/** Where the section's time went, measured by the section itself. */
export interface ColdStartPhases {
  /** The stack's and the baseline's synthesis (CDK's esbuild bundling of every function). */
  readonly synthSeconds: number;
  /** Every timed process, from the first spawn to the last exit. */
  readonly runsSeconds: number;
  /** Processes started, the untimed first one included. */
  readonly processes: number;
}

const phasesLine = ({ synthSeconds, runsSeconds, processes }: ColdStartPhases): string =>
  ` This run: synthesis and bundling ${synthSeconds.toFixed(0)} s; ${processes} processes ` +
  `${runsSeconds.toFixed(0)} s (${((runsSeconds * 1000) / processes).toFixed(0)} ms each on average, ` +
  'process start and exit included).';

const METHOD = (runs: number, baselineSamples: number): string =>
  'Every function is bundled by `cdk synth` itself (the stack synthesized in-process, stage dev, into a ' +
  'temporary cloud assembly, once per run) and its asset `index.mjs` measured. Initialisation is the ' +
  'time of `import()` of that file, taken with `performance.now()` inside a fresh Node 24 process ' +
  '(started with `node` directly, no TypeScript loader; its own start and exit are not in the figure) ' +
  'with the environment Lambda gives the function (its template variables with placeholders for ' +
  "references, and the runtime's own); one process per run, one run at a time. The median of " +
  `${runs} runs per function, against one series of ${baselineSamples} runs of the baseline shared by ` +
  `every function: ${BASELINE_NAME}, each client created at initialisation, bundled by the same ` +
  `construct with the same esbuild options. A baseline run comes before every ${BASELINE_EVERY} ` +
  'function runs and after the last, the functions in an order rotated each round; one untimed ' +
  "baseline run goes first. The ratio is the median, over a function's runs, of each run over the mean " +
  'of the two baseline runs either side of it, so that load on the machine weighs on both alike. ' +
  'KB are 1,000 bytes.';

function initBudget({ fn, ratio }: ColdStartFigures): BenchBudget {
  const ok = ratio <= INIT_RATIO_LIMIT;
  return {
    name: `${fn.name}: init ≤ ${INIT_RATIO_LIMIT} × baseline`,
    measured: `${ratio.toFixed(2)} ×`,
    limit: `${INIT_RATIO_LIMIT} ×`,
    ok,
    ...(ok ? {} : { note: 'initialisation loads more than the SDK-only baseline does' }),
  };
}

function sizeBudget({ fn }: ColdStartFigures): BenchBudget {
  const ok = fn.bytes < INGEST_BYTES_LIMIT;
  return {
    name: `${fn.name}: bundle < ${INGEST_BYTES_LIMIT / 1000} KB`,
    measured: `${kb(fn.bytes)} KB`,
    limit: `${INGEST_BYTES_LIMIT / 1000} KB`,
    ok,
    ...(ok ? {} : { note: SIZE_NOTE }),
  };
}

/** Why an ingest function cannot fit, whatever it trims: it needs every client of the baseline. */
const SIZE_NOTE =
  'an ingest function needs all three clients of the baseline (DynamoDB for idempotency and the trace, SQS, ' +
  'S3 for the claim check), and the baseline alone is nearly that size';

function table(
  figures: readonly ColdStartFigures[],
  baseline: { readonly bytes: number; readonly initMs: number },
): string {
  const lines = [
    '| Function | Bundle (KB) | Init, median (ms) | × baseline (median of paired runs) |',
    '|---|---:|---:|---:|',
    `| ${BASELINE_NAME} | ${kb(baseline.bytes)} | ${ms1(baseline.initMs)} | 1.00 |`,
    ...figures.map(
      ({ fn, initMs, ratio }) => `| ${fn.name} | ${kb(fn.bytes)} | ${ms1(initMs)} | ${ratio.toFixed(2)} |`,
    ),
  ];
  return lines.join('\n');
}

/** Synthesizes, bundles and measures every function and the baseline; the section of `npm run bench`. */
export async function measureColdStart(): Promise<BenchSection> {
  const outdir = mkdtempSync(path.join(tmpdir(), 'coldstart-'));
  const previousValidation = process.env.CDK_VALIDATION;
  process.env.CDK_VALIDATION = 'false'; // CloudFormation schema checks: no bearing on the bundles
  try {
    const synthStart = performance.now();
    const functions = synthesizeFunctions(path.join(outdir, 'stack'));
    const region = functions[0]?.env.AWS_REGION ?? 'us-west-2';
    const baseline = synthesizeBaseline(path.join(outdir, 'baseline'), functions[0]!, region);
    const runsStart = performance.now();
    let processes = 0;
    const samples = await sampleInit(functions, baseline, RUNS, (fn) => {
      processes++;
      return initOnce(fn);
    });
    const phases: ColdStartPhases = {
      synthSeconds: (runsStart - synthStart) / 1000,
      runsSeconds: (performance.now() - runsStart) / 1000,
      processes,
    };
    const baselineMs = median(samples.baseline);
    const figures = functions.map((fn) => {
      const initMs = median(samples.functions.get(fn.name)!);
      return { fn, initMs, ratio: median(samples.ratios.get(fn.name)!) };
    });
    return coldStartSection(
      figures,
      { bytes: baseline.bytes, initMs: baselineMs, samples: samples.baseline.length },
      RUNS,
      phases,
    );
  } finally {
    if (previousValidation === undefined) delete process.env.CDK_VALIDATION;
    else process.env.CDK_VALIDATION = previousValidation;
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** The section as text: title, method, table and budgets. */
export function renderSection(section: BenchSection): string {
  const budgets = section.budgets.map(
    (b) =>
      `- ${b.ok ? 'ok  ' : 'MISS'} ${b.name}: ${b.measured} (limit ${b.limit})${b.note ? ` — ${b.note}` : ''}`,
  );
  return [`## ${section.title}`, '', section.method, '', section.markdown ?? '', '', ...budgets].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const section = await measureColdStart();
  console.log(process.argv.includes('--json') ? JSON.stringify(section, null, 2) : renderSection(section));
}
