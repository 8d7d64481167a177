/**
 * `npm run bench`: runs the sections one after the other (never two at once: each is a timing) and
 * writes BENCHMARKS.md (`BENCH_OUT` to write elsewhere). `BENCH_ONLY=micro,e2e` runs some sections and
 * keeps the others' blocks from the BENCHMARKS.md already there. A section that fails is reported as
 * failed, the others still run, and the exit code is 1.
 *
 * A section is one line below: its name (for BENCH_ONLY) and a function resolving to its BenchSection,
 * imported only when it runs.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import {
  describeMachine,
  renderReport,
  renderSection,
  type SectionResult,
  selectSections,
} from './report.ts';
import type { BenchSection } from './section.ts';

export interface SectionModule {
  readonly name: string;
  readonly run: () => Promise<BenchSection>;
}

export const SECTIONS: readonly SectionModule[] = [
  { name: 'micro', run: async () => (await import('./micro.ts')).measureMicro() },
  { name: 'coldstart', run: async () => (await import('./coldstart.ts')).measureColdStart() },
  { name: 'requests', run: async () => (await import('./requests.ts')).measureRequests() },
  { name: 'e2e', run: async () => (await import('./e2e.ts')).measureEndToEnd() },
];

const REPO_ROOT = resolve(fileURLToPath(import.meta.url), '../..');

const loadAfter = () => ({ loadAverageAfter: loadavg()[0] ?? 0 });

async function runSection(module: SectionModule): Promise<SectionResult> {
  const start = performance.now();
  console.log(`[bench] ${module.name}…`);
  try {
    const section = await module.run();
    return { name: module.name, section, seconds: (performance.now() - start) / 1000, ...loadAfter() };
  } catch (error) {
    console.error(`[bench] ${module.name} failed:`, error);
    const message = (error as Error).message ?? String(error);
    return { name: module.name, error: message, seconds: (performance.now() - start) / 1000, ...loadAfter() };
  }
}

async function main(): Promise<void> {
  const machine = describeMachine();
  const chosen = selectSections(SECTIONS, process.env.BENCH_ONLY);
  const out = resolve(REPO_ROOT, process.env.BENCH_OUT ?? 'BENCHMARKS.md');
  const start = performance.now();
  const results: SectionResult[] = [];
  for (const module of chosen) {
    const result = await runSection(module);
    results.push(result);
    console.log(renderSection(result, machine));
  }
  const totalSeconds = (performance.now() - start) / 1000;
  const report = renderReport({
    order: SECTIONS.map((s) => s.name),
    results,
    machine,
    totalSeconds,
    ...(existsSync(out) ? { previous: readFileSync(out, 'utf8') } : {}),
  });
  writeFileSync(out, report);
  for (const r of results)
    console.log(`[bench] ${r.name}: ${r.seconds.toFixed(0)} s${r.section ? '' : ' (failed)'}`);
  console.log(`[bench] in all: ${totalSeconds.toFixed(0)} s (${(totalSeconds / 60).toFixed(1)} min)`);
  console.log(`[bench] wrote ${out}`);
  if (results.some((r) => !r.section)) process.exitCode = 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
