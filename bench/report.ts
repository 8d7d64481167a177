/**
 * BENCHMARKS.md: the machine and the budgets of the last run, then one block per section. Each block is
 * fenced by HTML comments naming its section, so a run of some sections (`BENCH_ONLY`) replaces their
 * blocks and keeps the others as an earlier run left them, each block saying when and where it was
 * measured. Pure: the figures come in, markdown goes out.
 */
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import type { BenchBudget, BenchRow, BenchSection } from './section.ts';

export interface Machine {
  readonly cores: number;
  readonly memoryGiB: number;
  readonly cpuModel: string;
  readonly node: string;
  readonly platform: string;
  /** The 1-minute load average when the run began: how busy the machine was with other work. */
  readonly loadAverage: number;
  /** ISO time the run began. */
  readonly date: string;
}

export function describeMachine(now = new Date()): Machine {
  return {
    cores: availableParallelism(),
    memoryGiB: totalmem() / 1024 ** 3,
    cpuModel: cpus()[0]?.model.trim() || 'unknown',
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    loadAverage: loadavg()[0] ?? 0,
    date: now.toISOString(),
  };
}

export const machineLine = (m: Machine): string =>
  `${m.date.slice(0, 16).replace('T', ' ')} UTC · ${m.cores} cores (${m.cpuModel}) · ` +
  `${m.memoryGiB.toFixed(1)} GiB · Node ${m.node} · ${m.platform} · load average ${m.loadAverage.toFixed(2)} at start`;

/** One section's outcome: its figures, or why it failed. */
export interface SectionResult {
  readonly name: string;
  readonly seconds: number;
  /** The 1-minute load average when the section ended. */
  readonly loadAverageAfter?: number;
  readonly section?: BenchSection;
  readonly error?: string;
}

/** The sections `BENCH_ONLY` names (comma-separated), in their listed order; all when it is empty. */
export function selectSections<T extends { readonly name: string }>(
  all: readonly T[],
  only: string | undefined,
): T[] {
  const wanted = (only ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  if (wanted.length === 0) return [...all];
  const unknown = wanted.filter((name) => !all.some((s) => s.name === name));
  if (unknown.length > 0) {
    throw new Error(
      `BENCH_ONLY names no section ${unknown.join(', ')}; the sections are ${all.map((s) => s.name).join(', ')}`,
    );
  }
  return all.filter((s) => wanted.includes(s.name));
}

/** A figure for a table: thousands separated, two significant decimals below 10, one below 100. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ');

function rowsTable(rows: readonly BenchRow[]): string {
  const lines = ['| Figure | Value | Baseline (same run) | Ratio |', '|---|---:|---|---:|'];
  for (const row of rows) {
    const value = `${formatNumber(row.value)} ${row.unit}`;
    const hasBaseline = row.baseline !== undefined;
    const baseline = hasBaseline
      ? `${formatNumber(row.baseline!)} ${row.unit}${row.baselineName ? ` (${row.baselineName})` : ''}`
      : '—';
    const ratio = hasBaseline && row.baseline !== 0 ? `${(row.value / row.baseline!).toFixed(2)} ×` : '—';
    lines.push(`| ${cell(row.name)} | ${value} | ${cell(baseline)} | ${ratio} |`);
  }
  return lines.join('\n');
}

function budgetsTable(budgets: readonly (BenchBudget & { section?: string })[], withSection = false): string {
  const head = withSection ? '| Section | Budget | Measured | Limit | |' : '| Budget | Measured | Limit | |';
  const lines = [head, withSection ? '|---|---|---:|---:|---|' : '|---|---:|---:|---|'];
  for (const b of budgets) {
    const verdict = b.ok ? 'met' : `**missed**${b.note ? `: ${cell(b.note)}` : ''}`;
    const first = withSection ? `| ${cell(b.section ?? '')} ` : '';
    lines.push(`${first}| ${cell(b.name)} | ${cell(b.measured)} | ${cell(b.limit)} | ${verdict} |`);
  }
  return lines.join('\n');
}

const open = (name: string) => `<!-- bench:section ${name} -->`;
const close = (name: string) => `<!-- /bench:section ${name} -->`;

/** A section's block, fenced for the next partial run. */
export function renderSection(result: SectionResult, machine: Machine): string {
  const { section } = result;
  const title = section?.title ?? result.name;
  const parts = [open(result.name), `## ${title}`, ''];
  const after =
    result.loadAverageAfter === undefined ? '' : ` and ${result.loadAverageAfter.toFixed(2)} at its end`;
  parts.push(
    `_Measured ${machineLine(machine)}${after}; the section took ${result.seconds.toFixed(0)} s._`,
    '',
  );
  if (!section) {
    parts.push(`**This section failed:** ${result.error ?? 'no figures'}`);
  } else {
    parts.push(section.method, '');
    if (section.rows.length > 0) parts.push(rowsTable(section.rows), '');
    if (section.budgets.length > 0) parts.push('Budgets:', '', budgetsTable(section.budgets), '');
    if (section.markdown) parts.push(section.markdown.trim(), '');
  }
  parts.push(close(result.name));
  return parts.join('\n');
}

/** The blocks of an earlier BENCHMARKS.md, by section name. */
export function previousBlocks(text: string): Map<string, string> {
  const blocks = new Map<string, string>();
  const pattern = /<!-- bench:section ([\w-]+) -->[\s\S]*?<!-- \/bench:section \1 -->/g;
  for (const match of text.matchAll(pattern)) blocks.set(match[1]!, match[0]);
  return blocks;
}

export interface ReportInput {
  /** Every section's name, in report order. */
  readonly order: readonly string[];
  readonly results: readonly SectionResult[];
  readonly machine: Machine;
  readonly totalSeconds: number;
  /** The BENCHMARKS.md this run replaces, whose other sections' blocks are kept. */
  readonly previous?: string;
}

/** The issue's limit on the whole `npm run bench`, every section, on a fresh clone. */
export const WHOLE_RUN_LIMIT_SECONDS = 600;

/** When and how long a kept block's section ran, as its italic line says. */
function keptTiming(block: string): { when: string; seconds: string } | undefined {
  const match = /_Measured (\d{4}-\d\d-\d\d \d\d:\d\d) UTC[^_]*?the section took (\d+) s\._/.exec(block);
  return match ? { when: match[1]!, seconds: match[2]! } : undefined;
}

/** Each section's wall time, of this run or of the run its kept block is from, and this run's total. */
export function wallTimesTable(input: ReportInput, kept: ReadonlyMap<string, string>): string {
  const lines = ['| Section | Wall time | Measured |', '|---|---:|---|'];
  for (const name of input.order) {
    const result = input.results.find((r) => r.name === name);
    if (result) {
      lines.push(
        `| ${name} | ${result.seconds.toFixed(0)} s | this run${result.section ? '' : ' (failed)'} |`,
      );
      continue;
    }
    const timing = keptTiming(kept.get(name) ?? '');
    lines.push(
      timing ? `| ${name} | ${timing.seconds} s | ${timing.when} UTC (kept) |` : `| ${name} | — | never |`,
    );
  }
  lines.push(
    `| **this run, in all** | **${input.totalSeconds.toFixed(0)} s** | ${machineLine(input.machine)} |`,
  );
  return lines.join('\n');
}

const LAST_WHOLE_RUN = /^\*\*Last whole run:\*\* .*$/m;

/** This run ran every section, and none failed: only then does its wall time stand for the whole bench. */
const ranWhole = (input: ReportInput): boolean =>
  input.order.every((name) => input.results.some((r) => r.name === name && r.section !== undefined));

/**
 * The line naming the last run of every section and its wall time: this run's when it ran every section,
 * else the one the previous BENCHMARKS.md carried, so that a partial run keeps the record.
 */
export function lastWholeRunLine(input: ReportInput): string | undefined {
  if (ranWhole(input)) {
    return (
      `**Last whole run:** ${machineLine(input.machine)}; every section in ` +
      `${input.totalSeconds.toFixed(0)} s (${(input.totalSeconds / 60).toFixed(1)} min).`
    );
  }
  return LAST_WHOLE_RUN.exec(input.previous ?? '')?.[0];
}

/** The whole-run budget, when this run ran every section and none failed; else none (it would prove nothing). */
export function wholeRunBudget(input: ReportInput): (BenchBudget & { section: string }) | undefined {
  if (!ranWhole(input)) return undefined;
  const ok = input.totalSeconds < WHOLE_RUN_LIMIT_SECONDS;
  return {
    section: 'Whole run',
    name: '`npm run bench`, every section, in under 10 minutes',
    measured: `${(input.totalSeconds / 60).toFixed(1)} min`,
    limit: `${WHOLE_RUN_LIMIT_SECONDS / 60} min`,
    ok,
    ...(ok ? {} : { note: 'see the wall time of each section below' }),
  };
}

export function renderReport(input: ReportInput): string {
  const { results, machine } = input;
  const kept = previousBlocks(input.previous ?? '');
  const ran = new Set(results.map((r) => r.name));
  const whole = wholeRunBudget(input);
  const budgets = [
    ...(whole ? [whole] : []),
    ...results.flatMap((r) =>
      (r.section?.budgets ?? []).map((b) => ({ ...b, section: r.section?.title ?? r.name })),
    ),
  ];
  const missed = budgets.filter((b) => !b.ok).length;
  const failed = results.filter((r) => !r.section);
  const keptNames = input.order.filter((name) => !ran.has(name) && kept.has(name));
  const head = [
    '# Benchmarks',
    '',
    'Written by `npm run bench` (`bench/run.ts`); do not edit by hand. Every figure sits beside a baseline',
    'measured in the same run on the same machine, so the ratio is what carries over to another machine.',
    '',
    `**Last run:** ${machineLine(machine)}. Sections: ${results.map((r) => r.name).join(', ')}; ` +
      `${input.totalSeconds.toFixed(0)} s in all.` +
      (keptNames.length > 0 ? ` Kept from an earlier run: ${keptNames.join(', ')}.` : ''),
    '',
    `**Budgets of this run:** ${budgets.length - missed} met, ${missed} missed` +
      (failed.length > 0 ? `; failed sections: ${failed.map((r) => r.name).join(', ')}.` : '.'),
    '',
  ];
  if (budgets.length > 0) head.push(budgetsTable(budgets, true), '');
  head.push(
    '**Wall times** (each section timed from its start to its end):',
    '',
    wallTimesTable(input, kept),
    '',
  );
  const wholeRun = lastWholeRunLine(input);
  if (wholeRun) head.push(wholeRun, '');
  const blocks = input.order
    .map((name) => {
      const result = results.find((r) => r.name === name);
      return result ? renderSection(result, machine) : kept.get(name);
    })
    .filter((block): block is string => block !== undefined);
  return `${[...head, ...blocks.flatMap((b) => [b, ''])].join('\n').trimEnd()}\n`;
}
