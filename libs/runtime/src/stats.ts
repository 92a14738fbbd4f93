/** Summary of repeated timings. */
export interface LatencyStats {
  readonly runs: number;
  readonly medianMs: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly meanMs: number;
  readonly minMs: number;
  readonly maxMs: number;
  /** Coefficient of variation: standard deviation / mean. */
  readonly cv: number;
}

/** The q-quantile (0..1) of sorted values, linearly interpolated between closest ranks. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const position = (sorted.length - 1) * q;
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  return sorted[lower] + (sorted[upper] - sorted[lower]) * (position - lower);
}

/**
 * Of a model timed in several windows, the median window by `figure` (the percentile a bound is
 * on): the one that judges the bound (one window in a slow spell, or a lucky one, decides nothing).
 */
export function medianWindow<T>(windows: readonly T[], figure: (window: T) => number): T {
  return [...windows].sort((a, b) => figure(a) - figure(b))[windows.length >> 1];
}

export function summarize(samplesMs: readonly number[]): LatencyStats {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const n = sorted.length;
  const mean = sorted.reduce((a, b) => a + b, 0) / n;
  const variance = n > 1 ? sorted.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1) : 0;
  return {
    runs: n,
    medianMs: quantile(sorted, 0.5),
    p95Ms: quantile(sorted, 0.95),
    p99Ms: quantile(sorted, 0.99),
    meanMs: mean,
    minMs: sorted[0],
    maxMs: sorted[n - 1],
    cv: mean > 0 ? Math.sqrt(variance) / mean : 0,
  };
}
