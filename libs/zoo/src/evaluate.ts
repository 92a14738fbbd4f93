import { ModelSession, type SessionOptions } from '@blinknet/runtime';
import { type ImageDataset, type InputLayout, toInputBatch } from './datasets';

export interface EvaluateOptions {
  readonly layout: InputLayout;
  /** @default the model's first input */
  readonly inputName?: string;
  /** @default the model's first output */
  readonly outputName?: string;
  /** Images per inference call. @default 256 */
  readonly batchSize?: number;
  /** Evaluate only the first `limit` images. @default all */
  readonly limit?: number;
  readonly session?: SessionOptions;
}

export interface AccuracyResult {
  readonly correct: number;
  readonly total: number;
  readonly accuracy: number;
  /** Top-1 class per image, for agreement between models. */
  readonly predictions: Uint8Array;
  readonly wallMs: number;
}

/** Index of the largest value in each row of a [rows, classes] matrix. */
export function argmaxRows(values: Float32Array, rows: number, classes: number): Uint8Array {
  const out = new Uint8Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (values[r * classes + c] > values[r * classes + best]) best = c;
    out[r] = best;
  }
  return out;
}

/** Top-1 accuracy of an ONNX model (file path or bytes) on a labelled data set, batched through onnxruntime. */
export async function evaluateAccuracy(
  model: string | Uint8Array,
  dataset: ImageDataset,
  options: EvaluateOptions,
): Promise<AccuracyResult> {
  const started = performance.now();
  const session = await ModelSession.create(model, options.session);
  try {
    const inputName = options.inputName ?? session.inputNames[0];
    const outputName = options.outputName ?? session.outputNames[0];
    const total = Math.min(options.limit ?? dataset.count, dataset.count);
    const batchSize = options.batchSize ?? 256;
    const side = dataset.height + 2 * options.layout.pad;
    const predictions = new Uint8Array(total);
    let correct = 0;
    for (let start = 0; start < total; start += batchSize) {
      const end = Math.min(start + batchSize, total);
      const data = toInputBatch(dataset, start, end, options.layout);
      const outputs = await session.run({
        [inputName]: { data, dims: [end - start, options.layout.channels, side, side] },
      });
      const logits = outputs[outputName];
      const classes = logits.dims[1];
      const batchPredictions = argmaxRows(logits.data, end - start, classes);
      predictions.set(batchPredictions, start);
      batchPredictions.forEach((p, k) => {
        if (p === dataset.labels[start + k]) correct++;
      });
    }
    return { correct, total, accuracy: correct / total, predictions, wallMs: performance.now() - started };
  } finally {
    await session.dispose();
  }
}
