import { attribute, encodeModel, ModelBuilder } from '@blinknet/onnx';
import { InferenceError, ModelSession, ONNXRUNTIME_VERSION, SessionCreateError } from './index';

/** y = x W^T + b with W = [[1, 2], [3, 4], [5, 6]] and b = [0.5, 0, -1]. */
function linearModel(): Uint8Array {
  const b = new ModelBuilder({ name: 'linear' });
  const x = b.input('x', [1, 2]);
  const w = b.constant('w', [3, 2], new Float32Array([1, 2, 3, 4, 5, 6]));
  const bias = b.constant('b', [3], new Float32Array([0.5, 0, -1]));
  b.output(b.node('Gemm', 'fc', [x, w, bias], [attribute.int('transB', 1)], 'y'));
  return encodeModel(b.build());
}

describe('ModelSession', () => {
  it('runs a model from bytes and returns correct float32 outputs', async () => {
    const b = new ModelBuilder({ name: 'linear' });
    const x = b.input('x', [1, 2]);
    b.output(b.gemm(x, 'fc', 3));
    const model = b.build();
    const session = await ModelSession.create(encodeModel(model), { intraOpThreads: 1 });
    try {
      expect(session.inputNames).toEqual(['x']);
      const out = await session.run({ x: { data: new Float32Array([1, -1, 2, 0.5]), dims: [2, 2] } });
      expect(out['fc_out'].dims).toEqual([2, 3]);
      expect(out['fc_out'].data).toBeInstanceOf(Float32Array);
    } finally {
      await session.dispose();
    }
    expect(ONNXRUNTIME_VERSION).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('computes the same numbers as the maths', async () => {
    const session = await ModelSession.create(linearModel());
    try {
      const out = await session.run({ x: { data: new Float32Array([1, 1]), dims: [1, 2] } });
      expect(Array.from(out['y'].data)).toEqual([3.5, 7, 10]);
    } finally {
      await session.dispose();
    }
  });

  it('reports a corrupt model as SessionCreateError naming the source', async () => {
    await expect(ModelSession.create(new Uint8Array([1, 2, 3, 4]), {}, 'broken.onnx')).rejects.toThrow(
      SessionCreateError,
    );
    await expect(ModelSession.create(new Uint8Array([1, 2, 3, 4]), {}, 'broken.onnx')).rejects.toThrow(
      /broken\.onnx/,
    );
  });

  it('rejects missing or mis-sized inputs before calling onnxruntime', async () => {
    const session = await ModelSession.create(linearModel(), {}, 'linear');
    try {
      await expect(session.run({})).rejects.toThrow(new InferenceError('linear', "missing input 'x'"));
      await expect(session.run({ x: { data: new Float32Array(3), dims: [1, 2] } })).rejects.toThrow(
        /has 3 values/,
      );
    } finally {
      await session.dispose();
    }
  });

  it('rejects bad thread counts with the option name', async () => {
    await expect(ModelSession.create(linearModel(), { intraOpThreads: -1 })).rejects.toThrow(
      /intraOpThreads/,
    );
  });
});

describe('ModelSession.profileNodes', () => {
  it('runs int8-stored weights as float: the DequantizeLinear of a constant is folded at load', async () => {
    const b = new ModelBuilder({ name: 'int8-storage' });
    const x = b.input('x', [1, 16]);
    const q = b.constant(
      'w_q',
      [16, 16],
      Int8Array.from({ length: 256 }, (_, i) => (i % 7) - 3),
    );
    const scale = b.constant('w_scale', [], new Float32Array([0.02]));
    const zero = b.constant('w_zero', [], new Int8Array([0]));
    const w = b.node('DequantizeLinear', 'w_dq', [q, scale, zero]);
    b.output(b.node('MatMul', 'mm', [x, w]));
    const input = { x: { data: new Float32Array(16).fill(0.5), dims: [1, 16] } };
    const nodes = await ModelSession.profileNodes(encodeModel(b.build()), input, { intraOpThreads: 1 }, 3);
    expect(nodes.map((n) => n.opType)).toEqual(['MatMul']);
  });

  it("attributes time to each node from onnxruntime's profiler, slowest first", async () => {
    const b = new ModelBuilder({ name: 'two-convs' });
    const x = b.input('x', [1, 8, 32, 32]);
    const h = b.relu(b.conv(x, { name: 'big', outChannels: 64, kernel: 3, pad: 1 }), 'act');
    b.output(b.conv(h, { name: 'small', outChannels: 2, kernel: 1 }));
    const input = { x: { data: new Float32Array(8 * 32 * 32).fill(0.5), dims: [1, 8, 32, 32] } };
    // 'basic' keeps the graph's node names; higher levels fuse and rename nodes (what then ran).
    const options = { intraOpThreads: 1, graphOptimizationLevel: 'basic' as const };
    const nodes = await ModelSession.profileNodes(encodeModel(b.build()), input, options, 10);
    expect(nodes.map((n) => n.node).sort()).toEqual(['act', 'big', 'small']);
    expect(nodes[0]).toMatchObject({ node: 'big', opType: 'Conv' });
    for (const n of nodes) expect(n.medianUs).toBeGreaterThan(0);
    expect(nodes.reduce((s, n) => s + n.share, 0)).toBeCloseTo(1, 6);
  });
});
