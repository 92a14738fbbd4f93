import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countParameters, describeLayers, encodeModel, writeModel } from '@blinknet/onnx';
import { ModelSession } from '@blinknet/runtime';
import { buildNetwork, networkFile, type PaperNetwork } from './networks';

const dir = mkdtempSync(join(tmpdir(), 'blinknet-zoo-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Parameter counts of the original Caffe models (weights + biases), checked layer by layer in the README.
const EXPECTED: Record<PaperNetwork, { parameters: number; side: number; classes: number; layers: number }> =
  {
    'cifar10-quick': { parameters: 145_578, side: 32, classes: 10, layers: 5 },
    caffenet: { parameters: 60_965_224, side: 227, classes: 1000, layers: 8 },
    vgg16: { parameters: 138_357_544, side: 224, classes: 1000, layers: 16 },
  };

describe.each(Object.entries(EXPECTED))('%s', (name, expected) => {
  it('has the original parameter count and runs in onnxruntime with the right output shape', async () => {
    const model = buildNetwork(name as PaperNetwork);
    expect(countParameters(model)).toBe(expected.parameters);
    const layers = describeLayers(model);
    expect(layers).toHaveLength(expected.layers);
    expect(layers.reduce((n, l) => n + l.parameters, 0)).toBe(expected.parameters);

    const path = join(dir, `${name}.onnx`);
    writeModel(path, model);
    const session = await ModelSession.create(path, { intraOpThreads: 2 });
    try {
      const side = expected.side;
      const input = new Float32Array(3 * side * side).map((_, i) => Math.sin(i));
      const outputs = await session.run({ data: { data: input, dims: [1, 3, side, side] } });
      const [prob] = Object.values(outputs);
      expect(prob.dims).toEqual([1, expected.classes]);
      // The last op is Softmax: a probability distribution.
      expect(prob.data.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    } finally {
      await session.dispose();
    }
  }, 180_000);
});

describe('network builders', () => {
  it('are deterministic for a seed and differ between seeds', () => {
    const a = encodeModel(buildNetwork('cifar10-quick', { seed: 3 }));
    const b = encodeModel(buildNetwork('cifar10-quick', { seed: 3 }));
    const c = encodeModel(buildNetwork('cifar10-quick', { seed: 4 }));
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(Buffer.from(a).equals(Buffer.from(c))).toBe(false);
  });

  it('CaffeNet keeps its grouped convolutions and LRN', () => {
    const layers = describeLayers(buildNetwork('caffenet'));
    expect(layers.filter((l) => l.group === 2).map((l) => l.name)).toEqual(['conv2', 'conv4', 'conv5']);
    expect(layers.find((l) => l.name === 'fc6')?.weightShape).toEqual([4096, 9216]);
  });

  it('builds a network file once into the cache and reuses it', () => {
    const cacheDir = join(dir, 'cache');
    const path = networkFile('cifar10-quick', { cacheDir });
    const first = statSync(path).mtimeMs;
    expect(networkFile('cifar10-quick', { cacheDir })).toBe(path);
    expect(statSync(path).mtimeMs).toBe(first);
  });

  it('rejects an unknown network by name', () => {
    expect(() => buildNetwork('resnet50' as PaperNetwork)).toThrow(/unknown network 'resnet50'/);
  });
});
