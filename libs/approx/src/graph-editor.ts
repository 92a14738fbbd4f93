import {
  type AttributeProto,
  type DataType,
  GraphView,
  type ModelProto,
  type NodeProto,
  type Tensor,
  type TensorData,
  type TensorProto,
  nodeLabel,
  tensorToProto,
} from '@blinknet/onnx';

/**
 * A working copy of a model's graph for transforms: replace nodes, add initializers, mint fresh names.
 * The input model is never mutated; `build()` returns a new model that drops constants nobody uses.
 */
export class GraphEditor {
  #nodes: NodeProto[];
  readonly #initializers: Map<string, TensorProto>;
  readonly #names = new Set<string>();
  readonly #base: ModelProto;

  constructor(model: ModelProto) {
    const view = new GraphView(model); // validates the input first
    this.#base = model;
    this.#nodes = [...view.order];
    this.#initializers = new Map(view.initializers);
    for (const node of this.#nodes) {
      this.#names.add(node.name);
      node.output.forEach((o) => this.#names.add(o));
    }
    for (const name of this.#initializers.keys()) this.#names.add(name);
    for (const v of [...view.graph.input, ...view.graph.output]) this.#names.add(v.name);
  }

  /** A view of the graph as edited so far. */
  view(): GraphView {
    return new GraphView(this.build());
  }

  /** A name no node or tensor of the graph uses yet, derived from `base`. */
  fresh(base: string): string {
    let name = base;
    for (let i = 2; this.#names.has(name); i++) name = `${base}_${i}`;
    this.#names.add(name);
    return name;
  }

  node(label: string): NodeProto | undefined {
    return this.#nodes.find((n) => nodeLabel(n) === label);
  }

  get nodes(): readonly NodeProto[] {
    return this.#nodes;
  }

  /** Adds a constant initializer under a fresh name derived from `base`; returns the name. */
  constant(base: string, dims: readonly number[], data: TensorData, dataType?: DataType): string {
    const name = this.fresh(base);
    this.#initializers.set(name, tensorToProto({ name, dims, data, dataType }));
    return name;
  }

  /** Builds a node with a fresh name and fresh output names (`<name>:<suffix>`). */
  makeNode(
    opType: string,
    base: string,
    inputs: readonly string[],
    attributes: AttributeProto[] = [],
    outputs = 1,
  ): NodeProto {
    const name = this.fresh(base);
    return {
      name,
      opType,
      domain: '',
      docString: '',
      input: [...inputs],
      output: Array.from({ length: outputs }, (_, i) =>
        this.fresh(outputs === 1 ? `${name}:out` : `${name}:out${i}`),
      ),
      attribute: attributes,
    };
  }

  /** Replaces a node with others (in order) in the node list. */
  replace(node: NodeProto, replacement: readonly NodeProto[]): void {
    const at = this.#nodes.indexOf(node);
    if (at < 0) throw new Error(`GraphEditor: node '${nodeLabel(node)}' is not in the graph`);
    this.#nodes = [...this.#nodes.slice(0, at), ...replacement, ...this.#nodes.slice(at + 1)];
  }

  /** Replaces a node by a modified copy. */
  update(node: NodeProto, patch: Partial<NodeProto>): NodeProto {
    const updated = { ...node, ...patch };
    this.replace(node, [updated]);
    return updated;
  }

  /** The value of a constant tensor as currently edited. */
  tensor(name: string): Tensor | undefined {
    return this.view().constant(name);
  }

  /** A new model: nodes in topological order, unused initializers and Constant nodes dropped. */
  build(): ModelProto {
    const used = new Set<string>(this.#base.graph!.output.map((v) => v.name));
    for (const node of this.#nodes) node.input.forEach((i) => used.add(i));
    const nodes = this.#nodes.filter((n) => n.opType !== 'Constant' || n.output.some((o) => used.has(o)));
    const initializer = [...this.#initializers.values()].filter((t) => used.has(t.name));
    const graph = this.#base.graph!;
    return {
      ...this.#base,
      graph: {
        ...graph,
        node: nodes,
        initializer,
        // Inputs that only fed removed initializers go too; value_info of replaced tensors is stale.
        input: graph.input.filter(
          (v) => !this.#base.graph!.initializer.some((t) => t.name === v.name) || used.has(v.name),
        ),
        valueInfo: [],
      },
    };
  }
}
