/**
 * The local stack for the end-to-end bench, started as the e2e layer starts it (local/start.ts in a
 * process of its own, a fresh database) but with the API throttles raised out of the way and quiet logs.
 * DynamoDB Local keeps its tables in memory unless LOCAL_DYNAMODB_PATH names a folder: on disk, its
 * SQLite writes measure the disk rather than the integration (2,000 items written with BatchWriteItem
 * took 30.6 s on disk and 1.5 s in memory on a busy 2-core machine), and AWS has no such disk. Ports default to 3600-3602, 4976 and 8600, out of the way of
 * `npm start`, the e2e and the reliability stacks; each is overridable by the variable `npm start` reads.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FUNCTION_ROLES, type FunctionRole } from '#local/constants.ts';
import { assertPortsFree } from '#local/services.ts';
import { functionPidFile } from '#local/start.ts';

const REPO_ROOT = resolve(fileURLToPath(import.meta.url), '../..');
const READY_LINE = 'Local stack ready';
const START_TIMEOUT_MS = 120_000;

export const BENCH_PORTS = {
  LOCAL_API_PORT: 3600,
  DERMS_SIM_PORT: 3601,
  DACS_SIM_PORT: 3602,
  LOCAL_SQS_PORT: 4976,
  LOCAL_DYNAMODB_PORT: 8600,
} as const;

/**
 * The stage throttle raised far above what two cores can serve (API Gateway's account default is
 * 10,000/s), so that every route's share (ROUTE_SHARES) is out of the way and the figures measure the
 * pipeline, not the throttle.
 */
export const BENCH_THROTTLE = { LOCAL_THROTTLE_RATE: '10000', LOCAL_THROTTLE_BURST: '20000' } as const;

export interface BenchStack {
  readonly api: string;
  readonly derms: string;
  readonly dacs: string;
  readonly sqs: string;
  readonly dynamodb: string;
  readonly logFile: string;
  /**
   * The function processes now running, one per role (their pid files, which the supervisor rewrites on
   * a restart); a role whose pid file cannot be read is left out.
   */
  functionPids(): Partial<Record<FunctionRole, number>>;
  stop(): Promise<void>;
}

type PortName = keyof typeof BENCH_PORTS;
const port = (name: PortName) => Number(process.env[name] ?? BENCH_PORTS[name]);

export async function startBenchStack(): Promise<BenchStack> {
  const ports = Object.fromEntries(
    Object.keys(BENCH_PORTS).map((name) => [name, port(name as PortName)]),
  ) as Record<PortName, number>;
  await assertPortsFree(ports);
  const dataDir = resolve(REPO_ROOT, process.env.LOCAL_DATA_DIR ?? '.local/bench');
  mkdirSync(dataDir, { recursive: true });
  const dbPath = process.env.LOCAL_DYNAMODB_PATH ?? 'memory';
  const logFile = resolve(dataDir, 'bench-stack.log');
  const env = {
    ...process.env,
    ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
    ...BENCH_THROTTLE,
    LOCAL_DATA_DIR: dataDir,
    LOCAL_DYNAMODB_PATH: dbPath,
    NODE_OPTIONS: '',
    POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN',
  };
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts'], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = createWriteStream(logFile);
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  const stop = async () => {
    await stopChild(child);
    log.end();
  };
  try {
    await untilReady(child, logFile);
  } catch (error) {
    await stop();
    throw error;
  }
  const url = (name: PortName) => `http://127.0.0.1:${ports[name]}`;
  return {
    api: url('LOCAL_API_PORT'),
    derms: url('DERMS_SIM_PORT'),
    dacs: url('DACS_SIM_PORT'),
    sqs: url('LOCAL_SQS_PORT'),
    dynamodb: url('LOCAL_DYNAMODB_PORT'),
    logFile,
    functionPids: () => readPids(dataDir),
    stop,
  };
}

function readPids(dataDir: string): Partial<Record<FunctionRole, number>> {
  const pids: Partial<Record<FunctionRole, number>> = {};
  for (const role of FUNCTION_ROLES) {
    try {
      pids[role] = Number(readFileSync(functionPidFile(dataDir, role), 'utf8').trim());
    } catch {
      // not written yet, or the stack is stopping
    }
  }
  return pids;
}

function untilReady(child: ChildProcess, logFile: string): Promise<void> {
  return new Promise<void>((done, fail) => {
    let seen = '';
    const timer = setTimeout(
      () => fail(new Error(`The local stack was not ready within ${START_TIMEOUT_MS} ms; see ${logFile}`)),
      START_TIMEOUT_MS,
    );
    const onData = (chunk: Buffer) => {
      seen = (seen + chunk.toString()).slice(-10_000);
      if (!seen.includes(READY_LINE)) return;
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      done();
    };
    const onExit = (code: number | null, signal: string | null) => {
      clearTimeout(timer);
      fail(new Error(`The local stack exited (${signal ?? `code ${code}`}) before it was ready:\n${seen}`));
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => {
      seen = (seen + chunk.toString()).slice(-10_000);
    });
    child.once('exit', onExit);
  });
}

/** SIGTERM (the stack stops its function processes, simulators and emulators), SIGKILL after 20 s. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((done) => child.once('exit', done));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

/** Each process's peak RSS and the peak of their sum, in MiB, over the samples taken. */
export interface RssPeaks<K extends string> {
  readonly byProcess: Partial<Record<K, number>>;
  /** The highest sum of the processes' RSS in one sample (shared pages, such as Node's, count once per process). */
  readonly sum: number;
  readonly samples: number;
}

/** One sample: each named process's RSS in MiB (a process that is gone is left out). */
export function rssOf<K extends string>(pids: Partial<Record<K, number>>): Partial<Record<K, number>> {
  const rss: Partial<Record<K, number>> = {};
  for (const [name, pid] of Object.entries(pids) as [K, number | undefined][]) {
    const kib = pid === undefined ? undefined : rssKib(pid);
    if (kib !== undefined) rss[name] = kib / 1024;
  }
  return rss;
}

/**
 * Samples the resident set size of each named process (`pids()` is read at each sample, so a restarted
 * process is followed) every `everyMs`; `stop()` gives each one's peak and the peak of their sum.
 */
export function sampleRss<K extends string>(pids: () => Partial<Record<K, number>>, everyMs = 100) {
  const byProcess: Partial<Record<K, number>> = {};
  let sum = 0;
  let samples = 0;
  const take = () => {
    const rss = Object.entries(rssOf(pids())) as [K, number][];
    if (rss.length === 0) return;
    for (const [name, mib] of rss) byProcess[name] = Math.max(byProcess[name] ?? 0, mib);
    sum = Math.max(
      sum,
      rss.reduce((total, [, mib]) => total + mib, 0),
    );
    samples++;
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop(): RssPeaks<K> {
      clearInterval(timer);
      take();
      return { byProcess: { ...byProcess }, sum, samples };
    },
  };
}

/** VmRSS from /proc (Linux); undefined where there is none or the process is gone. */
export function rssKib(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
    return kib === undefined ? undefined : Number(kib);
  } catch {
    return undefined;
  }
}
