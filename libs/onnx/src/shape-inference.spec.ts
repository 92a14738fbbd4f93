import { attribute } from './attributes';
import { ModelBuilder, valueInfo } from './builder';
import { DataType } from './dtype';
import { ShapeInferenceError, UnsupportedOpError } from './errors';
import { inferShapes } from './shape-inference';
import { tensorToProto } from './tensor';
import { type ModelProto, type NodeProto } from '@blinknet/proto/onnx';

/** A one-node model over float inputs of the given shapes plus optional int64 constants. */
function oneNode(
  opType: string,
  inputs: Record<string, number[]>,
  attrs: ReturnType<typeof attribute.int>[] = [],
  constants: Record<string, bigint[]> = {},
  outputs = 1,
): ModelProto {
  const b = new ModelBuilder({ name: 't' });
  const model = b.build();
  const node: NodeProto = {
    input: [...Object.keys(inputs), ...Object.keys(constants)],
    output: Array.from({ length: outputs }, (_, i) => `y${i}`),
    name: 'n',
    opType,
    domain: '',
    attribute: attrs,
    docString: '',
  };
  model.graph!.node = [node];
  model.graph!.input = Object.entries(inputs).map(([name, dims]) => valueInfo(name, DataType.FLOAT, dims));
  model.graph!.initializer = Object.entries(constants).map(([name, values]) =>
    tensorToProto({ name, dims: [values.length], data: BigInt64Array.from(values) }),
  );
  return model;
}

const dimsOf = (model: ModelProto, name = 'y0', batchSize?: number) =>
  inferShapes(model, { batchSize }).get(name)?.dims;

describe('inferShapes', () => {
  it('Conv: pads, strides, dilations and groups', () => {
    const m = oneNode('Conv', { x: [1, 4, 10, 12], w: [8, 2, 3, 3] }, [
      attribute.ints('pads', [1, 0, 1, 0]),
      attribute.ints('strides', [2, 1]),
      attribute.ints('dilations', [1, 2]),
      attribute.int('group', 2),
    ]);
    // H: (10 + 2 - 3) / 2 + 1 = 5; W: (12 - (2*2+1)) / 1 + 1 = 8
    expect(dimsOf(m)).toEqual([1, 8, 5, 8]);
  });

  it('Conv: auto_pad SAME_UPPER keeps ceil(size / stride)', () => {
    const m = oneNode('Conv', { x: [1, 3, 7, 7], w: [4, 3, 3, 3] }, [
      attribute.string('auto_pad', 'SAME_UPPER'),
      attribute.ints('strides', [2, 2]),
    ]);
    expect(dimsOf(m)).toEqual([1, 4, 4, 4]);
  });

  it('Conv: channel mismatch names the node', () => {
    const m = oneNode('Conv', { x: [1, 3, 8, 8], w: [4, 2, 3, 3] });
    expect(() => inferShapes(m)).toThrow(ShapeInferenceError);
    expect(() => inferShapes(m)).toThrow(/node 'n' \(Conv\): input has 3 channels/);
  });

  it('MaxPool and AveragePool: floor and ceil modes', () => {
    const pool = (op: string, ceil: number, size: number) =>
      dimsOf(
        oneNode(op, { x: [2, 3, size, size] }, [
          attribute.ints('kernel_shape', [3, 3]),
          attribute.ints('strides', [2, 2]),
          attribute.int('ceil_mode', ceil),
        ]),
      );
    expect(pool('MaxPool', 0, 32)).toEqual([2, 3, 15, 15]);
    expect(pool('MaxPool', 1, 32)).toEqual([2, 3, 16, 16]);
    expect(pool('AveragePool', 1, 16)).toEqual([2, 3, 8, 8]);
    expect(pool('AveragePool', 0, 16)).toEqual([2, 3, 7, 7]);
  });

  it('ceil_mode drops a last window that would start in the right padding', () => {
    const m = oneNode('MaxPool', { x: [1, 1, 5, 5] }, [
      attribute.ints('kernel_shape', [2, 2]),
      attribute.ints('strides', [2, 2]),
      attribute.ints('pads', [1, 1, 1, 1]),
      attribute.int('ceil_mode', 1),
    ]);
    // ceil((5 + 2 - 2) / 2) + 1 = 4, but the 4th window would start at 6 = 5 + 1 (right padding only).
    expect(dimsOf(m)).toEqual([1, 1, 3, 3]);
  });

  it('GlobalAveragePool, LRN, BatchNormalization, Dropout keep or collapse shapes', () => {
    expect(dimsOf(oneNode('GlobalAveragePool', { x: [2, 5, 7, 9] }))).toEqual([2, 5, 1, 1]);
    expect(dimsOf(oneNode('LRN', { x: [2, 5, 7, 9] }, [attribute.int('size', 5)]))).toEqual([2, 5, 7, 9]);
    expect(
      dimsOf(oneNode('BatchNormalization', { x: [2, 5, 7, 9], s: [5], b: [5], m: [5], v: [5] })),
    ).toEqual([2, 5, 7, 9]);
    const drop = inferShapes(oneNode('Dropout', { x: [2, 5] }, [], {}, 2));
    expect(drop.get('y1')).toEqual({ elemType: DataType.BOOL, dims: [2, 5] });
  });

  it('element-wise activations keep the shape', () => {
    for (const op of ['Relu', 'LeakyRelu', 'Clip', 'Sigmoid', 'Softmax']) {
      expect(dimsOf(oneNode(op, { x: [3, 4, 5] }))).toEqual([3, 4, 5]);
    }
  });

  it('Gemm with transA / transB', () => {
    expect(dimsOf(oneNode('Gemm', { a: [4, 6], b: [5, 6], c: [5] }, [attribute.int('transB', 1)]))).toEqual([
      4, 5,
    ]);
    expect(dimsOf(oneNode('Gemm', { a: [6, 4], b: [6, 5] }, [attribute.int('transA', 1)]))).toEqual([4, 5]);
    expect(() => inferShapes(oneNode('Gemm', { a: [4, 6], b: [5, 6] }))).toThrow(/inner dimensions differ/);
  });

  it('MatMul broadcasts batch dimensions and handles vectors', () => {
    expect(dimsOf(oneNode('MatMul', { a: [2, 1, 3, 4], b: [5, 4, 6] }))).toEqual([2, 5, 3, 6]);
    expect(dimsOf(oneNode('MatMul', { a: [4], b: [4, 6] }))).toEqual([6]);
    expect(dimsOf(oneNode('MatMul', { a: [3, 4], b: [4] }))).toEqual([3]);
  });

  it('Flatten, Reshape (0 and -1), Concat', () => {
    expect(dimsOf(oneNode('Flatten', { x: [2, 3, 4, 5] }))).toEqual([2, 60]);
    expect(dimsOf(oneNode('Flatten', { x: [2, 3, 4, 5] }, [attribute.int('axis', -1)]))).toEqual([24, 5]);
    expect(dimsOf(oneNode('Reshape', { x: [2, 3, 4, 5] }, [], { shape: [0n, -1n] }))).toEqual([2, 60]);
    expect(() => dimsOf(oneNode('Reshape', { x: [2, 3] }, [], { shape: [4n, 2n] }))).toThrow(
      /cannot reshape/,
    );
    expect(dimsOf(oneNode('Concat', { a: [2, 3, 4], b: [2, 5, 4] }, [attribute.int('axis', 1)]))).toEqual([
      2, 8, 4,
    ]);
  });

  it('Add and Mul broadcast, and reject incompatible shapes', () => {
    expect(dimsOf(oneNode('Add', { a: [2, 3, 4, 5], b: [3, 1, 1] }))).toEqual([2, 3, 4, 5]);
    expect(dimsOf(oneNode('Mul', { a: [1, 5], b: [4, 1] }))).toEqual([4, 5]);
    expect(() => inferShapes(oneNode('Add', { a: [2, 3], b: [4] }))).toThrow(/do not broadcast/);
  });

  it('symbolic input dims take the batch size', () => {
    const m = oneNode('Relu', { x: [1, 3] });
    m.graph!.input[0] = valueInfo('x', DataType.FLOAT, ['N', 3]);
    expect(dimsOf(m, 'y0', 16)).toEqual([16, 3]);
  });

  it('an unknown op is a typed error naming the node and the op', () => {
    const m = oneNode('FancyAttention', { x: [1, 3] });
    expect(() => inferShapes(m)).toThrow(UnsupportedOpError);
    expect(() => inferShapes(m)).toThrow("node 'n': shape inference does not support op 'FancyAttention'");
  });

  it("an unknown op passes when the model declares its outputs' shapes", () => {
    const m = oneNode('FancyAttention', { x: [1, 3] });
    m.graph!.valueInfo = [valueInfo('y0', DataType.FLOAT, ['N', 7])];
    expect(dimsOf(m, 'y0', 4)).toEqual([4, 7]);
    // A shape with an unknown dimension other than the batch does not count.
    m.graph!.valueInfo = [valueInfo('y0', DataType.FLOAT, ['N', 'K'])];
    expect(() => inferShapes(m)).toThrow(UnsupportedOpError);
  });
});
