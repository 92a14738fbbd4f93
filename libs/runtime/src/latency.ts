import { InvalidArgumentError } from '@blinknet/core';
import {
  type FloatTensor,
  type GraphOptimizationLevel,
  type ModelSession,
  ONNXRUNTIME_VERSION,
} from './session';
import { type LatencyStats, summarize } from './stats';

export interface TimingOptions {
  /** Untimed runs first: the first runs are many times slower (allocation, caches). @default 10 */
  readonly warmupRuns?: number;
  /** Keep warming up until this long has passed too (tiny layers need more than a few runs). @default 0 */
  readonly minWarmupMs?: number;
  /** @default 50 */
  readonly timedRuns?: number;
  /** Keep timing until this long has passed too, up to `maxTimedRuns` samples. @default 0 */
  readonly minTimedMs?: number;
  /** Most samples `minTimedMs` may add up to. @default 20x `timedRuns` */
  readonly maxTimedRuns?: number;
  /**
   * Stop early once this long has passed and at least MIN_RUNS_IN_BUDGET samples are in: slow
   * models (a second per run) cannot afford `timedRuns`. @default no limit
   */
  readonly maxTimedMs?: number;
}

/** Fewest samples a time budget may stop at. */
export const MIN_RUNS_IN_BUDGET = 10;

/** The conditions of a measurement; stored beside every figure. */
export interface MeasurementContext {
  readonly onnxruntimeVersion: string;
  readonly executionProvider: string;
  readonly intraOpThreads: number;
  readonly interOpThreads: number;
  readonly graphOptimizationLevel: GraphOptimizationLevel;
  readonly warmupRuns: number;
  readonly timedRuns: number;
  readonly batchSize: number;
  /** Median of an empty run with the same settings (profiles only): the fixed cost of any run. */
  readonly runOverheadMs?: number;
}

export interface LatencyMeasurement {
  readonly stats: LatencyStats;
  readonly context: MeasurementContext;
}

/**
 * Wall-clock latency of `session.run(inputs)`, profiler off, after warm-up: each timed run is one
 * sample, summarised as median, p95, p99 and coefficient of variation.
 */
export async function measureLatency(
  session: ModelSession,
  inputs: Readonly<Record<string, FloatTensor>>,
  options: TimingOptions = {},
): Promise<LatencyMeasurement> {
  const samples = await timeRuns(session, inputs, options);
  return {
    stats: summarize(samples),
    context: latencyContext(session, inputs, options.warmupRuns ?? 10, samples.length),
  };
}

/** The timed samples (ms) of `session.run(inputs)` after warm-up, for callers that pool them. */
export async function timeRuns(
  session: ModelSession,
  inputs: Readonly<Record<string, FloatTensor>>,
  options: TimingOptions = {},
): Promise<number[]> {
  const warmupRuns = options.warmupRuns ?? 10;
  const timedRuns = options.timedRuns ?? 50;
  if (!Number.isInteger(warmupRuns) || warmupRuns < 0)
    throw new InvalidArgumentError('warmupRuns', `must be >= 0, got ${warmupRuns}`);
  if (!Number.isInteger(timedRuns) || timedRuns < 1)
    throw new InvalidArgumentError('timedRuns', `must be >= 1, got ${timedRuns}`);
  const run = () => session.run(inputs);
  const warmupStart = performance.now();
  for (let i = 0; i < warmupRuns || performance.now() - warmupStart < (options.minWarmupMs ?? 0); i++) {
    await run();
  }
  const samples: number[] = [];
  const timedStart = performance.now();
  const enough = () => {
    const elapsed = performance.now() - timedStart;
    if (
      options.maxTimedMs !== undefined &&
      elapsed >= options.maxTimedMs &&
      samples.length >= MIN_RUNS_IN_BUDGET
    ) {
      return true;
    }
    return (
      samples.length >= timedRuns &&
      (elapsed >= (options.minTimedMs ?? 0) || samples.length >= (options.maxTimedRuns ?? 20 * timedRuns))
    );
  };
  while (!enough()) {
    const start = process.hrtime.bigint();
    await run();
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return samples;
}

/** The context of a measurement taken on `session` with `inputs`. */
export function latencyContext(
  session: ModelSession,
  inputs: Readonly<Record<string, FloatTensor>>,
  warmupRuns: number,
  timedRuns: number,
): MeasurementContext {
  return {
    onnxruntimeVersion: ONNXRUNTIME_VERSION,
    executionProvider: 'cpu',
    intraOpThreads: session.options.intraOpThreads,
    interOpThreads: session.options.interOpThreads,
    graphOptimizationLevel: session.options.graphOptimizationLevel,
    warmupRuns,
    timedRuns,
    batchSize: Object.values(inputs)[0]?.dims[0] ?? 1,
  };
}
