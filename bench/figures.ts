// What every benchmark section returns: named figures, some held to a budget (issue 12). bench/run.ts
// prints them as one table, writes them to bench/results/bench.json and exits non-zero naming each
// budget missed. Figures without a budget are context (how the budgeted ones were reached).

export interface Budget {
  /** The figure must be at most this (times, sizes, counts). */
  max?: number;
  /** The figure must be at least this (throughputs). */
  min?: number;
}

export interface Figure {
  /** What was measured, readable in a table: "check-health bundle (minified JS)". */
  name: string;
  value: number;
  /** ms, s, KB, MiB, count, /s … (KB = 1,000 bytes). */
  unit: string;
  budget?: Budget;
  /** How it was measured: runs, median or p95, conditions. */
  note?: string;
}

/** A section of the benchmark: `npm run bench -- --only <name>` runs just this one. */
export interface Section {
  name: string;
  measure(): Promise<Figure[]>;
}

export function withinBudget(figure: Figure): boolean {
  const { budget, value } = figure;
  if (!budget) return true;
  if (budget.max !== undefined && !(value <= budget.max)) return false;
  if (budget.min !== undefined && !(value >= budget.min)) return false;
  return true;
}

export const median = (values: number[]): number => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

/** Nearest-rank percentile (p in 0..100). */
export const percentile = (values: number[], p: number): number => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
};
