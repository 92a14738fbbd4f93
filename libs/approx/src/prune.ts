import {
  describeLayers,
  type GraphView,
  inferShapes,
  intAttribute,
  type LayerInfo,
  type ModelProto,
  nodeLabel,
  type NodeProto,
  type Tensor,
  type TensorData,
  type ValueInfo,
} from '@blinknet/onnx';
import { OptionNotOfferedError, UnknownLayerError } from './errors';
import { GraphEditor } from './graph-editor';
import { outputChannelAxis } from './layer-transforms';

/**
 * Ops that keep channels apart, so pruned channels can simply flow through them. LRN is the one
 * exception: it normalises over neighbouring channels, and after pruning the neighbours change. The
 * model stays valid and that difference is part of the option's measured accuracy loss.
 */
const CHANNELWISE = new Set([
  'Relu',
  'LeakyRelu',
  'Sigmoid',
  'Tanh',
  'Clip',
  'Dropout',
  'Identity',
  'LRN',
  'MaxPool',
  'AveragePool',
  'GlobalAveragePool',
  'GlobalMaxPool',
  'BatchNormalization',
]);

/** One constant to cut down: input `input` of `node`, keeping `indices` along `axis`. */
interface ConstantSlice {
  readonly node: NodeProto;
  readonly input: number;
  readonly axis: number;
  readonly indices: readonly number[];
}

/** A tensor on the pruned path, which of its channels survive, and how channels are laid out. */
interface PathTensor {
  readonly name: string;
  readonly kept: readonly number[];
  /** Elements per channel along the last axis after a Flatten (1 while still [N, C, ...]). */
  readonly inner: number;
  readonly flattened: boolean;
}

export type PrunePlan = { readonly slices: readonly ConstantSlice[] } | { readonly reason: string };

/** The `count` output channels with the largest L1 norm (Li et al. 2017), ascending. */
export function rankChannelsByL1(weight: Tensor, axis: number, count: number): number[] {
  const channels = weight.dims[axis];
  const inner = weight.dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const norms = new Float64Array(channels);
  const data = weight.data as Float32Array;
  for (let i = 0; i < data.length; i++) norms[Math.floor(i / inner) % channels] += Math.abs(data[i]);
  return Array.from(norms, (n, c) => [n, c] as const)
    .sort((a, b) => b[0] - a[0] || a[1] - b[1])
    .slice(0, count)
    .map(([, c]) => c)
    .sort((a, b) => a - b);
}

/**
 * Works out every constant that must shrink when `layer` keeps only `kept` output channels: the
 * layer's own weight and bias, BatchNormalization parameters on the way, and the input channels
 * (Conv) or input columns (Gemm/MatMul, after a Flatten: H*W columns per channel) of the next layers.
 * Returns a reason instead when some consumer cannot be rewired (a graph output, a residual Add,
 * a Reshape, a grouped conv, ...).
 */
export function planPrune(
  view: GraphView,
  shapes: ReadonlyMap<string, ValueInfo>,
  layer: LayerInfo,
  node: NodeProto,
  kept: readonly number[],
): PrunePlan {
  if (layer.group !== 1) {
    // Kept filters would be re-split into equal groups and read the wrong input channels.
    return { reason: `grouped convolution (group ${layer.group}) ties its filters to input groups` };
  }
  const axis = outputChannelAxis(layer, node);
  const slices: ConstantSlice[] = [{ node, input: 1, axis, indices: kept }];
  if (node.input[2]) {
    // Conv bias is [C]; Gemm's C may be [N] or [1, N]: cut its last axis, refuse anything else.
    const bias = shapes.get(node.input[2])?.dims ?? [];
    const channels = layer.weightShape[axis];
    const biasAxis = bias.length - 1;
    if (bias[biasAxis] !== channels || bias.slice(0, -1).some((d) => d !== 1)) {
      return { reason: `bias of shape [${bias}] is not per output channel` };
    }
    slices.push({ node, input: 2, axis: biasAxis, indices: kept });
  }
  const queue: PathTensor[] = [{ name: node.output[0], kept, inner: 1, flattened: layer.opType !== 'Conv' }];
  while (queue.length > 0) {
    const t = queue.shift() as PathTensor;
    if (view.graphOutputs.has(t.name)) return { reason: `its channels reach the graph output '${t.name}'` };
    for (const consumer of new Set(view.consumers.get(t.name) ?? [])) {
      const why = follow(view, shapes, t, consumer, slices, queue);
      if (why) return { reason: `consumer '${nodeLabel(consumer)}' (${consumer.opType}): ${why}` };
    }
  }
  return { slices };
}

/** Handles one consumer of a pruned tensor; returns why it cannot be rewired, if so. */
function follow(
  view: GraphView,
  shapes: ReadonlyMap<string, ValueInfo>,
  t: PathTensor,
  consumer: NodeProto,
  slices: ConstantSlice[],
  queue: PathTensor[],
): string | undefined {
  const op = consumer.opType;
  if (op !== 'Concat' && consumer.input.indexOf(t.name) !== 0)
    return 'the pruned tensor is not its first input';
  if (CHANNELWISE.has(op)) {
    if (
      t.flattened &&
      !['Relu', 'LeakyRelu', 'Sigmoid', 'Tanh', 'Clip', 'Dropout', 'Identity'].includes(op)
    ) {
      return 'needs [N, C, ...] channels but the tensor is flattened';
    }
    const extraOutputs = consumer.output
      .slice(1)
      .filter((o) => o !== '' && (view.consumers.has(o) || view.graphOutputs.has(o)));
    if (extraOutputs.length > 0) return `its second output '${extraOutputs[0]}' is used`;
    if (op === 'BatchNormalization') {
      for (let i = 1; i <= 4; i++) {
        if (!view.isConstant(consumer.input[i])) return `parameter '${consumer.input[i]}' is not constant`;
        slices.push({ node: consumer, input: i, axis: 0, indices: t.kept });
      }
    }
    queue.push({ ...t, name: consumer.output[0] });
    return undefined;
  }
  if (op === 'Flatten') {
    const input = shapes.get(t.name)?.dims ?? [];
    if (t.flattened || intAttribute(consumer, 'axis', 1) !== 1)
      return 'only Flatten(axis=1) of [N, C, ...] is supported';
    queue.push({
      name: consumer.output[0],
      kept: t.kept,
      inner: input.slice(2).reduce((a, b) => a * b, 1),
      flattened: true,
    });
    return undefined;
  }
  if (op === 'Concat') {
    if (t.flattened || intAttribute(consumer, 'axis') !== 1)
      return 'only channel-axis Concat of [N, C, ...] is supported';
    let offset = 0;
    const kept: number[] = [];
    for (const input of consumer.input) {
      const channels = shapes.get(input)?.dims[1] ?? 0;
      if (input === t.name) kept.push(...t.kept.map((c) => offset + c));
      else for (let c = 0; c < channels; c++) kept.push(offset + c);
      offset += channels;
    }
    queue.push({ name: consumer.output[0], kept, inner: 1, flattened: false });
    return undefined;
  }
  // Terminal consumers: keep only the input channels / columns that still exist.
  if (op !== 'Conv' && op !== 'Gemm' && op !== 'MatMul') return 'cannot be rewired for fewer channels';
  const columns = t.kept.flatMap((c) => Array.from({ length: t.inner }, (_, j) => c * t.inner + j));
  if (!view.isConstant(consumer.input[1])) return 'its weight is not constant';
  if (op === 'Conv') {
    if (t.flattened) return 'a Conv cannot consume a flattened tensor';
    if (intAttribute(consumer, 'group', 1) !== 1) return 'grouped convolutions tie input and output channels';
    slices.push({ node: consumer, input: 1, axis: 1, indices: t.kept });
    return undefined;
  }
  if (op === 'Gemm') {
    if (intAttribute(consumer, 'transA', 0) !== 0) return 'transA = 1 is not supported';
    slices.push({
      node: consumer,
      input: 1,
      axis: intAttribute(consumer, 'transB', 0) === 1 ? 1 : 0,
      indices: columns,
    });
    return undefined;
  }
  if (op === 'MatMul' && t.flattened && (shapes.get(consumer.input[1])?.dims.length ?? 0) === 2) {
    slices.push({ node: consumer, input: 1, axis: 0, indices: columns });
    return undefined;
  }
  return 'cannot be rewired for fewer channels';
}

/** Copies `indices` along `axis` of a tensor. */
export function sliceAxis(
  tensor: Tensor,
  axis: number,
  indices: readonly number[],
): { dims: number[]; data: TensorData } {
  const dims = [...tensor.dims];
  const outer = dims.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const Array_ = tensor.data.constructor as new (n: number) => TensorData;
  const out = new Array_(outer * indices.length * inner);
  for (let o = 0; o < outer; o++) {
    indices.forEach((c, k) => {
      const from = (o * dims[axis] + c) * inner;
      (out as Float32Array).set(
        (tensor.data as Float32Array).subarray(from, from + inner),
        (o * indices.length + k) * inner,
      );
    });
  }
  dims[axis] = indices.length;
  return { dims, data: out };
}

/** Applies a prune plan: each sliced constant becomes a fresh initializer wired into its node. */
export function applyPrune(editor: GraphEditor, slices: readonly ConstantSlice[], label: string): void {
  const view = editor.view();
  // Group by node so that a node touched twice (weight and bias) is rewritten once.
  const byNode = new Map<string, ConstantSlice[]>();
  for (const s of slices)
    byNode.set(s.node.name || s.node.output[0], [...(byNode.get(s.node.name || s.node.output[0]) ?? []), s]);
  for (const [, group] of byNode) {
    const current = editor.nodes.find((n) => n.output[0] === group[0].node.output[0]) as NodeProto;
    const inputs = [...current.input];
    for (const s of group) {
      const source = view.constant(inputs[s.input]) as Tensor;
      const { dims, data } = sliceAxis(source, s.axis, s.indices);
      inputs[s.input] = editor.constant(`${label}/${source.name}`, dims, data, source.dataType);
    }
    editor.update(current, { input: inputs });
  }
}

/**
 * A model holding one layer alone (as the profiler cuts it out) with `keep` of its output channels:
 * the shapes `prune:keep=` gives that layer, for timing it without pruning the whole model. The
 * first channels are kept (timing does not depend on which); the graph output is narrowed alike.
 * @throws OptionNotOfferedError when the layer's filters cannot be sliced (grouped convolution, a bias
 * that is not per channel)
 */
export function pruneIsolatedLayer(model: ModelProto, name: string, keep: number): ModelProto {
  const editor = new GraphEditor(model);
  const view = editor.view();
  const shapes = inferShapes(model);
  const node = view.node(name);
  const layer = describeLayers(model).find((l) => l.name === name);
  if (!node || !layer) throw new UnknownLayerError(name, `prune:keep=${keep}`);
  const axis = outputChannelAxis(layer, node);
  const channels = layer.weightShape[axis];
  const count = Math.max(1, Math.round(keep * channels));
  const kept = Array.from({ length: count }, (_, i) => i);
  const slices: ConstantSlice[] = [{ node, input: 1, axis, indices: kept }];
  const bias = node.input[2] ? (shapes.get(node.input[2])?.dims ?? []) : undefined;
  if (layer.group !== 1 || (bias && (bias.at(-1) !== channels || bias.slice(0, -1).some((d) => d !== 1)))) {
    throw new OptionNotOfferedError(name, `prune:keep=${keep}`, 'its filters cannot be sliced');
  }
  if (bias) slices.push({ node, input: 2, axis: bias.length - 1, indices: kept });
  applyPrune(editor, slices, `${name}/prune`);
  const built = editor.build();
  const output = node.output[0];
  const outputAxis = layer.opType === 'Conv' ? 1 : layer.outputShape.length - 1;
  built.graph!.output = built.graph!.output.map((o) => {
    const shape = o.type?.tensorType?.shape;
    if (o.name !== output || !shape) return o;
    const dim = shape.dim.map((d, i) =>
      i === outputAxis ? { ...d, dimValue: BigInt(count), dimParam: undefined } : d,
    );
    return { ...o, type: { ...o.type!, tensorType: { ...o.type!.tensorType!, shape: { ...shape, dim } } } };
  });
  return built;
}
