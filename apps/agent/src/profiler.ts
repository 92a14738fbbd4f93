import { setTimeout as sleep } from 'node:timers/promises';
import { applyPlan, pruneIsolatedLayer, parseOption, formatOption } from '@blinknet/approx';
import { BlinkNetError, type MatrixEngine, NotFoundError } from '@blinknet/core';
import {
  encodeModel,
  extractSubgraph,
  GraphView,
  inferShapes,
  ModelBuilder,
  type ModelProto,
  SeededRandom,
  sinkOutputs,
} from '@blinknet/onnx';
import {
  type FloatTensor,
  latencyContext,
  type LatencyMeasurement,
  type MeasurementContext,
  measureLatency,
  medianWindow,
  ModelSession,
  type NodeTiming,
  OrtMatrixEngine,
  type SessionOptions,
  summarize,
  timeRuns,
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
  /** Whole-model timing in each round. @default >= 40 timed runs and >= 200 ms, <= 2 s (10 runs at least) */
  readonly endToEndTiming?: TimingOptions;
  readonly onProgress?: (done: number, total: number, label: string) => void;
  /** Timing windows per (layer, option), spread over the profile. @default 5 */
  readonly rounds?: number;
  readonly signal?: AbortSignal;
}

export interface LayerOptionMeasurement extends LatencyMeasurement {
  readonly layer: string;
  readonly option: string;
  /** Set when the figure was taken from an option with the same structure (lowrank-data = lowrank). */
  readonly sameStructureAs?: string;
}

export interface ModelProfile {
  /** Each context carries the run overhead (`runOverheadMs`). */
  readonly layers: readonly LayerOptionMeasurement[];
  readonly endToEnd: LatencyMeasurement;
  /** Median of an empty run: in the whole model's figure once, and once in each isolated layer's. */
  readonly runOverheadMs: number;
  /** Time per node from a separate run with onnxruntime's profiler on: for reports only. */
  readonly nodes: readonly NodeTiming[];
}

/** Seeded values in [-1, 1): timing does not depend on them, but zeros could hit fast paths. */
function randomInput(dims: readonly number[], seed: number): Float32Array {
  const random = new SeededRandom(seed);
  return Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => random.next() * 2 - 1);
}

/**
 * The layer's nodes alone, with the option applied, fed the layer's real input shape. Every option
 * is applied to the cut-out layer (cheap, whatever the model's size): pruning gives it fewer output
 * channels, as pruning the whole model would (its consumers' narrower inputs are their own figures).
 */
async function isolate(
  cut: ModelProto,
  layer: string,
  option: string,
  engine: MatrixEngine,
): Promise<ModelProto> {
  if (option === 'exact') return cut;
  const parsed = parseOption(option);
  if (parsed.kind === 'prune') return pruneIsolatedLayer(cut, layer, parsed.keep);
  return applyPlan(cut, { [layer]: option }, { engine, placeholderFactors: true });
}

/** How long the whole model runs, untimed, before a profile. */
const PROCESS_WARMUP_MS = 500;
/** Runs of the separate, profiled run that attributes time per node (fewer for slow models). */
const NODE_PROFILE_RUNS = 10;
const NODE_PROFILE_MS = 2000;
/**
 * The whole model's window in each round. Its p95 minus its layers is the fixed latency the planner
 * predicts with, and the tail of a short sample is luck (a p95 from 100 ms of a sub-millisecond model
 * moved by 30% from one profile to the next).
 */
const END_TO_END_TIMING: TimingOptions = { warmupRuns: 1, timedRuns: 40, minTimedMs: 200, maxTimedMs: 2_000 };
/** The whole model's first window warms up this long: a new session's first runs are slow. */
const WHOLE_WARMUP_MS = 500;
const EMPTY_RUN_TIMING: TimingOptions = { warmupRuns: 10, timedRuns: 40, minTimedMs: 20 };
/** A (layer, option) this slow has a repeatable median after fewer runs: one per later round. */
const SLOW_ITEM_MS = 10;
/** Pause between building the sessions and timing them. */
const SETTLE_MS = 500;

/** Seeded inputs of the model's graph inputs' shapes at `batchSize`. */
export function modelInputs(model: ModelProto, batchSize: number): Record<string, FloatTensor> {
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

/** One value in, one out: what a run costs with nothing to compute (binding, scheduling, copies). */
function emptyModel(): ModelProto {
  const builder = new ModelBuilder({ name: 'empty-run' });
  builder.output(builder.node('Relu', 'relu', [builder.input('x', [1, 1])]));
  return builder.build();
}

/** Sessions kept open between timing rounds, by isolated-model bytes. */
const KEPT_SESSION_BYTES = 256 * 1024 * 1024;

interface Item {
  readonly layer: string;
  readonly option: string;
  readonly inputs: Record<string, FloatTensor>;
  session?: ModelSession;
  samples: number[];
  context?: MeasurementContext;
}

/**
 * Profiles a model on this device: each (layer, option) alone — the option applied with placeholder
 * weights (latency depends on shapes, not values), then just the layer's nodes cut out and fed its
 * real input shape — and the whole exact model end to end. onnxruntime's profiler stays off.
 *
 * Each (layer, option) is timed in `rounds` short windows spread over the whole profile, and its
 * figures come from the pooled samples: on a shared or virtualised CPU, slow spells of tens of
 * milliseconds come and go, and one window can fall entirely inside one, but rarely most of them.
 */
export async function profileModel(job: ProfileJob, settings: ProfileSettings = {}): Promise<ModelProfile> {
  const batchSize = job.batchSize ?? 1;
  const view = new GraphView(job.model);
  const rounds = settings.rounds ?? 5;
  // Tiny layers run in microseconds: a time floor per item keeps their medians repeatable.
  const timing = settings.timing ?? {
    warmupRuns: 3,
    minWarmupMs: 20,
    timedRuns: 20,
    minTimedMs: 60,
  };
  const endToEndTiming = settings.endToEndTiming ?? END_TO_END_TIMING;
  const perRound: TimingOptions = {
    ...timing,
    warmupRuns: 1,
    minWarmupMs: 0,
    timedRuns: Math.max(1, Math.ceil((timing.timedRuns ?? 20) / rounds)),
    minTimedMs: (timing.minTimedMs ?? 0) / rounds,
  };
  const work = Object.entries(job.options).flatMap(([layer, options]) =>
    options.map((option) => ({ layer, option: formatOption(parseOption(option)) })),
  );
  const engine: MatrixEngine = new OrtMatrixEngine(settings.session?.intraOpThreads ?? 0);
  const items: Item[] = [];
  let whole: ModelSession | undefined;
  let empty: ModelSession | undefined;
  const cuts = new Map<string, ModelProto>();
  const layers: LayerOptionMeasurement[] = [];
  const cancelled = (done: number) => {
    if (settings.signal?.aborted)
      throw new ProfilingCancelledError(`profiling cancelled after ${done} of ${work.length} measurements`);
  };
  try {
    // The first runs of a process are several times slower for a while (thread pool, clocks, caches
    // ramping up: 0.46 vs 0.06 ms measured for one small conv): run the whole model for a moment
    // first, so that the first options timed are not measured in that state.
    await time(job.model, batchSize, settings, {
      warmupRuns: 1,
      minWarmupMs: PROCESS_WARMUP_MS,
      timedRuns: 1,
    });
    let keptBytes = 0;
    for (const [done, { layer, option }] of work.entries()) {
      cancelled(done);
      settings.onProgress?.(done, work.length, `${layer} ${option}`);
      const node = view.node(layer);
      if (!node) throw new NotFoundError('layer', `layer '${layer}' is not in the model`);
      // lowrank-data has lowrank's structure: timed once, reported for both.
      if (
        option.startsWith('lowrank-data:') &&
        work.some((w) => w.layer === layer && w.option === option.replace('lowrank-data', 'lowrank'))
      ) {
        continue;
      }
      // One cut per layer, shared by its options (cutting VGG16's fc6 copies 400 MB).
      let cut = cuts.get(layer);
      if (!cut) {
        cuts.clear();
        cut = extractSubgraph(job.model, [node.input[0]], [node.output[0]], { batchSize });
        cuts.set(layer, cut);
      }
      const isolated = await isolate(cut, layer, option, engine);
      const bytes = encodeModel(sinkOutputs(isolated));
      const item: Item = { layer, option, inputs: modelInputs(isolated, batchSize), samples: [] };
      items.push(item);
      const session = await ModelSession.create(bytes, settings.session, `${layer} ${option}`);
      item.context = latencyContext(session, item.inputs, timing.warmupRuns ?? 3, 0);
      if (keptBytes + bytes.length <= KEPT_SESSION_BYTES) {
        // Timed in the rounds below, once every session is built.
        keptBytes += bytes.length;
        item.session = session;
      } else {
        // Too big to keep open (VGG16's fc6): every round's worth of timing in one window, cut short
        // for a slow item as the rounds are.
        try {
          item.samples.push(
            ...(await timeRuns(session, item.inputs, { ...timing, maxTimedMs: 8 * SLOW_ITEM_MS })),
          );
        } finally {
          await session.dispose();
        }
      }
    }
    const kept = items.filter((item) => item.session);
    // The whole model and an empty run are timed in every round too, in the conditions the layers
    // are: with one window of the whole model alone, a profile taken in a slow spell made the
    // planner predict 1.6x what plans measured a minute later (CIFAR-10-quick, cost-model bench).
    // The whole model's figures are its median window's (by p95), as a device verifies: with the
    // rounds' samples pooled, VGG16's plans were predicted up to 2x what they measured (308 vs 154
    // ms) in an evaluation run whose readings of the original that minute went up to 240 ms.
    whole = await ModelSession.create(encodeModel(job.model), settings.session, job.model.graph?.name);
    empty = await ModelSession.create(encodeModel(emptyModel()), settings.session, 'empty run');
    const wholeInputs = modelInputs(job.model, batchSize);
    const emptyInputs = { x: { data: new Float32Array([0.5]), dims: [1, 1] } };
    const wholeWindows: number[][] = [];
    const emptySamples: number[] = [];
    // Building sessions is JS work that leaves the garbage collector and compiler busy on background
    // threads for a while; on a small machine they take the core the timed runs need (measured on 2
    // cores: a small conv at 0.46 instead of 0.06 ms for the first half second). Let them finish.
    await sleep(SETTLE_MS);
    for (let round = 0; round < rounds; round++) {
      cancelled(work.length);
      settings.onProgress?.(work.length, work.length, `timing round ${round + 1} of ${rounds}`);
      // Alternate the order so that each item's windows sit at different points of the profile.
      for (const item of round % 2 ? [...kept].reverse() : kept) {
        // Later rounds re-warm caches with one run, which matters only for sub-millisecond layers;
        // slow items (tens of ms per run, CV ~1%) take one run per later round.
        const median = round === 0 ? 0 : summarize(item.samples).medianMs;
        const window =
          round === 0
            ? { ...perRound, warmupRuns: timing.warmupRuns, minWarmupMs: timing.minWarmupMs }
            : median >= SLOW_ITEM_MS
              ? { warmupRuns: 0, timedRuns: 1 }
              : { ...perRound, warmupRuns: median < 1 ? 1 : 0 };
        item.samples.push(...(await timeRuns(item.session!, item.inputs, window)));
      }
      const first = round === 0 ? { minWarmupMs: WHOLE_WARMUP_MS } : {};
      wholeWindows.push(await timeRuns(whole, wholeInputs, { ...endToEndTiming, ...first }));
      emptySamples.push(...(await timeRuns(empty, emptyInputs, { ...EMPTY_RUN_TIMING, ...first })));
    }
    const runOverheadMs = summarize(emptySamples).medianMs;
    for (const item of items) {
      const measurement = {
        layer: item.layer,
        option: item.option,
        stats: summarize(item.samples),
        context: { ...item.context!, timedRuns: item.samples.length, runOverheadMs },
      };
      layers.push(measurement);
      for (const w of work.filter(
        (w) =>
          w.layer === item.layer &&
          w.option === item.option.replace('lowrank:', 'lowrank-data:') &&
          w.option !== item.option,
      )) {
        layers.push({ ...measurement, option: w.option, sameStructureAs: item.option });
      }
    }
    const stats = medianWindow(wholeWindows.map(summarize), (s) => s.p95Ms);
    const endToEnd = {
      stats,
      context: {
        ...latencyContext(whole, wholeInputs, endToEndTiming.warmupRuns ?? 10, stats.runs),
        runOverheadMs,
      },
    };
    // Attribution only: as many profiled runs as fit in about NODE_PROFILE_MS.
    const nodeRuns = Math.max(
      2,
      Math.min(NODE_PROFILE_RUNS, Math.round(NODE_PROFILE_MS / endToEnd.stats.medianMs)),
    );
    const nodes = await ModelSession.profileNodes(
      encodeModel(job.model),
      modelInputs(job.model, batchSize),
      settings.session,
      nodeRuns,
    );
    return { layers, endToEnd, runOverheadMs, nodes };
  } finally {
    await Promise.all([...items.map((item) => item.session), whole, empty].map((s) => s?.dispose()));
    await engine.dispose();
  }
}
