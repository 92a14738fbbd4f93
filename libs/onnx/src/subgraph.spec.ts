import { type ValueInfoProto } from '@blinknet/proto/onnx';
import { ModelBuilder } from './builder';
import { GraphStructureError } from './errors';
import { extractSubgraph, sinkOutputs } from './subgraph';

function net() {
  const b = new ModelBuilder({ name: 'net' });
  const x = b.input('x', [1, 3, 8, 8]);
  const c1 = b.relu(b.conv(x, { name: 'conv1', outChannels: 4, kernel: 3, pad: 1 }), 'relu1');
  const c2 = b.conv(c1, { name: 'conv2', outChannels: 5, kernel: 3 });
  b.output(b.gemm(b.flatten(c2, 'flat'), 'fc', 2));
  return b.build();
}

describe('extractSubgraph', () => {
  it('keeps just the nodes and constants between the given tensors, with concrete shapes', () => {
    const sub = extractSubgraph(net(), ['relu1_out'], ['conv2_out'], { batchSize: 2 });
    expect(sub.graph!.node.map((n) => n.name)).toEqual(['conv2']);
    expect(sub.graph!.initializer.map((t) => t.name).sort()).toEqual(['conv2.bias', 'conv2.weight']);
    const dims = (v: ValueInfoProto) => v.type!.tensorType!.shape!.dim.map((d) => Number(d.dimValue));
    expect(dims(sub.graph!.input[0])).toEqual([2, 4, 8, 8]);
    expect(dims(sub.graph!.output[0])).toEqual([2, 5, 6, 6]);
  });

  it('spans several nodes', () => {
    const sub = extractSubgraph(net(), ['x'], ['conv2_out']);
    expect(sub.graph!.node.map((n) => n.name)).toEqual(['conv1', 'relu1', 'conv2']);
  });

  it('refuses outputs that need an input not listed', () => {
    expect(() => extractSubgraph(net(), ['relu1_out'], ['fc_out', 'conv1_out'])).toThrow(GraphStructureError);
    expect(() => extractSubgraph(net(), ['relu1_out'], ['conv1_out'])).toThrow(/graph input 'x'/);
  });
});

describe('sinkOutputs', () => {
  it("slices each graph output to its first element, leaving the layer's nodes as they were", () => {
    const sub = extractSubgraph(net(), ['relu1_out'], ['conv2_out']);
    const sunk = sinkOutputs(sub);
    expect(sunk.graph!.node.map((n) => n.opType)).toEqual(['Conv', 'Slice']);
    expect(sunk.graph!.node[1].input[0]).toBe('conv2_out');
    const dims = (v: ValueInfoProto) => v.type!.tensorType!.shape!.dim.map((d) => Number(d.dimValue));
    expect(sunk.graph!.output.map(dims)).toEqual([[1, 1, 1, 1]]);
    expect(sunk.graph!.input).toEqual(sub.graph!.input);
  });
});
