/**
 * The accuracy model of each uploaded model version, computed on the planner with onnxruntime: for
 * each single (layer, option) applied, the share of calibration images whose top-1 class changes,
 * stored per option as the accuracy it would leave if every change were a loss (the solver predicts a
 * plan's loss as the sum of its options' losses: pessimistic twice over). With a labelled data set:
 * calibration = the even images of its test split (capped), held-out = the odd ones, and the
 * data-aware options fit on train images; without one, top-1 agreement with the original model on
 * the inputs supplied with the upload (halved: first half, second half), else on seeded random
 * inputs. Work resumes where it stopped after a restart: only options without a stored accuracy
 * are evaluated.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Logger } from 'pino';
import { toError } from '@blinknet/core';
import { applyPlan, OptionNotOfferedError } from '@blinknet/approx';
import { decodeModel, encodeModel, type ModelProto } from '@blinknet/onnx';
import { CalibrationRunner, type FloatTensor, ModelSession, OrtMatrixEngine } from '@blinknet/runtime';
import {
  listModelVersions,
  modelVersionBySha256,
  type ModelVersionRecord,
  type OpenedDatabase,
  setAccuracyState,
  setOptionEvaluated,
} from '@blinknet/store';
import { argmaxRows, type DatasetName, type ImageDataset, loadDataset, toInputBatch } from '@blinknet/zoo';
import { datasetLayout, inputsPath } from './catalog';

export interface AccuracySettings {
  /** Most images of the calibration split. @default 1000 */
  readonly calibrationImages?: number;
  /** Train images (or random inputs) the data-aware options fit on. @default 256 */
  readonly activationImages?: number;
  /** Random inputs for agreement when a model has no data set. @default 64 */
  readonly agreementInputs?: number;
}

/** A labelled set of model inputs, made batch by batch so that large splits need little memory. */
export interface EvalSet {
  readonly count: number;
  readonly labels: Uint8Array;
  batch(start: number, end: number): FloatTensor;
}

const BATCH = 250;

export function withDefaults(settings: AccuracySettings): Required<AccuracySettings> {
  return { calibrationImages: 1000, activationImages: 256, agreementInputs: 64, ...settings };
}

/** Top-1 accuracy of a model (bytes) on a labelled set, with its predictions. */
export async function top1(
  model: Uint8Array,
  set: EvalSet,
  inputName: string,
): Promise<{ accuracy: number; predictions: Uint8Array }> {
  const session = await ModelSession.create(model);
  try {
    const predictions = new Uint8Array(set.count);
    let correct = 0;
    for (let start = 0; start < set.count; start += BATCH) {
      const end = Math.min(start + BATCH, set.count);
      const outputs = await session.run({ [inputName]: set.batch(start, end) });
      const logits = outputs[session.outputNames[0]];
      predictions.set(argmaxRows(logits.data, end - start, logits.dims[1]), start);
    }
    for (let k = 0; k < set.count; k++) if (predictions[k] === set.labels[k]) correct++;
    return { accuracy: correct / set.count, predictions };
  } finally {
    await session.dispose();
  }
}

/** Share of predictions that differ. */
export function flipRate(a: Uint8Array, b: Uint8Array): number {
  let flips = 0;
  for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) flips++;
  return flips / a.length;
}

/** Seeded standard-normal inputs (Box-Muller over a 32-bit LCG): the same every time. */
export function randomInputs(dims: readonly number[], count: number, seed: number): FloatTensor {
  const per = dims.slice(1).reduce((a, b) => a * b, 1);
  const data = new Float32Array(count * per);
  let state = seed >>> 0;
  const uniform = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return (state + 0.5) / 4294967296;
  };
  for (let i = 0; i < data.length; i++) {
    data[i] = Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  }
  return { data, dims: [count, ...dims.slice(1)] };
}

/**
 * The split reordered: its even images, then its odd ones, so that both halves are alike (MNIST's
 * test set puts its cleaner, easier half first: a calibration split drawn from it alone once
 * measured 1.5% of changed predictions for a plan that lost 14 points on the rest).
 */
function alternate(split: ImageDataset): ImageDataset {
  const pixels = split.height * split.width;
  const images = new Uint8Array(split.images.length);
  const labels = new Uint8Array(split.count);
  const evens = Math.ceil(split.count / 2);
  for (let from = 0; from < split.count; from++) {
    const to = from % 2 === 0 ? from / 2 : evens + (from - 1) / 2;
    images.set(split.images.subarray(from * pixels, (from + 1) * pixels), to * pixels);
    labels[to] = split.labels[from];
  }
  return { ...split, images, labels };
}

/**
 * A labelled data set's calibration split (the even images of its test split, capped), its held-out
 * split (the odd ones) and the train images data-aware options fit on, for a model of input `dims`.
 */
export function labelledSplits(
  dataset: DatasetName,
  dims: readonly number[],
  settings: Required<AccuracySettings>,
): { calibration: EvalSet; heldOut: EvalSet; activations: FloatTensor } {
  const layout = datasetLayout(dataset, dims);
  const test = alternate(loadDataset(dataset, 'test'));
  const train = loadDataset(dataset, 'train');
  const side = dims[2];
  const half = Math.floor(test.count / 2);
  const part = (from: number, count: number): EvalSet => ({
    count,
    labels: test.labels.subarray(from, from + count),
    batch: (start, end) => ({
      data: toInputBatch(test, from + start, from + end, layout),
      dims: [end - start, layout.channels, side, side],
    }),
  });
  const fit = Math.min(settings.activationImages, train.count);
  return {
    calibration: part(0, Math.min(settings.calibrationImages, half)),
    heldOut: part(half, test.count - half),
    activations: { data: toInputBatch(train, 0, fit, layout), dims: [fit, layout.channels, side, side] },
  };
}

/**
 * The calibration and held-out sets of a version and the inputs its data-aware options fit on;
 * `realInputs` says whether those are real (a data set, inputs supplied with the upload) or random.
 */
export async function evaluationData(
  version: ModelVersionRecord,
  model: Uint8Array,
  settings: Required<AccuracySettings>,
  dataDir: string,
): Promise<{ calibration: EvalSet; heldOut: EvalSet; activations: FloatTensor; realInputs: boolean }> {
  const dims = version.inputDims;
  const per = dims.slice(1).reduce((a, b) => a * b, 1);
  const supplied = join(dataDir, inputsPath(version.storagePath));
  if (version.datasetId) {
    return { ...labelledSplits(version.datasetId as DatasetName, dims, settings), realInputs: true };
  }
  // No labels: the original model's own predictions on the supplied (or seeded random) inputs are.
  const labelled = async (all: FloatTensor): Promise<EvalSet> => {
    const count = all.dims[0];
    const session = await ModelSession.create(model);
    let labels: Uint8Array;
    try {
      const logits = (await session.run({ [version.inputName]: all }))[session.outputNames[0]];
      labels = argmaxRows(logits.data, count, logits.dims[1]);
    } finally {
      await session.dispose();
    }
    return {
      count,
      labels,
      batch: (start, end) => ({
        data: all.data.subarray(start * per, end * per),
        dims: [end - start, ...dims.slice(1)],
      }),
    };
  };
  if (existsSync(supplied)) {
    const file = readFileSync(supplied);
    const data = new Float32Array(file.buffer, file.byteOffset, file.length / 4);
    const count = data.length / per;
    const half = Math.floor(count / 2);
    const part = (from: number, n: number): FloatTensor => ({
      data: data.slice(from * per, (from + n) * per),
      dims: [n, ...dims.slice(1)],
    });
    return {
      calibration: await labelled(part(0, Math.min(half, settings.calibrationImages))),
      heldOut: await labelled(part(half, count - half)),
      activations: part(0, Math.min(half, settings.activationImages)),
      realInputs: true,
    };
  }
  return {
    calibration: await labelled(randomInputs(dims, settings.agreementInputs, 1)),
    heldOut: await labelled(randomInputs(dims, settings.agreementInputs, 2)),
    activations: randomInputs(dims, settings.activationImages, 3),
    realInputs: false,
  };
}

/** How a version's plans are built: products on onnxruntime, data-aware fits on its activations. */
export interface ApproximationContext {
  readonly engine: OrtMatrixEngine;
  readonly calibration: CalibrationRunner;
  /** Refit what a prune narrows: only on real inputs (a layer fitted to random ones learns noise). */
  readonly refitPruned: boolean;
}

export function approximationContext(
  engine: OrtMatrixEngine,
  inputName: string,
  data: { readonly activations: FloatTensor; readonly realInputs: boolean },
): ApproximationContext {
  return {
    engine,
    calibration: new CalibrationRunner({ [inputName]: data.activations }),
    refitPruned: data.realInputs,
  };
}

/** What a model's options are evaluated against: the original's predictions on the calibration split. */
export interface AccuracyReference {
  readonly model: ModelProto;
  readonly inputName: string;
  readonly calibration: EvalSet;
  readonly original: { readonly accuracy: number; readonly predictions: Uint8Array };
  readonly context: ApproximationContext;
}

/**
 * The accuracy a single (layer, option) leaves on the calibration split, counting every changed
 * prediction as lost: an upper bound on the accuracy drop (flips in both directions cancel in
 * accuracy, not in flips), far less noisy than the difference of two accuracies on a few hundred
 * images, and it keeps the additive model pessimistic.
 */
export async function optionAccuracy(
  reference: AccuracyReference,
  layer: string,
  option: string,
): Promise<number> {
  const { model, original } = reference;
  if (option === 'exact') return original.accuracy;
  const file = encodeModel(await applyPlan(model, { [layer]: option }, reference.context));
  const approximated = await top1(file, reference.calibration, reference.inputName);
  return original.accuracy - flipRate(original.predictions, approximated.predictions);
}

/**
 * Computes accuracy models one version at a time, in the background of the planner. `enqueue` after
 * an upload; `start` resumes the versions left pending by a previous run.
 */
export class AccuracyWorker {
  private readonly queue: string[] = [];
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly settings: Required<AccuracySettings>;

  constructor(
    private readonly db: OpenedDatabase,
    private readonly dataDir: string,
    private readonly log: Logger,
    settings: AccuracySettings = {},
  ) {
    this.settings = withDefaults(settings);
  }

  async start(): Promise<void> {
    for (const v of await listModelVersions(this.db.prisma, { accuracyState: 'pending' }))
      this.enqueue(v.sha256);
  }

  enqueue(sha256: string): void {
    if (this.stopped || this.queue.includes(sha256)) return;
    this.queue.push(sha256);
    this.running ??= this.drain().finally(() => (this.running = undefined));
  }

  /** Resolves when the queue is empty (for tests and orderly shutdown). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Stops after the option being evaluated; what was stored stays. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.queue.length = 0;
    await this.idle();
  }

  private async drain(): Promise<void> {
    for (let sha = this.queue.shift(); sha !== undefined && !this.stopped; sha = this.queue.shift()) {
      const version = await modelVersionBySha256(this.db.prisma, sha);
      if (!version || version.accuracyState !== 'pending') continue;
      const log = this.log.child({ model: version.model, sha256: sha.slice(0, 12) });
      try {
        await this.compute(version, log);
      } catch (error) {
        const detail = toError(error).message;
        log.error({ err: detail }, 'accuracy model failed');
        await setAccuracyState(this.db.prisma, version.id, 'failed', { detail });
      }
    }
  }

  private async compute(version: ModelVersionRecord, log: Logger): Promise<void> {
    const bytes = readFileSync(join(this.dataDir, version.storagePath));
    const model = decodeModel(bytes, version.model);
    const data = await evaluationData(version, bytes, this.settings, this.dataDir);
    const { calibration, heldOut } = data;
    const started = performance.now();
    const original = await top1(bytes, calibration, version.inputName);
    const baseline = original.accuracy;
    const todo = version.options.filter((o) => o.accuracy === undefined && o.unavailable === undefined);
    log.info({ options: todo.length, images: calibration.count }, 'accuracy model started');
    const engine = new OrtMatrixEngine();
    const context = approximationContext(engine, version.inputName, data);
    const reference = { model, inputName: version.inputName, calibration, original, context };
    try {
      let done = 0;
      for (const o of todo) {
        if (this.stopped) return;
        const found = await optionAccuracy(reference, o.layer, o.option).then(
          (accuracy) => ({ accuracy }),
          (error: unknown) => {
            // An option this version's data cannot build (a data-aware rank above its calibration
            // samples, on random inputs 256): never offered, the rest of the ladder stands.
            if (!(error instanceof OptionNotOfferedError)) throw error;
            log.warn({ layer: o.layer, option: o.option, reason: error.message }, 'option unavailable');
            return { unavailable: error.message };
          },
        );
        await setOptionEvaluated(this.db.prisma, version.id, o.layer, o.option, found);
        if (++done % 10 === 0) log.info({ done, of: todo.length }, 'accuracy model progress');
      }
    } finally {
      await engine.dispose();
    }
    const heldOutAccuracy = (await top1(bytes, heldOut, version.inputName)).accuracy;
    await setAccuracyState(this.db.prisma, version.id, 'ready', {
      calibrationAccuracy: baseline,
      heldOutAccuracy,
    });
    log.info(
      {
        seconds: ((performance.now() - started) / 1000).toFixed(1),
        calibration: baseline,
        heldOut: heldOutAccuracy,
      },
      'accuracy model ready',
    );
  }
}
