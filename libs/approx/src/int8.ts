import { attribute, DataType, type LayerInfo, type NodeProto, SeededRandom } from '@blinknet/onnx';
import { OptionNotOfferedError } from './errors';
import { type GraphEditor } from './graph-editor';
import { outputChannelAxis } from './layer-transforms';

/** Per-output-channel symmetric int8 quantisation: s_c = max|W_c| / 127, zero point 0. */
export function quantizePerChannel(
  weight: Float32Array,
  dims: readonly number[],
  axis: number,
): { values: Int8Array; scales: Float32Array } {
  const channels = dims[axis];
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const scales = new Float32Array(channels);
  for (let i = 0; i < weight.length; i++) {
    const c = Math.floor(i / inner) % channels;
    scales[c] = Math.max(scales[c], Math.abs(weight[i]));
  }
  for (let c = 0; c < channels; c++) scales[c] = scales[c] > 0 ? scales[c] / 127 : 1;
  const values = new Int8Array(weight.length);
  for (let i = 0; i < weight.length; i++) {
    const c = Math.floor(i / inner) % channels;
    values[i] = Math.max(-127, Math.min(127, Math.round(weight[i] / scales[c])));
  }
  return { values, scales };
}

// Bound once: global lookups in hot loops are slow inside sandboxed contexts (vm, test runners).
const { round, min, max } = Math;

/** The uint8 quantisation of an activation: x ≈ scale * (q - zeroPoint), q in [0, 255]. */
export interface ActivationQuantization {
  readonly scale: number;
  readonly zeroPoint: number;
}

/** At most this many calibration values enter the range search. */
const RANGE_SAMPLES = 1 << 16;
/** Candidate clipping fractions of the observed range tried by the search. */
const CLIP_STEPS = 100;

/**
 * The static uint8 quantisation of a layer input, fitted on calibration values: the range
 * [alpha * min, alpha * max] (always holding 0, so zero padding stays exact) whose rounding plus
 * clipping error is least. Post-ReLU activations are heavy-tailed; clipping their rare outliers buys
 * a finer step for the bulk, which the per-batch min/max of DynamicQuantizeLinear cannot.
 */
export function calibrateActivation(values: Float32Array): ActivationQuantization {
  // A random sample: a fixed stride would alias with the tensor's layout (e.g. one image column).
  const random = new SeededRandom(1);
  const pick = () => values[Math.floor(random.next() * values.length)];
  const sample = values.length <= RANGE_SAMPLES ? values : Float32Array.from({ length: RANGE_SAMPLES }, pick);
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < values.length; i++) {
    if (values[i] < lo) lo = values[i];
    else if (values[i] > hi) hi = values[i];
  }
  if (hi - lo <= 0) return { scale: 1, zeroPoint: 0 };
  let best = { error: Infinity, scale: 1, zeroPoint: 0 };
  for (let step = CLIP_STEPS; step >= 1; step--) {
    const alpha = step / CLIP_STEPS;
    const scale = (alpha * (hi - lo)) / 255;
    const zeroPoint = round((-alpha * lo) / scale) + 0; // + 0: no -0
    let error = 0;
    for (let i = 0; i < sample.length; i++) {
      const v = sample[i];
      const q = min(255, max(0, round(v / scale) + zeroPoint));
      const d = v - (q - zeroPoint) * scale;
      error += d * d;
    }
    if (error < best.error) best = { error, scale, zeroPoint };
  }
  return { scale: best.scale, zeroPoint: best.zeroPoint };
}

/** The layer's weight quantised per output channel, and the name prefix of the nodes replacing it. */
function quantizedWeight(layer: LayerInfo, node: NodeProto, weight: Float32Array) {
  const axis = outputChannelAxis(layer, node);
  return {
    axis,
    ...quantizePerChannel(weight, layer.weightShape, axis),
    base: `${node.name || layer.name}/int8`,
  };
}

/**
 * int8 storage form: an int8 initializer with per-channel scales, dequantised by DequantizeLinear in
 * front of the unchanged float op. Shrinks the artifact about 4x; BlinkNet's sessions fold the
 * DequantizeLinear into a float constant at load (libs/runtime turns onnxruntime's QDQ handling off),
 * so memory and latency stay those of `exact`.
 */
export function applyInt8Storage(
  editor: GraphEditor,
  layer: LayerInfo,
  node: NodeProto,
  weight: Float32Array,
): void {
  const { axis, values, scales, base } = quantizedWeight(layer, node, weight);
  const q = editor.constant(`${base}.w_q`, layer.weightShape, values, DataType.INT8);
  const scale = editor.constant(`${base}.w_scale`, [scales.length], scales);
  const zeroPoint = editor.constant(
    `${base}.w_zp`,
    [scales.length],
    new Int8Array(scales.length),
    DataType.INT8,
  );
  const dequantize = editor.makeNode(
    'DequantizeLinear',
    `${base}_dequantize`,
    [q, scale, zeroPoint],
    [attribute.int('axis', axis)],
  );
  const inputs = [...node.input];
  inputs[1] = dequantize.output[0];
  editor.replace(node, [dequantize, { ...node, input: inputs }]);
}

/**
 * int8 compute form: the activation is quantised to uint8 with a static scale fitted on calibration
 * data (`calibrateActivation`), the product runs on integer kernels (MatMulInteger / ConvInteger)
 * with the weight kept int8 in memory, and the int32 result is rescaled by one per-channel constant,
 * x_scale * w_scale[c], before the bias is added. ConvInteger takes uint8 weights, so conv weights
 * are stored offset by 128 (zero point 128).
 */
export function applyInt8Compute(
  editor: GraphEditor,
  layer: LayerInfo,
  node: NodeProto,
  weight: Float32Array,
  input: ActivationQuantization,
): void {
  const { axis, values, scales, base } = quantizedWeight(layer, node, weight);
  const [x, , bias] = node.input;
  const xScale = editor.constant(`${base}.x_scale`, [], new Float32Array([input.scale]));
  const xZero = editor.constant(`${base}.x_zp`, [], new Uint8Array([input.zeroPoint]), DataType.UINT8);
  const quantize = editor.makeNode('QuantizeLinear', `${base}_quantize_x`, [x, xScale, xZero]);
  const xq = quantize.output[0];
  let product: NodeProto;
  let scaleDims: number[];
  if (layer.opType === 'Conv') {
    const shifted = Uint8Array.from(values, (v) => v + 128);
    const wq = editor.constant(`${base}.w_q`, layer.weightShape, shifted, DataType.UINT8);
    const wZero = editor.constant(`${base}.w_zp`, [], new Uint8Array([128]), DataType.UINT8);
    const attrs = node.attribute.filter((a) =>
      ['kernel_shape', 'strides', 'pads', 'dilations', 'group', 'auto_pad'].includes(a.name),
    );
    product = editor.makeNode('ConvInteger', `${base}_conv`, [xq, wq, xZero, wZero], attrs);
    scaleDims = [1, scales.length, ...layer.outputShape.slice(2).map(() => 1)];
  } else {
    // MatMulInteger wants B as [K, N]: Gemm with transB = 1 stores [N, K].
    const [rows, cols] = layer.weightShape;
    const kn = axis === 0 ? transposeInt8(values, rows, cols) : values;
    const wq = editor.constant(`${base}.w_q`, axis === 0 ? [cols, rows] : [rows, cols], kn, DataType.INT8);
    product = editor.makeNode('MatMulInteger', `${base}_matmul`, [xq, wq, xZero]);
    scaleDims = [scales.length];
  }
  const cast = editor.makeNode(
    'Cast',
    `${base}_cast`,
    [product.output[0]],
    [attribute.int('to', DataType.FLOAT)],
  );
  const rescale = editor.constant(
    `${base}.scale`,
    scaleDims,
    scales.map((s) => s * input.scale),
  );
  const scaled = editor.makeNode('Mul', `${base}_rescale`, [cast.output[0], rescale]);
  const nodes: NodeProto[] = [quantize, product, cast, scaled];
  if (bias) {
    const biasTensor = editor.tensor(bias);
    if (layer.opType === 'Conv' && !biasTensor) {
      throw new OptionNotOfferedError(layer.name, 'int8:compute', 'the conv bias is not constant');
    }
    const biasInput =
      layer.opType === 'Conv' && biasTensor
        ? editor.constant(`${base}.bias`, scaleDims, biasTensor.data as Float32Array)
        : bias;
    nodes.push({
      ...editor.makeNode('Add', `${base}_bias`, [scaled.output[0], biasInput]),
      output: node.output,
    });
  } else {
    nodes[nodes.length - 1] = { ...scaled, output: node.output };
  }
  editor.replace(node, nodes);
}

function transposeInt8(values: Int8Array, rows: number, cols: number): Int8Array {
  const out = new Int8Array(values.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = values[i * cols + j];
  return out;
}
