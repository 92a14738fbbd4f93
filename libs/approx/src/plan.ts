import {
  DataType,
  describeLayers,
  GraphView,
  inferShapes,
  type LayerInfo,
  type ModelProto,
  nodeLabel,
  type NodeProto,
  type Tensor,
} from '@blinknet/onnx';
import {
  type ActivationSource,
  applyLowRankData,
  type DataAwareInputs,
  refitLayer,
  refitUnsupported,
} from './data-aware';
import { OptionNotOfferedError, UnknownLayerError } from './errors';
import { GraphEditor } from './graph-editor';
import { type ActivationQuantization, applyInt8Compute, applyInt8Storage, calibrateActivation } from './int8';
import {
  applyLowRank,
  maxUsefulRank,
  outputChannelAxis,
  type TransformContext,
  unsupportedStructure,
} from './layer-transforms';
import { formatOption, type LayerOption, parseOption } from './options';
import { applyPrune, planPrune, rankChannelsByL1 } from './prune';

/** Layer name -> option, as strings (`{"conv1": "lowrank:r=8", "fc6": "int8:compute"}`) or parsed. */
export type Plan = Readonly<Record<string, string | LayerOption>>;

/** What one option costs for its layer, computed from the shapes (exact, not estimated). */
export interface OptionCost {
  readonly layer: string;
  readonly option: string;
  /** Bytes of the constants the layer's nodes hold (weights, biases, scales, zero points). */
  readonly weightBytes: number;
  /** Floating-point (or integer, for int8:compute) operations of the layer's nodes at batch 1, 2 per multiply-add. */
  readonly flops: number;
  /** The layer's output shape at batch 1 (unchanged by every option but prune, which narrows channels). */
  readonly outputShape: readonly number[];
  /** For prune: the layers whose inputs shrink with it (their FLOPs fall by the same fraction). */
  readonly shrinksInputsOf?: readonly string[];
}

/**
 * Applies one option per listed layer and returns ONE new model; layers not listed stay exact.
 * The result does not depend on the order of the plan's keys: all pruning is applied first (it
 * narrows the next layers' inputs), then the per-layer weight transforms, both in topological order.
 * With `refitPruned`, every layer a prune narrowed is refitted by least squares to its original
 * responses before its own option (see refitLayer).
 * @throws OptionSyntaxError, UnknownLayerError, OptionNotOfferedError naming the layer and option
 */
export async function applyPlan(
  model: ModelProto,
  plan: Plan,
  context: TransformContext,
): Promise<ModelProto> {
  const layers = describeLayers(model);
  const order = new Map(layers.map((l, i) => [l.name, i]));
  const choices = Object.entries(plan)
    .map(([name, option]) => {
      const parsed = typeof option === 'string' ? parseOption(option) : option;
      if (!order.has(name)) throw new UnknownLayerError(name, formatOption(parsed));
      return { name, option: parsed };
    })
    .sort((a, b) => (order.get(a.name) as number) - (order.get(b.name) as number));

  const editor = new GraphEditor(model);
  const chosen = new Map(choices.map((c) => [c.name, c.option]));
  // Layers whose input channels a prune has cut: each is refitted to its original responses
  // before its own option is applied (lowrank-data fits itself to them anyway).
  const narrowed = new Set<string>();
  const calibration = context.refitPruned && !context.placeholderFactors ? context.calibration : undefined;
  for (const original of layers) {
    const name = original.name;
    const option = chosen.get(name);
    if (calibration && narrowed.has(name) && option?.kind !== 'lowrank-data') {
      const { layer, node, weight } = current(editor, name);
      if (weight.dataType === DataType.FLOAT && refitUnsupported(editor, layer, node) === undefined) {
        const inputs = await dataAwareInputs(model, editor, original, node, calibration);
        await refitLayer(editor, layer, node, weight.data as Float32Array, inputs, context);
      }
    }
    if (option?.kind !== 'prune') continue;
    const { layer, node, weight, view, shapes } = current(editor, name);
    if (weight.dataType !== DataType.FLOAT) {
      throw new OptionNotOfferedError(name, formatOption(option), 'the weight is not float32');
    }
    const channels = layer.weightShape[outputChannelAxis(layer, node)];
    const kept = rankChannelsByL1(
      weight,
      outputChannelAxis(layer, node),
      Math.max(1, Math.round(option.keep * channels)),
    );
    const pruned = planPrune(view, shapes, layer, node, kept);
    if ('reason' in pruned) throw new OptionNotOfferedError(name, formatOption(option), pruned.reason);
    applyPrune(editor, pruned.slices, `${node.name || name}/prune`);
    for (const slice of pruned.slices) if (slice.node !== node) narrowed.add(nodeLabel(slice.node));
  }
  for (const { name, option } of choices.filter(
    (c) => c.option.kind !== 'prune' && c.option.kind !== 'exact',
  )) {
    const { layer, node, weight } = current(editor, name);
    const label = formatOption(option);
    const why =
      unsupportedStructure(layer, node) ??
      (weight.dataType === DataType.FLOAT ? undefined : 'the weight is not float32') ??
      (option.kind === 'int8' ? int8Unsupported(model) : undefined);
    if (why) throw new OptionNotOfferedError(name, label, why);
    const data = weight.data as Float32Array;
    switch (option.kind) {
      case 'lowrank':
      case 'lowrank-data': {
        if (layer.group !== 1)
          throw new OptionNotOfferedError(name, label, `grouped convolution (group ${layer.group})`);
        const fullRank = (l: LayerInfo) =>
          Math.min(
            l.weightShape[0],
            l.weightShape.slice(1).reduce((x, y) => x * y, 1),
          );
        // Offered against the layer as uploaded; pruning its input may since have narrowed it below
        // the rank, which then becomes the narrowed layer's full rank.
        const originalLayer = layers.find((l) => l.name === name) as LayerInfo;
        const limit = context.allowAnyRank ? fullRank(layer) : maxUsefulRank(originalLayer);
        if (option.rank > limit) {
          throw new OptionNotOfferedError(name, label, `rank must be <= ${limit} to cost less than exact`);
        }
        const rank = Math.min(option.rank, fullRank(layer));
        // Placeholder factors have the same shapes for both kinds: nothing to fit.
        if (option.kind === 'lowrank' || context.placeholderFactors) {
          await applyLowRank(editor, layer, node, data, rank, context);
          break;
        }
        if (!context.calibration) {
          throw new OptionNotOfferedError(
            name,
            label,
            'data-aware factorisation needs calibration activations',
          );
        }
        const inputs = await dataAwareInputs(model, editor, originalLayer, node, context.calibration);
        await applyLowRankData(editor, layer, node, data, rank, inputs, context);
        break;
      }
      case 'int8': {
        if (option.form === 'storage') {
          applyInt8Storage(editor, layer, node, data);
          break;
        }
        // Placeholder weights are timed only: any scale gives the same kernels.
        let input: ActivationQuantization = { scale: 1, zeroPoint: 0 };
        if (!context.placeholderFactors) {
          if (!context.calibration) {
            throw new OptionNotOfferedError(
              name,
              label,
              'the activation scale needs calibration activations',
            );
          }
          const [values] = (await context.calibration.activations(editor.build(), [node.input[0]])).values();
          input = calibrateActivation(values.data);
        }
        applyInt8Compute(editor, layer, node, data, input);
        break;
      }
    }
  }
  const result = editor.build();
  validateModel(result);
  return result;
}

/** What a data-aware fit of a layer needs: its input in the original and in the edited model. */
async function dataAwareInputs(
  model: ModelProto,
  editor: GraphEditor,
  originalLayer: LayerInfo,
  node: NodeProto,
  calibration: ActivationSource,
): Promise<DataAwareInputs> {
  const input = node.input[0];
  const [originalInput] = (await calibration.activations(model, [input])).values();
  const [currentInput] = (await calibration.activations(editor.build(), [input])).values();
  const originalWeight = new GraphView(model).constant(originalLayer.weightName)?.data as Float32Array;
  return { originalInput, originalWeight, originalLayer, currentInput };
}

/** A layer as the editor currently has it (after earlier edits), with its weight. */
function current(editor: GraphEditor, name: string) {
  const built = editor.build();
  const view = new GraphView(built);
  const shapes = inferShapes(built);
  const layer = describeLayers(built).find((l) => l.name === name);
  const node = editor.node(name) as NodeProto;
  if (!layer || !node) throw new UnknownLayerError(name, '(after earlier options)');
  return { layer, node, view, shapes, weight: view.constant(layer.weightName) as Tensor };
}

/**
 * Why the int8 forms cannot be offered for a model, if so: per-axis DequantizeLinear needs opset 13
 * of the default domain, and raising a model's opset could change the meaning of its other ops.
 */
function int8Unsupported(model: ModelProto): string | undefined {
  const opset = model.opsetImport.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version ?? 0n;
  return opset >= 13n ? undefined : `int8 needs opset >= 13, the model has opset ${opset}`;
}

/** Structural check of a model: every input defined, no cycle, every shape inferable. */
export function validateModel(model: ModelProto): void {
  new GraphView(model);
  inferShapes(model);
}

/** Rank fractions of min(m, n) and keep ratios offered, from aggressive to mild. */
const RANK_FRACTIONS = [1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2];
/**
 * Largest rank offered. Beyond it the factors of big layers (VGG16 fc6: 4096 x 25088) approach the
 * exact layer's cost, and the k x k eigenproblems of the randomized SVD (solved in JS) grow as k^3.
 */
export const MAX_LADDER_RANK = 512;
const KEEP_RATIOS = [0.25, 0.5, 0.75];
/**
 * onnxruntime's CPU convolutions work on blocks of 16 channels (8 without AVX-512) where a layer's
 * channels allow it; a convolution pruned from a multiple of 16 to a count that is not falls back to
 * other kernels with layout reorders around it, and ran slower than not pruning at all
 * (CIFAR-10-quick, 1 thread, median of 5 sessions: 32 -> 24 channels +6% end to end, 32 -> 16 -28%).
 */
const CHANNEL_BLOCK = 16;

/**
 * The options worth offering for each approximable layer, aggressive to mild, each with its exact
 * cost: ranks that cost less than `exact`, keep ratios where every consumer can be rewired, int8.
 */
export function optionLadder(model: ModelProto): Map<string, OptionCost[]> {
  const view = new GraphView(model);
  const shapes = inferShapes(model);
  const ladder = new Map<string, OptionCost[]>();
  const layers = describeLayers(model);
  const int8 = int8Unsupported(model) === undefined;
  for (const layer of layers) {
    const node = view.node(layer.name) as NodeProto;
    const costs: OptionCost[] = [];
    const structure = unsupportedStructure(layer, node);
    if (!structure && layer.group === 1) {
      const [m, ...rest] = layer.weightShape;
      const short = Math.min(
        m,
        rest.reduce((a, b) => a * b, 1),
      );
      const ranks = [
        ...new Set(RANK_FRACTIONS.map((f) => Math.min(MAX_LADDER_RANK, Math.max(1, Math.round(short * f))))),
      ].filter((r) => r <= maxUsefulRank(layer));
      for (const kind of ['lowrank', 'lowrank-data'] as const) {
        for (const rank of ranks) costs.push(optionCost(layer, { kind, rank }));
      }
    }
    const channels = layer.weightShape[outputChannelAxis(layer, node)];
    for (const keep of KEEP_RATIOS) {
      const count = Math.max(1, Math.round(keep * channels));
      if (layer.opType === 'Conv' && channels % CHANNEL_BLOCK === 0 && count % CHANNEL_BLOCK !== 0) continue;
      const kept = Array.from({ length: count }, (_, i) => i);
      const plan = planPrune(view, shapes, layer, node, kept);
      if ('reason' in plan) break;
      const consumers = plan.slices.filter((s) => s.node !== node).map((s) => s.node);
      const shrinks = layers
        .filter((l) => consumers.some((c) => (c.name || c.output[0]) === l.name))
        .map((l) => l.name);
      costs.push({
        ...optionCost(layer, { kind: 'prune', keep }, count / channels),
        shrinksInputsOf: shrinks,
      });
    }
    if (!structure && int8) {
      costs.push(
        optionCost(layer, { kind: 'int8', form: 'storage' }),
        optionCost(layer, { kind: 'int8', form: 'compute' }),
      );
    }
    ladder.set(layer.name, [optionCost(layer, { kind: 'exact' }), ...costs]);
  }
  return ladder;
}

/** Exact weight bytes, FLOPs and output shape of a layer under an option (batch 1). */
export function optionCost(layer: LayerInfo, option: LayerOption, keptFraction = 1): OptionCost {
  const [m, ...rest] = layer.weightShape;
  const n = rest.reduce((a, b) => a * b, 1);
  const outputs = layer.outputShape.reduce((a, b) => a * b, 1);
  // Output channels: axis 1 of a conv's [N, C, ...], the last axis of a Gemm/MatMul output.
  const axis = layer.opType === 'Conv' ? 1 : layer.outputShape.length - 1;
  const channels = layer.outputShape[axis];
  const positions = outputs / channels; // output positions per output channel
  const biasBytes = layer.biasName ? 4 * channels : 0;
  const base = { layer: layer.name, option: formatOption(option), outputShape: layer.outputShape };
  switch (option.kind) {
    case 'exact':
      return { ...base, weightBytes: layer.weightBytes, flops: layer.flops };
    case 'lowrank':
    case 'lowrank-data': {
      // Conv: k x k conv with r filters + 1 x 1 conv; Gemm/MatMul: n -> r -> m (or m -> r -> n).
      const params = option.rank * (m + n);
      // The data-aware fit always ends with a bias (it absorbs the response means).
      const bias = option.kind === 'lowrank-data' ? 4 * channels : biasBytes;
      return { ...base, weightBytes: 4 * params + bias, flops: 2 * positions * params };
    }
    case 'prune': {
      const kept = Math.max(1, Math.round(keptFraction * channels));
      const outputShape = [...layer.outputShape];
      outputShape[axis] = kept;
      return {
        ...base,
        weightBytes:
          Math.round((layer.weightBytes - biasBytes) * (kept / channels)) + (layer.biasName ? 4 * kept : 0),
        flops: Math.round(layer.flops * (kept / channels)),
        outputShape,
      };
    }
    case 'int8': {
      // int8 weight + float32 scale per channel + zero points: storage, int8 per channel; compute, one
      // uint8 for ConvInteger's weight, and the activation's float32 scale and uint8 zero point.
      const extra = option.form === 'storage' ? channels : (layer.opType === 'Conv' ? 1 : 0) + 5;
      return { ...base, weightBytes: m * n + 4 * channels + extra + biasBytes, flops: layer.flops };
    }
  }
}
