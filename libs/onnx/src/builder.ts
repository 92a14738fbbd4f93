import {
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
  type AttributeProto,
} from '@blinknet/proto/onnx';
import { attribute } from './attributes';
import { DataType, type TensorData } from './dtype';
import { SeededRandom } from './random';
import { inferShapes, type ValueInfo } from './shape-inference';
import { tensorToProto } from './tensor';

export interface ModelBuilderOptions {
  /** Graph name, also used as the model's doc string. */
  readonly name: string;
  /** Seed for weight initialisation. @default 1 */
  readonly seed?: number;
  /** Default-domain opset. @default 13 */
  readonly opset?: number;
}

export interface ConvSpec {
  readonly name: string;
  readonly outChannels: number;
  readonly kernel: number;
  readonly stride?: number;
  readonly pad?: number;
  readonly group?: number;
}

export interface PoolSpec {
  readonly kernel: number;
  readonly stride: number;
  readonly pad?: number;
  /** Round output sizes up, as Caffe does. @default false */
  readonly ceil?: boolean;
}

// onnxruntime-node 1.30 reads IR <= 13; 8 is the IR version of opset 13.
const IR_VERSION = 8n;

/**
 * Builds ONNX models layer by layer with deterministic He-initialised weights (He et al. 2015:
 * N(0, 2 / fan_in)), tracking shapes as it goes so that each layer knows its input size.
 * Used for the paper's networks, test models and fixtures.
 */
export class ModelBuilder {
  readonly #nodes: NodeProto[] = [];
  readonly #initializers: TensorProto[] = [];
  readonly #inputs: ValueInfoProto[] = [];
  readonly #outputs: ValueInfoProto[] = [];
  readonly #shapes = new Map<string, readonly number[]>();
  readonly #random: SeededRandom;
  readonly #names = new Set<string>();

  constructor(readonly options: ModelBuilderOptions) {
    this.#random = new SeededRandom(options.seed ?? 1);
  }

  /** Declares a float32 graph input; dimension 0 is the symbolic batch `N`. */
  input(name: string, dims: readonly number[]): string {
    this.#inputs.push(valueInfo(name, DataType.FLOAT, ['N', ...dims.slice(1)]));
    this.#shapes.set(name, dims);
    return this.#claim(name);
  }

  output(tensor: string): void {
    const dims = this.shape(tensor);
    this.#outputs.push(valueInfo(tensor, DataType.FLOAT, ['N', ...dims.slice(1)]));
  }

  shape(tensor: string): readonly number[] {
    const dims = this.#shapes.get(tensor);
    if (!dims) throw new Error(`ModelBuilder: unknown tensor '${tensor}'`);
    return dims;
  }

  /** Adds a constant tensor (initializer). */
  constant(name: string, dims: readonly number[], data: TensorData): string {
    this.#initializers.push(tensorToProto({ name: this.#claim(name), dims, data }));
    this.#shapes.set(name, dims);
    return name;
  }

  /** Adds a node and returns its (single) output name, `<name>_out` unless given. */
  node(
    opType: string,
    name: string,
    inputs: readonly string[],
    attributes: AttributeProto[] = [],
    output?: string,
  ): string {
    const out = this.#claim(output ?? `${name}_out`);
    const node: NodeProto = {
      input: [...inputs],
      output: [out],
      name: this.#claim(name),
      opType,
      domain: '',
      attribute: attributes,
      docString: '',
    };
    this.#nodes.push(node);
    this.#shapes.set(out, this.#inferOne(node).dims);
    return out;
  }

  conv(x: string, spec: ConvSpec): string {
    const [, inChannels] = this.shape(x);
    const group = spec.group ?? 1;
    const fanIn = (inChannels / group) * spec.kernel * spec.kernel;
    const w = this.#heWeight(
      `${spec.name}.weight`,
      [spec.outChannels, inChannels / group, spec.kernel, spec.kernel],
      fanIn,
    );
    const b = this.constant(`${spec.name}.bias`, [spec.outChannels], new Float32Array(spec.outChannels));
    const pad = spec.pad ?? 0;
    return this.node(
      'Conv',
      spec.name,
      [x, w, b],
      [
        attribute.ints('kernel_shape', [spec.kernel, spec.kernel]),
        attribute.ints('strides', [spec.stride ?? 1, spec.stride ?? 1]),
        attribute.ints('pads', [pad, pad, pad, pad]),
        attribute.ints('dilations', [1, 1]),
        attribute.int('group', group),
      ],
    );
  }

  /** Fully connected layer: Gemm with transB = 1 (weight [out, in], as Caffe's InnerProduct). */
  gemm(x: string, name: string, outFeatures: number): string {
    const [, inFeatures] = this.shape(x);
    const w = this.#heWeight(`${name}.weight`, [outFeatures, inFeatures], inFeatures);
    const b = this.constant(`${name}.bias`, [outFeatures], new Float32Array(outFeatures));
    return this.node('Gemm', name, [x, w, b], [attribute.int('transB', 1)]);
  }

  relu(x: string, name: string): string {
    return this.node('Relu', name, [x]);
  }

  maxPool(x: string, name: string, spec: PoolSpec): string {
    return this.node('MaxPool', name, [x], poolAttributes(spec));
  }

  averagePool(x: string, name: string, spec: PoolSpec): string {
    return this.node('AveragePool', name, [x], poolAttributes(spec));
  }

  /** Caffe-style cross-channel LRN. */
  lrn(x: string, name: string, size: number, alpha: number, beta: number, bias = 1): string {
    return this.node(
      'LRN',
      name,
      [x],
      [
        attribute.int('size', size),
        attribute.float('alpha', alpha),
        attribute.float('beta', beta),
        attribute.float('bias', bias),
      ],
    );
  }

  flatten(x: string, name: string): string {
    return this.node('Flatten', name, [x], [attribute.int('axis', 1)]);
  }

  dropout(x: string, name: string): string {
    return this.node('Dropout', name, [x]);
  }

  softmax(x: string, name: string): string {
    return this.node('Softmax', name, [x], [attribute.int('axis', 1)]);
  }

  build(): ModelProto {
    return {
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: BigInt(this.options.opset ?? 13) }],
      producerName: 'blinknet',
      producerVersion: '0.1.0',
      domain: '',
      modelVersion: 1n,
      docString: this.options.name,
      graph: {
        node: [...this.#nodes],
        name: this.options.name,
        initializer: [...this.#initializers],
        docString: '',
        input: [...this.#inputs],
        output: [...this.#outputs],
        valueInfo: [],
      },
      metadataProps: [],
    };
  }

  #heWeight(name: string, dims: readonly number[], fanIn: number): string {
    const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
    return this.constant(name, dims, this.#random.fillNormal(data, Math.sqrt(2 / fanIn)));
  }

  /** Infers one node's output from the shapes known so far, through the same rules as inferShapes. */
  #inferOne(node: NodeProto): ValueInfo {
    const needed = node.input.filter((n) => n !== '');
    const init = this.#initializers.filter((t) => needed.includes(t.name));
    const inputs = needed
      .filter((n) => !init.some((t) => t.name === n))
      .map((n) => valueInfo(n, DataType.FLOAT, this.shape(n)));
    const probe: ModelProto = {
      ...this.build(),
      graph: {
        node: [node],
        name: 'probe',
        initializer: init,
        docString: '',
        input: inputs,
        output: [],
        valueInfo: [],
      },
    };
    return inferShapes(probe).get(node.output[0]) as ValueInfo;
  }

  #claim(name: string): string {
    if (this.#names.has(name)) throw new Error(`ModelBuilder: name '${name}' is used twice`);
    this.#names.add(name);
    return name;
  }
}

function poolAttributes(spec: PoolSpec): AttributeProto[] {
  const pad = spec.pad ?? 0;
  return [
    attribute.ints('kernel_shape', [spec.kernel, spec.kernel]),
    attribute.ints('strides', [spec.stride, spec.stride]),
    attribute.ints('pads', [pad, pad, pad, pad]),
    attribute.int('ceil_mode', spec.ceil ? 1 : 0),
  ];
}

/** A ValueInfoProto for a tensor; string dims are symbolic, no dims means an unknown shape. */
export function valueInfo(
  name: string,
  elemType: number,
  dims?: readonly (number | string)[],
): ValueInfoProto {
  const shape = dims && {
    dim: dims.map((d) =>
      typeof d === 'number' ? { dimValue: BigInt(d), denotation: '' } : { dimParam: d, denotation: '' },
    ),
  };
  return { name, docString: '', type: { denotation: '', tensorType: { elemType, shape } } };
}
