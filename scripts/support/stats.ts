/** Figures for the benchmarks: percentiles of samples, and median with spread (min–max) over rounds. */

/** The p-th percentile (nearest rank) of the values; NaN when there are none. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
  /** The rounds' values in the order they were taken. */
  values: number[];
}

export function spread(values: readonly number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const median =
    sorted.length === 0
      ? Number.NaN
      : sorted.length % 2 === 1
        ? (sorted[middle] ?? Number.NaN)
        : ((sorted[middle - 1] ?? Number.NaN) + (sorted[middle] ?? Number.NaN)) / 2;
  return { median, min: sorted[0] ?? Number.NaN, max: sorted[sorted.length - 1] ?? Number.NaN, values: [...values] };
}

/** Round by round ours / theirs (each pair was measured in the same round), as a spread. */
export function ratioSpread(ours: readonly number[], theirs: readonly number[]): Spread {
  return spread(ours.map((value, round) => value / (theirs[round] ?? Number.NaN)));
}

function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}

/** "12345 (11000–13000)": the median, then min–max over the rounds. */
export function formatSpread(value: Spread, digits = 0, unit = ''): string {
  return `${fixed(value.median, digits)}${unit} (${fixed(value.min, digits)}–${fixed(value.max, digits)})`;
}

/** "0.52× (0.48–0.57)". */
export function formatRatio(value: Spread): string {
  return `${fixed(value.median, 2)}× (${fixed(value.min, 2)}–${fixed(value.max, 2)})`;
}
