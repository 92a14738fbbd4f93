import { type ModelProto, type NodeProto, type ValueInfoProto } from '@blinknet/proto/onnx';
import { findAttribute, floatAttribute, intAttribute, intsAttribute, stringAttribute } from './attributes';
import { DataType } from './dtype';
import { ShapeInferenceError, UnsupportedOpError } from './errors';
import { GraphView, nodeLabel } from './graph';
import { type Tensor, elementCount, tensorFromProto } from './tensor';

/** The static type of a tensor: element type (an ONNX DataType code) and concrete dims. */
export interface ValueInfo {
  readonly elemType: number;
  readonly dims: readonly number[];
}

export interface ShapeInferenceOptions {
  /** Value for symbolic (named or unknown) dimensions of graph inputs, e.g. the batch. @default 1 */
  readonly batchSize?: number;
  /** Values for named symbolic dimensions, overriding `batchSize` for those names. */
  readonly dimValues?: Readonly<Record<string, number>>;
}

/** Everything a per-op rule may look at. */
interface OpContext {
  readonly node: NodeProto;
  readonly inputs: readonly (ValueInfo | undefined)[];
  /** The value of input i when it is constant (needed by Reshape's shape input, etc.). */
  constant(i: number): Tensor | undefined;
  fail(message: string): never;
}

type OpRule = (ctx: OpContext) => ValueInfo[];

function input(ctx: OpContext, i: number): ValueInfo {
  const v = ctx.inputs[i];
  if (!v) ctx.fail(`input ${i} ('${ctx.node.input[i] ?? ''}') has no known shape`);
  return v;
}

const same: OpRule = (ctx: OpContext) => [input(ctx, 0)];

function normaliseAxis(ctx: OpContext, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) ctx.fail(`axis ${axis} is out of range for rank ${rank}`);
  return a;
}

/** numpy-style multidirectional broadcasting (ONNX Add, Mul, Sub, Div, ...). */
function broadcast(ctx: OpContext, shapes: readonly (readonly number[])[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    let dim = 1;
    for (const s of shapes) {
      const d = s[s.length - rank + i] ?? 1;
      if (d === 1) continue;
      if (dim !== 1 && d !== dim)
        ctx.fail(`shapes [${shapes.map((x) => `[${x}]`).join(', ')}] do not broadcast`);
      dim = d;
    }
    out.push(dim);
  }
  return out;
}

const elementwise: OpRule = (ctx: OpContext) => {
  const shapes = ctx.node.input.map((_, i) => input(ctx, i).dims);
  return [{ elemType: input(ctx, 0).elemType, dims: broadcast(ctx, shapes) }];
};

interface Window {
  kernel: number[];
  strides: number[];
  dilations: number[];
  pads: number[];
}

/** Spatial output sizes of a conv or pool window (ONNX Conv / MaxPool / AveragePool). */
function windowOutput(ctx: OpContext, spatial: readonly number[], w: Window, ceilMode: boolean): number[] {
  const autoPad = stringAttribute(ctx.node, 'auto_pad', 'NOTSET');
  const n = spatial.length;
  return spatial.map((size, i) => {
    const k = w.kernel[i];
    const s = w.strides[i] ?? 1;
    const d = w.dilations[i] ?? 1;
    const effective = d * (k - 1) + 1;
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') return Math.ceil(size / s);
    const padBegin = autoPad === 'VALID' ? 0 : (w.pads[i] ?? 0);
    const padEnd = autoPad === 'VALID' ? 0 : (w.pads[i + n] ?? 0);
    const span = size + padBegin + padEnd - effective;
    if (span < 0) ctx.fail(`window ${k} (dilation ${d}) is larger than the padded input ${size}`);
    let out = (ceilMode ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
    // As onnxruntime and PyTorch: with ceil_mode the last window must start inside the input or left padding.
    if (ceilMode && (out - 1) * s >= size + padBegin) out--;
    return out;
  });
}

function windowOf(ctx: OpContext, kernel: number[]): Window {
  const n = kernel.length;
  return {
    kernel,
    strides: intsAttribute(ctx.node, 'strides', new Array(n).fill(1)),
    dilations: intsAttribute(ctx.node, 'dilations', new Array(n).fill(1)),
    pads: intsAttribute(ctx.node, 'pads', new Array(2 * n).fill(0)),
  };
}

const conv: OpRule = (ctx: OpContext) => {
  const x = input(ctx, 0);
  const w = input(ctx, 1);
  if (x.dims.length < 3) ctx.fail(`input must be [N, C, ...spatial], got [${x.dims}]`);
  if (w.dims.length !== x.dims.length)
    ctx.fail(`weight rank ${w.dims.length} != input rank ${x.dims.length}`);
  const group = intAttribute(ctx.node, 'group', 1);
  const [n, c] = x.dims;
  const [m, cPerGroup] = w.dims;
  if (c !== cPerGroup * group) {
    ctx.fail(
      `input has ${c} channels but weight [${w.dims}] with group ${group} expects ${cPerGroup * group}`,
    );
  }
  if (m % group !== 0) ctx.fail(`output channels ${m} are not divisible by group ${group}`);
  const kernel = intsAttribute(ctx.node, 'kernel_shape', w.dims.slice(2) as number[]);
  const bias = ctx.node.opType === 'Conv' ? ctx.inputs[2] : undefined; // ConvInteger: input 2 is x_zero_point
  if (bias && (bias.dims.length !== 1 || bias.dims[0] !== m)) ctx.fail(`bias [${bias.dims}] must be [${m}]`);
  const spatial = windowOutput(ctx, x.dims.slice(2), windowOf(ctx, kernel), false);
  const elemType = ctx.node.opType === 'ConvInteger' ? DataType.INT32 : x.elemType;
  return [{ elemType, dims: [n, m, ...spatial] }];
};

const pool: OpRule = (ctx: OpContext) => {
  const x = input(ctx, 0);
  if (x.dims.length < 3) ctx.fail(`input must be [N, C, ...spatial], got [${x.dims}]`);
  const kernel = intsAttribute(ctx.node, 'kernel_shape');
  if (kernel.length !== x.dims.length - 2)
    ctx.fail(`kernel_shape [${kernel}] does not match input [${x.dims}]`);
  const spatial = windowOutput(
    ctx,
    x.dims.slice(2),
    windowOf(ctx, kernel),
    intAttribute(ctx.node, 'ceil_mode', 0) === 1,
  );
  const out = { elemType: x.elemType, dims: [x.dims[0], x.dims[1], ...spatial] };
  // MaxPool's optional second output holds int64 indices.
  return ctx.node.output.length > 1 ? [out, { elemType: DataType.INT64, dims: out.dims }] : [out];
};

const globalPool: OpRule = (ctx: OpContext) => {
  const x = input(ctx, 0);
  return [{ elemType: x.elemType, dims: [x.dims[0], x.dims[1], ...x.dims.slice(2).map(() => 1)] }];
};

const gemm: OpRule = (ctx: OpContext) => {
  const a = input(ctx, 0);
  const b = input(ctx, 1);
  if (a.dims.length !== 2 || b.dims.length !== 2) ctx.fail(`A [${a.dims}] and B [${b.dims}] must be 2-D`);
  const [m, ka] = intAttribute(ctx.node, 'transA', 0) ? [a.dims[1], a.dims[0]] : [a.dims[0], a.dims[1]];
  const [kb, n] = intAttribute(ctx.node, 'transB', 0) ? [b.dims[1], b.dims[0]] : [b.dims[0], b.dims[1]];
  if (ka !== kb) ctx.fail(`inner dimensions differ: A gives ${ka}, B gives ${kb}`);
  const c = ctx.inputs[2];
  if (c) broadcast(ctx, [c.dims, [m, n]]);
  return [{ elemType: a.elemType, dims: [m, n] }];
};

const matMul: OpRule = (ctx: OpContext) => {
  const a = input(ctx, 0).dims;
  const b = input(ctx, 1).dims;
  if (a.length === 0 || b.length === 0) ctx.fail('MatMul inputs must have rank >= 1');
  const a2 = a.length === 1 ? [1, a[0]] : a;
  const b2 = b.length === 1 ? [b[0], 1] : b;
  const k = a2[a2.length - 1];
  if (k !== b2[b2.length - 2]) ctx.fail(`inner dimensions differ: [${a}] x [${b}]`);
  const batch = broadcast(ctx, [a2.slice(0, -2), b2.slice(0, -2)]);
  const dims = [
    ...batch,
    ...(a.length === 1 ? [] : [a2[a2.length - 2]]),
    ...(b.length === 1 ? [] : [b2[b2.length - 1]]),
  ];
  const elemType = ctx.node.opType === 'MatMulInteger' ? DataType.INT32 : input(ctx, 0).elemType;
  return [{ elemType, dims }];
};

const flatten: OpRule = (ctx: OpContext) => {
  const x = input(ctx, 0);
  const rank = x.dims.length;
  const raw = intAttribute(ctx.node, 'axis', 1);
  const axis = raw < 0 ? raw + rank : raw;
  if (axis < 0 || axis > rank) ctx.fail(`axis ${raw} is out of range for rank ${rank}`);
  return [
    { elemType: x.elemType, dims: [elementCount(x.dims.slice(0, axis)), elementCount(x.dims.slice(axis))] },
  ];
};

const reshape: OpRule = (ctx: OpContext) => {
  const x = input(ctx, 0);
  const shapeTensor = ctx.constant(1);
  if (!shapeTensor) ctx.fail('the target shape (input 1) must be a constant');
  const target = Array.from(shapeTensor.data as BigInt64Array, Number);
  const allowZero = intAttribute(ctx.node, 'allowzero', 0) === 1;
  const dims = target.map((d, i) => (d === 0 && !allowZero ? x.dims[i] : d));
  if (dims.some((d) => d === undefined))
    ctx.fail(`0 in shape [${target}] copies a dimension input [${x.dims}] lacks`);
  const unknown = dims.filter((d) => d === -1).length;
  if (unknown > 1) ctx.fail(`shape [${target}] has more than one -1`);
  const total = elementCount(x.dims);
  const known = elementCount(dims.filter((d) => d !== -1));
  if (unknown === 1) {
    if (known === 0 || total % known !== 0) ctx.fail(`cannot reshape [${x.dims}] to [${target}]`);
    dims[dims.indexOf(-1)] = total / known;
  } else if (known !== total) ctx.fail(`cannot reshape [${x.dims}] (${total} elements) to [${dims}]`);
  return [{ elemType: x.elemType, dims }];
};

const concat: OpRule = (ctx: OpContext) => {
  const shapes = ctx.node.input.map((_, i) => input(ctx, i));
  const first = shapes[0].dims;
  const axis = normaliseAxis(ctx, intAttribute(ctx.node, 'axis'), first.length);
  const dims = [...first];
  dims[axis] = 0;
  for (const s of shapes) {
    if (s.dims.length !== first.length || s.dims.some((d, i) => i !== axis && d !== first[i])) {
      ctx.fail(`inputs [${shapes.map((v) => `[${v.dims}]`).join(', ')}] differ outside axis ${axis}`);
    }
    dims[axis] += s.dims[axis];
  }
  return [{ elemType: shapes[0].elemType, dims }];
};

const transpose: OpRule = (ctx: OpContext) => {
  const x = input(ctx, 0);
  const perm = intsAttribute(
    ctx.node,
    'perm',
    x.dims.map((_, i) => x.dims.length - 1 - i),
  );
  return [{ elemType: x.elemType, dims: perm.map((p) => x.dims[p]) }];
};

const constantOp: OpRule = (ctx: OpContext) => {
  const t = findAttribute(ctx.node, 'value')?.t;
  if (t) return [{ elemType: t.dataType, dims: tensorFromProto(t).dims }];
  if (findAttribute(ctx.node, 'value_float')) return [{ elemType: DataType.FLOAT, dims: [] }];
  if (findAttribute(ctx.node, 'value_int')) return [{ elemType: DataType.INT64, dims: [] }];
  const floats = findAttribute(ctx.node, 'value_floats');
  if (floats) return [{ elemType: DataType.FLOAT, dims: [floats.floats.length] }];
  const ints = findAttribute(ctx.node, 'value_ints');
  if (ints) return [{ elemType: DataType.INT64, dims: [ints.ints.length] }];
  ctx.fail('Constant without a supported value attribute');
};

const dropout: OpRule = (ctx: OpContext) => {
  const x = input(ctx, 0);
  return ctx.node.output.length > 1 ? [x, { elemType: DataType.BOOL, dims: x.dims }] : [x];
};

const batchNorm: OpRule = (ctx: OpContext) => {
  const x = input(ctx, 0);
  const scale = input(ctx, 1);
  if (scale.dims.length !== 1 || scale.dims[0] !== x.dims[1])
    ctx.fail(`scale [${scale.dims}] must be [${x.dims[1]}]`);
  return [x];
};

const lrn: OpRule = (ctx: OpContext) => {
  intAttribute(ctx.node, 'size'); // required by the spec
  floatAttribute(ctx.node, 'alpha', 1e-4);
  return same(ctx);
};

const cast: OpRule = (ctx: OpContext) => [
  { elemType: intAttribute(ctx.node, 'to'), dims: input(ctx, 0).dims },
];

/** DequantizeLinear gives float32 of x's shape; QuantizeLinear gives the zero point's type (uint8 by default). */
const dequantize: OpRule = (ctx: OpContext) => [{ elemType: DataType.FLOAT, dims: input(ctx, 0).dims }];
const quantize: OpRule = (ctx: OpContext) => [
  { elemType: ctx.inputs[2]?.elemType ?? DataType.UINT8, dims: input(ctx, 0).dims },
];
const dynamicQuantize: OpRule = (ctx: OpContext) => [
  { elemType: DataType.UINT8, dims: input(ctx, 0).dims },
  { elemType: DataType.FLOAT, dims: [] },
  { elemType: DataType.UINT8, dims: [] },
];

/** Shape rules by op type (default ONNX domain). */
const RULES: Readonly<Record<string, OpRule>> = {
  Conv: conv,
  ConvInteger: conv,
  Gemm: gemm,
  MatMul: matMul,
  MatMulInteger: matMul,
  Cast: cast,
  DequantizeLinear: dequantize,
  QuantizeLinear: quantize,
  DynamicQuantizeLinear: dynamicQuantize,
  Relu: same,
  // Element-wise activations: the output has the input's type and shape.
  LeakyRelu: same,
  Sigmoid: same,
  Tanh: same,
  Elu: same,
  Selu: same,
  Clip: same,
  HardSigmoid: same,
  HardSwish: same,
  Softplus: same,
  Erf: same,
  Gelu: same,
  Sqrt: same,
  Exp: same,
  Neg: same,
  Abs: same,
  Softmax: same,
  Identity: same,
  LRN: lrn,
  BatchNormalization: batchNorm,
  Dropout: dropout,
  MaxPool: pool,
  AveragePool: pool,
  GlobalAveragePool: globalPool,
  GlobalMaxPool: globalPool,
  Flatten: flatten,
  Reshape: reshape,
  Add: elementwise,
  Sub: elementwise,
  Mul: elementwise,
  Div: elementwise,
  Concat: concat,
  Transpose: transpose,
  Constant: constantOp,
};

/** Fully known shapes the graph declares for its intermediate tensors; symbolic dims take `batch`. */
function declaredShapes(valueInfo: readonly ValueInfoProto[], batch: number): Map<string, ValueInfo> {
  const out = new Map<string, ValueInfo>();
  for (const v of valueInfo) {
    const tensorType = v.type?.tensorType;
    if (!tensorType?.shape) continue;
    const dims = tensorType.shape.dim.map((d, i) =>
      d.dimValue !== undefined && d.dimValue > 0n ? Number(d.dimValue) : i === 0 ? batch : -1,
    );
    if (dims.every((d) => d > 0)) out.set(v.name, { elemType: tensorType.elemType, dims });
  }
  return out;
}

/** Whether shape inference knows this op (default ONNX domain). */
export function isSupportedOp(opType: string): boolean {
  return Object.hasOwn(RULES, opType);
}

/**
 * Infers the concrete type of every tensor in the graph, walking it in topological order.
 * Symbolic input dimensions take `dimValues[name]`, else `batchSize`.
 * @throws UnsupportedOpError for an op without a rule, ShapeInferenceError for inconsistent shapes.
 */
export function inferShapes(model: ModelProto, options: ShapeInferenceOptions = {}): Map<string, ValueInfo> {
  const view = new GraphView(model);
  const batch = options.batchSize ?? 1;
  const infos = new Map<string, ValueInfo>();
  for (const init of view.graph.initializer) {
    infos.set(init.name, { elemType: init.dataType, dims: init.dims.map(Number) });
  }
  for (const v of view.graph.input) {
    if (infos.has(v.name)) continue;
    const tensorType = v.type?.tensorType;
    if (!tensorType?.shape) throw new ShapeInferenceError(v.name, 'input', 'graph input has no tensor shape');
    const dims = tensorType.shape.dim.map((d) =>
      d.dimValue !== undefined && d.dimValue > 0n
        ? Number(d.dimValue)
        : (options.dimValues?.[d.dimParam ?? ''] ?? batch),
    );
    infos.set(v.name, { elemType: tensorType.elemType, dims });
  }
  const declared = declaredShapes(view.graph.valueInfo, batch);
  for (const node of view.order) {
    const rule = node.domain === '' || node.domain === 'ai.onnx' ? RULES[node.opType] : undefined;
    if (!rule) {
      // An op without a rule passes when the model declares its outputs' shapes (value_info, as
      // exporters with shape inference write it): its layers stay exact, the others are still planned.
      const outputs = node.output.map((name) => declared.get(name));
      if (outputs.some((o, i) => node.output[i] !== '' && !o)) {
        throw new UnsupportedOpError(nodeLabel(node), node.opType);
      }
      node.output.forEach((name, i) => outputs[i] && infos.set(name, outputs[i]));
      continue;
    }
    const ctx: OpContext = {
      node,
      inputs: node.input.map((name) => (name === '' ? undefined : infos.get(name))),
      constant: (i) => (node.input[i] ? view.constant(node.input[i]) : undefined),
      fail: (message) => {
        throw new ShapeInferenceError(nodeLabel(node), node.opType, message);
      },
    };
    const outputs = rule(ctx);
    node.output.forEach((name, i) => {
      if (name !== '' && outputs[i]) infos.set(name, outputs[i]);
    });
  }
  return infos;
}
