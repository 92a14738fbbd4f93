import { applyPlan, parseOption, formatOption } from '@blinknet/approx';
import { BlinkNetError, type MatrixEngine, NotFoundError } from '@blinknet/core';
import {
  encodeModel,
  extractSubgraph,
  GraphView,
  inferShapes,
  type ModelProto,
  SeededRandom,
} from '@blinknet/onnx';
import {
  type FloatTensor,
  type LatencyMeasurement,
  measureLatency,
  ModelSession,
  type NodeTiming,
  OrtMatrixEngine,
  type SessionOptions,
  type TimingOptions,
} from '@blinknet/runtime';

/** Thrown when a profiling run is cancelled through its AbortSignal. */
export class ProfilingCancelledError extends BlinkNetError {
  override readonly name = 'ProfilingCancelledError';
}

/** What to measure: for each layer, the options (in the approx grammar) to time in isolation. */
export interface ProfileJob {
  readonly model: ModelProto;
  readonly options: Readonly<Record<string, readonly string[]>>;
  /** @default 1 */
  readonly batchSize?: number;
}

export interface ProfileSettings {
  readonly session?: SessionOptions;
  /** Per (layer, option). @default 3 warm-up runs and >= 20 ms, 20 timed runs and >= 60 ms */
  readonly timing?: TimingOptions;
  /** Whole-model timing. @default 10 warm-up and 50 timed runs */
  readonly endToEndTiming?: TimingOptions;
  readonly onProgress?: (done: number, total: number, label: string) => void;
  readonly signal?: AbortSignal;
}

export interface LayerOptionMeasurement extends LatencyMeasurement {
  readonly layer: string;
  readonly option: string;
  /** Set when the figure was taken from an option with the same structure (lowrank-data = lowrank). */
  readonly sameStructureAs?: string;
}

export interface ModelProfile {
  readonly layers: readonly LayerOptionMeasurement[];
  readonly endToEnd: LatencyMeasurement;
  /** Time per node from a separate run with onnxruntime's profiler on: for reports only. */
  readonly nodes: readonly NodeTiming[];
}

/** Seeded values in [-1, 1): timing does not depend on them, but zeros could hit fast paths. */
function randomInput(dims: readonly number[], seed: number): Float32Array {
  const random = new SeededRandom(seed);
  return Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => random.next() * 2 - 1);
}

/** Seeded inputs of the model's graph inputs' shapes at `batchSize`. */
function modelInputs(model: ModelProto, batchSize: number): Record<string, FloatTensor> {
  const shapes = inferShapes(model, { batchSize });
  return Object.fromEntries(
    [...new GraphView(model).graphInputs].map((name, i) => {
      const dims = shapes.get(name)!.dims;
      return [name, { data: randomInput(dims, i + 1), dims }];
    }),
  );
}

async function time(model: ModelProto, batchSize: number, settings: ProfileSettings, timing: TimingOptions) {
  const session = await ModelSession.create(encodeModel(model), settings.session, model.graph?.name);
  try {
    return await measureLatency(session, modelInputs(model, batchSize), timing);
  } finally {
    await session.dispose();
  }
}

/**
 * Profiles a model on this device: each (layer, option) alone — the option applied with placeholder
 * weights (latency depends on shapes, not values), then just the layer's nodes cut out and fed its
 * real input shape — and the whole exact model end to end. onnxruntime's profiler stays off.
 */
export async function profileModel(job: ProfileJob, settings: ProfileSettings = {}): Promise<ModelProfile> {
  const batchSize = job.batchSize ?? 1;
  const view = new GraphView(job.model);
  // Tiny layers run in microseconds: a time floor keeps their medians repeatable.
  const timing = settings.timing ?? { warmupRuns: 3, minWarmupMs: 20, timedRuns: 20, minTimedMs: 60 };
  const work = Object.entries(job.options).flatMap(([layer, options]) =>
    options.map((option) => ({ layer, option: formatOption(parseOption(option)) })),
  );
  const engine: MatrixEngine = new OrtMatrixEngine(settings.session?.intraOpThreads ?? 0);
  const layers: LayerOptionMeasurement[] = [];
  try {
    for (const [done, { layer, option }] of work.entries()) {
      if (settings.signal?.aborted)
        throw new ProfilingCancelledError(`profiling cancelled after ${done} of ${work.length} measurements`);
      settings.onProgress?.(done, work.length, `${layer} ${option}`);
      const node = view.node(layer);
      if (!node) throw new NotFoundError('layer', `layer '${layer}' is not in the model`);
      const twin = option.startsWith('lowrank-data:')
        ? layers.find((m) => m.layer === layer && m.option === option.replace('lowrank-data', 'lowrank'))
        : undefined;
      if (twin) {
        layers.push({ ...twin, option, sameStructureAs: twin.option });
        continue;
      }
      const approximated =
        option === 'exact'
          ? job.model
          : await applyPlan(job.model, { [layer]: option }, { engine, placeholderFactors: true });
      const isolated = extractSubgraph(approximated, [node.input[0]], [node.output[0]], { batchSize });
      layers.push({ layer, option, ...(await time(isolated, batchSize, settings, timing)) });
    }
    settings.onProgress?.(work.length, work.length, 'end to end');
    const endToEnd = await time(
      job.model,
      batchSize,
      settings,
      settings.endToEndTiming ?? { warmupRuns: 10, timedRuns: 50 },
    );
    const nodes = await ModelSession.profileNodes(
      encodeModel(job.model),
      modelInputs(job.model, batchSize),
      settings.session,
    );
    return { layers, endToEnd, nodes };
  } finally {
    await engine.dispose();
  }
}
