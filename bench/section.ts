/**
 * What each part of `npm run bench` hands the report: its figures, each beside the baseline measured in
 * the same run, and the budgets it checked. `bench/run.ts` runs the parts and writes BENCHMARKS.md.
 */
export interface BenchRow {
  /** What was measured, e.g. `optOut ingest init (median of 20)`. */
  readonly name: string;
  /** The measured value, in `unit`. */
  readonly value: number;
  readonly unit: string;
  /** The baseline measured in the same run, in the same unit, when the figure has one. */
  readonly baseline?: number;
  /** What the baseline is, e.g. `SDK-only bundle`. */
  readonly baselineName?: string;
}

export interface BenchBudget {
  /** The budget in words, e.g. `init ≤ 1.2 × baseline`. */
  readonly name: string;
  readonly measured: string;
  readonly limit: string;
  readonly ok: boolean;
  /** Why it is missed, when it is. */
  readonly note?: string;
}

export interface BenchSection {
  readonly title: string;
  /** A paragraph on what was measured and how. */
  readonly method: string;
  readonly rows: readonly BenchRow[];
  readonly budgets: readonly BenchBudget[];
  /** Extra markdown (tables) the section renders itself, when rows do not fit. */
  readonly markdown?: string;
}
