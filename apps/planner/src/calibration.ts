/**
 * A class's cost model calibrated with what its devices measured: the latency (p95) and resident
 * memory a deployed plan measured against what the uncalibrated cost model predicted for it.
 *
 * Latency beyond the prediction is added to the model's fixed costs, not scaled into its options:
 * what a prediction misses by on a small device is mostly per-run overhead and contention, which no
 * approximation removes. A device that runs faster than predicted takes the difference off the
 * fixed costs first; only what is left (the options timed alone add up to more than the whole
 * model, e.g. per-run overhead counted once per layer) scales the options down. Several measured
 * plans that differ in their options are fitted together, which also tells how much of what the
 * options were predicted to save the device really saw (calibrationFromPlans).
 */
import { type ModelProblem } from '@blinknet/planner-core';

export interface Calibration {
  /** Factor on every option's latency; 1 unless the device ran faster than the options add up to. */
  readonly latencyScale: number;
  /** Added to the fixed latency. */
  readonly latencyMs: number;
  /** Added to the fixed memory. */
  readonly memoryBytes: number;
}

export const UNCALIBRATED: Calibration = { latencyScale: 1, latencyMs: 0, memoryBytes: 0 };

/** A plan's figures for one model on the uncalibrated cost model (stored with the plan). */
export interface RawFigures {
  readonly fixedLatencyMs: number;
  /** The chosen options' latencies, summed. */
  readonly layersLatencyMs: number;
  readonly memoryBytes: number;
}

/** The uncalibrated figures of `choices` (layer -> option) on `costModel`. */
export function rawFigures(costModel: ModelProblem, choices: Readonly<Record<string, string>>): RawFigures {
  let layersLatencyMs = 0;
  let memoryBytes = costModel.fixed.memoryBytes;
  for (const layer of costModel.layers) {
    const option =
      layer.options.find((o) => o.option === (choices[layer.layer] ?? 'exact')) ?? layer.options[0];
    layersLatencyMs += option.latencyMs;
    memoryBytes += option.memoryBytes;
  }
  return { fixedLatencyMs: costModel.fixed.latencyMs, layersLatencyMs, memoryBytes };
}

/** The calibration under which a plan with figures `raw` predicts what was measured. */
export function calibrationFrom(
  raw: RawFigures,
  measured: { readonly latencyMs: number; readonly memoryBytes?: number },
): Calibration {
  const memoryBytes = measured.memoryBytes === undefined ? 0 : measured.memoryBytes - raw.memoryBytes;
  if (measured.latencyMs >= raw.layersLatencyMs || raw.layersLatencyMs <= 0) {
    return {
      latencyScale: 1,
      latencyMs: measured.latencyMs - raw.fixedLatencyMs - raw.layersLatencyMs,
      memoryBytes,
    };
  }
  return {
    latencyScale: measured.latencyMs / raw.layersLatencyMs,
    latencyMs: -raw.fixedLatencyMs,
    memoryBytes,
  };
}

/** `problem` with `calibration` folded into its fixed costs and option latencies. */
export function calibrate(problem: ModelProblem, calibration: Calibration): ModelProblem {
  const scale = calibration.latencyScale;
  return {
    ...problem,
    fixed: {
      ...problem.fixed,
      latencyMs: Math.max(0, problem.fixed.latencyMs + calibration.latencyMs),
      memoryBytes: Math.max(0, problem.fixed.memoryBytes + calibration.memoryBytes),
    },
    layers:
      scale === 1
        ? problem.layers
        : problem.layers.map((l) => ({
            ...l,
            options: l.options.map((o) => ({ ...o, latencyMs: o.latencyMs * scale })),
          })),
  };
}

/** One measured plan: its uncalibrated figures and what its (worst) device measured. */
export interface MeasuredPlan {
  readonly raw: RawFigures;
  readonly latencyMs: number;
  readonly memoryBytes?: number;
}

/** Spread of the plans' option latencies (relative) under which a fit is not attempted. */
const MIN_SPREAD = 0.05;
/** Bounds on a fitted latency scale: options never cost nothing, nor much more than measured alone. */
const SCALE_RANGE = [0.05, 2] as const;

/**
 * The calibration that best explains several measured plans of one model (newest first). Plans
 * whose options add up to different latencies show how much of the difference the device really
 * saw: measured p95 = a + b x (options' latency) is fitted by least squares, b becomes the options'
 * scale and a the fixed latency. Otherwise (one plan, or plans alike) it is calibrationFrom of
 * their means. Memory: the mean offset.
 */
export function calibrationFromPlans(plans: readonly MeasuredPlan[]): Calibration {
  if (plans.length === 0) return UNCALIBRATED;
  const mean = (values: readonly number[]) => values.reduce((a, b) => a + b, 0) / values.length;
  const memory = plans.filter((p) => p.memoryBytes !== undefined);
  const memoryBytes = memory.length > 0 ? mean(memory.map((p) => p.memoryBytes! - p.raw.memoryBytes)) : 0;
  const x = plans.map((p) => p.raw.layersLatencyMs);
  const y = plans.map((p) => p.latencyMs);
  const fixed = plans[0].raw.fixedLatencyMs;
  const [mx, my] = [mean(x), mean(y)];
  if (Math.max(...x) - Math.min(...x) <= MIN_SPREAD * Math.max(...x)) {
    const single = calibrationFrom(
      { fixedLatencyMs: fixed, layersLatencyMs: mx, memoryBytes: 0 },
      { latencyMs: my },
    );
    return { ...single, memoryBytes };
  }
  const covariance = mean(x.map((xi, i) => (xi - mx) * (y[i] - my)));
  const variance = mean(x.map((xi) => (xi - mx) ** 2));
  const scale = Math.min(SCALE_RANGE[1], Math.max(SCALE_RANGE[0], covariance / variance));
  return { latencyScale: scale, latencyMs: my - scale * mx - fixed, memoryBytes };
}
