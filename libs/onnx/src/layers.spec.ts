import { type ModelProto } from '@blinknet/proto/onnx';
import { attribute } from './attributes';
import { ModelBuilder } from './builder';
import { activationPeakBytes, countParameters, describeLayers } from './layers';
import { tensorFromProto } from './tensor';

function convNet(): ModelProto {
  const b = new ModelBuilder({ name: 'net', seed: 3 });
  const x = b.input('x', [1, 4, 8, 8]);
  let y = b.relu(b.conv(x, { name: 'conv', outChannels: 6, kernel: 3, pad: 1, group: 2 }), 'relu');
  y = b.flatten(b.maxPool(y, 'pool', { kernel: 2, stride: 2 }), 'flat');
  const w = b.constant('mm.weight', [96, 5], new Float32Array(96 * 5));
  b.output(b.node('MatMul', 'mm', [b.gemm(y, 'fc', 96), w]));
  return b.build();
}

/** Moves every initializer into a Constant node, as some exporters emit weights. */
function withConstantNodes(model: ModelProto): ModelProto {
  const graph = model.graph!;
  const constants = graph.initializer.map((t) => ({
    input: [],
    output: [t.name],
    name: `const_${t.name}`,
    opType: 'Constant',
    domain: '',
    attribute: [attribute.tensor('value', tensorFromProto(t))],
    docString: '',
  }));
  return { ...model, graph: { ...graph, initializer: [], node: [...constants, ...graph.node] } };
}

describe('describeLayers', () => {
  it('lists Conv, Gemm and MatMul with constant weights, with shapes, bytes and FLOPs', () => {
    const layers = describeLayers(convNet());
    expect(layers.map((l) => [l.name, l.opType, l.weightShape])).toEqual([
      ['conv', 'Conv', [6, 2, 3, 3]],
      ['fc', 'Gemm', [96, 96]],
      ['mm', 'MatMul', [96, 5]],
    ]);
    const [conv, fc, mm] = layers;
    expect(conv.group).toBe(2);
    expect(conv.outputShape).toEqual([1, 6, 8, 8]);
    // 6 x 8 x 8 outputs, each a dot product over (4 / 2) x 3 x 3 = 18 inputs.
    expect(conv.flops).toBe(2 * 6 * 64 * 18);
    expect(conv.weightBytes).toBe((6 * 2 * 9 + 6) * 4);
    expect(fc.flops).toBe(2 * 96 * 96);
    expect(fc.parameters).toBe(96 * 96 + 96);
    expect(mm.biasName).toBeUndefined();
    expect(mm.flops).toBe(2 * 96 * 5);
  });

  it('scales FLOPs with the batch size', () => {
    const [conv] = describeLayers(convNet(), { batchSize: 8 });
    expect(conv.flops).toBe(8 * 2 * 6 * 64 * 18);
  });

  it('reads weights given as Constant nodes exactly like initializers', () => {
    const model = convNet();
    expect(describeLayers(withConstantNodes(model))).toEqual(describeLayers(model));
  });

  it('does not offer a MatMul whose both inputs are activations', () => {
    const b = new ModelBuilder({ name: 'attn' });
    const x = b.input('x', [1, 4, 4]);
    b.output(b.node('MatMul', 'self', [x, x]));
    expect(describeLayers(b.build())).toEqual([]);
  });

  it('counts parameters from weight initializers only', () => {
    const model = convNet();
    expect(countParameters(model)).toBe(6 * 18 + 6 + 96 * 96 + 96 + 96 * 5);
  });
});

describe('activationPeakBytes', () => {
  it('is the most bytes one node reads and writes at once, constants excluded', () => {
    // relu holds the conv's output (6 x 8 x 8 floats) in and out: more than conv (4 x 8 x 8 in).
    expect(activationPeakBytes(convNet())).toBe(2 * 6 * 64 * 4);
    expect(activationPeakBytes(convNet(), { batchSize: 4 })).toBe(4 * 2 * 6 * 64 * 4);
  });
});
