import { type ModelProto, type NodeProto } from '@blinknet/proto/onnx';
import { intAttribute } from './attributes';
import { DataType, dataTypeInfo } from './dtype';
import { GraphView, nodeLabel } from './graph';
import { inferShapes, type ShapeInferenceOptions, type ValueInfo } from './shape-inference';
import { elementCount, tensorByteSize } from './tensor';

/** Op types whose constant weight BlinkNet can approximate. */
export const APPROXIMABLE_OPS: ReadonlySet<string> = new Set(['Conv', 'Gemm', 'MatMul']);

/** One approximable layer of a model, measured at the inference shapes given to describeLayers. */
export interface LayerInfo {
  /** The node's name (nodeLabel): the layer's id everywhere in BlinkNet. */
  readonly name: string;
  readonly opType: 'Conv' | 'Gemm' | 'MatMul';
  readonly weightName: string;
  readonly weightShape: readonly number[];
  readonly biasName?: string;
  /** Conv groups (1 for Gemm/MatMul). */
  readonly group: number;
  readonly inputShape: readonly number[];
  readonly outputShape: readonly number[];
  /** Trainable parameters: weight + bias elements. */
  readonly parameters: number;
  /** Bytes of the weight and bias tensors as stored. */
  readonly weightBytes: number;
  /** Floating-point operations of one inference at the given shapes: 2 per multiply-add. */
  readonly flops: number;
}

/** The approximable layers of a model (Conv, Gemm, MatMul with a constant weight) in topological order. */
export function describeLayers(model: ModelProto, options: ShapeInferenceOptions = {}): LayerInfo[] {
  const view = new GraphView(model);
  const shapes = inferShapes(model, options);
  return view.order.filter((node) => isApproximable(view, node)).map((node) => describe(view, shapes, node));
}

function isApproximable(view: GraphView, node: NodeProto): boolean {
  return (
    (node.domain === '' || node.domain === 'ai.onnx') &&
    APPROXIMABLE_OPS.has(node.opType) &&
    view.isConstant(node.input[1])
  );
}

function describe(view: GraphView, shapes: Map<string, ValueInfo>, node: NodeProto): LayerInfo {
  const weightName = node.input[1];
  const biasName = node.input[2] && view.isConstant(node.input[2]) ? node.input[2] : undefined;
  const weightShape = shapes.get(weightName)?.dims ?? [];
  const inputShape = shapes.get(node.input[0])?.dims ?? [];
  const outputShape = shapes.get(node.output[0])?.dims ?? [];
  const sizeOf = (name: string) => {
    const init = view.initializers.get(name);
    if (init) return tensorByteSize(init);
    const c = view.constant(name);
    return c ? c.data.byteLength : 0;
  };
  const group = node.opType === 'Conv' ? intAttribute(node, 'group', 1) : 1;
  const outputs = elementCount(outputShape);
  let macs: number;
  if (node.opType === 'Conv') {
    // Each output element is a dot product over C_in/group x kernel elements.
    macs = outputs * elementCount(weightShape.slice(1));
  } else {
    // Gemm/MatMul: each output element is a dot product over the shared dimension K.
    const transB = node.opType === 'Gemm' ? intAttribute(node, 'transB', 0) : 0;
    macs = outputs * (transB ? weightShape[1] : weightShape[weightShape.length - 2]);
  }
  return {
    name: nodeLabel(node),
    opType: node.opType as LayerInfo['opType'],
    weightName,
    weightShape,
    ...(biasName ? { biasName } : {}),
    group,
    inputShape,
    outputShape,
    parameters: elementCount(weightShape) + (biasName ? elementCount(shapes.get(biasName)?.dims ?? []) : 0),
    weightBytes: sizeOf(weightName) + (biasName ? sizeOf(biasName) : 0),
    flops: 2 * macs,
  };
}

const PARAMETER_TYPES: ReadonlySet<number> = new Set([
  DataType.FLOAT,
  DataType.FLOAT16,
  DataType.DOUBLE,
  DataType.INT8,
]);

/** Bytes of all initializers as stored: what a model's weights take in its file. */
export function weightBytes(model: ModelProto): number {
  return (model.graph?.initializer ?? []).reduce((n, t) => n + tensorByteSize(t), 0);
}

/**
 * The most activation bytes one node holds at once at batch 1 (its non-constant inputs and its
 * outputs), from the inferred shapes: the floor of what a session needs beyond the weights.
 */
export function activationPeakBytes(model: ModelProto, options: ShapeInferenceOptions = {}): number {
  const shapes = inferShapes(model, options);
  const constants = new Set((model.graph?.initializer ?? []).map((t) => t.name));
  const bytes = (name: string) => {
    const info = name && !constants.has(name) ? shapes.get(name) : undefined;
    return info ? elementCount(info.dims) * (dataTypeInfo(info.elemType)?.bytes ?? 4) : 0;
  };
  let peak = 0;
  for (const node of model.graph?.node ?? []) {
    const held = [...node.input, ...node.output].reduce((n, name) => n + bytes(name), 0);
    peak = Math.max(peak, held);
  }
  return peak;
}

/** Elements of all weight initializers (not int64 shape constants): a model's parameter count as stored. */
export function countParameters(model: ModelProto): number {
  return (model.graph?.initializer ?? [])
    .filter((t) => PARAMETER_TYPES.has(t.dataType))
    .reduce((n, t) => n + elementCount(t.dims.map(Number)), 0);
}
