/**
 * The cost model of one device class: what each (layer, option) of a model costs there, from the
 * class's measurements, turned into a solver problem. Pure: the planner reads the records from its
 * store and hands them in.
 *
 * - Latency of a (layer, option): the median across the class's devices of each device's latest
 *   median for it, net of the device's run overhead (an empty run's median: every isolated layer
 *   pays it once, the whole model pays it once in all), so one slow or fast device does not move
 *   the class.
 * - Whole-model latency: the sum of its layers' latencies plus a fixed latency, both from the exact
 *   model's end-to-end figure at the policy's percentile: what it takes beyond its exact layers (one
 *   run's overhead, the ops outside the layers, the tail of the distribution) is fixed, since no
 *   option removes it. Measured on 2 cores: a p95 sits 0.05-0.07 ms above the median whatever the
 *   size of a sub-millisecond model (the host's interruptions), so a tail scaled with the layers
 *   predicted approximated small models up to 1.5x too fast. Only where the layers timed alone add
 *   up to more than the whole model (large models: caches) are they scaled down instead.
 * - Memory: the weights resident while serving + the activation peak + the session overhead measured
 *   for the class (resident bytes added by the exact model - its weights - its activation peak).
 *   int8:storage weights are counted at float size: BlinkNet's sessions fold DequantizeLinear at load.
 * - Storage: exact artifact bytes: each option's weight bytes + the rest of the file.
 * - Pruning a layer also narrows its consumers; that saving is credited to the prune option,
 *   assuming the consumers stay exact, up to the option's own cost (the solver takes costs >= 0, and
 *   under-crediting a saving never predicts a bound met that is not). The closed loop measures the
 *   plan as a whole.
 */
import { InvalidArgumentError, LATENCY_PERCENTILES, latencyAt } from '@blinknet/core';
import { NotProfiledError } from './errors';
import type { LayerChoices, ModelProblem, OptionChoice } from './types';

/** One (layer, option) of a model version's ladder, with its exact costs and its accuracy. */
export interface LadderOption {
  readonly layer: string;
  readonly option: string;
  readonly weightBytes: number;
  /** Accuracy (0..1) left with only this option applied, on the calibration split (lower: costlier). */
  readonly accuracy: number;
  /** Layers whose inputs shrink with this option (prune). */
  readonly shrinks?: readonly string[];
}

/** What the planner knows of a model version without a device. */
export interface ModelVersionCosts {
  readonly model: string;
  /** Artifact bytes of the original file. */
  readonly bytes: number;
  readonly activationPeakBytes: number;
  /** Constants outside the approximable layers. */
  readonly otherWeightBytes: number;
  /** Accuracy (0..1) of the original on the calibration split. */
  readonly accuracy: number;
  readonly options: readonly LadderOption[];
}

/** One measurement of the class, as stored. */
export type ClassMeasurement =
  | {
      readonly kind: 'layer-latency';
      readonly deviceId: string;
      readonly layer: string;
      readonly option: string;
      readonly medianMs: number;
      readonly at: number;
    }
  | {
      readonly kind: 'model-latency';
      readonly deviceId: string;
      readonly medianMs: number;
      readonly p95Ms: number;
      readonly p99Ms: number;
      /**
       * Median of an empty run on the device with the same settings: in the end-to-end figure once
       * and in each layer's isolated figure once. @default 0
       */
      readonly runOverheadMs?: number;
      readonly at: number;
    }
  | {
      readonly kind: 'model-memory';
      readonly deviceId: string;
      readonly residentBytes: number;
      readonly weightBytes: number;
      readonly at: number;
    };

/** One model version's costs on one device class. */
export interface ClassCosts {
  /** layer -> option -> median across devices of each device's latest median net of its run overhead (ms). */
  readonly layerLatencyMs: ReadonlyMap<string, ReadonlyMap<string, number>>;
  /** Factor on the layers' latencies: 1 unless they add up to more than the whole model; median across devices. */
  readonly latencyScale: number;
  /** End-to-end latency (at the percentile) beyond the exact layers; median across devices. */
  readonly fixedLatencyMs: number;
  /** Resident bytes beyond weights and activations, median across devices. */
  readonly sessionOverheadBytes: number;
  /** Devices whose measurements went in. */
  readonly devices: number;
}

const EXACT = 'exact';
/**
 * The least loss (points) an approximation is charged, however harmless it measured: among plans
 * that lose nothing measurable the solver then keeps layers exact, approximating only what a bound
 * needs.
 */
export const MIN_APPROXIMATION_LOSS = 1e-4;

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Each device's latest measurement per key. */
function latestPerDevice<M extends ClassMeasurement>(
  measurements: readonly M[],
  key: (m: M) => string,
): Map<string, Map<string, M>> {
  const byKey = new Map<string, Map<string, M>>();
  for (const m of measurements) {
    const k = key(m);
    let perDevice = byKey.get(k);
    if (!perDevice) byKey.set(k, (perDevice = new Map()));
    const seen = perDevice.get(m.deviceId);
    if (!seen || seen.at <= m.at) perDevice.set(m.deviceId, m);
  }
  return byKey;
}

/**
 * The class's costs for one model version from its measurements there.
 * @param percentile which end-to-end figure the latency bounds apply to: 50, 95 or 99
 * @throws NotProfiledError when an exact layer, the end-to-end latency or the memory is missing
 */
export function classCosts(
  version: ModelVersionCosts,
  measurements: readonly ClassMeasurement[],
  percentile = 95,
): ClassCosts {
  if (!LATENCY_PERCENTILES.includes(percentile)) {
    throw new InvalidArgumentError('percentile', `must be 50, 95 or 99, got ${percentile}`);
  }
  const e2e = latestPerDevice(
    measurements.filter((m) => m.kind === 'model-latency'),
    () => 'model',
  ).get('model');
  const overheadMs = (device: string) => e2e?.get(device)?.runOverheadMs ?? 0;
  const net = (m: { readonly deviceId: string; readonly medianMs: number }) =>
    Math.max(0, m.medianMs - overheadMs(m.deviceId));
  const layers = measurements.filter((m) => m.kind === 'layer-latency');
  const layerLatencyMs = new Map<string, Map<string, number>>();
  for (const [key, perDevice] of latestPerDevice(layers, (m) => `${m.layer}\0${m.option}`)) {
    const [layer, option] = key.split('\0');
    let options = layerLatencyMs.get(layer);
    if (!options) layerLatencyMs.set(layer, (options = new Map()));
    options.set(option, median([...perDevice.values()].map(net)));
  }
  const layerNames = [...new Set(version.options.map((o) => o.layer))];
  for (const layer of layerNames) {
    if (layerLatencyMs.get(layer)?.get(EXACT) === undefined) {
      throw new NotProfiledError(version.model, `latency for layer ${layer}`);
    }
  }

  // Per device: its end-to-end figure against the sum of its own exact layers.
  const exactPerDevice = latestPerDevice(
    layers.filter((m) => m.option === EXACT),
    (m) => m.layer,
  );
  const scales: number[] = [];
  const fixed: number[] = [];
  for (const [device, m] of e2e ?? []) {
    const own = layerNames.map((l) => exactPerDevice.get(l)?.get(device));
    if (own.some((v) => v === undefined)) continue;
    const sum = own.reduce((a, l) => a + net(l!), 0);
    const figure = latencyAt(m, percentile);
    scales.push(figure >= sum || sum <= 0 ? 1 : figure / sum);
    fixed.push(Math.max(0, figure - sum));
  }
  if (scales.length === 0) throw new NotProfiledError(version.model, 'end-to-end latency');

  const memory = latestPerDevice(
    measurements.filter((m) => m.kind === 'model-memory'),
    () => 'model',
  ).get('model');
  if (!memory || memory.size === 0) throw new NotProfiledError(version.model, 'memory');
  const overheads = [...memory.values()].map((m) =>
    Math.max(0, m.residentBytes - m.weightBytes - version.activationPeakBytes),
  );
  const devices = new Set(measurements.map((m) => m.deviceId)).size;
  return {
    layerLatencyMs,
    latencyScale: median(scales),
    fixedLatencyMs: median(fixed),
    sessionOverheadBytes: Math.round(median(overheads)), // whole bytes: plans travel as uint64
    devices,
  };
}

/** The resident bytes of an option's weights: int8:storage is folded back to float at load. */
function residentWeightBytes(option: LadderOption, exact: LadderOption): number {
  return option.option === 'int8:storage' ? exact.weightBytes : option.weightBytes;
}

/**
 * The solver's view of one model on one class: every ladder option that was measured there, with
 * latency (scaled as the class measured), memory, storage and accuracy loss in points (>= 0).
 */
export function modelProblem(
  version: ModelVersionCosts,
  costs: ClassCosts,
  bound: { readonly latencyBoundMs?: number; readonly lossWeight?: number } = {},
): ModelProblem {
  const byLayer = new Map<string, LadderOption[]>();
  for (const o of version.options) {
    const list = byLayer.get(o.layer) ?? [];
    list.push(o);
    byLayer.set(o.layer, list);
  }
  const exactOf = (layer: string) => {
    const exact = byLayer.get(layer)?.find((o) => o.option === EXACT);
    if (!exact) throw new InvalidArgumentError('options', `layer ${layer} has no exact option`);
    return exact;
  };
  const latencyOf = (layer: string, option: string) => costs.layerLatencyMs.get(layer)?.get(option);
  // A pruned layer narrows its consumers' inputs: each consumer's figures fall by the cut, whatever
  // option the consumer takes. The credit is the cut of the consumer's least figure among its offered
  // options, since the solver's model is additive per layer and cannot know which the consumer takes:
  // credited with the consumer's exact figures, a chain of pruned layers measured up to 1.5x its
  // prediction (CIFAR-10-quick, every conv pruned).
  const leastOf = (layer: string) => {
    const exact = exactOf(layer);
    const offered = (byLayer.get(layer) ?? []).filter((o) => latencyOf(layer, o.option) !== undefined);
    if (offered.length === 0) return { latencyMs: 0, memoryBytes: 0, storageBytes: 0 };
    return {
      latencyMs: Math.min(...offered.map((o) => latencyOf(layer, o.option)!)),
      memoryBytes: Math.min(...offered.map((o) => residentWeightBytes(o, exact))),
      storageBytes: Math.min(...offered.map((o) => o.weightBytes)),
    };
  };
  const layers: LayerChoices[] = [];
  let exactWeightBytes = 0;
  for (const [layer, options] of byLayer) {
    const exact = exactOf(layer);
    exactWeightBytes += exact.weightBytes;
    const choices: OptionChoice[] = [];
    for (const o of options) {
      let latencyMs = latencyOf(layer, o.option);
      if (latencyMs === undefined) continue; // not measured on this class: not offered
      let memoryBytes = residentWeightBytes(o, exact);
      let storageBytes = o.weightBytes;
      const keep = /^prune:keep=([0-9.]+)$/.exec(o.option);
      if (keep) {
        const cut = 1 - Number(keep[1]);
        for (const consumer of o.shrinks ?? []) {
          const least = leastOf(consumer);
          latencyMs -= cut * least.latencyMs;
          memoryBytes -= Math.round(cut * least.memoryBytes);
          storageBytes -= Math.round(cut * least.storageBytes);
        }
      }
      choices.push({
        option: o.option,
        latencyMs: Math.max(0, latencyMs) * costs.latencyScale,
        memoryBytes: Math.max(0, memoryBytes),
        storageBytes: Math.max(0, storageBytes),
        loss: Math.max(MIN_APPROXIMATION_LOSS, (version.accuracy - o.accuracy) * 100),
      });
    }
    // Exact always first and always lossless: the model as uploaded.
    choices.sort((a, b) => Number(b.option === EXACT) - Number(a.option === EXACT));
    choices[0] = { ...choices[0], loss: 0 };
    layers.push({ layer, options: choices });
  }
  return {
    model: version.model,
    layers,
    fixed: {
      latencyMs: costs.fixedLatencyMs,
      memoryBytes: costs.sessionOverheadBytes + version.activationPeakBytes + version.otherWeightBytes,
      storageBytes: Math.max(0, version.bytes - exactWeightBytes),
    },
    latencyBoundMs: bound.latencyBoundMs,
    lossWeight: bound.lossWeight,
  };
}
