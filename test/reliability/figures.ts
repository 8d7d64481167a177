/**
 * The reliability suite's figures: each scenario records what it measured under a section name, and
 * `report.ts` renders them all into docs/reliability.md after the run. Every figure is counted by the
 * test that reports it; nothing here is computed or assumed.
 *
 * The suite is seeded and repeatable: `RELIABILITY_SEED=<n> npm run test:reliability` replays a run.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
export const FIGURES_DIR = resolve(REPO_ROOT, '.local/reliability');

/** One row of a section's table: a figure's name, its value, and what it means. */
export interface Figure {
  readonly name: string;
  readonly value: number | string;
  readonly note?: string;
}

export interface Section {
  readonly title: string;
  /** Orders the sections in the report. */
  readonly order: number;
  readonly figures: readonly Figure[];
}

/** The run's seed: `RELIABILITY_SEED` when given, else drawn now. Printed so a run can be replayed. */
export function seed(): number {
  const given = process.env.RELIABILITY_SEED;
  const value = given === undefined || given === '' ? Math.floor(Math.random() * 2 ** 31) : Number(given);
  if (!Number.isInteger(value)) throw new Error(`RELIABILITY_SEED must be an integer, got "${given}"`);
  process.env.RELIABILITY_SEED = String(value);
  return value;
}

/** Records a section's figures for the report (one file per section, overwritten by each run). */
export function recordFigures(id: string, section: Section): void {
  mkdirSync(FIGURES_DIR, { recursive: true });
  const seedUsed = process.env.RELIABILITY_SEED;
  writeFileSync(
    resolve(FIGURES_DIR, `${id}.json`),
    `${JSON.stringify({ ...section, seed: seedUsed, at: new Date().toISOString() }, null, 2)}\n`,
  );
}

export function readFigures(): (Section & { id: string; seed?: string; at: string })[] {
  let files: string[] = [];
  try {
    files = readdirSync(FIGURES_DIR).filter((f) => f.endsWith('.json'));
  } catch {
    return [];
  }
  return files
    .map((f) => ({
      id: f.replace(/\.json$/, ''),
      ...JSON.parse(readFileSync(resolve(FIGURES_DIR, f), 'utf8')),
    }))
    .sort((a, b) => a.order - b.order || a.id.localeCompare(b.id));
}
