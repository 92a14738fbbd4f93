/** The percentiles a latency bound may be set at. */
export const LATENCY_PERCENTILES: readonly number[] = [50, 95, 99];

/** A latency summary's figure at a bound's percentile: 50 the median, 99 the p99, otherwise the p95. */
export function latencyAt<T>(
  figures: { readonly medianMs: T; readonly p95Ms: T; readonly p99Ms: T },
  percentile: number,
): T {
  return percentile === 50 ? figures.medianMs : percentile === 99 ? figures.p99Ms : figures.p95Ms;
}
