import { type GraphProto, type ModelProto, type NodeProto, type TensorProto } from '@blinknet/proto/onnx';
import { findAttribute } from './attributes';
import { GraphStructureError, OnnxDecodeError } from './errors';
import { type Tensor, tensorFromProto } from './tensor';

/** A node's name for messages and layer ids: its ONNX name, or its first output when unnamed. */
export function nodeLabel(node: NodeProto): string {
  return node.name || node.output[0] || `<${node.opType}>`;
}

/**
 * Read-only index over a model's graph: who produces and who consumes each tensor, which tensors
 * are constant (initializers and `Constant` node outputs), and a topological order.
 * Build a new view after changing the model.
 */
export class GraphView {
  readonly graph: GraphProto;
  readonly producers = new Map<string, NodeProto>();
  readonly consumers = new Map<string, NodeProto[]>();
  readonly initializers = new Map<string, TensorProto>();
  readonly graphInputs: ReadonlySet<string>;
  readonly graphOutputs: ReadonlySet<string>;
  readonly order: readonly NodeProto[];
  readonly #constants = new Map<string, Tensor>();

  constructor(readonly model: ModelProto) {
    if (!model.graph) throw new OnnxDecodeError('model', 'has no graph');
    this.graph = model.graph;
    for (const init of this.graph.initializer) this.initializers.set(init.name, init);
    for (const node of this.graph.node) {
      for (const out of node.output) {
        if (out === '') continue;
        if (this.producers.has(out) || this.initializers.has(out)) {
          throw new GraphStructureError(`tensor '${out}' is produced more than once`, nodeLabel(node));
        }
        this.producers.set(out, node);
      }
      for (const input of node.input) {
        if (input === '') continue; // an omitted optional input
        const list = this.consumers.get(input) ?? [];
        list.push(node);
        this.consumers.set(input, list);
      }
    }
    // Inputs that are also initializers are overridable defaults, not real inputs.
    this.graphInputs = new Set(this.graph.input.map((v) => v.name).filter((n) => !this.initializers.has(n)));
    this.graphOutputs = new Set(this.graph.output.map((v) => v.name));
    this.order = this.#topologicalOrder();
  }

  /** Kahn's algorithm; also proves every input of every node is defined somewhere. */
  #topologicalOrder(): NodeProto[] {
    const available = new Set<string>([...this.graphInputs, ...this.initializers.keys()]);
    const pending = new Map<NodeProto, number>();
    const ready: NodeProto[] = [];
    for (const node of this.graph.node) {
      const missing = new Set(node.input.filter((i) => i !== '' && !available.has(i)));
      for (const input of missing) {
        if (!this.producers.has(input)) {
          throw new GraphStructureError(
            `input '${input}' is not produced by any node, initializer or graph input`,
            nodeLabel(node),
          );
        }
      }
      if (missing.size === 0) ready.push(node);
      else pending.set(node, missing.size);
    }
    const order: NodeProto[] = [];
    const waitingOn = (tensor: string) => this.consumers.get(tensor) ?? [];
    while (ready.length > 0) {
      const node = ready.shift() as NodeProto;
      order.push(node);
      for (const out of node.output) {
        for (const consumer of new Set(waitingOn(out))) {
          const left = pending.get(consumer);
          if (left === undefined) continue;
          if (left === 1) {
            pending.delete(consumer);
            ready.push(consumer);
          } else pending.set(consumer, left - 1);
        }
      }
    }
    if (pending.size > 0) {
      const stuck = [...pending.keys()].map(nodeLabel).slice(0, 5).join(', ');
      throw new GraphStructureError(`the graph has a cycle through: ${stuck}`);
    }
    for (const out of this.graphOutputs) {
      if (!this.producers.has(out) && !this.initializers.has(out) && !this.graphInputs.has(out)) {
        throw new GraphStructureError(`graph output '${out}' is not produced by any node`);
      }
    }
    return order;
  }

  /** The value of a constant tensor (initializer or Constant node output), or undefined. */
  constant(name: string): Tensor | undefined {
    const cached = this.#constants.get(name);
    if (cached) return cached;
    const init = this.initializers.get(name);
    let tensor: Tensor | undefined;
    if (init) tensor = tensorFromProto(init);
    else {
      const node = this.producers.get(name);
      const value = node?.opType === 'Constant' ? findAttribute(node, 'value')?.t : undefined;
      if (value) tensor = { ...tensorFromProto(value), name };
    }
    if (tensor) this.#constants.set(name, tensor);
    return tensor;
  }

  isConstant(name: string): boolean {
    return this.initializers.has(name) || this.producers.get(name)?.opType === 'Constant';
  }

  /** The node with this label (see nodeLabel). */
  node(label: string): NodeProto | undefined {
    return this.graph.node.find((n) => nodeLabel(n) === label);
  }
}
