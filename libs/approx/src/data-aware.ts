import { pseudoInverse, Matrix as DenseMatrix } from 'ml-matrix';
import { type Matrix, matrix } from '@blinknet/core';
import {
  intAttribute,
  intsAttribute,
  type LayerInfo,
  type ModelProto,
  type NodeProto,
  SeededRandom,
  stringAttribute,
  type TensorData,
} from '@blinknet/onnx';
import { OptionNotOfferedError } from './errors';
import { type GraphEditor } from './graph-editor';
import {
  replaceWithFactors,
  rowsAreOutputs,
  type TransformContext,
  unsupportedStructure,
} from './layer-transforms';
import { randomizedSvd, solvePositiveDefinite, transpose } from './linalg';

/** Values of intermediate tensors of a model on a calibration batch (libs/runtime runs it). */
export interface ActivationSource {
  activations(
    model: ModelProto,
    tensors: readonly string[],
  ): Promise<Map<string, { readonly data: Float32Array; readonly dims: readonly number[] }>>;
}

/** At most this many input rows (conv: patches at sampled output positions) enter the fit. */
const MAX_SAMPLES = 4096;

/** The weight as W (outputs x inputs), whatever the stored orientation. */
function outputMajor(layer: LayerInfo, node: NodeProto, data: Float32Array): Matrix {
  const [first, ...rest] = layer.weightShape;
  const stored = matrix(
    first,
    rest.reduce((a, b) => a * b, 1),
    data,
  );
  return rowsAreOutputs(layer, node) ? stored : transpose(stored);
}

interface Activation {
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

/**
 * Rows of the layer's input as its weight sees them, at `positions`: for Gemm/MatMul the input rows,
 * for a conv the im2col patch (C_in x kh x kw, zero outside the padded input) of each sampled
 * output position.
 */
function inputRows(layer: LayerInfo, node: NodeProto, x: Activation, positions: readonly number[]): Matrix {
  if (layer.opType !== 'Conv') {
    const n = x.dims[x.dims.length - 1];
    const out = matrix(positions.length, n);
    positions.forEach((p, i) => out.data.set(x.data.subarray(p * n, (p + 1) * n), i * n));
    return out;
  }
  const [, c, h, w] = x.dims;
  const [kh, kw] = layer.weightShape.slice(2);
  const [oh, ow] = layer.outputShape.slice(2);
  const [sh, sw] = intsAttribute(node, 'strides', [1, 1]);
  const [dh, dw] = intsAttribute(node, 'dilations', [1, 1]);
  const [pt, pl] = intsAttribute(node, 'pads', [0, 0, 0, 0]);
  const width = c * kh * kw;
  const out = matrix(positions.length, width);
  positions.forEach((p, i) => {
    const n = Math.floor(p / (oh * ow));
    const oy = Math.floor(p / ow) % oh;
    const ox = p % ow;
    for (let ch = 0; ch < c; ch++) {
      for (let ky = 0; ky < kh; ky++) {
        const iy = oy * sh - pt + ky * dh;
        if (iy < 0 || iy >= h) continue;
        for (let kx = 0; kx < kw; kx++) {
          const ix = ox * sw - pl + kx * dw;
          if (ix < 0 || ix >= w) continue;
          out.data[i * width + (ch * kh + ky) * kw + kx] = x.data[((n * c + ch) * h + iy) * w + ix];
        }
      }
    }
  });
  return out;
}

/** Sampled input rows / output positions, the same for the original and the edited model. */
function samplePositions(layer: LayerInfo, batch: number, seed: number): number[] {
  const total = layer.opType === 'Conv' ? batch * layer.outputShape[2] * layer.outputShape[3] : batch;
  const all = Array.from({ length: total }, (_, i) => i);
  if (total <= MAX_SAMPLES) return all;
  const random = new SeededRandom(seed);
  for (let i = total - 1; i > 0; i--) {
    const j = Math.floor(random.next() * (i + 1));
    [all[i], all[j]] = [all[j], all[i]];
  }
  return all.slice(0, MAX_SAMPLES).sort((a, b) => a - b);
}

function columnMeans(m: Matrix): Float64Array {
  const means = new Float64Array(m.cols);
  for (let i = 0; i < m.rows; i++) for (let j = 0; j < m.cols; j++) means[j] += m.data[i * m.cols + j];
  return means.map((v) => v / m.rows);
}

function centred(m: Matrix, means: Float64Array): Matrix {
  const out = matrix(m.rows, m.cols, m.data.slice());
  for (let i = 0; i < m.rows; i++) for (let j = 0; j < m.cols; j++) out.data[i * m.cols + j] -= means[j];
  return out;
}

export interface DataAwareInputs {
  /** The layer's input in the original model (target responses are W_orig x_orig). */
  readonly originalInput: Activation;
  readonly originalWeight: Float32Array;
  readonly originalLayer: LayerInfo;
  /** The layer's input in the model as edited so far (earlier approximations included). */
  readonly currentInput: Activation;
}

/**
 * The sampled calibration rows of a fit: the layer's input as the edited model gives it (x̂) and the
 * ORIGINAL layer's responses y = W x on the original input, row by row.
 */
async function fitRows(
  layer: LayerInfo,
  node: NodeProto,
  inputs: DataAwareInputs,
  engine: TransformContext['engine'],
): Promise<{ readonly current: Matrix; readonly responses: Matrix }> {
  const x = inputs.currentInput;
  const batch = layer.opType === 'Conv' ? x.dims[0] : x.data.length / x.dims[x.dims.length - 1];
  const positions = samplePositions(layer, batch, 1);
  const original = outputMajor(inputs.originalLayer, node, inputs.originalWeight);
  const xo = inputRows(inputs.originalLayer, node, inputs.originalInput, positions);
  const responses = await engine.multiply(xo, original, { transposeB: true }); // S x m
  return { current: inputRows(layer, node, x, positions), responses };
}

/**
 * The bias that absorbs the means when A z + c replaces W x + b on centred data: c = b + ȳ - A z̄.
 * A Gemm's C may hold one value for every output.
 */
function absorbedBias(old: TensorData | undefined, yMean: Float64Array, a: Matrix, zMean: Float64Array) {
  const bias = new Float32Array(a.rows);
  for (let i = 0; i < a.rows; i++) {
    let az = 0;
    for (let j = 0; j < a.cols; j++) az += a.data[i * a.cols + j] * zMean[j];
    const b = old === undefined ? 0 : Number(old.length === 1 ? old[0] : old[i]);
    bias[i] = b + yMean[i] - az;
  }
  return bias;
}

/** The constant bias of a layer, undefined without one; null when its bias is not a constant. */
function constantBias(editor: GraphEditor, node: NodeProto): TensorData | undefined | null {
  return node.input[2] ? (editor.tensor(node.input[2])?.data ?? null) : undefined;
}

/**
 * Data-aware low rank (Zhang, Zou, He & Sun 2015, "Accelerating Very Deep Convolutional Networks
 * for Classification and Detection", linear case, with its asymmetric reconstruction): the
 * responses y = W x of the ORIGINAL layer on calibration data define the subspace P (top-r principal
 * directions of the centred responses); the layer becomes B = P^T W, then A refitted by least
 * squares so that A (B x̂) + c best matches y where x̂ is the input as the approximated network
 * produces it. The bias absorbs the means: c = b + ȳ - A z̄.
 */
export async function applyLowRankData(
  editor: GraphEditor,
  layer: LayerInfo,
  node: NodeProto,
  weight: Float32Array,
  rank: number,
  inputs: DataAwareInputs,
  context: TransformContext,
): Promise<void> {
  const label = `lowrank-data:r=${rank}`;
  if (layer.opType === 'Conv' && stringAttribute(node, 'auto_pad', 'NOTSET') !== 'NOTSET') {
    throw new OptionNotOfferedError(layer.name, label, 'auto_pad is not supported by the data-aware fit');
  }
  if (layer.opType === 'Conv' && intAttribute(node, 'group', 1) !== 1) {
    throw new OptionNotOfferedError(layer.name, label, 'grouped convolution');
  }
  const oldBias = constantBias(editor, node);
  if (oldBias === null) throw new OptionNotOfferedError(layer.name, label, 'the bias is not a constant');
  const { engine } = context;
  const { current: xc, responses } = await fitRows(layer, node, inputs, engine);
  if (rank > xc.rows) {
    throw new OptionNotOfferedError(layer.name, label, `rank exceeds the ${xc.rows} calibration samples`);
  }
  const current = outputMajor(layer, node, weight);
  const yMean = columnMeans(responses);
  const y = centred(responses, yMean);
  const principal = await randomizedSvd(engine, y, rank, context.svd); // vt: r x m = P^T
  const b = await engine.multiply(principal.vt, current); // r x n
  const z = await engine.multiply(xc, b, { transposeB: true }); // S x r
  const zMean = columnMeans(z);
  const zc = centred(z, zMean);
  const gram = await engine.multiply(zc, zc, { transposeA: true }); // r x r
  const cross = await engine.multiply(zc, y, { transposeA: true }); // r x m
  const inverse = pseudoInverse(
    new DenseMatrix(
      Array.from({ length: rank }, (_, i) => Array.from(gram.data.subarray(i * rank, (i + 1) * rank))),
    ),
  );
  const gInv = matrix(rank, rank, Float32Array.from(inverse.to1DArray()));
  const a = transpose(await engine.multiply(gInv, cross)); // m x r

  replaceWithFactors(editor, layer, node, a, b, absorbedBias(oldBias, yMean, a, zMean));
}

/**
 * Widest layer input (C_in·k·k, or features) the refit solves for: its n x n system is solved in
 * JavaScript, n³/6 multiply-adds (0.3 s at 1152, a 128-channel 3x3 conv: the widest of the trained
 * reference models; 8x that at 2304).
 */
export const MAX_REFIT_WIDTH = 1152;

/** Why refitLayer leaves a layer as it is, or undefined when it can refit it (checked before any data is run). */
export function refitUnsupported(editor: GraphEditor, layer: LayerInfo, node: NodeProto): string | undefined {
  const [first, ...rest] = layer.weightShape;
  const width = rowsAreOutputs(layer, node) ? rest.reduce((a, b) => a * b, 1) : first;
  if (width > MAX_REFIT_WIDTH) return `${width} inputs, more than ${MAX_REFIT_WIDTH}`;
  if (layer.opType === 'MatMul') return 'a MatMul has no bias input to absorb the means';
  if (layer.opType === 'Conv' && intAttribute(node, 'group', 1) !== 1) return 'grouped convolution';
  if (layer.opType === 'Conv' && stringAttribute(node, 'auto_pad', 'NOTSET') !== 'NOTSET') return 'auto_pad';
  if (constantBias(editor, node) === null) return 'the bias is not a constant';
  return unsupportedStructure(layer, node);
}

/**
 * Least-squares reconstruction after pruning (He, Zhang & Sun 2017, "Channel Pruning for
 * Accelerating Very Deep Neural Networks", its second step; Luo, Wu & Lin 2017, ThiNet): a layer
 * whose input channels were pruned upstream gets the weight W' and bias c that best reproduce the
 * ORIGINAL layer's responses W x + b from the input x̂ the pruned network now produces,
 * min ||X̂ W'^T + c - Y||² + λ ||W' - W||², where W is the current (sliced) weight: the ridge term
 * keeps the directions the calibration batch leaves unexcited at their trained values.
 * A layer without a bias gets one. For a layer refitUnsupported accepts (the caller checks it before
 * running any data); returns false, changing nothing, when the calibration batch leaves every input
 * constant or the system is not positive definite.
 */
export async function refitLayer(
  editor: GraphEditor,
  layer: LayerInfo,
  node: NodeProto,
  weight: Float32Array,
  inputs: DataAwareInputs,
  context: TransformContext,
): Promise<boolean> {
  const { engine } = context;
  const current = outputMajor(layer, node, weight); // m x n
  const { rows: m, cols: n } = current;
  const { current: xc, responses } = await fitRows(layer, node, inputs, engine);
  const yMean = columnMeans(responses);
  const xMean = columnMeans(xc);
  const x = centred(xc, xMean);
  const gram = await engine.multiply(x, x, { transposeA: true }); // n x n
  const cross = await engine.multiply(x, centred(responses, yMean), { transposeA: true }); // n x m

  let trace = 0;
  for (let i = 0; i < n; i++) trace += gram.data[i * n + i];
  if (!(trace > 0)) return false;
  const lambda = RIDGE * (trace / n);
  const g = new Float64Array(n * n);
  const rhs = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) g[i * n + j] = (gram.data[i * n + j] + gram.data[j * n + i]) / 2;
    g[i * n + i] += lambda;
    for (let j = 0; j < m; j++) rhs[i * m + j] = cross.data[i * m + j] + lambda * current.data[j * n + i];
  }
  const solved = solvePositiveDefinite(g, n, rhs, m); // n x m = W'^T
  if (!solved) return false;

  const refitted = matrix(m, n);
  for (let j = 0; j < m; j++) for (let i = 0; i < n; i++) refitted.data[j * n + i] = solved[i * m + j];
  const bias = absorbedBias(constantBias(editor, node) ?? undefined, yMean, refitted, xMean);
  const base = `${node.name || layer.name}/refit`;
  const stored = rowsAreOutputs(layer, node) ? refitted : transpose(refitted);
  editor.update(node, {
    input: [
      node.input[0],
      editor.constant(`${base}.weight`, layer.weightShape, stored.data),
      editor.constant(`${base}.bias`, [m], bias),
    ],
  });
  return true;
}

/** Relative ridge: λ = RIDGE · mean diagonal of X̂ᵀX̂ (regularises dead or constant inputs). */
const RIDGE = 1e-2;
