import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { BlinkNetError, InvalidArgumentError } from '@blinknet/core';
import { optionLadder } from '@blinknet/approx';
import {
  activationPeakBytes,
  decodeModel,
  type ModelProto,
  UnsupportedOpError,
  weightBytes,
  writeFileAtomic,
} from '@blinknet/onnx';
import { ModelSession } from '@blinknet/runtime';
import { type OpenedDatabase, saveModelVersion } from '@blinknet/store';
import { type DatasetName, type InputLayout } from '@blinknet/zoo';

/** The data sets the accuracy model can use, with their image side. */
export const DATASETS: Readonly<Record<DatasetName, { readonly side: number }>> = {
  mnist: { side: 28 },
  'fashion-mnist': { side: 28 },
};

export interface UploadHeader {
  readonly name: string;
  readonly datasetId: string;
  readonly sha256: string;
  readonly bytes: number;
  /** Supplied float32 inputs streamed after the file (0: none). */
  readonly inputsBytes: number;
}

/** Fewest supplied inputs: half calibrate, half are held out. */
export const MIN_SUPPLIED_INPUTS = 4;

/** Where a version's supplied inputs are kept, beside its file (relative to the data dir). */
export function inputsPath(storagePath: string): string {
  return storagePath.replace(/\.onnx$/, '.inputs.f32');
}

/** The model's first graph input that is not a constant: its name and dims at batch 1. */
export function modelInput(model: ModelProto): { readonly name: string; readonly dims: number[] } {
  const constants = new Set(model.graph?.initializer.map((t) => t.name));
  const input = model.graph?.input.find((i) => !constants.has(i.name));
  const dims = input?.type?.tensorType?.shape?.dim.map((d) =>
    d.dimValue !== undefined && d.dimValue > 0n ? Number(d.dimValue) : 1,
  );
  if (!input || !dims) throw new InvalidArgumentError('model', 'has no graph input with a tensor shape');
  return { name: input.name, dims };
}

/** How a [1, C, S, S] input takes a data set's images (replicated to C channels, zero-padded). */
export function datasetLayout(dataset: DatasetName, dims: readonly number[]): InputLayout {
  const side = DATASETS[dataset].side;
  const [, channels, height, width] = dims;
  const pad = (height - side) / 2;
  if (dims.length !== 4 || height !== width || !Number.isInteger(pad) || pad < 0) {
    throw new InvalidArgumentError(
      'dataset_id',
      `the model's input [${dims.join(', ')}] does not take ${dataset} images (${side} x ${side}, NCHW)`,
    );
  }
  return { channels, pad };
}

/** Supplied inputs: whole float32 samples of the input's shape, enough of them, and no data set too. */
function checkInputs(bytes: number, dims: readonly number[], dataset: string | undefined): void {
  if (dataset) throw new InvalidArgumentError('inputs_bytes', 'supply inputs or name a data set, not both');
  const sample = 4 * dims.slice(1).reduce((a, b) => a * b, 1);
  if (bytes % sample !== 0 || bytes / sample < MIN_SUPPLIED_INPUTS) {
    throw new InvalidArgumentError(
      'inputs_bytes',
      `${bytes} bytes are not at least ${MIN_SUPPLIED_INPUTS} whole float32 samples of [${dims.slice(1).join(', ')}] (${sample} bytes each)`,
    );
  }
}

/**
 * Checks an uploaded file completely before anything is stored — size and sha256 as announced, a
 * decodable ONNX model that onnxruntime loads, a known data set that fits its input or whole supplied
 * input samples — then keeps the file (and the inputs) under the data dir and stores the version with
 * its ladder (idempotent by sha256).
 * @throws InvalidArgumentError naming what is wrong; nothing is written then
 */
export async function storeUpload(
  db: OpenedDatabase,
  dataDir: string,
  header: UploadHeader,
  received: Buffer,
): Promise<{ readonly created: boolean; readonly sha256: string }> {
  if (!header.name.trim()) throw new InvalidArgumentError('name', 'is empty');
  const announced = header.bytes + header.inputsBytes;
  if (received.length !== announced) {
    throw new InvalidArgumentError(
      'upload',
      `truncated or oversized: received ${received.length} bytes, the header announced ${announced}`,
    );
  }
  const bytes = received.subarray(0, header.bytes);
  const inputs = received.subarray(header.bytes);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (sha256 !== header.sha256.toLowerCase()) {
    throw new InvalidArgumentError('sha256', `the bytes hash to ${sha256}, the header says ${header.sha256}`);
  }
  const dataset = header.datasetId || undefined;
  if (dataset !== undefined && !Object.hasOwn(DATASETS, dataset)) {
    throw new InvalidArgumentError(
      'dataset_id',
      `unknown data set '${dataset}' (${Object.keys(DATASETS).join(', ')})`,
    );
  }
  let model: ModelProto;
  let ladder: ReturnType<typeof optionLadder>;
  let input: ReturnType<typeof modelInput>;
  let peak: number;
  try {
    model = decodeModel(bytes, header.name);
    input = modelInput(model);
    if (dataset) datasetLayout(dataset as DatasetName, input.dims);
    if (inputs.length > 0) checkInputs(inputs.length, input.dims, dataset);
    ladder = optionLadder(model);
    peak = activationPeakBytes(model);
    const session = await ModelSession.create(bytes);
    await session.dispose();
  } catch (error) {
    if (error instanceof InvalidArgumentError) throw error;
    if (error instanceof UnsupportedOpError) {
      throw new InvalidArgumentError(
        'model',
        `${error.message}; export the model with the shapes of its intermediate tensors (value_info, e.g. ` +
          `onnx.shape_inference.infer_shapes) and such ops are kept exact`,
        { cause: error },
      );
    }
    if (error instanceof BlinkNetError)
      throw new InvalidArgumentError('model', error.message, { cause: error });
    throw error;
  }
  const options = [...ladder.values()].flat();
  const exactBytes = options.filter((o) => o.option === 'exact').reduce((n, o) => n + o.weightBytes, 0);
  const storagePath = join('models', `${sha256}.onnx`);
  mkdirSync(join(dataDir, 'models'), { recursive: true });
  writeFileAtomic(join(dataDir, storagePath), bytes, 0o600);
  if (inputs.length > 0) writeFileAtomic(join(dataDir, inputsPath(storagePath)), inputs, 0o600);
  const saved = await saveModelVersion(db.prisma, {
    name: header.name.trim(),
    sha256,
    bytes: bytes.length,
    storagePath,
    datasetId: dataset,
    inputName: input.name,
    inputDims: input.dims,
    activationPeakBytes: peak,
    otherWeightBytes: Math.max(0, weightBytes(model) - exactBytes),
    options: options.map((o) => ({
      layer: o.layer,
      option: o.option,
      weightBytes: o.weightBytes,
      flops: o.flops,
      shrinks: o.shrinksInputsOf,
    })),
  });
  return { created: saved.created, sha256 };
}
