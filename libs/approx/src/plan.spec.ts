import {
  attribute,
  countParameters,
  decodeModel,
  describeLayers,
  encodeModel,
  extractSubgraph,
  GraphView,
  type ModelProto,
  ModelBuilder,
  tensorByteSize,
  valueInfo,
} from '@blinknet/onnx';
import { CalibrationRunner, ModelSession, OrtMatrixEngine } from '@blinknet/runtime';
import { buildNetwork, loadDataset, readReferenceModel, referenceModel, toInputBatch } from '@blinknet/zoo';
import { OptionNotOfferedError, OptionSyntaxError, UnknownLayerError } from './errors';
import { GraphEditor } from './graph-editor';
import { relativeError } from './linalg';
import { applyPlan, optionLadder } from './plan';
import { pruneIsolatedLayer } from './prune';

const engine = new OrtMatrixEngine(2);
afterAll(() => engine.dispose());

const lenetRef = referenceModel('lenet5-mnist');
const lenet = decodeModel(readReferenceModel(lenetRef));
const mnist = loadDataset('mnist', 'test');
const lenetInput = { data: toInputBatch(mnist, 0, 200, lenetRef.input), dims: [200, 1, 32, 32] };
// Calibration comes from the train split; errors are measured on the test split.
const calibrationImages = 2048;
const calibration = new CalibrationRunner({
  input: {
    data: toInputBatch(loadDataset('mnist', 'train'), 0, calibrationImages, lenetRef.input),
    dims: [calibrationImages, 1, 32, 32],
  },
});

/** The model with an extra graph output, so that a layer's own output can be compared. */
function exposing(model: ModelProto, tensor: string): ModelProto {
  return { ...model, graph: { ...model.graph!, output: [...model.graph!.output, valueInfo(tensor, 1)] } };
}

async function run(model: ModelProto, input = lenetInput): Promise<Record<string, Float32Array>> {
  const session = await ModelSession.create(encodeModel(model), { intraOpThreads: 1 });
  try {
    const outputs = await session.run({ [session.inputNames[0]]: input });
    return Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, v.data]));
  } finally {
    await session.dispose();
  }
}

/** Relative error of `layer`'s output under `option`, against the exact model, on real digits. */
async function layerError(layer: string, option: string, context = {}): Promise<number> {
  const node = new GraphView(lenet).node(layer)!;
  const out = node.output[0];
  const exact = await run(exposing(lenet, out));
  const approx = await run(
    exposing(await applyPlan(lenet, { [layer]: option }, { engine, ...context }), out),
  );
  return relativeError(exact[out], approx[out]);
}

const layers = describeLayers(lenet);
const weightBytes = (m: ModelProto) => m.graph!.initializer.reduce((n, t) => n + tensorByteSize(t), 0);

describe('applyPlan on the trained LeNet-5', () => {
  it.each(layers.map((l) => [l.name]))(
    '%s: full-rank factorisation reproduces the layer (< 1e-4)',
    async (name) => {
      const layer = layers.find((l) => l.name === name)!;
      const full = Math.min(
        layer.weightShape[0],
        layer.weightShape.slice(1).reduce((a, b) => a * b, 1),
      );
      expect(await layerError(name, `lowrank:r=${full}`, { allowAnyRank: true })).toBeLessThan(1e-4);
    },
  );

  it.each(layers.map((l) => [l.name]))('%s: output error falls as the rank rises', async (name) => {
    const ranks = optionLadder(lenet)
      .get(name)!
      .filter((c) => c.option.startsWith('lowrank:'))
      .map((c) => c.option);
    const errors: number[] = [];
    for (const option of ranks) errors.push(await layerError(name, option));
    expect(errors.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < errors.length; i++) expect(errors[i]).toBeLessThan(errors[i - 1]);
  });

  it.each(layers.map((l) => [l.name]))(
    '%s: data-aware low rank beats weight SVD at every rank',
    async (name) => {
      const ranks = optionLadder(lenet)
        .get(name)!
        .filter((c) => c.option.startsWith('lowrank:'))
        .map((c) => c.option);
      for (const option of ranks) {
        const plain = await layerError(name, option);
        const dataAware = await layerError(name, option.replace('lowrank', 'lowrank-data'), { calibration });
        expect(dataAware).toBeLessThan(plain);
      }
    },
    60_000,
  );

  it.each(layers.map((l) => [l.name]))(
    '%s: int8 in both forms stays within 1% of the output',
    async (name) => {
      expect(await layerError(name, 'int8:storage')).toBeLessThan(0.01);
      expect(await layerError(name, 'int8:compute', { calibration })).toBeLessThan(0.01);
    },
  );

  it('prune keep=1.0 is the identity', async () => {
    const prunable = optionLadder(lenet);
    const name = [...prunable].find(([, costs]) => costs.some((c) => c.option.startsWith('prune')))![0];
    const out = await applyPlan(lenet, { [name]: 'prune:keep=1' }, { engine });
    expect((await run(out))['logits']).toEqual((await run(lenet))['logits']);
  });

  it('applies several options at once, whatever the order of the plan', async () => {
    const [a, b, c] = layers.map((l) => l.name);
    const plan = { [a]: 'prune:keep=0.5', [b]: 'lowrank:r=8', [c]: 'int8:compute' };
    const reversed = Object.fromEntries(Object.entries(plan).reverse());
    const one = encodeModel(await applyPlan(lenet, plan, { engine, calibration }));
    const two = encodeModel(await applyPlan(lenet, reversed, { engine, calibration }));
    expect(Buffer.from(one).equals(Buffer.from(two))).toBe(true);
    // ... and the result is a valid model with fresh unique names and the same inputs/outputs.
    const model = decodeModel(one);
    const names = model.graph!.node.map((n) => n.name);
    expect(new Set(names).size).toBe(names.length);
    const tensors = [
      ...model.graph!.node.flatMap((n) => n.output),
      ...model.graph!.initializer.map((t) => t.name),
    ];
    expect(new Set(tensors).size).toBe(tensors.length);
    expect(model.graph!.input.map((v) => v.name)).toEqual(lenet.graph!.input.map((v) => v.name));
    expect(model.graph!.output.map((v) => v.name)).toEqual(lenet.graph!.output.map((v) => v.name));
    expect((await run(model))['logits']).toHaveLength(200 * 10);
  });

  it('takes a rank the ladder offered even after pruning narrowed the layer below it', async () => {
    // Pruning the last conv to a quarter of its channels leaves the first Gemm 4x fewer inputs; its
    // mildest rank, offered on the layer as uploaded, exceeds what is left and becomes full rank.
    const ladder = optionLadder(lenet);
    const [conv, fc] = layers
      .filter((l) => l.opType === 'Conv')
      .slice(-1)
      .concat(layers.filter((l) => l.opType === 'Gemm'))
      .map((l) => l.name);
    const ranks = ladder
      .get(fc)!
      .filter((c) => c.option.startsWith('lowrank:'))
      .map((c) => c.option);
    const plan = { [conv]: 'prune:keep=0.25', [fc]: ranks.at(-1)! };
    const model = await applyPlan(lenet, plan, { engine, calibration });
    expect((await run(model))['logits']).toHaveLength(200 * 10);
    await expect(applyPlan(lenet, { [fc]: 'lowrank:r=400' }, { engine })).rejects.toThrow(/rank must be <=/);
  });

  it('prunes a cut-out layer to the shapes pruning the whole model gives it', async () => {
    for (const layer of layers) {
      const node = new GraphView(lenet).node(layer.name)!;
      const cut = (m: ModelProto) => extractSubgraph(m, [node.input[0]], [node.output[0]], { batchSize: 1 });
      const alone = pruneIsolatedLayer(cut(lenet), layer.name, 0.5);
      const offered = optionLadder(lenet)
        .get(layer.name)!
        .some((c) => c.option === 'prune:keep=0.5');
      if (!offered) continue; // e.g. the last layer: its channels are the graph output
      const whole = cut(await applyPlan(lenet, { [layer.name]: 'prune:keep=0.5' }, { engine }));
      const shapes = (m: ModelProto) => m.graph!.initializer.map((t) => t.dims.map(Number));
      expect(shapes(alone)).toEqual(shapes(whole));
      const session = await ModelSession.create(encodeModel(alone));
      await session.dispose();
    }
  });

  it('reports exact weight bytes for every low-rank and int8 option', async () => {
    const ladder = optionLadder(lenet);
    for (const [name, costs] of ladder) {
      const exact = costs[0];
      expect(exact.option).toBe('exact');
      for (const cost of costs.filter(
        (c) => /^(lowrank|int8)/.test(c.option) && !c.option.startsWith('lowrank-data'),
      )) {
        const applied = await applyPlan(lenet, { [name]: cost.option }, { engine, calibration });
        expect(weightBytes(applied) - weightBytes(lenet)).toBe(cost.weightBytes - exact.weightBytes);
        if (cost.option.startsWith('lowrank')) expect(cost.flops).toBeLessThan(exact.flops);
      }
    }
  }, 60_000);

  it('placeholder factors give the same structure as fitted ones, for timing without an SVD', async () => {
    const plan = Object.fromEntries(layers.map((l) => [l.name, 'lowrank:r=2']));
    const fitted = await applyPlan(lenet, plan, { engine });
    const placeholder = await applyPlan(lenet, plan, { engine, placeholderFactors: true });
    const shapes = (m: ModelProto) => m.graph!.initializer.map((t) => [t.name, t.dims]);
    expect(shapes(placeholder)).toEqual(shapes(fitted));
    expect(placeholder.graph!.node.map((n) => n.opType)).toEqual(fitted.graph!.node.map((n) => n.opType));
  });

  it("prunes channels and the next layer's inputs together", async () => {
    const [first, second] = layers;
    const out = await applyPlan(lenet, { [first.name]: 'prune:keep=0.5' }, { engine });
    const after = describeLayers(out);
    expect(after[0].weightShape[0]).toBe(first.weightShape[0] / 2);
    expect(after[1].weightShape[1]).toBe(second.weightShape[1] / 2);
    expect(countParameters(out)).toBeLessThan(countParameters(lenet));
  });
});

describe('least-squares refit of the layers a prune narrows', () => {
  const [first, second] = layers;
  /** Relative error of `consumer`'s output once `pruned` keeps half its channels. */
  const consumerError = async (model: ModelProto, pruned: string, consumer: string, context = {}) => {
    const out = new GraphView(model).node(consumer)!.output[0];
    const exact = await run(exposing(model, out));
    const approx = await applyPlan(model, { [pruned]: 'prune:keep=0.5' }, { engine, ...context });
    return relativeError(exact[out], (await run(exposing(approx, out)))[out]);
  };
  const errorOfConv2 = (model: ModelProto, context = {}) =>
    consumerError(model, first.name, second.name, context);

  it.each([
    [first.name, second.name],
    [layers[2].name, layers[3].name],
  ])("%s pruned: recovers %s's responses on held-out digits (trained LeNet-5)", async (pruned, consumer) => {
    const sliced = await consumerError(lenet, pruned, consumer);
    const refitted = await consumerError(lenet, pruned, consumer, { calibration, refitPruned: true });
    expect(refitted).toBeLessThan(0.25 * sliced);
    // Only on request: calibration activations alone (random inputs, for a model without data) do not refit.
    expect(await consumerError(lenet, pruned, consumer, { calibration })).toBe(sliced);
  });

  it('reproduces the network when the pruned channels duplicate kept ones', async () => {
    // conv1's filters 3-5 become half of filters 0-2: ReLU and max-pooling commute with a positive
    // scale, so conv2 can take their contribution over exactly, and L1 ranking prunes them.
    const editor = new GraphEditor(lenet);
    const node = editor.node(first.name)!;
    const weight = new GraphView(lenet).constant(node.input[1])!;
    const bias = new GraphView(lenet).constant(node.input[2])!;
    const w = Float32Array.from(weight.data as Float32Array);
    const b = Float32Array.from(bias.data as Float32Array);
    const per = w.length / 6;
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < per; i++) w[(c + 3) * per + i] = 0.5 * w[c * per + i];
      b[c + 3] = 0.5 * b[c];
    }
    editor.update(node, {
      input: [node.input[0], editor.constant('w', weight.dims, w), editor.constant('b', bias.dims, b)],
    });
    const doubled = editor.build();
    const sliced = await errorOfConv2(doubled);
    const refitted = await errorOfConv2(doubled, { calibration, refitPruned: true });
    expect(sliced).toBeGreaterThan(0.1);
    expect(refitted).toBeLessThan(0.02);
  });
});

describe('applyPlan refuses what it cannot do, naming layer and option', () => {
  it('an unknown layer', async () => {
    await expect(applyPlan(lenet, { nope: 'exact' }, { engine })).rejects.toThrow(UnknownLayerError);
    await expect(applyPlan(lenet, { nope: 'exact' }, { engine })).rejects.toThrow(/layer 'nope'/);
  });

  it('a malformed option', async () => {
    const [layer] = layers;
    for (const bad of ['lowrank', 'lowrank:r=0', 'prune:keep=1.5', 'int4:compute', 'svd:r=3']) {
      await expect(applyPlan(lenet, { [layer.name]: bad }, { engine })).rejects.toThrow(OptionSyntaxError);
    }
  });

  it('a rank that costs more than exact', async () => {
    const [layer] = layers;
    await expect(applyPlan(lenet, { [layer.name]: 'lowrank:r=6' }, { engine })).rejects.toThrow(
      /rank must be <= /,
    );
  });

  it('pruning the layer that produces the network output', async () => {
    const last = layers[layers.length - 1].name;
    await expect(applyPlan(lenet, { [last]: 'prune:keep=0.5' }, { engine })).rejects.toThrow(
      OptionNotOfferedError,
    );
    await expect(applyPlan(lenet, { [last]: 'prune:keep=0.5' }, { engine })).rejects.toThrow(
      /graph output 'logits'/,
    );
    expect(
      optionLadder(lenet)
        .get(last)!
        .some((c) => c.option.startsWith('prune')),
    ).toBe(false);
  });

  it('low rank of a grouped convolution (CaffeNet conv2)', () => {
    const ladder = optionLadder(buildNetwork('caffenet'));
    const conv2 = ladder.get('conv2')!.map((c) => c.option);
    expect(conv2.some((o) => o.startsWith('lowrank'))).toBe(false);
    expect(conv2).toEqual(expect.arrayContaining(['exact', 'int8:storage', 'int8:compute']));
  });

  it('pruning a grouped convolution, and int8 below opset 13', async () => {
    const caffenet = optionLadder(buildNetwork('caffenet'));
    for (const grouped of ['conv2', 'conv4', 'conv5']) {
      expect(caffenet.get(grouped)!.some((c) => c.option.startsWith('prune'))).toBe(false);
    }
    const old = { ...lenet, opsetImport: [{ domain: '', version: 11n }] };
    const [layer] = layers;
    await expect(applyPlan(old, { [layer.name]: 'int8:storage' }, { engine })).rejects.toThrow(/opset >= 13/);
    expect(
      optionLadder(old)
        .get(layer.name)!
        .some((c) => c.option.startsWith('int8')),
    ).toBe(false);
  });

  it('pruning into a residual Add, naming the consumer', async () => {
    const b = new ModelBuilder({ name: 'residual' });
    const x = b.input('x', [1, 4, 6, 6]);
    const y = b.relu(b.conv(x, { name: 'conv', outChannels: 4, kernel: 3, pad: 1 }), 'relu');
    const sum = b.node('Add', 'residual_add', [y, x]);
    b.output(b.gemm(b.flatten(sum, 'flat'), 'fc', 3));
    const model = b.build();
    await expect(applyPlan(model, { conv: 'prune:keep=0.5' }, { engine })).rejects.toThrow(
      /consumer 'residual_add' \(Add\): cannot be rewired/,
    );
  });

  it("prunes through Flatten into the next Gemm's columns, and through Concat offsets", async () => {
    const b = new ModelBuilder({ name: 'concat' });
    const x = b.input('x', [1, 2, 4, 4]);
    const left = b.relu(b.conv(x, { name: 'left', outChannels: 4, kernel: 3, pad: 1 }), 'left_relu');
    const right = b.conv(x, { name: 'right', outChannels: 3, kernel: 1 });
    const joined = b.node('Concat', 'join', [right, left], [attribute.int('axis', 1)]); // pruned one second
    b.output(b.gemm(b.flatten(b.maxPool(joined, 'pool', { kernel: 2, stride: 2 }), 'flat'), 'fc', 5));
    const model = b.build();
    const pruned = await applyPlan(model, { left: 'prune:keep=0.5' }, { engine });
    const fc = describeLayers(pruned).find((l) => l.name === 'fc')!;
    expect(fc.weightShape).toEqual([5, (2 + 3) * 2 * 2]);
    const input = { data: new Float32Array(32).map((_, i) => Math.sin(i)), dims: [1, 2, 4, 4] };
    const [out] = Object.values(await run(pruned, input));
    expect(out).toHaveLength(5);
  });
});
