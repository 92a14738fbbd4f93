import { type ModelProto, type NodeProto, type TensorProto } from '@blinknet/proto/onnx';
import { GraphStructureError } from './errors';
import { GraphView, nodeLabel } from './graph';
import { valueInfo } from './builder';
import { inferShapes, type ShapeInferenceOptions } from './shape-inference';
import { tensorToProto } from './tensor';

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

/**
 * The model with each graph output cut down to its first element (a Slice), so that a run hands back
 * a few bytes: timed alone, a layer then writes its output to onnxruntime's arena as it does inside
 * the whole model, instead of having it copied into a fresh JavaScript buffer on every run (128 kB for
 * a small first conv, which on a small machine faulted its pages in again after each garbage
 * collection and timed the conv 2-8x slower in spells).
 */
export function sinkOutputs(model: ModelProto): ModelProto {
  const graph = model.graph!;
  const shapes = inferShapes(model);
  const nodes: NodeProto[] = [];
  const initializers: TensorProto[] = [];
  const outputs = graph.output.map((output) => {
    const v = shapes.get(output.name);
    if (!v) throw new GraphStructureError(`no inferred shape for '${output.name}'`);
    const rank = v.dims.length;
    const constant = (suffix: string, values: number[]) => {
      const name = `${output.name}.sink.${suffix}`;
      initializers.push(tensorToProto({ name, dims: [rank], data: BigInt64Array.from(values.map(BigInt)) }));
      return name;
    };
    const sunk = `${output.name}.sink`;
    nodes.push({
      input: [
        output.name,
        constant('starts', Array(rank).fill(0)),
        constant('ends', Array(rank).fill(1)),
        constant('axes', [...Array(rank).keys()]),
      ],
      output: [sunk],
      name: sunk,
      opType: 'Slice',
      domain: '',
      attribute: [],
      docString: '',
    });
    return valueInfo(sunk, v.elemType, Array(rank).fill(1));
  });
  return {
    ...model,
    graph: {
      ...graph,
      node: [...graph.node, ...nodes],
      initializer: [...graph.initializer, ...initializers],
      output: outputs,
    },
  };
}
