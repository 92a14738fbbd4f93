/**
 * A class's cost model calibrated with what its devices measured: the latency (p95) and resident
 * memory a deployed plan measured against what the uncalibrated cost model predicted for it.
 *
 * Latency beyond the prediction is added to the model's fixed costs, not scaled into its options:
 * what a prediction misses by on a small device is mostly per-run overhead and contention, which no
 * approximation removes. A device that runs faster than predicted takes the difference off the
 * fixed costs first; only what is left (the options timed alone add up to more than the whole
 * model, e.g. per-run overhead counted once per layer) scales the options down.
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
