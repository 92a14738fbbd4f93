import { type ModelProto, type NodeProto } from '@blinknet/proto/onnx';
import { GraphStructureError } from './errors';
import { GraphView, nodeLabel } from './graph';
import { valueInfo } from './builder';
import { inferShapes, type ShapeInferenceOptions } from './shape-inference';

/**
 * The part of a model that computes `outputs` from `inputs`, as a standalone model: the nodes between
 * them and the constants they read, with the inputs as graph inputs of the concrete shapes they have
 * in the full model (batch from `options`). Used to time one layer, or one layer's replacement, in
 * isolation on a device.
 * @throws GraphStructureError when the outputs depend on a graph input not listed in `inputs`
 */
export function extractSubgraph(
  model: ModelProto,
  inputs: readonly string[],
  outputs: readonly string[],
  options: ShapeInferenceOptions = {},
): ModelProto {
  const view = new GraphView(model);
  const shapes = inferShapes(model, options);
  const boundary = new Set(inputs);
  const needed = new Set<NodeProto>();
  const constants = new Set<string>();
  const pending = [...outputs];
  while (pending.length > 0) {
    const tensor = pending.pop() as string;
    if (boundary.has(tensor)) continue;
    if (view.initializers.has(tensor)) {
      constants.add(tensor);
      continue;
    }
    const producer = view.producers.get(tensor);
    if (!producer) {
      throw new GraphStructureError(
        `the outputs depend on graph input '${tensor}', which is not among [${inputs}]`,
      );
    }
    if (needed.has(producer)) continue;
    needed.add(producer);
    pending.push(...producer.input.filter((i) => i !== ''));
  }
  const info = (name: string) => {
    const v = shapes.get(name);
    if (!v) throw new GraphStructureError(`no inferred shape for '${name}'`);
    return valueInfo(name, v.elemType, v.dims);
  };
  const graph = model.graph!;
  return {
    ...model,
    graph: {
      ...graph,
      name: `${graph.name}:${[...needed].map(nodeLabel).join('+')}`,
      node: view.order.filter((n) => needed.has(n)),
      initializer: graph.initializer.filter((t) => constants.has(t.name)),
      input: inputs.map(info),
      output: outputs.map(info),
      valueInfo: [],
    },
  };
}
