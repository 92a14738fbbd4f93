/**
 * A class's cost model calibrated with what its devices measured: the latency (p95) and resident
 * memory each deployed plan measured against what the uncalibrated cost model predicted for it.
 *
 * Plans are taken oldest first, each against the calibration the older ones left. Latency beyond a
 * plan's prediction is charged to the approximations it chose, in proportion to the size of their
 * layers (the exact layer's latency): a layer option timed alone misses what it costs inside the
 * whole model, where the layout onnxruntime keeps between layers breaks, which grows with the layer
 * (measured on VGG-style at 1 thread: factorisations cost 0.005-0.013 ms more inside than alone,
 * int8:compute 0.009-0.055 more; at 2 threads a rank-4 factorisation that saved 0.03 ms alone saved
 * 0.005). Charged by what each was predicted to save instead, an option predicted to cost latency
 * (int8) was never charged, and the next plans took more of it.
 * The charge goes to the technique on that layer, every rank or keep of it: what a structure breaks
 * costs alike at every rank, and a charge to one rank alone only sent the next plan to its neighbour.
 * Layers no measured plan approximated with a technique are charged at the rate (ms per ms of exact
 * layer) the technique missed by where it was measured: otherwise a miss only sent the next plan to
 * the same technique on the next layer (VGG-style at 2 threads, three rounds). A plan with no
 * approximation (the model as uploaded) slower than predicted adds to the fixed latency, which every
 * plan keeps paying; faster than predicted, it credits its exact layers (a factor on every exact
 * option), since it says nothing of layers it did not run: a plan that approximates a layer gives
 * up that layer's share. Taken off the fixed latency instead, every plan kept all of it, and when the
 * original measured 9.5% under the cost model, CaffeNet's first plans measured a median 14% over
 * their predictions (the uncalibrated cost model's: 0.4% under). Another plan faster than predicted
 * first takes back what its options were charged, then takes the difference off the fixed latency;
 * only what is left (the options timed alone add up to more than the whole model) scales every
 * option down. Memory: the largest excess over the prediction.
 */
import { type ModelProblem } from '@blinknet/planner-core';

export interface Calibration {
  /** Factor on every option's latency; 1 unless a device ran faster than the options add up to. */
  readonly latencyScale: number;
  /** Factor on every exact option's latency (<= 1): the original ran faster than predicted. */
  readonly exactScale: number;
  /** Added to the fixed latency. */
  readonly latencyMs: number;
  /** Added to the fixed memory. */
  readonly memoryBytes: number;
  /**
   * layer -> technique (`techniqueOf`) -> latency added to its options: what they did not save in
   * the plans that chose them.
   */
  readonly optionLatencyMs: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /**
   * technique -> latency added per ms of exact layer, on layers without a charge of their own for it:
   * the rate its charges came to where plans used it (never negative).
   */
  readonly techniqueRate: Readonly<Record<string, number>>;
}

export const UNCALIBRATED: Calibration = {
  latencyScale: 1,
  exactScale: 1,
  latencyMs: 0,
  memoryBytes: 0,
  optionLatencyMs: {},
  techniqueRate: {},
};

/** A plan's figures for one model on the uncalibrated cost model (stored with the plan). */
export interface RawFigures {
  readonly fixedLatencyMs: number;
  /** The chosen options' latencies, summed. */
  readonly layersLatencyMs: number;
  readonly memoryBytes: number;
  /**
   * layer -> its approximation, the exact layer's latency and what the approximation was predicted to
   * save (exact's latency - its own). `exactMs` is missing from plans stored before it was kept.
   */
  readonly approximations?: Readonly<
    Record<string, { readonly option: string; readonly savingMs: number; readonly exactMs?: number }>
  >;
}

const EXACT = 'exact';

/** What a calibration charges an option as: its technique (lowrank-data is lowrank). */
function techniqueOf(option: string): string {
  if (option.startsWith('lowrank')) return 'lowrank';
  if (option.startsWith('prune:')) return 'prune';
  return option;
}

/** The uncalibrated figures of `choices` (layer -> option) on `costModel`. */
export function rawFigures(costModel: ModelProblem, choices: Readonly<Record<string, string>>): RawFigures {
  let layersLatencyMs = 0;
  let memoryBytes = costModel.fixed.memoryBytes;
  const approximations: Record<string, { option: string; savingMs: number; exactMs: number }> = {};
  for (const layer of costModel.layers) {
    const option =
      layer.options.find((o) => o.option === (choices[layer.layer] ?? EXACT)) ?? layer.options[0];
    layersLatencyMs += option.latencyMs;
    memoryBytes += option.memoryBytes;
    if (option.option !== EXACT) {
      const exact = layer.options.find((o) => o.option === EXACT) ?? layer.options[0];
      approximations[layer.layer] = {
        option: option.option,
        savingMs: exact.latencyMs - option.latencyMs,
        exactMs: exact.latencyMs,
      };
    }
  }
  return { fixedLatencyMs: costModel.fixed.latencyMs, layersLatencyMs, memoryBytes, approximations };
}

/** `problem` with `calibration` folded into its fixed costs and option latencies. */
export function calibrate(problem: ModelProblem, calibration: Calibration): ModelProblem {
  const scale = calibration.latencyScale;
  const exactScale = calibration.exactScale;
  const added = calibration.optionLatencyMs;
  const rates = calibration.techniqueRate;
  return {
    ...problem,
    fixed: {
      ...problem.fixed,
      latencyMs: Math.max(0, problem.fixed.latencyMs + calibration.latencyMs),
      memoryBytes: Math.max(0, problem.fixed.memoryBytes + calibration.memoryBytes),
    },
    layers:
      scale === 1 && exactScale === 1 && Object.keys(added).length === 0
        ? problem.layers
        : problem.layers.map((l) => {
            const exactMs = (l.options.find((o) => o.option === EXACT) ?? l.options[0]).latencyMs;
            const charge = (option: string) => {
              if (option === EXACT) return 0;
              const technique = techniqueOf(option);
              return added[l.layer]?.[technique] ?? (rates[technique] ?? 0) * exactMs;
            };
            return {
              ...l,
              options: l.options.map((o) => ({
                ...o,
                latencyMs: Math.max(
                  0,
                  o.latencyMs * scale * (o.option === EXACT ? exactScale : 1) + charge(o.option),
                ),
              })),
            };
          }),
  };
}

/** One measured plan: its uncalibrated figures and what its (worst) device measured. */
export interface MeasuredPlan {
  readonly raw: RawFigures;
  readonly latencyMs: number;
  readonly memoryBytes?: number;
}

/** Least factor on option latencies: options never cost nothing. */
const MIN_SCALE = 0.05;

/** Per technique, its charges over the exact latency of the layers charged (>= 0). */
function rates(
  added: Readonly<Record<string, Readonly<Record<string, number>>>>,
  exactOf: ReadonlyMap<string, number>,
): Record<string, number> {
  const sums: Record<string, { charged: number; exact: number }> = {};
  for (const [layer, techniques] of Object.entries(added)) {
    const exact = exactOf.get(layer);
    if (exact === undefined) continue;
    for (const [technique, ms] of Object.entries(techniques)) {
      const sum = (sums[technique] ??= { charged: 0, exact: 0 });
      sum.charged += ms;
      sum.exact += exact;
    }
  }
  return Object.fromEntries(
    Object.entries(sums)
      .filter(([, s]) => s.exact > 0 && s.charged > 0)
      .map(([technique, s]) => [technique, s.charged / s.exact]),
  );
}

/** The calibration under which the measured plans (newest first) predict what they measured. */
export function calibrationFromPlans(plans: readonly MeasuredPlan[]): Calibration {
  if (plans.length === 0) return UNCALIBRATED;
  let latencyScale = 1;
  let exactScale = 1;
  let latencyMs = 0;
  const added: Record<string, Record<string, number>> = {};
  const exactOf = new Map<string, number>();
  const addedTo = (layer: string, option: string) => added[layer]?.[techniqueOf(option)] ?? 0;
  const add = (layer: string, option: string, ms: number) =>
    ((added[layer] ??= {})[techniqueOf(option)] = addedTo(layer, option) + ms);
  for (const { raw, latencyMs: measured } of [...plans].reverse()) {
    const chosen = Object.entries(raw.approximations ?? {});
    const fixed = Math.max(0, raw.fixedLatencyMs + latencyMs);
    // The layers the plan kept exact (an approximation stored without its exact latency counts here).
    const keptExact = Math.max(
      0,
      raw.layersLatencyMs -
        chosen.reduce((n, [, a]) => n + (a.exactMs === undefined ? 0 : a.exactMs - a.savingMs), 0),
    );
    const exactNow = keptExact * latencyScale; // uncredited
    const layersNow = (raw.layersLatencyMs - keptExact * (1 - exactScale)) * latencyScale;
    const predicted = fixed + layersNow + chosen.reduce((n, [l, a]) => n + addedTo(l, a.option), 0);
    let residual = measured - predicted;
    for (const [l, a] of chosen) if (a.exactMs !== undefined) exactOf.set(l, a.exactMs);
    if (residual > 0) {
      const weights = chosen.map(([, a]) => a.exactMs ?? Math.max(0, a.savingMs));
      const total = weights.reduce((a, b) => a + b, 0);
      if (total > 0) {
        chosen.forEach(([l, a], i) => add(l, a.option, (residual * weights[i]) / total));
        continue;
      }
      // No approximation: the exact layers' credit back first, then the fixed latency.
      const back = chosen.length === 0 ? Math.min(residual, exactNow * (1 - exactScale)) : 0;
      if (back > 0) exactScale = Math.min(1, exactScale + back / exactNow);
      latencyMs += residual - back;
      continue;
    }
    for (const [l, a] of chosen) {
      const back = Math.min(Math.max(0, addedTo(l, a.option)), -residual);
      add(l, a.option, -back);
      residual += back;
    }
    if (chosen.length === 0 && exactNow > 0) {
      const credited = Math.max(MIN_SCALE, exactScale + residual / exactNow);
      residual += (exactScale - credited) * exactNow;
      exactScale = credited;
    }
    const offFixed = Math.min(fixed, -residual);
    latencyMs -= offFixed;
    residual += offFixed;
    if (residual < 0 && layersNow > 0) {
      latencyScale = Math.max(MIN_SCALE, (latencyScale * (layersNow + residual)) / layersNow);
    }
  }
  // Memory: the largest excess any plan measured, never a credit. A plan that took less than predicted
  // saved more than its options' weights (a smaller model also leaves smaller load buffers behind),
  // which says nothing of the fixed part: credited there, VGG-style's next plan (int8 folded back to
  // float at load, saving nothing resident) was predicted to fit and missed by 2 MB.
  const memoryBytes = Math.max(
    0,
    ...plans.flatMap((p) => (p.memoryBytes === undefined ? [] : [p.memoryBytes - p.raw.memoryBytes])),
  );
  return {
    latencyScale,
    exactScale,
    latencyMs,
    memoryBytes,
    optionLatencyMs: added,
    techniqueRate: rates(added, exactOf),
  };
}
